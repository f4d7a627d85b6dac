// What a load phase records per answer and how it is summarised: status, whether the model or
// the fallback ranked it (the X-Model-Version header), latency, and when it completed.

/**
 * model = ranked by a model; fallback = a 200 from the cheap fallback; unlabelled = a 200 of a
 * service that does not name its ranker (before X-Model-Version); else the status or error.
 */
export type AnswerKind = 'model' | 'fallback' | 'unlabelled' | string;

export const classify = (status: number | string, modelVersion: string | undefined): AnswerKind => {
  if (String(status) !== '200') return String(status);
  if (modelVersion === undefined) return 'unlabelled';
  return modelVersion.startsWith('fallback') ? 'fallback' : 'model';
};

export interface Sample {
  latencies: number[];
  /** Open loop: ms between a request's scheduled time and its actual send. */
  sendLags: number[];
  statusCounts: Record<string, number>;
  errors: number;
  /** Latencies of 200s and of 503s, apart: the admitted and the shed. */
  admittedMs: number[];
  shedMs: number[];
  kinds: Record<string, number>;
  /** Completion times (ms since the phase started) of model-ranked answers. */
  modelAt: number[];
  startedAt: number;
}

export const newSample = (): Sample => ({
  latencies: [],
  sendLags: [],
  statusCounts: {},
  errors: 0,
  admittedMs: [],
  shedMs: [],
  kinds: {},
  modelAt: [],
  startedAt: performance.now(),
});

export function record(s: Sample, status: string, ms: number, modelVersion?: string): void {
  s.latencies.push(ms);
  s.statusCounts[status] = (s.statusCounts[status] ?? 0) + 1;
  if (!/^2\d\d$/.test(status)) s.errors += 1;
  const kind = classify(status, modelVersion);
  s.kinds[kind] = (s.kinds[kind] ?? 0) + 1;
  if (status === '200') s.admittedMs.push(ms);
  else if (status === '503') s.shedMs.push(ms);
  if (kind === 'model' || kind === 'unlabelled') s.modelAt.push(performance.now() - s.startedAt);
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export const r2 = (v: number) => Math.round(v * 100) / 100;

export function summary(values: number[]) {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    p50: r2(percentile(sorted, 0.5)),
    p99: r2(percentile(sorted, 0.99)),
    max: r2(sorted[sorted.length - 1] ?? 0),
  };
}

/**
 * Milliseconds from `fromMs` (phase time) to the start of the first `windowMs` window whose
 * model-ranked rate reaches `fraction` of `capacity` answers/s; undefined if none does.
 */
export function recoveryMs(
  modelAt: number[],
  capacity: number,
  opts: { fromMs?: number; windowMs?: number; fraction?: number } = {},
): number | undefined {
  const from = opts.fromMs ?? 0;
  const windowMs = opts.windowMs ?? 500;
  const need = (capacity * (opts.fraction ?? 0.9) * windowMs) / 1000;
  const t = [...modelAt].sort((a, b) => a - b);
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[lo]! < t[hi]! - windowMs) lo++;
    if (hi - lo + 1 >= need) return Math.max(0, Math.round(t[hi]! - windowMs - from));
  }
  return undefined;
}

export interface SoakSample {
  /** Seconds since the soak started (end of the slice). */
  t: number;
  rssMb: number;
  p99Ms: number;
  answersPerS: number;
  modelPerS: number;
  errors: number;
  /** The machine's 1-minute load average at the end of the slice (other jobs share the cores). */
  load1?: number;
}

/** Least-squares slope of y over x, and its intercept. */
export function fitLine(x: number[], y: number[]): { slope: number; intercept: number } {
  const n = x.length;
  if (n < 2) return { slope: 0, intercept: y[0] ?? 0 };
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** RSS slope (MB/hour) and p99 drift: slope (ms/hour) and median p99 of the last third vs the first. */
export function soakSummary(samples: SoakSample[]) {
  const hours = samples.map((s) => s.t / 3600);
  const rss = fitLine(
    hours,
    samples.map((s) => s.rssMb),
  );
  const p99 = fitLine(
    hours,
    samples.map((s) => s.p99Ms),
  );
  const third = Math.max(1, Math.floor(samples.length / 3));
  const first = median(samples.slice(0, third).map((s) => s.p99Ms));
  const last = median(samples.slice(-third).map((s) => s.p99Ms));
  return {
    rssSlopeMbPerHour: r2(rss.slope),
    rssFirstMb: r2(samples[0]?.rssMb ?? 0),
    rssLastMb: r2(samples.at(-1)?.rssMb ?? 0),
    p99SlopeMsPerHour: r2(p99.slope),
    p99FirstThirdMs: r2(first),
    p99LastThirdMs: r2(last),
    p99DriftPct: first === 0 ? 0 : r2(((last - first) / first) * 100),
  };
}
