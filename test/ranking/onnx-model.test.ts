import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors/index.js';
import {
  findModels,
  listModelVersions,
  loadModel,
  type LoadedModel,
  type ModelCard,
  type ModelLocation,
} from '../../src/ranking/onnx-model.js';
import { FIXTURE_FEATURES } from '../fixtures/models/fixture-data.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE_MODELS = path.join(root, 'test/fixtures/models');
const FIXTURE_DIR = path.join(FIXTURE_MODELS, 'fixture', 'v1');
const TOLERANCE = 1e-5;

// Parity covers every committed model, not only the fixture: models/ is listed at collection time.
const committed = await listModelVersions(path.join(root, 'models'));
const fixtures = await listModelVersions(FIXTURE_MODELS);
const all: ModelLocation[] = [...fixtures, ...committed];

function sampleMatrix(card: ModelCard): Float32Array {
  const width = card.feature_names.length;
  const x = new Float32Array(card.samples.length * width);
  card.samples.forEach((s, i) => {
    expect(s.features).toHaveLength(width);
    s.features.forEach((v, j) => (x[i * width + j] = v === null ? NaN : v));
  });
  return x;
}

describe('onnx model parity with CatBoost', () => {
  it('finds the committed fixture model', () => {
    expect(fixtures.map((m) => `${m.name}/${m.version}`)).toContain('fixture/v1');
  });

  it.each(all.map((m) => [`${m.name}/${m.version}`, m] as const))(
    '%s scores the card samples like CatBoost within 1e-5',
    async (_label, loc) => {
      const card = JSON.parse(await readFile(path.join(loc.dir, 'meta.json'), 'utf8')) as ModelCard;
      expect(card.samples.length).toBeGreaterThanOrEqual(5);
      expect(card.samples.some((s) => s.features.includes(null))).toBe(true);
      const model = await loadModel(loc.dir, card.feature_names, { intraOpThreads: 1 });
      try {
        expect(model.numFeatures).toBe(card.feature_names.length);
        const x = sampleMatrix(card);
        const p = await model.score(x, card.samples.length);
        expect(p).toHaveLength(card.samples.length);
        card.samples.forEach((s, i) =>
          expect(Math.abs(p[i]! - s.catboost_proba)).toBeLessThanOrEqual(TOLERANCE),
        );
        // One row at a time (a view into the middle of a buffer) gives the same answer as the batch.
        const width = model.numFeatures;
        const last = card.samples.length - 1;
        const one = await model.score(x.subarray(last * width, (last + 1) * width), 1);
        expect(one[0]).toBe(p[last]);
      } finally {
        await model.release();
      }
    },
  );
});

