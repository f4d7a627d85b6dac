// The overload benchmark: for each admission policy, starts `feedrec serve` on the demo world,
// measures the capacity (model-ranked answers/s at 64 connections), then overloads it with the
// scenario's "overload" phase set (k6/scenario.json: 256 and 1,024 connections closed loop, 3×
// capacity open loop, each followed at once by 64 connections to time the recovery), reading the
// service's metrics around every phase. Writes bench/results/overload.json and .md.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/overload.js
//     [--policies queue-time,codel,aimd,fixed[:KEY=V;…]] [--data-dir data] [--pg-url URL] [--port 8210]
//     [--env KEY=VALUE,…] [--legacy-root DIR] [--open-client raw|undici] [--out bench/results/overload]
//
// The policy "legacy" runs the service of another checkout (--legacy-root, built, e.g. the commit
// before the admission policies): its answers carry no X-Model-Version header, so its
// model-ranked answers are its 200s less the fallbacks its metrics counted.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openClientArg, runLoad, type OpenClientKind } from './load.js';
import {
  machineDetails,
  threadCpuShare,
  threadCpuTicks,
  type LoadReport,
  type PhaseResult,
} from './load-report.js';
import { readScenario } from './load-scenario.js';
import { overloadMarkdown } from './overload-report.js';
import { metricSum, readUserIds, repoRoot, scrapeMetrics, startService } from './service-process.js';

/** What the service itself counted during one phase (metric deltas). */
export interface ServerPhase {
  fallbacksDeadline: number;
  fallbacksError: number;
  shed: number;
  queueDrops: Record<string, number>;
  lateResults: number;
  /** Connections held for ignoring Retry-After (src/http/shed-hold.ts); absent on older code. */
  holds?: number;
  /** CPU of the service's HTTP thread and of its other threads (the workers), % of one core. */
  threads?: { mainPct: number; otherPct: number };
  /** Share of 503 answers the service handled within 5 ms (its latency histogram). */
  shedWithin5ms: number | null;
  /** Share of 200 answers the service handled within the 250 ms deadline bucket. */
  admittedWithin250ms: number | null;
}

export interface PolicyRun {
  policy: string;
  /** Machine load averages (1, 5, 15 min) when the policy's service started and when it stopped. */
  loadAvgBefore?: number[];
  loadAvgAfter?: number[];
  env: Record<string, string>;
  startupSeconds: number;
  capacityRps: number;
  load: LoadReport;
  server: ServerPhase[];
}

const DURATION = 'feedrec_http_request_duration_seconds';

function serverDelta(a: Map<string, number>, b: Map<string, number>): ServerPhase {
  const d = (name: string, labels: Record<string, string> = {}) =>
    metricSum(b, name, labels) - metricSum(a, name, labels);
  const share = (status: string, le: string) => {
    const all = d(`${DURATION}_count`, { status });
    return all === 0 ? null : Math.round((d(`${DURATION}_bucket`, { status, le }) / all) * 1e4) / 1e4;
  };
  return {
    fallbacksDeadline: d('feedrec_fallbacks_total', { reason: 'deadline' }),
    fallbacksError: d('feedrec_fallbacks_total', { reason: 'error' }),
    shed: d('feedrec_shed_requests_total'),
    queueDrops: Object.fromEntries(
      ['admission', 'max-wait', 'deadline'].map((r) => [r, d('feedrec_queue_drops_total', { reason: r })]),
    ),
    lateResults: d('feedrec_late_model_results_total'),
    ...(b.has('feedrec_connection_holds_total') ? { holds: d('feedrec_connection_holds_total') } : {}),
    shedWithin5ms: share('503', '0.005'),
    admittedWithin250ms: share('200', '0.25'),
  };
}

/** A service without X-Model-Version: model-ranked = its 200s less the fallbacks its metrics counted. */
function correctUnlabelled(p: PhaseResult, s: ServerPhase): void {
  const a = p.answers;
  if (!a || a.unlabelledRps === 0) return;
  const r = (v: number) => Math.round(v * 100) / 100;
  a.fallbackRps = r((s.fallbacksDeadline + s.fallbacksError) / p.durationS);
  a.modelRps = r(Math.max(0, a.modelRps + a.unlabelledRps - a.fallbackRps));
  // Every unlabelled answer is now counted as model-ranked or fallback; left here as well, the
  // report's answers/s (model + fallback + unlabelled) counted each of them twice.
  a.unlabelledRps = 0;
}

const sc = readScenario(path.join(repoRoot, 'k6', 'scenario.json'));

