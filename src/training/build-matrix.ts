import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DbSession } from '../db/index.js';
import { MissingDataError, ValidationError } from '../errors/index.js';
import {
  CONTROL_FEATURES,
  cutStoreAt,
  fillRow,
  fillUserContext,
  newUserContext,
  TEST_FEATURES,
  type FeatureStore,
} from '../features/index.js';
import { csvRows } from '../features/csv-numbers.js';
import { MatrixWriter } from './matrix.js';

export interface BuildMatrixOptions {
  /** Parent folder; the matrices go to <dir>/control and <dir>/test. */
  dir: string;
  /** About this many view rows are sampled (deterministically) from feed_data. */
  targetRows: number;
  /**
   * The cut-off (epoch ms) of `feedrec train --until`: only events strictly before it reach the
   * matrix, its labels and its features (the store is cut in place, see cutStoreAt).
   */
  untilMs?: number;
  /** Salt of the sampling hash: another seed samples other views. 0 is the original sample. */
  seed?: number;
  /** How the target was chosen (train --target), recorded with it in the header and the card. */
  choice?: Record<string, unknown>;
}

/** The events a matrix was built from (epoch ms); recorded in the model card by train.py. */
export interface TrainingWindow {
  /** First and last event of feed_data the matrix and its features could read. */
  first_event_ms: number;
  last_event_ms: number;
  /** First and last sampled row (null for an empty matrix). */
  first_row_ms: number | null;
  last_row_ms: number | null;
  /** The cut-off, or null when the whole log was used. */
  until_ms: number | null;
}

export interface BuiltMatrices {
  control: string;
  test: string;
  rows: number;
  positives: number;
  minMs: number;
  maxMs: number;
  window: TrainingWindow;
}

// The control features are by construction the first columns of the test features, so one
// feature row serves both matrices and they hold exactly the same sampled views.
if (CONTROL_FEATURES.some((f, i) => TEST_FEATURES[i] !== f))
  throw new Error('CONTROL_FEATURES must be a prefix of TEST_FEATURES');

/** SQL condition: the event is before the cut-off (always true without one). */
export function beforeCutoff(untilMs: number | undefined): string {
  return untilMs === undefined
    ? 'true'
    : `"timestamp" < to_timestamp(${Math.floor(untilMs)} / 1000.0) at time zone 'UTC'`;
}

/**
 * A fixed hash of the view row picks the sample, so the same tables give the same matrix on any
 * engine. Seed 0 keeps the original hash (the committed models' sample); other seeds permute the
 * hash modulo a prime first, so their samples are nearly independent of each other.
 */
export function sampleCondition(keepPerMille: number, seed: number): string {
  const h = `(user_id::bigint * 2654435761 + post_id::bigint * 40503 + extract(epoch from "timestamp")::bigint)`;
  if (seed === 0) return `(${h} % 1000) < ${keepPerMille}`;
  const mult = (seed % 1_000_000) * 7919 + 1;
  return `((((${h} % 1000003) * ${mult}) % 1000003) % 1000) < ${keepPerMille}`;
}

/** True when user ui has a like of post pi at or after tMs in the (cut) store. */
function likedFrom(store: FeatureStore, ui: number, pi: number, tMs: number): boolean {
  for (let k = store.likeOffsets[ui]!; k < store.likeOffsets[ui + 1]!; k++)
    if (store.likePost[k] === pi && store.likeAtSec[k]! * 1000 >= tMs) return true;
  return false;
}

/** A row writer over both matrices: the test row, whose prefix is the control row. */
export type AppendRow = (row: Float32Array, label: number, tMs: number, user: number) => Promise<void>;

export interface OpenedMatrices {
  /** Views before the cut-off, and the first and last event before it (epoch ms). */
  span: { views: number; loMs: number; hiMs: number };
  /**
   * Creates the two matrices (`source` is their provenance), lets `fill` append rows, and closes
   * them with the training window.
   */
  write(source: Record<string, unknown>, fill: (append: AppendRow) => Promise<void>): Promise<BuiltMatrices>;
}

/**
 * What every training matrix shares: the span of the log before the cut-off, the store cut to
 * the cut-off (cutStoreAt), the control and test writers, and the training window recorded in
 * their headers.
 */
