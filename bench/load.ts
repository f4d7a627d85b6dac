// Node twin of k6/recommendations.js: drives k6/scenario.json against a local server and writes
// throughput, latency percentiles, errors, status counts and server RSS to a results file.
//
//   npm run build && node dist/bench/load.js --url http://127.0.0.1:8000 [--pid PID]
//     [--set serve|overload|soak | --phases closed-1,closed-64] [--capacity N] [--duration 10s] [--gap 3] [--users bench/users.txt | --user-range 1-1000]
//     [--out bench/results/load-NAME] [--label "what runs"] [--seed 1] [--open-client raw|undici]
//
// Closed loop runs on autocannon (its client costs about half the CPU of node:http, which
// matters when client and server share two cores). Open loop uses bench/raw-http.ts (one request
// per connection at a time; undici's Pool with dispatch() callbacks with --open-client undici):
// autocannon's rate limit is closed-loop (a slow answer delays the next send), which hides
// queueing; here requests leave on schedule whatever the answers do. Latency counts from the
// send (including a new connection's connect); how late the client's own timer sent each request
// is reported separately as send lag, so a busy client cannot pass for a slow server, and the
// client's own CPU per phase is recorded, so its share of the two cores is known.
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { RawHttpConnection } from './raw-http.js';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineDetails, rssSampler, writeReport, type LoadReport, type PhaseResult } from './load-report.js';
import { newSample, percentile, r2, record, recoveryMs, summary, type Sample } from './load-stats.js';
import {
  durationMs,
  pathSampler,
  readScenario,
  readUsers,
  rng,
  type Phase,
  type Scenario,
} from './load-scenario.js';

export interface LoadOptions {
  url: string;
  scenarioFile?: string;
  users?: number[];
  usersFile?: string;
  userRange?: string;
  /** Phase names in the order to run (repeats allowed); default: the scenario's set. */
  phases?: string[];
  /** A phase set of the scenario (sets in k6/scenario.json); default "serve". */
  set?: string;
  /** Answers/s that rateTimesCapacity phases multiply; default: measured by the capacity phase. */
  capacity?: number;
  /** Called around each phase, e.g. to read the server's metrics. */
  onPhase?: (event: 'before' | 'after', phase: Phase, index: number, result?: PhaseResult) => Promise<void>;
  /** Overrides every phase's duration (short smoke runs). */
  duration?: string;
  /** Overrides the scenario's pause between phases. */
  gapSeconds?: number;
  pid?: number;
  seed?: number;
  label?: string;
  log?: (line: string) => void;
  /** Open-loop client: raw (bench/raw-http.ts, the default) or undici. */
  openClient?: OpenClientKind;
}

export type OpenClientKind = 'raw' | 'undici';

/** The --open-client flag of the load and overload commands. */
export function openClientArg(v: string | undefined): OpenClientKind {
  if (v === undefined || v === 'raw' || v === 'undici') return v ?? 'raw';
  throw new Error(`--open-client is raw or undici, got ${v}`);
}

/** Only loopback targets: this tool must never be pointed at someone else's service. */
export function assertLoopback(url: string): URL {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (u.protocol !== 'http:') throw new Error(`only http:// targets are supported, got ${u.protocol}`);
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new Error(`refusing non-loopback target ${u.hostname}: load tests run against 127.0.0.1 only`);
  }
  return u;
}

const MODEL_HEADER = 'x-model-version';
function closedLoop(base: URL, sc: Scenario, conns: number, ms: number, next: () => string, s: Sample) {
  // autocannon calls onResponse and then emits 'response' for the same answer, synchronously.
  let model: string | undefined;
  const onResponse = (_status: number, _body: string, _ctx: unknown, headers: Record<string, string>) => {
    model = headers[MODEL_HEADER];
  };
  return new Promise<void>((resolve, reject) => {
    const run = autocannon(
      {
        url: base.origin,
        connections: conns,
        duration: ms / 1000,
        timeout: sc.requestTimeoutMs / 1000,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }), onResponse }],
      },
      (err) => (err ? reject(err) : resolve()),
    );
    // Our own recording (not autocannon's histogram): sub-millisecond precision, every status.
    run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      record(s, String(status), ms, model);
      model = undefined;
    });
    // Connection errors and timeouts have no meaningful latency: counted, not timed.
    run.on('reqError', () => {
      s.statusCounts.error = (s.statusCounts.error ?? 0) + 1;
      s.errors += 1;
    });
  });
}

