// A ranking worker: attaches the shared feature store, opens one onnxruntime session per model
// once, and ranks micro-batches. session.run is synchronous native work, which is why it lives
// here and never on the HTTP thread.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachStore, featureNames } from '../src/features/index.js';
import { loadModel, type LoadedModel } from '../src/ranking/onnx-model.js';
import { ModelError } from '../src/errors/index.js';
import { RankingPipeline, retrievalFor, type RankInput } from '../src/ranking/pipeline.js';
import {
  WORKER_WARM,
  type Group,
  type RankTaskResult,
  type WarmupResult,
  type WorkerFault,
  type WorkerInit,
  type WorkerTask,
} from '../src/ranking/protocol.js';

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

const data = workerData as WorkerInit;
// Loaded and warmed (one real ranking per model: the first session.run is slow, and a model that
// loads but cannot score this snapshot must fail here) before this worker takes a batch: Piscina
// sends tasks only after this module is imported, so a worker that replaces a dead one takes no
// batch before it can rank it quickly. It says so, and the pool counts it whole (RankerPool.whole).
const ready = init(data).then(async (loaded) => {
  for (const l of loaded.values()) await rankOnce(l, { ui: 0, tMs: Date.now(), limit: 5 });
  parentPort?.postMessage({ [WORKER_WARM]: threadId });
  return loaded;
});
// A failure is not thrown here but by every task (the start-up warm-up names it as a ModelError).
await ready.catch(() => undefined);

export default async function run(task: WorkerTask): Promise<RankTaskResult | WarmupResult> {
  const loaded = await ready;
  if (task.kind === 'warmup') {
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
  if (task.fault && data.faultInjection) await injectFault(task.fault);
  // A batch may wait in this worker's inbox behind another one (tasksPerWorker > 1): requests
  // whose deadline passed meanwhile get no model work at all.
  const started = performance.now();
  const now = performance.timeOrigin + started;
  const live = task.reqs.map((_, i) => !(task.deadlines[i]! <= now));
  const reqs = task.reqs.filter((_, i) => live[i]);
  const postIds: (number[] | null)[] = task.reqs.map(() => null);
  const modelVersion = `${task.group}/${l.version}`;
  if (reqs.length === 0)
    return {
      postIds,
      modelVersion,
      rows: 0,
      featureMs: 0,
      modelMs: 0,
      threadId,
      serviceMs: performance.now() - started,
    };
  const ranked = await rank(l, reqs);
  let j = 0;
  for (let i = 0; i < postIds.length; i++) if (live[i]) postIds[i] = ranked.postIds[j++]!;
  return { ...ranked, postIds, modelVersion, threadId, serviceMs: performance.now() - started };
}

/** Test-only faults (WorkerFault); reached only when the pool was started with faultInjection. */
function injectFault(fault: WorkerFault): Promise<void> {
  switch (fault) {
    case 'throw':
      return Promise.reject(new Error(`injected fault (throw) in ranking worker ${threadId}`));
    case 'exit':
      process.exit(1);
      break;
    case 'crash':
      setImmediate(() => {
        throw new Error(`injected fault (crash): uncaught exception in ranking worker ${threadId}`);
      });
      // The batch stays held until the exception ends the thread.
      return new Promise(() => undefined);
  }
  return Promise.resolve();
}

async function rank(
  l: Loaded,
  reqs: RankInput[],
): Promise<
  Omit<RankTaskResult, 'modelVersion' | 'postIds' | 'threadId' | 'serviceMs'> & { postIds: number[][] }
> {
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
