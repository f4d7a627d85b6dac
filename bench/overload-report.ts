// Markdown of bench/overload.ts results: one table per admission policy, model-ranked answers
// against the capacity measured at 64 connections in the same run.
import type { OpenClientKind } from './load.js';
import type { machineDetails } from './load-report.js';
import type { PolicyRun } from './overload.js';

export interface OverloadReport {
  startedAt: string;
  command: string;
  database: string;
  users: number;
  machine: ReturnType<typeof machineDetails>;
  runs: PolicyRun[];
  note?: string;
  /** The open-loop client (bench/load.ts); results before it was recorded used undici. */
  openClient?: OpenClientKind;
}

const OPEN_CLIENTS = {
  raw: 'raw HTTP/1.1 connections (bench/raw-http.ts)',
  undici: "undici's Pool",
};

const n0 = (v: number) => Math.round(v).toLocaleString('en');
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);

/** Measured before this change, as issue 9 states them (lead's run, same machine and world). */
const ISSUE_TABLE = [
  '| connections | answers/s | ranked by the model /s | deadline fallbacks /s | 503 /s | p99 ms |',
  '|--:|--:|--:|--:|--:|--:|',
  '| 64 | 2,264 | 2,264 | 0 | 0 | 60 |',
  '| 256 | 2,205 | 2,205 | 0 | 0 | 219 |',
  '| 1,024 | 203 | 4 | 198 | 5,309 | 518 |',
];

export function overloadMarkdown(r: OverloadReport): string {
  const m = r.machine;
  const lines = [
    '# Benchmark: goodput under overload (demo world)',
    '',
    `Run ${r.startedAt} with \`${r.command}\`. Machine: ${m.cpuCount} × ${m.cpuModel}, ${m.totalMemGb} GB RAM, ` +
      `Node ${m.node}, ${m.platform}, load average at the end ${m.loadAvg.join(' ')}. ${r.database}, ` +
      `${r.users.toLocaleString('en')} users, service at LOG_LEVEL=warn, load generator on the same cores ` +
      `(closed loop: autocannon, which ignores Retry-After; open loop: ${OPEN_CLIENTS[r.openClient ?? 'undici']} ` +
      "on a schedule, one request per connection at a time, up to the phase's maxVUs connections; an arrival " +
      'that finds them all busy is not sent).',
    '',
    'Phases: warmup-64 (5 s), then k6/scenario.json set `overload`. Capacity = model-ranked answers/s ' +
      'at 64 connections (closed-64, 30 s), measured first in the same run for each policy. "% cap." = model-ranked answers/s of the phase ' +
      'against that capacity. p99 admitted = client-side p99 of the 200s; p99 503 = client-side p99 of the ' +
      '503s (with 1,024 connections both include the wait in the socket before the server reads the ' +
      'request: Little\'s law gives 1,024 / answers per second); "200 ≤ 250 ms (server)" = share of 200s ' +
      'the service answered within the 250 ms deadline of reading them; "503 ≤ 5 ms (server)" = share of 503s ' +
      'the service answered within 5 ms of reading them (its latency histogram). Recovery = from the ' +
      'end of the overload phase to the start of the first 500 ms window with model-ranked answers ' +
      '≥ 90 % of capacity (in the 64-connection phase that follows at once). Connection holds/s = connections the ' +
      'service stopped reading after a 503 until the queue had room or the Retry-After passed ' +
      '(src/http/shed-hold.ts; with FEEDREC_SHED_HOLD_ON=repeat only those refused again within the ' +
      'Retry-After); a held request waits unread, so client-side latencies include the hold. CPU ' +
      "= % of one core over the phase: the load generator's own process, the service's HTTP thread, and its " +
      'other threads (the two ranking workers, plus libuv and V8 helpers at a few % together).',
    '',
  ];
  if (r.note) lines.push(r.note, '');
  for (const run of r.runs) {
    const env = Object.entries(run.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(
      `## ${run.policy}${env ? ` (${env})` : ''}: capacity ${n0(run.capacityRps)} model-ranked answers/s`,
      '',
      ...(run.loadAvgBefore
        ? [
            `Load average (1 / 5 / 15 min) at its start ${run.loadAvgBefore.join(' / ')}, at its end ${run.loadAvgAfter?.join(' / ')}.`,
            '',
          ]
        : []),
      '| phase | load | answers/s | model-ranked/s | % cap. | deadline fallbacks/s | 503/s | p99 admitted ms | 200 ≤ 250 ms (server) | p99 503 ms | 503 ≤ 5 ms (server) | queue drops: admission / max wait / deadline | connection holds/s | CPU: client / HTTP thread / workers | open loop: not sent/s | recovery ms |',
      '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    const cpu = (v: number | undefined) => (v === undefined ? '–' : `${v} %`);
    run.load.phases.forEach((p, i) => {
      const a = p.answers!;
      const s = run.server[i]!;
      const load = p.kind === 'closed' ? `${p.connections} conn` : `${n0(p.targetRps ?? 0)}/s open`;
      const answers = a.modelRps + a.fallbackRps + a.unlabelledRps;
      const drops = `${s.queueDrops.admission} / ${s.queueDrops['max-wait']} / ${s.queueDrops.deadline}`;
      const recovery =
        p.recoveryMs === undefined ? '' : p.recoveryMs === null ? 'not within 5 s' : String(p.recoveryMs);
      lines.push(
        `| ${p.name} | ${load} | ${n0(answers)} | ${n0(a.modelRps)} | ${Math.round((a.modelRps / run.capacityRps) * 100)} % | ` +
          `${n0(a.fallbackRps)} | ${n0(a.shedRps)} | ${a.admittedMs.p99} | ${pct(s.admittedWithin250ms)} | ${a.shedMs.n ? a.shedMs.p99 : '–'} | ` +
          `${pct(s.shedWithin5ms)} | ${drops} | ${s.holds === undefined ? '–' : n0(s.holds / p.durationS)} | ` +
          `${cpu(p.clientCpuPct)} / ${cpu(s.threads?.mainPct)} / ${cpu(s.threads?.otherPct)} | ` +
          `${p.kind === 'open' ? n0(p.dropped / p.durationS) : ''} | ${recovery} |`,
      );
    });
    lines.push('');
  }
  lines.push('## Before (issue 9, closed loop, 10 s per phase)', '', ...ISSUE_TABLE, '');
  return lines.join('\n');
}
