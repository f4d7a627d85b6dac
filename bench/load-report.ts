// Results of a load run: machine details, RSS samples of the server, JSON + Markdown files.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface PhaseResult {
  name: string;
  kind: 'closed' | 'open';
  connections?: number;
  targetRps?: number;
  durationS: number;
  requests: number;
  throughputRps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  errorRate: number;
  statusCounts: Record<string, number>;
  /** 200s ranked by a model / by the fallback and 503s per second; latency of 200s and 503s apart. */
  answers?: {
    modelRps: number;
    fallbackRps: number;
    /** 200s that do not say what ranked them (a service without X-Model-Version). */
    unlabelledRps: number;
    shedRps: number;
    admittedMs: LatencySummary;
    shedMs: LatencySummary;
  };
  /** A phase right after an overload: ms until model-ranked answers were back at 90 % of capacity. */
  recoveryMs?: number | null;
  /** Open loop only: arrivals not sent because maxVUs requests were already outstanding. */
  dropped: number;
  /** Open loop only: how late the client sent requests against their schedule. */
  sendLagMs?: { p50: number; p99: number; max: number };
  serverRssMb?: { peak: number; last: number };
  /** CPU the load generator's own process used during the phase, in % of one core. */
  clientCpuPct?: number;
  thresholds: { p99Ms: number; errorRate: number; pass: boolean };
}

export interface LoadReport {
  startedAt: string;
  url: string;
  label?: string;
  scenarioFile: string;
  users: number;
  seed: number;
  machine: ReturnType<typeof machineDetails>;
  /** Model-ranked answers/s of the capacity phase of this run. */
  capacityRps?: number;
  server?: { pid: number; peakRssMb?: number; vmHwmMb?: number };
  phases: PhaseResult[];
}

export function machineDetails() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    cpuMhz: cpus[0]?.speed || undefined,
    totalMemGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAvg: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** VmRSS and VmHWM (peak) of a process in MB, from /proc (Linux only). */
export function readRss(pid: number): { rssMb: number; hwmMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU ticks (user + system) used so far by each thread of a process, by thread id (Linux). */
export function threadCpuTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(rest[11]) + Number(rest[12]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * CPU between two threadCpuTicks snapshots, in % of one core: the process's main thread (the HTTP
 * thread; its id is the pid) and all its other threads (ranking workers, libuv and V8 helpers).
 */
export function threadCpuShare(
  pid: number,
  before: Map<number, number>,
  after: Map<number, number>,
  seconds: number,
): { mainPct: number; otherPct: number } {
  const hz = 100; // USER_HZ, the unit of /proc's tick counts on Linux
  let main = 0;
  let other = 0;
  for (const [tid, t] of after) {
    const d = t - (before.get(tid) ?? 0);
    if (tid === pid) main += d;
    else other += d;
  }
  const pct = (ticks: number) => Math.round((ticks / hz / seconds) * 100);
  return { mainPct: pct(main), otherPct: pct(other) };
}

/** Samples a process's RSS every intervalMs; `window()` gives the peak since the last call. */
export function rssSampler(pid: number, intervalMs = 200) {
  let windowPeak = 0;
  let overallPeak = 0;
  let last = 0;
  let hwm = 0;
  const sample = () => {
    const r = readRss(pid);
    if (!r) return;
    last = r.rssMb;
    hwm = Math.max(hwm, r.hwmMb || 0);
    windowPeak = Math.max(windowPeak, r.rssMb);
    overallPeak = Math.max(overallPeak, r.rssMb);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    window() {
      sample();
      const out = { peak: round1(windowPeak), last: round1(last) };
      windowPeak = last;
      return out;
    },
    stop() {
      clearInterval(timer);
      sample();
      return { pid, peakRssMb: round1(overallPeak), vmHwmMb: round1(hwm) };
    },
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export function toMarkdown(r: LoadReport): string {
  const m = r.machine;
  const lines = [
    `# Load run ${r.startedAt}`,
    '',
    `Target ${r.url}${r.label ? ` (${r.label})` : ''}; scenario ${r.scenarioFile}; ${r.users} users; seed ${r.seed}.`,
    `Machine: ${m.cpuCount} × ${m.cpuModel}${m.cpuMhz ? ` @ ${m.cpuMhz} MHz` : ''}, ${m.totalMemGb} GB RAM, Node ${m.node}, ${m.platform}, load ${m.loadAvg.join(' ')}.`,
    r.server
      ? `Server pid ${r.server.pid}: peak RSS sampled ${r.server.peakRssMb} MB, VmHWM ${r.server.vmHwmMb} MB.`
      : 'Server RSS not sampled (no --pid).',
    '',
    '| phase | load | s | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | dropped | error rate incl. dropped | statuses | peak RSS MB | thresholds |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of r.phases) {
    const load = p.kind === 'closed' ? `${p.connections} conn` : `${p.targetRps} req/s`;
    const l = p.latencyMs;
    const statuses = Object.entries(p.statusCounts)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    lines.push(
      `| ${p.name} | ${load} | ${p.durationS} | ${p.requests} | ${p.throughputRps} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${p.errors} | ${p.dropped} | ${(p.errorRate * 100).toFixed(2)} % | ${statuses} | ${p.serverRssMb?.peak ?? '–'} | ${p.thresholds.pass ? 'pass' : 'FAIL'} |`,
    );
  }
  lines.push(
    '',
    'Open loop sends on a fixed schedule whatever the answers do (no coordinated omission); latency counts from the send.',
    `Open-loop send lag (client timer behind schedule), p99 ms: ${
      r.phases
        .filter((p) => p.sendLagMs)
        .map((p) => `${p.name} ${p.sendLagMs!.p99}`)
        .join(', ') || '–'
    }.`,
    '',
  );
  return lines.join('\n');
}

/** Writes `<base>.json` and `<base>.md`; returns both paths. */
export function writeReport(report: LoadReport, base: string): { json: string; md: string } {
  mkdirSync(path.dirname(base), { recursive: true });
  const json = `${base}.json`;
  const md = `${base}.md`;
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, toMarkdown(report));
  return { json, md };
}