describe('onnx model loader', () => {
  let tmp: string;
  let fixture: LoadedModel;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'feedrec-onnx-'));
    fixture = await loadModel(FIXTURE_DIR, FIXTURE_FEATURES, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await fixture.release();
    await rm(tmp, { recursive: true, force: true });
  });

  it('exposes the card, name and version', () => {
    expect(fixture.name).toBe('fixture');
    expect(fixture.version).toBe('v1');
    expect(fixture.meta.feature_names).toEqual(FIXTURE_FEATURES);
    expect(fixture.meta.onnx.output).toBe('probabilities');
  });

  it('returns probabilities between 0 and 1, and nothing for no rows', async () => {
    const rows = 300;
    const x = new Float32Array(rows * fixture.numFeatures).map((_, i) => (i % 7 === 0 ? NaN : (i % 13) / 13));
    const p = await fixture.score(x, rows);
    expect(p).toHaveLength(rows);
    for (const v of p) expect(v > 0 && v < 1).toBe(true);
    expect(await fixture.score(new Float32Array(0), 0)).toHaveLength(0);
  });

  it('scores the same with two intra-op threads and spinning off', async () => {
    const rows = 500;
    const x = new Float32Array(rows * fixture.numFeatures).map((_, i) =>
      i % 11 === 0 ? NaN : (i % 17) / 17,
    );
    const two = await loadModel(FIXTURE_DIR, FIXTURE_FEATURES, { intraOpThreads: 2, allowSpinning: false });
    try {
      const a = await fixture.score(x, rows);
      const b = await two.score(x, rows);
      for (let i = 0; i < rows; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6);
    } finally {
      await two.release();
    }
  });

  it('refuses a buffer too short for the row count', async () => {
    await expect(fixture.score(new Float32Array(5), 1)).rejects.toThrow(ModelError);
  });

  it('refuses a feature list in another order, naming the first differing feature', async () => {
    const swapped = [...FIXTURE_FEATURES];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    const err = await loadModel(FIXTURE_DIR, swapped, { intraOpThreads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/position 2/);
    expect((err as Error).message).toContain('"post_topic"');
    expect((err as Error).message).toContain('"post_like_rate"');
  });

  it('refuses a model when the code has one more feature', async () => {
    const err = await loadModel(FIXTURE_DIR, [...FIXTURE_FEATURES, 'user_city'], { intraOpThreads: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toContain('"user_city"');
  });

  it('refuses a missing directory', async () => {
    const dir = path.join(tmp, 'nope', 'v1');
    await expect(loadModel(dir, FIXTURE_FEATURES, { intraOpThreads: 1 })).rejects.toThrow(ModelError);
    await expect(loadModel(dir, FIXTURE_FEATURES, { intraOpThreads: 1 })).rejects.toThrow(/does not exist/);
  });

  it('refuses a directory without meta.json or without model.onnx, naming the file', async () => {
    const noCard = path.join(tmp, 'no-card', 'v1');
    await mkdir(noCard, { recursive: true });
    await copyFile(path.join(FIXTURE_DIR, 'model.onnx'), path.join(noCard, 'model.onnx'));
    await expect(loadModel(noCard, FIXTURE_FEATURES, { intraOpThreads: 1 })).rejects.toThrow(/meta\.json/);
    const noModel = path.join(tmp, 'no-model', 'v1');
    await mkdir(noModel, { recursive: true });
    await copyFile(path.join(FIXTURE_DIR, 'meta.json'), path.join(noModel, 'meta.json'));
    await expect(loadModel(noModel, FIXTURE_FEATURES, { intraOpThreads: 1 })).rejects.toThrow(/model\.onnx/);
  });

  it('refuses an ONNX input whose width differs from the card', async () => {
    const dir = path.join(tmp, 'wide', 'v1');
    await mkdir(dir, { recursive: true });
    await copyFile(path.join(FIXTURE_DIR, 'model.onnx'), path.join(dir, 'model.onnx'));
    const card = JSON.parse(await readFile(path.join(FIXTURE_DIR, 'meta.json'), 'utf8')) as ModelCard;
    const wider = [...card.feature_names, 'extra'];
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify({ ...card, feature_names: wider }));
    const err = await loadModel(dir, wider, { intraOpThreads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/input "features" has shape \[N, 8\].*9 features/);
  });

  /** A copy of the fixture's folder with its model.onnx bytes and its card changed. */
  async function brokenCopy(
    name: string,
    bytes: (b: Buffer) => Buffer,
    card: (c: ModelCard) => ModelCard = (c) => c,
  ): Promise<{ dir: string; file: string }> {
    const dir = path.join(tmp, name, 'v1');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'model.onnx');
    await writeFile(file, bytes(await readFile(path.join(FIXTURE_DIR, 'model.onnx'))));
    const c = JSON.parse(await readFile(path.join(FIXTURE_DIR, 'meta.json'), 'utf8')) as ModelCard;
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify(card(c)));
    return { dir, file };
  }

  const refusal = (dir: string) =>
    loadModel(dir, FIXTURE_FEATURES, { intraOpThreads: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

  it('refuses a truncated model.onnx, naming the file and the size its card records', async () => {
    const { dir, file } = await brokenCopy('truncated', (b) => b.subarray(0, b.length >> 1));
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(ModelError);
    expect(err!.message).toContain(file);
    expect(err!.message).toMatch(
      /is 27170 bytes, but its card .*meta\.json says 54341: the file is truncated/,
    );
  });

  it('refuses a truncated model.onnx whose card records no size: onnxruntime cannot parse it, and the file is named', async () => {
    const { dir, file } = await brokenCopy(
      'truncated-old-card',
      (b) => b.subarray(0, b.length - 1000),
      (c) => ({ ...c, onnx: { ...c.onnx, bytes: undefined } }),
    );
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(ModelError);
    expect(err!.message).toContain(`cannot load ${file}`);
  });

  it('refuses a model.onnx of the right size whose bytes were overwritten, naming the file', async () => {
    const { dir, file } = await brokenCopy('garbage', (b) => {
      const out = Buffer.from(b);
      out.fill(0x5a, 16, out.length - 16);
      return out;
    });
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(ModelError);
    expect(err!.message).toContain(file);
  });

  it('refuses a model that loads but does not score the card samples as CatBoost did, naming the file', async () => {
    // What a flipped leaf value looks like from outside: the file parses, its scores are off.
    const { dir, file } = await brokenCopy(
      'off-by-a-bit',
      (b) => b,
      (c) => ({
        ...c,
        samples: c.samples.map((s, i) => (i === 3 ? { ...s, catboost_proba: s.catboost_proba + 0.001 } : s)),
      }),
    );
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(ModelError);
    expect(err!.message).toContain(file);
    expect(err!.message).toMatch(
      /does not score the sample rows of its card as CatBoost did \(largest difference 0\.001/,
    );
    // Within 1e-4 it loads: a refusal means a broken model, not float rounding.
    const close = await brokenCopy(
      'close-enough',
      (b) => b,
      (c) => ({
        ...c,
        samples: c.samples.map((s) => ({ ...s, catboost_proba: s.catboost_proba + 5e-5 })),
      }),
    );
    const model = await loadModel(close.dir, FIXTURE_FEATURES, { intraOpThreads: 1 });
    await model.release();
  });
});

describe('model discovery', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'feedrec-models-'));
    for (const v of ['v1', 'v10', 'v2', '.partial'])
      await mkdir(path.join(dir, 'control', v), { recursive: true });
    for (const v of ['2026-11-27', '2026-01-05', '2025-12-31'])
      await mkdir(path.join(dir, 'test', v), { recursive: true });
    await writeFile(path.join(dir, 'README.md'), 'not a model');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists versions in natural order and skips hidden directories', async () => {
    const control = await listModelVersions(dir, 'control');
    expect(control.map((m) => m.version)).toEqual(['v1', 'v2', 'v10']);
    const test = await listModelVersions(dir, 'test');
    expect(test.map((m) => m.version)).toEqual(['2025-12-31', '2026-01-05', '2026-11-27']);
  });

  it('picks the latest version of each model', async () => {
    const latest = await findModels(dir);
    expect([...latest.keys()].sort()).toEqual(['control', 'test']);
    expect(latest.get('control')).toEqual({
      name: 'control',
      version: 'v10',
      dir: path.join(dir, 'control', 'v10'),
    });
    expect(latest.get('test')?.version).toBe('2026-11-27');
  });

  it('finds nothing in a missing models directory', async () => {
    expect((await findModels(path.join(dir, 'absent'))).size).toBe(0);
  });
});
