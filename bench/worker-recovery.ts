// Time to a whole ranking pool after a worker dies under load. A/B traffic from closed-loop
// clients goes through the real handler, batcher and workers (in process, no sockets); each round
// kills the worker holding the next batch (the test-only fault hook: `exit` = process.exit in the
// worker, `crash` = an uncaught exception) and measures, from the moment that batch failed, the
// time until RankerPool.whole: every worker running and its models loaded and warmed. Also counted
// per round: fallbacks because a model call failed (the bound: only the failed batch's
// requests), fallbacks past the deadline meanwhile, and any non-200.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/worker-recovery.js
//     [--scale demo|tiny] [--clients 32] [--rounds 5] [--workers 2]
//
// Writes bench/results/worker-recovery.json and .md, labelled with the machine load.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/db/index.js';
import { buildFeatures } from '../src/features/index.js';
import type { WorkerFault } from '../src/ranking/protocol.js';
import { buildService } from '../src/serve/index.js';
import { writeWorld } from '../src/world/index.js';
import { inProcessTraffic, type InProcessAnswer } from './in-process-traffic.js';
import { machineDetails } from './load-report.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

interface Round {
  fault: WorkerFault;
  /** Requests of the batch the dying worker held. */
  batchRequests: number;
  /** From the failed batch to a whole pool (replacement started, models loaded and warmed). */
  wholeMs: number;
  /** Answers that fell back because their model call failed (feedrec_fallbacks_total{reason="error"}). */
  errorFallbacks: number;
  /** Answers past the 250 ms deadline meanwhile (a busy machine has them without any fault). */
  deadlineFallbacks: number;
  non200: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'demo' },
      clients: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '5' },
      workers: { type: 'string', default: '2' },
    },
  });
  const startedAt = new Date().toISOString();
  const loadAtStart = machineDetails().loadAvg;
  const scale = values.scale as 'demo' | 'tiny';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-worker-recovery-'));
  try {
    process.stderr.write(`worker-recovery: building the ${scale} world in ${dataDir}\n`);
    const db = await openDatabase({ dataDir });
    await writeWorld(db, { scale, seed: 1 });
    await buildFeatures(db);
    await db.close();

    const cfg = loadConfig(
      {},
      {
        dataDir,
        mode: 'ab',
        modelsDir: path.join(root, 'models'),
        logLevel: 'silent',
        serving: { workers: Number(values.workers) },
      },
    );
    const svc = await buildService(cfg, { faultInjection: true });
    const users = (
      await svc.db.query<{ user_id: number }>('select user_id from user_data order by user_id limit 2000')
    ).map((r) => r.user_id);

    const fallbackCounts = async () => {
      const values = (await svc.metrics.fallbacks.get()).values;
      const sum = (reason: string) =>
        values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0);
      return { error: sum('error'), deadline: sum('deadline') };
    };
    const clients = Number(values.clients);
    const traffic = inProcessTraffic(svc.app, users, clients);
    const { answers } = traffic;
    const isFallback = (a: InProcessAnswer) => a.modelVersion === 'fallback-popular';

    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(3_000); // warm: batch sizes and queue settle
    const steadyFrom = performance.now();
    await sleep(3_000);
    const steady = answers.filter((a) => a.sentAt >= steadyFrom);
    const steadyRate = steady.length / 3;
    const steadyFallbacks = steady.filter(isFallback).length;

    const rounds: Round[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const fault of ['exit', 'crash'] as const) {
        const from = performance.now();
        const before = await fallbackCounts();
        const hit = await svc.pool.injectFault(fault);
        while (!svc.pool.whole) await sleep(1);
        const wholeAt = performance.now();
        // Answers to requests sent before the pool was whole may still be on their way.
        await sleep(500);
        const after = await fallbackCounts();
        const window = answers.filter((a) => a.sentAt >= from && a.sentAt <= wholeAt);
        rounds.push({
          fault,
          batchRequests: hit.requests,
          wholeMs: Math.round((wholeAt - hit.at) * 10) / 10,
          errorFallbacks: after.error - before.error,
          deadlineFallbacks: after.deadline - before.deadline,
          non200: window.filter((a) => a.status !== 200).length,
        });
        process.stderr.write(`worker-recovery: ${JSON.stringify(rounds.at(-1))}\n`);
        await sleep(1_500);
      }
    }
    await traffic.stop();
    await svc.close();

    const whole = rounds.map((r) => r.wholeMs);
    const result = {
      startedAt,
      finishedAt: new Date().toISOString(),
      loadAvgAtStart: loadAtStart,
      command: `node dist/bench/worker-recovery.js --scale ${scale} --clients ${clients} --rounds ${values.rounds} --workers ${values.workers}`,
      machine: machineDetails(),
      steady: { answersPerSecond: Math.round(steadyRate), fallbacksIn3s: steadyFallbacks },
      wholeMs: { median: pct(whole, 50), max: Math.max(...whole) },
      rounds,
    };
    const out = path.join(root, 'bench', 'results', 'worker-recovery');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + '\n');
    const md = [
      '# Ranking worker recovery under load',
      '',
      `Run ${result.startedAt} to ${result.finishedAt}: \`${result.command}\`; ${scale} world, ${clients} closed-loop A/B clients ` +
        `in process, ${values.workers} workers. Machine: ${result.machine.cpuCount} × ${result.machine.cpuModel}, ` +
        `load average ${loadAtStart.join(' ')} at the start, ${result.machine.loadAvg.join(' ')} at the end (shared).`,
      '',
      `Before the faults: ${result.steady.answersPerSecond} answers/s, ${steadyFallbacks} fallbacks in 3 s.`,
      `Time from the failed batch to a whole pool: median ${result.wholeMs.median} ms, max ${result.wholeMs.max} ms.`,
      '',
      '| round | fault | requests in the failed batch | ms to a whole pool | fallbacks: model call failed | fallbacks: past the deadline | non-200 |',
      '|--:|---|--:|--:|--:|--:|--:|',
      ...rounds.map(
        (r, i) =>
          `| ${i + 1} | ${r.fault} | ${r.batchRequests} | ${r.wholeMs} | ${r.errorFallbacks} | ${r.deadlineFallbacks} | ${r.non200} |`,
      ),
      '',
    ].join('\n');
    writeFileSync(`${out}.md`, md);
    process.stderr.write(`wrote ${out}.json and .md\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`worker-recovery: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
