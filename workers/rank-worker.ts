// A ranking worker: attaches the shared feature store, opens one onnxruntime session per model
// once, and ranks micro-batches. session.run is synchronous native work, which is why it lives
// here and never on the HTTP thread.
import { threadId, workerData } from 'node:worker_threads';
import { attachStore, featureNames } from '../src/features/index.js';
import { loadModel, type LoadedModel } from '../src/ranking/onnx-model.js';
import { ModelError } from '../src/errors/index.js';
import { RankingPipeline, retrievalFor, type RankInput } from '../src/ranking/pipeline.js';
import type { Group, RankTaskResult, WarmupResult, WorkerInit, WorkerTask } from '../src/ranking/protocol.js';

interface Loaded {
  model: LoadedModel;
  pipeline: RankingPipeline;
  /** The folder's version, not the card's: the folder is what operators deploy and reload picks. */
  version: string;
}

async function init(data: WorkerInit): Promise<Map<Group, Loaded>> {
  const store = attachStore(data.shared);
  const out = new Map<Group, Loaded>();
  for (const ref of data.models) {
    const model = await loadModel(ref.dir, featureNames(ref.model), {
      intraOpThreads: data.intraOpThreads,
      allowSpinning: data.allowSpinning,
    });
    const pipeline = new RankingPipeline(store, {
      set: ref.model,
      retrieval: retrievalFor(model.meta),
      candidates: data.candidates,
      rankAll: data.rankAll,
    });
    out.set(ref.name, { model, pipeline, version: ref.version });
  }
  return out;
}

const ready = init(workerData as WorkerInit);
// Keep an init failure from becoming an unhandled rejection before the first task awaits it.
ready.catch(() => undefined);

export default async function run(task: WorkerTask): Promise<RankTaskResult | WarmupResult> {
  const loaded = await ready;
  if (task.kind === 'warmup') {
    // One real ranking per model before the pool reports ready: the first session.run is slow,
    // and a model that loads but cannot score this snapshot must fail here, not on live traffic.
    for (const l of loaded.values()) await rankOnce(l, { ui: 0, tMs: Date.now(), limit: 5 });
    return {
      threadId,
      models: [...loaded].map(([name, l]) => ({
        name,
        version: l.version,
        features: l.model.numFeatures,
        trees: l.model.meta.tree_count,
      })),
    };
  }
  const l = loaded.get(task.group);
  if (!l) throw new Error(`this worker has no ${task.group} model`);
  // A batch may wait in this worker's inbox behind another one (tasksPerWorker > 1): requests
  // whose deadline passed meanwhile get no model work at all.
  const now = performance.timeOrigin + performance.now();
  const live = task.reqs.map((_, i) => !(task.deadlines[i]! <= now));
  const reqs = task.reqs.filter((_, i) => live[i]);
  const postIds: (number[] | null)[] = task.reqs.map(() => null);
  const modelVersion = `${task.group}/${l.version}`;
  if (reqs.length === 0) return { postIds, modelVersion, rows: 0, featureMs: 0, modelMs: 0 };
  const ranked = await rank(l, reqs);
  let j = 0;
  for (let i = 0; i < postIds.length; i++) if (live[i]) postIds[i] = ranked.postIds[j++]!;
  return { ...ranked, postIds, modelVersion };
}

async function rank(
  l: Loaded,
  reqs: RankInput[],
): Promise<Omit<RankTaskResult, 'modelVersion' | 'postIds'> & { postIds: number[][] }> {
  const t0 = performance.now();
  const batch = l.pipeline.prepare(reqs);
  const t1 = performance.now();
  const scores = await l.model.score(batch.features, batch.rows);
  const t2 = performance.now();
  return {
    postIds: l.pipeline.finish(batch, reqs, scores),
    rows: batch.rows,
    featureMs: t1 - t0,
    modelMs: t2 - t1,
  };
}

async function rankOnce(l: Loaded, req: RankInput): Promise<void> {
  const { postIds } = await rank(l, [req]);
  if (postIds[0]!.length === 0)
    throw new ModelError(`${l.model.name}/${l.version} ranked no post at warm-up`);
}
