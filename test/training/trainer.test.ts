// End to end through Python: needs training/.venv (training/setup-venv.sh; .ci/run creates it).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingError } from '../../src/errors/index.js';
import { loadModel, type ModelCard } from '../../src/ranking/onnx-model.js';
import { hasVenv, runTrainer, type TrainerOptions } from '../../src/training/index.js';
import {
  FIXTURE_DAY_MS,
  FIXTURE_FEATURES,
  FIXTURE_START_MS,
  FIXTURE_VALID_FROM_MS,
  writeFixtureMatrix,
} from '../fixtures/models/fixture-data.js';

const venv = hasVenv();
if (!venv) {
  console.warn(
    '[feedrec tests] training/.venv is missing: the Python trainer tests are SKIPPED ' +
      '(run training/setup-venv.sh; .ci/run does).',
  );
}

describe.skipIf(!venv)('python trainer (train.py)', () => {
  let tmp: string;
  let matrixDir: string;
  const quiet = () => {};

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'feedrec-train-'));
    matrixDir = path.join(tmp, 'matrix');
    await writeFixtureMatrix(matrixDir, { rows: 2000, seed: 11 });
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  const base = (): TrainerOptions => ({
    matrixDir,
    outDir: path.join(tmp, 'models', 'control', 'v3'),
    name: 'control',
    validFromMs: FIXTURE_VALID_FROM_MS,
    iterations: 30,
    depth: 3,
    learningRate: 0.2,
    seed: 5,
    threads: 2,
    samples: 12,
    onOutput: quiet,
  });

  it('fits, exports ONNX without ZipMap and writes a card that onnxruntime reproduces', async () => {
    const summary = await runTrainer(base());
    expect(summary).toMatchObject({
      ok: true,
      name: 'control',
      version: 'v3',
      train_rows: 1600,
      valid_rows: 400,
    });
    expect(summary.auc).toBeGreaterThan(0.6);
    expect(summary.tree_count).toBeLessThanOrEqual(30);

    const dir = base().outDir;
    const card = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as ModelCard;
    expect(card.feature_names).toEqual(FIXTURE_FEATURES);
    expect(card.onnx).toMatchObject({ input: 'features', output: 'probabilities', output_shape: ['N', 2] });
    expect(card.validation.auc).toBeCloseTo(summary.auc, 12);
    expect(card.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(card.samples).toHaveLength(12);

    const model = await loadModel(dir, FIXTURE_FEATURES, { intraOpThreads: 1 });
    try {
      const x = new Float32Array(card.samples.flatMap((s) => s.features.map((v) => (v === null ? NaN : v))));
      const p = await model.score(x, card.samples.length);
      card.samples.forEach((s, i) => expect(Math.abs(p[i]! - s.catboost_proba)).toBeLessThanOrEqual(1e-5));
    } finally {
      await model.release();
    }
  });

  it('fits a ranking objective grouped by user-day and exports its sigmoid as the like probability', async () => {
    const outDir = path.join(tmp, 'models', 'control', 'yeti');
    const summary = await runTrainer({
      ...base(),
      outDir,
      extraArgs: ['--loss-function', 'YetiRank', '--group-by', 'user-day'],
    });
    expect(summary.auc).toBeGreaterThan(0.6);
    const card = JSON.parse(await readFile(path.join(outDir, 'meta.json'), 'utf8')) as ModelCard & {
      params: { loss_function: string };
      group_by: string;
    };
    expect(card.params.loss_function).toBe('YetiRank');
    expect(card.group_by).toBe('user-day');
    expect(card.onnx).toMatchObject({ output: 'probabilities', output_shape: ['N', 2] });
    const model = await loadModel(outDir, FIXTURE_FEATURES, { intraOpThreads: 1 });
    try {
      const x = new Float32Array(card.samples.flatMap((s) => s.features.map((v) => (v === null ? NaN : v))));
      const p = await model.score(x, card.samples.length);
      card.samples.forEach((s, i) => expect(Math.abs(p[i]! - s.catboost_proba)).toBeLessThanOrEqual(1e-5));
    } finally {
      await model.release();
    }
  });

  it('fits without the dropped features (a constant 0) but keeps them in the card', async () => {
    const outDir = path.join(tmp, 'models', 'control', 'drop');
    await runTrainer({ ...base(), outDir, extraArgs: ['--drop-features', FIXTURE_FEATURES[0]!] });
    const card = JSON.parse(await readFile(path.join(outDir, 'meta.json'), 'utf8')) as ModelCard & {
      dropped_features: string[];
    };
    expect(card.feature_names).toEqual(FIXTURE_FEATURES);
    expect(card.dropped_features).toEqual([FIXTURE_FEATURES[0]]);
    const model = await loadModel(outDir, FIXTURE_FEATURES, { intraOpThreads: 1 });
    try {
      // The model never splits on the dropped feature: any value of it gives the same score.
      const rows = card.samples.filter((s) => s.features.every((v) => v !== null)).slice(0, 4);
      const x = new Float32Array(rows.flatMap((s) => s.features as number[]));
      const y = x.slice();
      for (let i = 0; i < rows.length; i++) y[i * FIXTURE_FEATURES.length] = 1e6 * (i + 1);
      expect(Array.from(await model.score(y, rows.length))).toEqual(
        Array.from(await model.score(x, rows.length)),
      );
    } finally {
      await model.release();
    }
  });

  it('fails with a TrainingError carrying the reason when the validation window is empty', async () => {
    const err = await runTrainer({ ...base(), validFromMs: FIXTURE_START_MS + 1e12 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as TrainingError).exitCode).toBe(2);
    expect((err as TrainingError).message).toMatch(/valid=0/);
    expect((err as TrainingError).stderrTail).toMatch(/valid=0/);
  });

  it('refuses a matrix with a row at or after its cut-off, and a validation window that starts after it', async () => {
    // The last line of defence of `train --until`: neither the fit nor early stopping may read a
    // row from the held-out side, whatever wrote the matrix. Rows run over days 0-10.
    const late = path.join(tmp, 'late');
    const cut = FIXTURE_START_MS + 9 * FIXTURE_DAY_MS;
    await writeFixtureMatrix(late, { rows: 2000, seed: 11, source: { until_ms: cut } });
    const err = await runTrainer({ ...base(), matrixDir: late }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as Error).message).toMatch(/rows at or after its cut-off 2021-10-10T00:00:00Z/);

    const fine = path.join(tmp, 'fine');
    const after = FIXTURE_START_MS + 11 * FIXTURE_DAY_MS;
    await writeFixtureMatrix(fine, { rows: 2000, seed: 11, source: { until_ms: after } });
    const badValid = await runTrainer({ ...base(), matrixDir: fine, validFromMs: after }).catch(
      (e: unknown) => e,
    );
    expect(badValid).toBeInstanceOf(TrainingError);
    expect((badValid as Error).message).toMatch(/is not before the cut-off 2021-10-12T00:00:00Z/);
    // Within the cut-off the same matrix trains, and its card carries the cut-off.
    const ok = await runTrainer({
      ...base(),
      matrixDir: fine,
      outDir: path.join(tmp, 'models', 'control', 'v4'),
    });
    expect(ok.valid_rows).toBe(400);
    const card = JSON.parse(
      await readFile(path.join(tmp, 'models', 'control', 'v4', 'meta.json'), 'utf8'),
    ) as ModelCard;
    expect(card.window).toMatchObject({ until_ms: after, valid_from_ms: FIXTURE_VALID_FROM_MS });
  });

  it('fails with a TrainingError when the matrix is missing', async () => {
    const err = await runTrainer({ ...base(), matrixDir: path.join(tmp, 'absent') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as Error).message).toMatch(/no header\.json/);
  });
});
