// Memory across repeated reloads of one service, without traffic: after each reload (and a forced
// garbage collection) the process's RSS and its ArrayBuffer memory, which holds the feature
// stores. A store kept alive by a retired generation shows as arrayBuffers growing by one store
// per reload; RSS can still rise for a while as freed native memory stays with the allocator.
//
//   npm run build && flock /tmp/feedrec-bench.lock node --expose-gc dist/bench/reload-memory.js
//     [--pg-url postgres://postgres:postgres@127.0.0.1:5432/ops_demo] [--reloads 12] [--workers 1] [--name demo]
//
// Writes bench/results/reload-memory-<name>.json and .md. Run it with MALLOC_ARENA_MAX=2 in the
// environment (and --name demo-arena2) to see what glibc's per-thread arenas add.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { buildService } from '../src/serve/index.js';
import { machineDetails } from './load-report.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'pg-url': { type: 'string', default: 'postgres://postgres:postgres@127.0.0.1:5432/ops_demo' },
      reloads: { type: 'string', default: '12' },
      workers: { type: 'string', default: '1' },
      name: { type: 'string', default: 'demo' },
    },
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const cfg = loadConfig({
    DATABASE_URL: values['pg-url'],
    FEEDREC_WORKERS: values.workers,
    FEEDREC_MODELS_DIR: path.join(root, 'models'),
    LOG_LEVEL: 'error',
  });
  const svc = await buildService(cfg);
  const mb = (x: number) => Math.round(x / 1e6);
  const rows: {
    step: string;
    rssMb: number;
    arrayBuffersMb: number;
    heapUsedMb: number;
    reloadMs?: number;
  }[] = [];
  const sample = async (step: string, reloadMs?: number) => {
    for (let i = 0; i < 2; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 300));
    }
    const m = process.memoryUsage();
    rows.push({
      step,
      rssMb: mb(m.rss),
      arrayBuffersMb: mb(m.arrayBuffers),
      heapUsedMb: mb(m.heapUsed),
      reloadMs,
    });
    process.stderr.write(`reload-memory: ${JSON.stringify(rows.at(-1))}\n`);
  };
  await sample('start');
  for (let i = 1; i <= Number(values.reloads); i++) {
    const report = await svc.reloader.reload('reload-memory bench');
    // The retired generation closes once its batches are done; Piscina lets go of it 1 s later.
    await svc.reloader.settled();
    await new Promise((r) => setTimeout(r, 1200));
    await sample(`reload ${i}`, report.loadMs);
  }
  await svc.close();
  const result = {
    startedAt: new Date().toISOString(),
    command: `node --expose-gc dist/bench/reload-memory.js --reloads ${values.reloads} --workers ${values.workers} --name ${values.name}`,
    mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
    database: values['pg-url']!.replace(/:[^:@/]*@/, ':***@'),
    machine: machineDetails(),
    rows,
  };
  const out = path.join(root, 'bench', 'results', `reload-memory-${values.name}`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Memory across repeated reloads (${values.name})`,
    '',
    `Run ${result.startedAt}: \`${result.command}\`${result.mallocArenaMax ? ` with MALLOC_ARENA_MAX=${result.mallocArenaMax}` : ''}, ` +
      `no traffic, a forced GC before each sample. Machine: ${result.machine.cpuCount} × ${result.machine.cpuModel}, ` +
      `load average ${result.machine.loadAvg.join(' ')} (shared).`,
    '',
    '| step | reload ms | RSS MB | ArrayBuffers MB (feature stores) | JS heap MB |',
    '|---|--:|--:|--:|--:|',
    ...rows.map(
      (r) => `| ${r.step} | ${r.reloadMs ?? '–'} | ${r.rssMb} | ${r.arrayBuffersMb} | ${r.heapUsedMb} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(`${out}.md`, md);
  process.stderr.write(`wrote ${out}.json and .md\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`reload-memory: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