/** Sends one request and reports its status (or 'error' / 'timeout') and X-Model-Version. */
type Send = (path: string, done: (status: string, model?: string) => void) => void;
interface OpenClient {
  send: Send;
  close(): Promise<void>;
}

/**
 * undici's Pool, driven through dispatch() with callbacks: no request or response objects, no
 * streams (--open-client undici). At 3x capacity (about 9,000 requests/s) node:http's client took
 * most of a core by itself and fell behind its schedule (bench/results/overload-quiet*.md: send
 * lag and p99 of seconds); undici cost about 53 us per request there.
 */
function undiciClient(base: URL, sc: Scenario, connections: number): OpenClient {
  const pool = new Pool(base.origin, {
    connections,
    pipelining: 1,
    headersTimeout: sc.requestTimeoutMs,
    bodyTimeout: sc.requestTimeoutMs,
  });
  const send: Send = (path, done) => {
    let status = '';
    let model: string | undefined;
    pool.dispatch(
      { origin: base.origin, path, method: 'GET' },
      {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode, headers) => {
          status = String(statusCode);
          const m = headers[MODEL_HEADER];
          model = Array.isArray(m) ? m[0] : m;
        },
        onResponseData: () => {},
        onResponseEnd: () => done(status, model),
        onResponseError: (_c, err) => done(/timeout/i.test(err.name + err.message) ? 'timeout' : 'error'),
      },
    );
  };
  return { send, close: () => pool.close() };
}

/**
 * bench/raw-http.ts connections, the idle ones on a stack (the default): per request a write of
 * the request line and a scan of the answer's head. At 3x capacity it took 22-23 % of a core
 * where undici took 36-38 % (paired runs, same schedule), CPU the service's workers got back.
 */
function rawClient(base: URL, sc: Scenario): OpenClient {
  const opts = {
    host: base.hostname.replace(/^\[|\]$/g, ''),
    port: Number(base.port || 80),
    header: MODEL_HEADER,
    timeoutMs: sc.requestTimeoutMs,
  };
  const conns: RawHttpConnection[] = [];
  const idle: RawHttpConnection[] = [];
  const send: Send = (path, done) => {
    let conn = idle.pop();
    if (!conn) conns.push((conn = new RawHttpConnection(opts)));
    const c = conn;
    c.get(path, (err, answer) => {
      idle.push(c);
      if (err) done(/timeout/i.test(err.message) ? 'timeout' : 'error');
      else done(String(answer!.status), answer!.header);
    });
  };
  return {
    send,
    close: async () => {
      for (const c of conns) c.close();
    },
  };
}

/**
 * Open loop: requests leave on schedule whatever the answers do, one per connection at a time (no
 * pipelining), like the browsers and k6's VUs; an arrival that finds every connection busy is
 * dropped (counted, never queued). Returns how many were dropped.
 */
