import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DbSession } from '../db/index.js';
import {
  CONTROL_FEATURES,
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
}

export interface BuiltMatrices {
  control: string;
  test: string;
  rows: number;
  positives: number;
  minMs: number;
  maxMs: number;
}

// The control features are by construction the first columns of the test features, so one
// feature row serves both matrices and they hold exactly the same sampled views.
if (CONTROL_FEATURES.some((f, i) => TEST_FEATURES[i] !== f))
  throw new Error('CONTROL_FEATURES must be a prefix of TEST_FEATURES');

/**
 * Writes the training matrices from sampled views of feed_data with their target, through the
 * same feature code the service runs.
 */
export async function buildTrainingMatrices(
  db: DbSession,
  store: FeatureStore,
  opts: BuildMatrixOptions,
  log: (msg: string) => void = () => {},
): Promise<BuiltMatrices> {
  const { views } = (
    await db.query<{ views: string }>(`select count(*) views from feed_data where action = 'view'`)
  )[0]!;
  const keepPerMille = Math.max(
    1,
    Math.min(1000, Math.ceil((1000 * opts.targetRows) / Math.max(1, Number(views)))),
  );
  log(`sampling ${keepPerMille}‰ of ${views} views`);
  const dirs = { control: path.join(opts.dir, 'control'), test: path.join(opts.dir, 'test') };
  for (const d of Object.values(dirs)) {
    await rm(d, { recursive: true, force: true });
    await mkdir(d, { recursive: true });
  }
  const source = { table: 'feed_data', action: 'view', keepPerMille };
  const control = await MatrixWriter.create(dirs.control, CONTROL_FEATURES, { source });
  const test = await MatrixWriter.create(dirs.test, TEST_FEATURES, { source });
  const ctx = newUserContext(store);
  const row = new Float32Array(TEST_FEATURES.length);
  const controlRow = row.subarray(0, CONTROL_FEATURES.length);
  let rows = 0;
  let positives = 0;
  let minMs = Infinity;
  let maxMs = -Infinity;
  try {
    // A fixed hash of the row picks the sample, so the same tables give the same matrix on any engine.
    const select = `select user_id, post_id, (extract(epoch from "timestamp") * 1000)::bigint, target
      from feed_data where action = 'view'
        and ((user_id::bigint * 2654435761 + post_id::bigint * 40503
              + extract(epoch from "timestamp")::bigint) % 1000) < ${keepPerMille}
      order by user_id, "timestamp", post_id`;
    for await (const f of csvRows(db.copyOut(select))) {
      const ui = store.userIndexById[f[0] as number] ?? -1;
      const pi = store.postIndexById[f[1] as number] ?? -1;
      if (ui < 0 || pi < 0) continue;
      const tMs = f[2] as number;
      const label = f[3] as number;
      fillUserContext(store, ui, tMs, ctx);
      fillRow(store, ctx, pi, 'test', row, 0);
      await control.appendRow(controlRow, label, tMs, f[0] as number);
      await test.appendRow(row, label, tMs, f[0] as number);
      rows++;
      positives += label;
      if (tMs < minMs) minMs = tMs;
      if (tMs > maxMs) maxMs = tMs;
    }
    await control.close();
    await test.close();
  } catch (err) {
    await control.abort().catch(() => undefined);
    await test.abort().catch(() => undefined);
    throw err;
  }
  log(`${rows} rows, positive rate ${(positives / Math.max(1, rows)).toFixed(4)}`);
  return { ...dirs, rows, positives, minMs, maxMs };
}