async function runPolicy(
  policy: string,
  o: {
    port: number;
    dataDir: string;
    pgUrl?: string;
    env: Record<string, string>;
    root?: string;
    users: number[];
    openClient: OpenClientKind;
  },
): Promise<PolicyRun> {
  // "codel" or "queue-time:FEEDREC_TASKS_PER_WORKER=2;FEEDREC_QUEUE_TARGET_MS=100": a policy and
  // settings of its own; "legacy" sets nothing (the --legacy-root checkout, before the policies).
  const [name, own = ''] = policy.split(':') as [string, string?];
  const env: Record<string, string> = {
    ...o.env,
    ...(name === 'legacy' ? {} : { FEEDREC_ADMISSION: name }),
    ...Object.fromEntries(
      own
        .split(';')
        .filter(Boolean)
        .map((kv) => kv.split('=') as [string, string]),
    ),
  };
  const loadAvg = () => os.loadavg().map((v) => Math.round(v * 100) / 100);
  const loadAvgBefore = loadAvg();
  const svc = await startService({ port: o.port, dataDir: o.dataDir, pgUrl: o.pgUrl, env, root: o.root });
  const log = (l: string) => process.stderr.write(`${policy}: ${l}\n`);
  log(`ready in ${svc.startupSeconds.toFixed(1)} s`);
  const server: ServerPhase[] = [];
  let before = new Map<string, number>();
  // Per-thread CPU of the service over each phase: where the two cores went (Linux /proc).
  const pid = svc.child.pid;
  let ticksBefore: Map<number, number> | undefined;
  let ticksAt = 0;
  try {
    const load = await runLoad({
      url: svc.url,
      users: o.users,
      // A short warm-up first (JIT, the policies' first measurements): its row is shown, but the
      // capacity is the scenario's capacity phase that follows.
      phases: ['warmup-64', ...sc.sets!.overload!],
      pid: svc.child.pid,
      label: `overload ${policy}`,
      openClient: o.openClient,
      log,
      onPhase: async (event, _phase, i) => {
        const ticks = pid === undefined ? undefined : threadCpuTicks(pid);
        const at = performance.now();
        const now = await scrapeMetrics(svc.url);
        if (event === 'before') {
          before = now;
          ticksBefore = ticks;
          ticksAt = at;
        } else {
          server[i] = serverDelta(before, now);
          if (ticks && ticksBefore)
            server[i]!.threads = threadCpuShare(pid!, ticksBefore, ticks, (at - ticksAt) / 1000);
        }
      },
    });
    load.phases.forEach((p, i) => correctUnlabelled(p, server[i]!));
    const capacityRps = load.phases.find((p) => p.name === (sc.capacityPhase ?? 'closed-64'))!.answers!
      .modelRps;
    return {
      policy,
      loadAvgBefore,
      loadAvgAfter: loadAvg(),
      env,
      startupSeconds: svc.startupSeconds,
      capacityRps,
      load,
      server,
    };
  } finally {
    await svc.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      policies: { type: 'string', default: 'queue-time,codel,aimd,fixed' },
      'data-dir': { type: 'string', default: path.join(repoRoot, 'data') },
      'pg-url': { type: 'string' },
      port: { type: 'string', default: '8210' },
      env: { type: 'string', default: '' },
      'legacy-root': { type: 'string' },
      out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'overload') },
      render: { type: 'string' },
      'open-client': { type: 'string' },
    },
  });
  const openClient = openClientArg(values['open-client']);
  if (values.render) {
    const file = values.render;
    writeFileSync(file.replace(/\.json$/, '.md'), overloadMarkdown(JSON.parse(readFileSync(file, 'utf8'))));
    return;
  }
  const env = Object.fromEntries(
    values.env
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  );
  const users = await readUserIds(values['data-dir']!, values['pg-url']);
  const runs: PolicyRun[] = [];
  for (const policy of values.policies.split(',')) {
    runs.push(
      await runPolicy(policy, {
        port: Number(values.port),
        dataDir: values['data-dir']!,
        pgUrl: values['pg-url'],
        env,
        root: policy === 'legacy' ? values['legacy-root'] : undefined,
        users,
        openClient,
      }),
    );
  }
  const report = {
    startedAt: new Date().toISOString(),
    command: `node dist/bench/overload.js ${process.argv.slice(2).join(' ')}`.trim(),
    database: values['pg-url'] ? 'postgres' : 'pglite',
    users: users.length,
    machine: machineDetails(),
    openClient,
    runs,
  };
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(`${values.out}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${values.out}.md`, overloadMarkdown(report));
  process.stderr.write(`wrote ${values.out}.json and ${values.out}.md\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`overload bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
