// The training matrix for logs where users choose what they view (docs/exposure.md). There a
// like needs a view the user chose, so P(like | view) is the wrong target: a post users would
// like but never open earns no hit. Rows are (user, moment, post) over all posts instead, and
// the label is whether the user liked the post within the next days: what a hold-out counts.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { DbSession } from '../db/index.js';
import { ValidationError } from '../errors/index.js';
import {
  fillRow,
  fillUserContext,
  newUserContext,
  TEST_FEATURES,
  type FeatureStore,
} from '../features/index.js';
import { csvRows } from '../features/csv-numbers.js';
import { beforeCutoff, openMatrices, sampleCondition, type BuiltMatrices } from './build-matrix.js';

const DAY_MS = 86_400_000;

export interface WindowMatrixOptions {
  /** Parent folder; the matrices go to <dir>/control and <dir>/test. */
  dir: string;
  /** About this many rows (moments × posts). */
  targetRows: number;
  untilMs?: number;
  seed?: number;
  /** A like counts when it falls within this many days from the moment. */
  days: number;
  /** Posts the user did not like in the window, drawn per moment as negatives. */
  negatives: number;
  /** How the target was chosen (train --target), recorded with it. */
  choice?: Record<string, unknown>;
}

/** What the model card records about the target (train.py copies it from the matrix header). */
export interface WindowTarget {
  kind: 'liked-within';
  days: number;
  negatives: number;
  [key: string]: unknown;
}

/** A seeded generator per moment, so the negatives do not depend on the order of work. */
function momentRandom(seed: number, user: number, tMs: number): () => number {
  const rng = xoroshiro128plus(
    Math.imul(user, 0x9e3779b1) ^ Math.floor(tMs / 1000) ^ Math.imul(seed + 1, 0x85ebca6b),
  );
  return () => uniformFloat64(rng);
}

/**
 * Writes the "liked within the next days" matrices. Moments are sampled views (when the user was
 * active), each with a complete window before the cut-off (or the end of the log); its rows are
 * every post the user liked in the window (label 1) and `negatives` posts drawn uniformly among
 * the others (label 0), never a post liked before the moment (the service never shows it again).
 * Uniform negatives keep the ranking of P(liked within the window) over all posts.
 */
export async function buildWindowMatrices(
  db: DbSession,
  store: FeatureStore,
  opts: WindowMatrixOptions,
  log: (msg: string) => void = () => {},
): Promise<BuiltMatrices & { target: WindowTarget }> {
  if (!(opts.days > 0)) throw new ValidationError(`--target-days must be positive, got ${opts.days}`);
  if (!Number.isInteger(opts.negatives) || opts.negatives < 1)
    throw new ValidationError(`--negatives must be a positive integer, got ${opts.negatives}`);
  const target: WindowTarget = {
    kind: 'liked-within',
    days: opts.days,
    negatives: opts.negatives,
    ...opts.choice,
  };
  const seed = opts.seed ?? 0;
  const m = await openMatrices(db, store, opts, log);
  const windowMs = opts.days * DAY_MS;
  // Moments whose window reaches past the data would count too few likes.
  const lastMoment = (opts.untilMs ?? m.span.hiMs + 1) - windowMs;
  const momentsWanted = opts.targetRows / (opts.negatives + 1);
  const keepPerMille = Math.max(
    1,
    Math.min(1000, Math.ceil((1000 * momentsWanted) / Math.max(1, m.span.views))),
  );
  log(
    `moments: ${keepPerMille}‰ of views before ${new Date(lastMoment).toISOString()}, ${opts.negatives} negatives`,
  );
  const posts = store.dims.posts;
  const excluded = new Uint8Array(posts);
  const positives: number[] = [];
  const ctx = newUserContext(store);
  const row = new Float32Array(TEST_FEATURES.length);
  const limit = `"timestamp" < to_timestamp(${Math.floor(lastMoment)} / 1000.0) at time zone 'UTC'`;
  const select = `select user_id, (extract(epoch from "timestamp") * 1000)::bigint
    from feed_data where action = 'view' and ${beforeCutoff(opts.untilMs)} and ${limit}
      and ${sampleCondition(keepPerMille, seed)}
    order by user_id, "timestamp", post_id`;
  const source = { table: 'feed_data', action: 'view', keepPerMille, target };
  return m
    .write(source, async (append) => {
      let prevUser = -1;
      let prevMs = -1;
      for await (const f of csvRows(db.copyOut(select))) {
        const user = f[0] as number;
        const tMs = f[1] as number;
        const ui = store.userIndexById[user] ?? -1;
        // Two sampled views of one moment give one moment.
        if (ui < 0 || (user === prevUser && tMs === prevMs)) continue;
        prevUser = user;
        prevMs = tMs;
        fillUserContext(store, ui, tMs, ctx);
        for (const pi of ctx.liked) excluded[pi] = 1;
        positives.length = 0;
        for (let k = store.likeOffsets[ui]!; k < store.likeOffsets[ui + 1]!; k++) {
          const at = store.likeAtSec[k]! * 1000;
          const pi = store.likePost[k]!;
          if (at < tMs || at >= tMs + windowMs || excluded[pi]) continue;
          excluded[pi] = 1;
          positives.push(pi);
        }
        for (const pi of positives) {
          fillRow(store, ctx, pi, 'test', row, 0);
          await append(row, 1, tMs, user);
        }
        const rnd = momentRandom(seed, user, tMs);
        const drawn: number[] = [];
        for (let tries = 0; drawn.length < opts.negatives && tries < 20 * opts.negatives; tries++) {
          const pi = Math.floor(rnd() * posts);
          if (excluded[pi]) continue;
          excluded[pi] = 1;
          drawn.push(pi);
          fillRow(store, ctx, pi, 'test', row, 0);
          await append(row, 0, tMs, user);
        }
        for (const pi of ctx.liked) excluded[pi] = 0;
        for (const pi of positives) excluded[pi] = 0;
        for (const pi of drawn) excluded[pi] = 0;
      }
    })
    .then((built) => ({ ...built, target }));
}
