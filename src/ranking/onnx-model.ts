// The only module that imports onnxruntime-node. Loads a model directory written by
// training/train.py (model.onnx + meta.json) and refuses one that does not match the feature code.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors/index.js';

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'meta.json';

/** meta.json, the model card (fields this code relies on; the card holds more). */
export interface ModelCard {
  format?: string;
  name: string;
  version: string;
  created: string;
  feature_names: string[];
  params: Record<string, unknown>;
  best_iteration: number;
  tree_count: number;
  depth: number;
  validation: {
    auc: number;
    train_rows: number;
    valid_rows: number;
    valid_positive_rate: number;
    [key: string]: unknown;
  };
  data: { sha256: string | null; [key: string]: unknown };
  /** What its score means: P(like | view) (kind 'view', or absent) or 'liked-within' days. */
  target?: { kind: string; days?: number; [key: string]: unknown };
  /**
   * The events the model learned from (epoch ms, with ISO twins), written by train.py from the
   * training matrix; absent in cards written before `train --until` existed.
   */
  window?: {
    until_ms: number | null;
    first_event_ms: number | null;
    last_event_ms: number | null;
    first_row_ms: number | null;
    last_row_ms: number | null;
    valid_from_ms: number | null;
    [key: string]: unknown;
  };
  onnx: {
    input: string;
    output: string;
    output_shape: (number | string)[];
    /** Column of the output holding P(label = 1) when the output is [N, 2]. */
    probability_column: number;
    [key: string]: unknown;
  };
  /** Rows with CatBoost's own predictions; null stands for a missing (NaN) feature value. */
  samples: { features: (number | null)[]; catboost_proba: number }[];
}

