/** Scores of one policy over the checker's requests. */
export interface PolicyScore {
  /** Mean expected Hitrate@5 (from the ground truth) or the held-out hit rate on real data. */
  hitrate: number;
  /** 95 % confidence interval of the mean. */
  ci: [number, number];
  /** Hitrate of one sampled draw of likes (what a real checker would have seen). */
  sampled?: number;
  auc?: number;
  /** Per-request expected hits (hold-out: hits, 0 or 1) counted in equal bins over [0, 1]. */
  distribution?: number[];
  /** Latency percentiles in ms (HTTP mode). */
  latencyMs?: { p50: number; p90: number; p99: number; max: number };
  requests: number;
}

export function meanWithCi(values: readonly number[]): { mean: number; ci: [number, number] } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, n);
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, n - 1);
  const half = 1.96 * Math.sqrt(variance / Math.max(1, n));
  return { mean, ci: [mean - half, mean + half] };
}

/** Expected Hitrate of one answer: 1 − Π(1 − P_j). */
export function expectedHit(probabilities: readonly number[]): number {
  let miss = 1;
  for (const p of probabilities) miss *= 1 - p;
  return 1 - miss;
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Counts of values in `bins` equal bins over [0, 1]; the last bin includes 1. */
export function histogram01(values: readonly number[], bins = 20): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]! += 1;
  return counts;
}