async function openLoop(
  base: URL,
  sc: Scenario,
  rate: number,
  p: Phase,
  ms: number,
  next: () => string,
  s: Sample,
  kind: OpenClientKind,
) {
  const maxOutstanding = p.maxVUs ?? 1024;
  const client = kind === 'undici' ? undiciClient(base, sc, maxOutstanding) : rawClient(base, sc);
  const start = performance.now();
  let sent = 0;
  let outstanding = 0;
  let dropped = 0;
  let allDone: (() => void) | undefined;
  const send = (path: string, sentAt: number) =>
    client.send(path, (status, model) => {
      outstanding -= 1;
      if (status === 'error' || status === 'timeout') {
        s.statusCounts[status] = (s.statusCounts[status] ?? 0) + 1;
        s.errors += 1;
      } else record(s, status, performance.now() - sentAt, model);
      if (outstanding === 0) allDone?.();
    });
  while (performance.now() - start < ms) {
    const due = Math.min(
      Math.floor(((performance.now() - start) * rate) / 1000),
      Math.floor((ms * rate) / 1000),
    );
    for (; sent < due; sent++) {
      if (outstanding >= maxOutstanding) {
        dropped += 1;
        continue;
      }
      const sentAt = performance.now();
      s.sendLags.push(sentAt - (start + (sent * 1000) / rate));
      outstanding += 1;
      send(next(), sentAt);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  if (outstanding > 0) await new Promise<void>((r) => (allDone = r));
  await client.close();
  return dropped;
}

const phaseKind = (p: Phase) => (p.executor === 'constant-vus' ? 'closed' : 'open');

function phasesOf(sc: Scenario, names: string[]): Phase[] {
  return names.map((n) => {
    const p = sc.phases.find((x) => x.name === n);
    if (!p)
      throw new Error(`no phase named ${n} in the scenario (${sc.phases.map((x) => x.name).join(', ')})`);
    return p;
  });
}

function lagSummary(lags: number[]) {
  const sorted = Array.from(Float64Array.from(lags).sort());
  return { p50: r2(percentile(sorted, 0.5)), p99: r2(percentile(sorted, 0.99)), max: r2(sorted.at(-1) ?? 0) };
}

export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  const base = assertLoopback(opts.url);
  const scenarioFile = opts.scenarioFile ?? 'k6/scenario.json';
  const sc = readScenario(scenarioFile);
  const users = opts.users ?? readUsers({ file: opts.usersFile ?? sc.users.file, range: opts.userRange });
  const seed = opts.seed ?? 1;
  const next = pathSampler(sc, users, rng(seed));
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const phases = phasesOf(sc, opts.phases ?? sc.sets?.[opts.set ?? 'serve'] ?? sc.phases.map((p) => p.name));
  let capacity = opts.capacity;
  let overloadEnd: number | undefined;
  const rss = opts.pid ? rssSampler(opts.pid) : undefined;
  const report: LoadReport = {
    startedAt: new Date().toISOString(),
    url: base.origin,
    label: opts.label,
    scenarioFile,
    users: users.length,
    seed,
    machine: machineDetails(),
    phases: [],
  };

  for (const [i, p] of phases.entries()) {
    const gap = p.gapSeconds ?? opts.gapSeconds ?? sc.gapSeconds;
    if (i > 0 && gap > 0) await new Promise((r) => setTimeout(r, gap * 1000));
    await opts.onPhase?.('before', p, i);
    const ms = durationMs(opts.duration ?? p.duration);
    const rate = p.rateTimesCapacity === undefined ? p.rate : Math.round(p.rateTimesCapacity * capacity!);
    if (p.executor !== 'constant-vus' && !(rate! > 0))
      throw new Error(
        `phase ${p.name} needs the capacity: run ${sc.capacityPhase} before it or pass a capacity`,
      );
    const s = newSample();
    rss?.window();
    const t0 = s.startedAt;
    const cpu0 = process.cpuUsage();
    let dropped = 0;
    if (p.executor === 'constant-vus') await closedLoop(base, sc, p.vus ?? 1, ms, next, s);
    else dropped = await openLoop(base, sc, rate!, p, ms, next, s, opts.openClient ?? 'raw');
    const phaseEnd = performance.now();
    const elapsedS = (phaseEnd - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const perS = (n: number | undefined) => r2((n ?? 0) / elapsedS);
    const sorted = Float64Array.from(s.latencies).sort();
    const lat = Array.from(sorted);
    const n = lat.length;
    const errorRate = n + dropped === 0 ? 0 : (s.errors + dropped) / (n + dropped);
    const latencyMs = {
      p50: r2(percentile(lat, 0.5)),
      p90: r2(percentile(lat, 0.9)),
      p99: r2(percentile(lat, 0.99)),
      max: r2(lat[n - 1] ?? 0),
      mean: r2(n ? lat.reduce((a, b) => a + b, 0) / n : 0),
    };
    const result: PhaseResult = {
      name: p.name,
      kind: phaseKind(p),
      ...(p.executor === 'constant-vus' ? { connections: p.vus ?? 1 } : { targetRps: rate }),
      durationS: r2(elapsedS),
      requests: n,
      throughputRps: r2(n / elapsedS),
      latencyMs,
      errors: s.errors,
      errorRate: Math.round(errorRate * 1e5) / 1e5,
      statusCounts: s.statusCounts,
      answers: {
        modelRps: perS(s.kinds.model),
        fallbackRps: perS(s.kinds.fallback),
        unlabelledRps: perS(s.kinds.unlabelled),
        shedRps: perS(s.kinds['503']),
        admittedMs: summary(s.admittedMs),
        shedMs: summary(s.shedMs),
      },
      ...(gap === 0 && i > 0 && capacity && overloadEnd !== undefined
        ? { recoveryMs: recoveryMs(s.modelAt, capacity, { fromMs: overloadEnd - t0 }) ?? null }
        : {}),
      dropped,
      ...(phaseKind(p) === 'open' ? { sendLagMs: lagSummary(s.sendLags) } : {}),
      clientCpuPct: Math.round((cpu.user + cpu.system) / 1e4 / elapsedS),
      ...(rss ? { serverRssMb: rss.window() } : {}),
      thresholds: {
        ...sc.thresholds,
        pass: n > 0 && latencyMs.p99 < sc.thresholds.p99Ms && errorRate < sc.thresholds.errorRate,
      },
    };
    report.phases.push(result);
    overloadEnd = phaseEnd;
    if (p.name === sc.capacityPhase && opts.capacity === undefined) {
      capacity = result.answers!.modelRps + result.answers!.unlabelledRps;
      report.capacityRps = capacity;
    }
    await opts.onPhase?.('after', p, i, result);
    log(
      `${p.name}: ${result.throughputRps} req/s, p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms, ` +
        `max ${latencyMs.max} ms, errors ${s.errors}, dropped ${dropped}${result.thresholds.pass ? '' : '  (thresholds FAILED)'}`,
    );
  }
  if (rss) report.server = rss.stop();
  return report;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      scenario: { type: 'string', default: 'k6/scenario.json' },
      users: { type: 'string' },
      'user-range': { type: 'string' },
      phases: { type: 'string' },
      set: { type: 'string' },
      capacity: { type: 'string' },
      duration: { type: 'string' },
      gap: { type: 'string' },
      pid: { type: 'string' },
      seed: { type: 'string', default: '1' },
      label: { type: 'string' },
      out: { type: 'string' },
      'open-client': { type: 'string' },
    },
  });
  const openClient = openClientArg(values['open-client']);
  if (!values.url) {
    process.stderr.write(
      'usage: load --url http://127.0.0.1:PORT [--pid PID] [--phases a,b] [--duration 10s] [--out FILE]\n',
    );
    return 2;
  }
  const report = await runLoad({
    url: values.url,
    scenarioFile: values.scenario,
    usersFile: values.users,
    userRange: values['user-range'],
    phases: values.phases?.split(','),
    set: values.set,
    capacity: values.capacity === undefined ? undefined : Number(values.capacity),
    duration: values.duration,
    gapSeconds: values.gap === undefined ? undefined : Number(values.gap),
    pid: values.pid ? Number(values.pid) : undefined,
    seed: Number(values.seed),
    label: values.label,
    openClient,
  });
  const base = values.out ?? path.join('bench', 'results', `load-${report.startedAt.replace(/[:.]/g, '-')}`);
  const files = writeReport(report, base);
  process.stderr.write(`wrote ${files.json} and ${files.md}\n`);
  return report.phases.every((p) => p.thresholds.pass) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      process.stderr.write(`load: ${err.message}\n`);
      process.exitCode = 2;
    },
  );
}