export interface LoadedModel {
  readonly meta: ModelCard;
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly numFeatures: number;
  /**
   * Probability of class 1 for each of `rows` rows of row-major `features` (NaN = missing).
   * The work is synchronous native code: call it from a worker thread, never the HTTP thread.
   */
  score(features: Float32Array, rows: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface LoadModelOptions {
  intraOpThreads: number;
  interOpThreads?: number;
  /**
   * Let idle intra-op threads spin-wait for work (onnxruntime's default). Spinning lowers latency
   * on an idle machine but burns the cores other workers need; see bench/ort-threads.ts.
   */
  allowSpinning?: boolean;
}

export async function loadModel(
  dir: string,
  expectedFeatures: readonly string[],
  opts: LoadModelOptions,
): Promise<LoadedModel> {
  const modelPath = path.join(dir, MODEL_FILE);
  const cardPath = path.join(dir, CARD_FILE);
  if (!existsSync(dir)) throw new ModelError(`model directory ${dir} does not exist`);
  for (const file of [modelPath, cardPath]) {
    if (!existsSync(file)) throw new ModelError(`model ${dir} is missing ${path.basename(file)} (${file})`);
  }
  const meta = await readCard(cardPath);
  checkFeatures(meta, expectedFeatures, cardPath);
  await checkSize(modelPath, meta, cardPath);

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: opts.intraOpThreads,
      interOpNumThreads: opts.interOpThreads ?? 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      ...(opts.allowSpinning === undefined
        ? {}
        : { extra: { session: { intra_op: { allow_spinning: opts.allowSpinning ? '1' : '0' } } } }),
    });
  } catch (err) {
    throw new ModelError(`cannot load ${modelPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const model = bind(session, meta, dir);
    await checkSamples(model, modelPath);
    return model;
  } catch (err) {
    await session.release();
    throw err;
  }
}

/**
 * train.py records the size of model.onnx in the card: a file cut short by a copy or a full disk
 * is refused here, with both names, before onnxruntime reads it.
 */
async function checkSize(modelPath: string, meta: ModelCard, cardPath: string): Promise<void> {
  const expected = meta.onnx.bytes;
  if (typeof expected !== 'number') return;
  const { size } = await stat(modelPath);
  if (size !== expected)
    throw new ModelError(
      `${modelPath} is ${size} bytes, but its card ${cardPath} says ${expected}: the file is truncated ` +
        `or is not the one trained with this card; copy the model folder again`,
    );
}

/** Looser than the parity test's 1e-5: a refusal must mean a broken model, not a rounding change. */
const SAMPLE_TOLERANCE = 1e-4;

/**
 * The card holds rows with CatBoost's own probabilities. A file that loads but was corrupted (a
 * flipped byte in a leaf value or a split) scores them differently: refused, naming the file.
 */
async function checkSamples(model: LoadedModel, modelPath: string): Promise<void> {
  const samples = model.meta.samples ?? [];
  if (samples.length === 0) return;
  const width = model.numFeatures;
  const x = new Float32Array(samples.length * width);
  samples.forEach((s, i) => s.features.forEach((v, j) => (x[i * width + j] = v === null ? NaN : v)));
  const p = await model.score(x, samples.length);
  const worst = samples.reduce((w, s, i) => Math.max(w, Math.abs(p[i]! - s.catboost_proba)), 0);
  if (!(worst <= SAMPLE_TOLERANCE))
    throw new ModelError(
      `${modelPath} does not score the sample rows of its card as CatBoost did (largest difference ` +
        `${worst.toPrecision(3)}): the file is corrupt or is not the one trained with this card`,
    );
}

function bind(session: ort.InferenceSession, meta: ModelCard, dir: string): LoadedModel {
  const width = meta.feature_names.length;
  const inputName = meta.onnx.input;
  const outputName = meta.onnx.output;
  const where = path.join(dir, MODEL_FILE);
  if (!session.inputNames.includes(inputName)) {
    throw new ModelError(
      `${where} has inputs [${session.inputNames.join(', ')}], the card names "${inputName}"`,
    );
  }
  if (!session.outputNames.includes(outputName)) {
    throw new ModelError(
      `${where} has outputs [${session.outputNames.join(', ')}], the card names "${outputName}"`,
    );
  }
  const input = session.inputMetadata[session.inputNames.indexOf(inputName)];
  if (input?.isTensor) {
    const inputWidth = input.shape[1];
    if (input.shape.length !== 2 || (typeof inputWidth === 'number' && inputWidth !== width)) {
      throw new ModelError(
        `${where}: input "${inputName}" has shape [${input.shape.join(', ')}], ` +
          `but the card lists ${width} features`,
      );
    }
  }
  const column = meta.onnx.probability_column ?? 1;
  let released = false;

  return {
    meta,
    name: meta.name,
    version: meta.version,
    dir,
    numFeatures: width,
    async score(features: Float32Array, rows: number): Promise<Float32Array> {
      if (released) throw new ModelError(`model ${meta.name}/${meta.version} was released`);
      if (!Number.isInteger(rows) || rows < 0 || features.length < rows * width) {
        throw new ModelError(
          `score: ${features.length} values cannot hold ${rows} rows of ${width} features`,
        );
      }
      if (rows === 0) return new Float32Array(0);
      const view = features.length === rows * width ? features : features.subarray(0, rows * width);
      const tensor = new ort.Tensor('float32', view, [rows, width]);
      const result = await session.run({ [inputName]: tensor }, [outputName]);
      const out = result[outputName];
      if (!out) throw new ModelError(`model ${meta.name}/${meta.version} returned no "${outputName}"`);
      try {
        return extractProbability(out, rows, column);
      } finally {
        out.dispose();
      }
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}

function extractProbability(out: ort.Tensor, rows: number, column: number): Float32Array {
  const data = out.data;
  if (!(data instanceof Float32Array)) throw new ModelError(`model output is ${out.type}, expected float32`);
  if (out.dims.length === 1 && out.dims[0] === rows) return Float32Array.from(data);
  const cols = out.dims[1];
  if (out.dims.length !== 2 || out.dims[0] !== rows || cols === undefined || column >= cols) {
    throw new ModelError(
      `model output has shape [${out.dims.join(', ')}], expected [${rows}, 2] or [${rows}]`,
    );
  }
  const p = new Float32Array(rows);
  for (let i = 0; i < rows; i++) p[i] = data[i * cols + column]!;
  return p;
}

async function readCard(cardPath: string): Promise<ModelCard> {
  let card: unknown;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8'));
  } catch (err) {
    throw new ModelError(`cannot read model card ${cardPath}: ${(err as Error).message}`, { cause: err });
  }
  const c = card as Partial<ModelCard>;
  const missing = (['name', 'version', 'feature_names', 'onnx'] as const).filter((k) => c[k] === undefined);
  if (missing.length) throw new ModelError(`model card ${cardPath} lacks ${missing.join(', ')}`);
  if (!Array.isArray(c.feature_names) || !c.feature_names.every((f) => typeof f === 'string')) {
    throw new ModelError(`model card ${cardPath}: feature_names is not a list of names`);
  }
  if (typeof c.onnx?.input !== 'string' || typeof c.onnx?.output !== 'string') {
    throw new ModelError(`model card ${cardPath}: onnx.input / onnx.output missing`);
  }
  return c as ModelCard;
}

/** Order matters: the model reads features by position. */
function checkFeatures(meta: ModelCard, expected: readonly string[], cardPath: string): void {
  const got = meta.feature_names;
  const n = Math.max(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (got[i] === expected[i]) continue;
    const have = got[i] === undefined ? 'nothing' : `"${got[i]}"`;
    const want = expected[i] === undefined ? 'nothing' : `"${expected[i]}"`;
    throw new ModelError(
      `model ${meta.name}/${meta.version} does not match the feature code: at position ${i} the model has ` +
        `${have}, the code has ${want} (model: ${got.length} features, code: ${expected.length}; ${cardPath})`,
    );
  }
}

export interface ModelLocation {
  name: string;
  version: string;
  dir: string;
}

const versionOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/**
 * Every `models/<name>/<version>/` directory, versions in natural order (v2 < v10, date stamps
 * chronological). A version directory is listed even when incomplete, so loadModel can say why.
 */
export async function listModelVersions(modelsDir: string, name?: string): Promise<ModelLocation[]> {
  const names = name !== undefined ? [name] : await subdirs(modelsDir);
  const out: ModelLocation[] = [];
  for (const n of names.sort(versionOrder.compare)) {
    const versions = await subdirs(path.join(modelsDir, n));
    for (const v of versions.sort(versionOrder.compare))
      out.push({ name: n, version: v, dir: path.join(modelsDir, n, v) });
  }
  return out;
}

/** The latest version of each model name under `modelsDir`, keyed by name. */
export async function findModels(modelsDir: string): Promise<Map<string, ModelLocation>> {
  const latest = new Map<string, ModelLocation>();
  for (const loc of await listModelVersions(modelsDir)) latest.set(loc.name, loc); // sorted: last wins
  return latest;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
