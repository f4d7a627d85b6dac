// The serving benchmark: starts `feedrec serve` as its own process on one data set, times
// start-up to ready, runs the load scenario (k6/scenario.json, through bench/load.ts) in each
// ranking mode, and writes bench/results/serve-<scale>.json and .md with the machine's details.
//
//   npm run build && node dist/bench/serve.js --scale demo [--data-dir data]
//   npm run build && node dist/bench/serve.js --scale full --pg-url postgres://…/feedrec_full
//     [--modes two-stage,full-rank] [--phases closed-1,closed-64,open-300] [--duration 20s]
//
// Request logs are at level warn during the runs (one JSON line per request would otherwise be
// written to a pipe nobody reads); everything else is the service as `npm start` runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/index.js';
import { runLoad } from './load.js';
import { machineDetails, readRss, type LoadReport } from './load-report.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

interface ModeResult {
  mode: string;
  startupSeconds: number;
  idleRssMb: number;
  peakRssMb: number;
  load: LoadReport;
}

async function waitReady(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`service not ready after ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'demo' },
      'data-dir': { type: 'string', default: path.join(root, 'data') },
      'pg-url': { type: 'string' },
      modes: { type: 'string', default: 'two-stage,full-rank' },
      phases: { type: 'string', default: 'closed-1,closed-64,open-300,open-1000' },
      duration: { type: 'string' },
      port: { type: 'string', default: '8765' },
      out: { type: 'string' },
      render: { type: 'string' },
    },
  });
  if (values.render) {
    // Re-renders the Markdown of an existing results file (no run).
    const file = values.render;
    writeFileSync(file.replace(/\.json$/, '.md'), markdown(JSON.parse(readFileSync(file, 'utf8'))));
    return;
  }
  const port = Number(values.port);
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port) };
  if (values['pg-url']) env.DATABASE_URL = values['pg-url'];
  else delete env.DATABASE_URL;

  // The users file: every user id of the data set (read before the service takes the database).
  const db = await openDatabase({ dataDir: values['data-dir']!, databaseUrl: values['pg-url'] });
  const users = (await db.query<{ user_id: number }>('select user_id from user_data order by 1')).map(
    (r) => r.user_id,
  );
  await db.close();

  const results: ModeResult[] = [];
  for (const mode of values.modes!.split(',')) {
    const args = ['bin/feedrec.js', 'serve', '--data-dir', values['data-dir']!];
    if (mode === 'full-rank') args.push('--rank-all');
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      await waitReady(port, child, 120_000);
      const startupSeconds = (performance.now() - started) / 1000;
      const idleRssMb = readRss(child.pid!)?.rssMb ?? NaN;
      process.stderr.write(
        `${mode}: ready in ${startupSeconds.toFixed(1)} s, RSS ${idleRssMb.toFixed(0)} MB\n`,
      );
      const load = await runLoad({
        url: `http://127.0.0.1:${port}`,
        users,
        phases: values.phases!.split(','),
        duration: values.duration,
        pid: child.pid,
        label: `${values.scale} ${mode}`,
        log: (l) => process.stderr.write(`${mode}: ${l}\n`),
      });
      const peakRssMb = readRss(child.pid!)?.hwmMb ?? NaN;
      results.push({ mode, startupSeconds, idleRssMb, peakRssMb, load });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  const out = values.out ?? path.join(root, 'bench', 'results', `serve-${values.scale}`);
  mkdirSync(path.dirname(out), { recursive: true });
  const report = {
    startedAt: new Date().toISOString(),
    scale: values.scale,
    database: values['pg-url'] ? 'postgres' : 'pglite',
    users: users.length,
    machine: machineDetails(),
    results,
  };
  writeFileSync(`${out}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${out}.md`, markdown(report));
  process.stderr.write(`wrote ${out}.json and ${out}.md\n`);
}

function markdown(r: {
  startedAt: string;
  scale: string | undefined;
  database: string;
  users: number;
  machine: ReturnType<typeof machineDetails>;
  results: ModeResult[];
}): string {
  const m = r.machine;
  const lines = [
    `# Benchmark: serving (${r.scale} scale, ${r.database})`,
    '',
    `Run ${r.startedAt} with \`node dist/bench/serve.js\`. Machine: ${m.cpuCount} × ${m.cpuModel}, ` +
      `${m.totalMemGb} GB RAM, Node ${m.node}, ${m.platform}. ${r.users.toLocaleString('en')} users; ` +
      'load scenario k6/scenario.json; load generator on the same two cores.',
    '',
    'Answers/s counts all answers; 200/s only successful ones (the rest are 503s shed by the bounded queue).',
    '',
    '| ranking | phase | answers/s | 200/s | p50 ms | p90 ms | p99 ms | max ms | errors | ready (s) | peak RSS (MB) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const res of r.results)
    for (const p of res.load.phases)
      lines.push(
        `| ${res.mode} | ${p.name} | ${p.throughputRps} | ${Math.round((p.statusCounts['200'] ?? 0) / p.durationS)} | ${p.latencyMs.p50} | ${p.latencyMs.p90} | ${p.latencyMs.p99} | ` +
          `${p.latencyMs.max} | ${p.errors + p.dropped} | ${res.startupSeconds.toFixed(1)} | ${res.peakRssMb.toFixed(0)} |`,
      );
  return lines.join('\n') + '\n';
}

main().catch((err: Error) => {
  process.stderr.write(`serve bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
