// A ranking worker: attaches the shared feature store, opens one onnxruntime session per model
// once, and ranks micro-batches. session.run is synchronous native work, which is why it lives
// here and never on the HTTP thread.
import { threadId, workerData } from 'node:worker_threads';
import { attachStore, featureNames } from '../src/features/index.js';
import { loadModel, type LoadedModel } from '../src/ranking/onnx-model.js';
import { RankingPipeline } from '../src/ranking/pipeline.js';
import type { Group, RankTaskResult, WarmupResult, WorkerInit, WorkerTask } from '../src/ranking/protocol.js';

interface Loaded {
  model: LoadedModel;
  pipeline: RankingPipeline;
}

async function init(data: WorkerInit): Promise<Map<Group, Loaded>> {
  const store = attachStore(data.shared);
  const out = new Map<Group, Loaded>();
  for (const ref of data.models) {
    const model = await loadModel(ref.dir, featureNames(ref.name), {
      intraOpThreads: data.intraOpThreads,
      allowSpinning: data.allowSpinning,
    });
    const pipeline = new RankingPipeline(store, {
      set: ref.name,
      candidates: data.candidates,
      rankAll: data.rankAll,
    });
    out.set(ref.name, { model, pipeline });
  }
  return out;
}

const ready = init(workerData as WorkerInit);
// Keep an init failure from becoming an unhandled rejection before the first task awaits it.
ready.catch(() => undefined);

export default async function run(task: WorkerTask): Promise<RankTaskResult | WarmupResult> {
  const loaded = await ready;
  if (task.kind === 'warmup') {
    return {
      threadId,
      models: [...loaded].map(([name, l]) => ({
        name,
        version: l.model.version,
        features: l.model.numFeatures,
        trees: l.model.meta.tree_count,
      })),
    };
  }
  const l = loaded.get(task.group);
  if (!l) throw new Error(`this worker has no ${task.group} model`);
  const t0 = performance.now();
  const batch = l.pipeline.prepare(task.reqs);
  const t1 = performance.now();
  const scores = await l.model.score(batch.features, batch.rows);
  const t2 = performance.now();
  return {
    postIds: l.pipeline.finish(batch, task.reqs, scores),
    modelVersion: `${l.model.name}/${l.model.version}`,
    rows: batch.rows,
    featureMs: t1 - t0,
    modelMs: t2 - t1,
  };
}