export async function openMatrices(
  db: DbSession,
  store: FeatureStore,
  opts: { dir: string; untilMs?: number; seed?: number },
  log: (msg: string) => void,
): Promise<OpenedMatrices> {
  const until = opts.untilMs;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ValidationError(`the sampling seed must be a non-negative integer, got ${seed}`);
  const span = (
    await db.query<{ views: string; lo: string | null; hi: string | null }>(
      `select count(*) filter (where action = 'view') views,
              (extract(epoch from min("timestamp")) * 1000)::bigint lo,
              (extract(epoch from max("timestamp")) * 1000)::bigint hi
       from feed_data where ${beforeCutoff(until)}`,
    )
  )[0]!;
  if (span.lo === null || span.hi === null)
    throw new MissingDataError(
      until === undefined
        ? 'feed_data is empty: nothing to train on'
        : `feed_data has no event before the cut-off ${new Date(until).toISOString()}`,
    );
  if (until !== undefined) {
    cutStoreAt(store, until);
    log(`cut-off ${new Date(until).toISOString()}: events before it only`);
  }
  const lo = Number(span.lo);
  const hi = Number(span.hi);
  return {
    span: { views: Number(span.views), loMs: lo, hiMs: hi },
    async write(source, fill) {
      const dirs = { control: path.join(opts.dir, 'control'), test: path.join(opts.dir, 'test') };
      for (const d of Object.values(dirs)) {
        await rm(d, { recursive: true, force: true });
        await mkdir(d, { recursive: true });
      }
      const src = {
        ...source,
        ...(seed === 0 ? {} : { seed }),
        ...(until === undefined ? {} : { until_ms: until }),
      };
      const control = await MatrixWriter.create(dirs.control, CONTROL_FEATURES, { source: src });
      const test = await MatrixWriter.create(dirs.test, TEST_FEATURES, { source: src });
      let rows = 0;
      let positives = 0;
      let minMs = Infinity;
      let maxMs = -Infinity;
      try {
        await fill(async (row, label, tMs, user) => {
          await control.appendRow(row.subarray(0, CONTROL_FEATURES.length), label, tMs, user);
          await test.appendRow(row, label, tMs, user);
          rows++;
          positives += label;
          if (tMs < minMs) minMs = tMs;
          if (tMs > maxMs) maxMs = tMs;
        });
      } catch (err) {
        await control.abort().catch(() => undefined);
        await test.abort().catch(() => undefined);
        throw err;
      }
      const window: TrainingWindow = {
        first_event_ms: lo,
        last_event_ms: hi,
        first_row_ms: rows > 0 ? minMs : null,
        last_row_ms: rows > 0 ? maxMs : null,
        until_ms: until ?? null,
      };
      // The window goes into the header (and from there into the model card) once it is known.
      await control.close({ window });
      await test.close({ window });
      log(`${rows} rows, positive rate ${(positives / Math.max(1, rows)).toFixed(4)}`);
      return { ...dirs, rows, positives, minMs, maxMs, window };
    },
  };
}

/**
 * Writes the training matrices from sampled views of feed_data with their target, through the
 * same feature code the service runs. Like rows are never rows: a view's label says whether its
 * like followed. With a cut-off a view counts as liked only when its like was logged before the
 * cut-off, as a snapshot taken at the cut-off would show it.
 */
export async function buildTrainingMatrices(
  db: DbSession,
  store: FeatureStore,
  opts: BuildMatrixOptions,
  log: (msg: string) => void = () => {},
): Promise<BuiltMatrices> {
  const until = opts.untilMs;
  const seed = opts.seed ?? 0;
  const m = await openMatrices(db, store, opts, log);
  const views = m.span.views;
  const keepPerMille = Math.max(1, Math.min(1000, Math.ceil((1000 * opts.targetRows) / Math.max(1, views))));
  log(`sampling ${keepPerMille}‰ of ${views} views`);
  const ctx = newUserContext(store);
  const row = new Float32Array(TEST_FEATURES.length);
  const select = `select user_id, post_id, (extract(epoch from "timestamp") * 1000)::bigint, target
    from feed_data where action = 'view' and ${beforeCutoff(until)}
      and ${sampleCondition(keepPerMille, seed)}
    order by user_id, "timestamp", post_id`;
  const target = { kind: 'view', ...opts.choice };
  return m.write({ table: 'feed_data', action: 'view', keepPerMille, target }, async (append) => {
    for await (const f of csvRows(db.copyOut(select))) {
      const ui = store.userIndexById[f[0] as number] ?? -1;
      const pi = store.postIndexById[f[1] as number] ?? -1;
      if (ui < 0 || pi < 0) continue;
      const tMs = f[2] as number;
      let label = f[3] as number;
      if (label === 1 && until !== undefined && !likedFrom(store, ui, pi, tMs)) label = 0;
      fillUserContext(store, ui, tMs, ctx);
      fillRow(store, ctx, pi, 'test', row, 0);
      await append(row, label, tMs, f[0] as number);
    }
  });
}
