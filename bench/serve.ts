// The serving benchmark: starts `feedrec serve` as its own process on one data set, times
// start-up to ready, runs the load scenario (k6/scenario.json, through bench/load.ts) in each
// ranking mode, and writes bench/results/serve-<scale>.json and .md with the machine's details.
//
//   npm run build && node dist/bench/serve.js --scale demo [--data-dir data]
//   npm run build && node dist/bench/serve.js --scale full --pg-url postgres://…/feedrec_full
//     [--modes two-stage,full-rank] [--phases closed-1,closed-64,open-300] [--duration 20s]
//
// The service runs as bench/service-process.ts starts it (request logs at level warn).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load.js';
import { machineDetails, readRss, type LoadReport } from './load-report.js';
import { readUserIds, repoRoot as root, startService } from './service-process.js';

interface ModeResult {
  mode: string;
  startupSeconds: number;
  idleRssMb: number;
  peakRssMb: number;
  load: LoadReport;
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
  const users = await readUserIds(values['data-dir']!, values['pg-url']);

  const results: ModeResult[] = [];
  for (const mode of values.modes!.split(',')) {
    const svc = await startService({
      port,
      dataDir: values['data-dir']!,
      pgUrl: values['pg-url'],
      args: mode === 'full-rank' ? ['--rank-all'] : [],
    });
    try {
      const { startupSeconds } = svc;
      const idleRssMb = readRss(svc.child.pid!)?.rssMb ?? NaN;
      process.stderr.write(
        `${mode}: ready in ${startupSeconds.toFixed(1)} s, RSS ${idleRssMb.toFixed(0)} MB\n`,
      );
      const load = await runLoad({
        url: svc.url,
        users,
        phases: values.phases!.split(','),
        duration: values.duration,
        pid: svc.child.pid,
        label: `${values.scale} ${mode}`,
        log: (l) => process.stderr.write(`${mode}: ${l}\n`),
      });
      const peakRssMb = readRss(svc.child.pid!)?.hwmMb ?? NaN;
      results.push({ mode, startupSeconds, idleRssMb, peakRssMb, load });
    } finally {
      await svc.stop();
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
