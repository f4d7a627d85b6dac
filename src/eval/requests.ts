import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

/** One hidden checker request, like the real checker's (user_id, timestamp). */
export interface CheckRequest {
  userId: number;
  tMs: number;
}

export const DEFAULT_CHECKER_SEED = 20211229;
export const ACTIVE_FROM_HOUR = 6;

/** A seeded stream of uniforms in [0, 1): the checker's own, never shared with training. */
export function checkerRandom(seed: number): () => number {
  const rng = xoroshiro128plus(seed);
  return () => uniformFloat64(rng);
}

/**
 * Draws requests uniformly over users and over the period's active hours (06:00–23:59 UTC), at
 * whole seconds, like timestamps of the real log.
 */
export function drawRequests(
  userIds: readonly number[] | Int32Array,
  period: { startMs: number; endMs: number },
  seed: number,
  n: number,
): CheckRequest[] {
  const rnd = checkerRandom(seed);
  const out: CheckRequest[] = [];
  const dayMs = 86_400_000;
  const firstDay = Math.floor(period.startMs / dayMs);
  const lastDay = Math.floor(period.endMs / dayMs);
  while (out.length < n) {
    const userId = userIds[Math.floor(rnd() * userIds.length)]!;
    const day = firstDay + Math.floor(rnd() * (lastDay - firstDay + 1));
    const sec = ACTIVE_FROM_HOUR * 3600 + Math.floor(rnd() * (24 - ACTIVE_FROM_HOUR) * 3600);
    const tMs = day * dayMs + sec * 1000;
    if (tMs < period.startMs || tMs > period.endMs) continue;
    out.push({ userId, tMs });
  }
  return out;
}
