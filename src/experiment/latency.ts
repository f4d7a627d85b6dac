/** Upper bounds (ms) of the latency histogram: fine where answers are, coarse in the tail. */
export const LATENCY_BOUNDS_MS = [1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000];

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Counts per bucket: ≤ LATENCY_BOUNDS_MS[i], the last one above every bound. */
  buckets: number[];
}

/** Request latencies of one group, kept whole (a run has at most a few hundred thousand). */
export class LatencyHistogram {
  private readonly values: number[] = [];

  add(ms: number): void {
    this.values.push(ms);
  }

  summary(): LatencySummary {
    const v = [...this.values].sort((a, b) => a - b);
    const q = (p: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))]! : 0);
    const buckets = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (const x of v) {
      const i = LATENCY_BOUNDS_MS.findIndex((b) => x <= b);
      buckets[i < 0 ? LATENCY_BOUNDS_MS.length : i]! += 1;
    }
    return { count: v.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: v.at(-1) ?? 0, buckets };
  }
}
