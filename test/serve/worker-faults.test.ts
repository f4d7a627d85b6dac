import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createMemoryLogger } from '../../src/log/index.js';
import type { RankTask, RankTaskResult, WorkerFault } from '../../src/ranking/protocol.js';
import { buildService, type Service } from '../../src/serve/index.js';
import { MODELS_DIR, tinyWorldDir } from '../helpers/tiny-world.js';
import { inProcessTraffic } from '../../bench/in-process-traffic.js';

const WORKERS = 2;
const CLIENTS = 8;

const config = (dataDir: string): Config =>
  loadConfig(
    {},
    {
      dataDir,
      mode: 'ab',
      modelsDir: MODELS_DIR,
      port: 0,
      logLevel: 'silent',
      // A deadline no busy machine reaches: a fallback below can only come from the fault.
      // One batch per worker, so the batch that carries the fault is all the worker holds (with
      // the default two, a worker that dies also fails the batch waiting in its inbox: held by
      // it too, so still only its requests, but more than the one batch this test counts).
      // A fixed queue bound far above the 8 clients: on a busy machine the default admission could
      // shed a request (503), which is not what this test is about.
      serving: {
        workers: WORKERS,
        deadlineMs: 30_000,
        tasksPerWorker: 1,
        admission: 'fixed',
        queueLimit: 256,
      },
    },
  );

const until = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const failures = async (svc: Service, kind: 'batch' | 'idle') =>
  (await svc.metrics.workerFailures.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;

describe('ranking worker faults under load (real workers, tiny world, injected through the test hook)', () => {
  let dataDir: string;
  let svc: Service;
  let users: number[];
  const logger = createMemoryLogger();

  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    svc = await buildService(config(dataDir), { logger, faultInjection: true });
    users = (
      await svc.db.query<{ user_id: number }>('select user_id from user_data order by 1 limit 64')
    ).map((r) => r.user_id);
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each<WorkerFault>(['throw', 'crash', 'exit'])(
    'a worker that fails (%s) holding a batch: only that batch gets fallback answers, no 5xx, and the pool is whole again',
    async (fault) => {
      const before = new Set(svc.pool.piscina.threads.map((t) => t.threadId));
      const failedBefore = await failures(svc, 'batch');
      const load = inProcessTraffic(svc.app, users, CLIENTS);
      await until(() => load.answers.length >= 50, 30_000, 'traffic flowing');
      const hit = await svc.pool.injectFault(fault);
      expect(hit.failed).toBe(true);
      // How fast is bench/worker-recovery.ts's business; here only that it happens.
      await until(() => svc.pool.whole, 30_000, 'pool whole again');
      const wholeAt = performance.now();
      await until(
        () => load.answers.filter((a) => a.sentAt > wholeAt).length >= 100,
        30_000,
        'traffic after recovery',
      );
      await load.stop();

      expect(load.answers.filter((a) => a.status !== 200)).toEqual([]);
      const fallbacks = load.answers.filter((a) => a.modelVersion === 'fallback-popular');
      // Exactly the requests of the batch the worker held, all sent before it failed; the
      // answers to requests sent once the pool was whole again come from the models.
      expect(fallbacks).toHaveLength(hit.requests);
      expect(fallbacks.every((a) => a.sentAt < hit.at)).toBe(true);
      expect(load.answers.filter((a) => a.sentAt > wholeAt && a.modelVersion === 'fallback-popular')).toEqual(
        [],
      );
      expect(await failures(svc, 'batch')).toBe(failedBefore + 1);
      const after = svc.pool.piscina.threads.map((t) => t.threadId);
      expect(after).toHaveLength(WORKERS);
      // A thrown task leaves its worker alive; a dead thread is replaced by a new one.
      expect(after.filter((id) => !before.has(id))).toHaveLength(fault === 'throw' ? 0 : 1);
    },
  );

  it('a worker that fails with no batch in flight does not end the process: logged, counted, replaced', async () => {
    // Node's 'error' event of a worker thread, as an uncaught exception in it raises, with no
    // task in flight: Piscina re-emits it on the pool, where unheard it throws in the main thread
    // (vitest then reports an uncaught exception and the run fails).
    const before = new Set(svc.pool.piscina.threads.map((t) => t.threadId));
    const idleBefore = await failures(svc, 'idle');
    svc.pool.piscina.threads[0]!.emit('error', new Error('uncaught exception in an idle worker'));
    expect(await failures(svc, 'idle')).toBe(idleBefore + 1);
    expect(
      logger.entries.filter(
        (e) => e.msg === 'ranking worker failed with no batch in flight; a new one replaces it',
      ),
    ).toHaveLength(1);
    await until(() => svc.pool.whole, 30_000, 'pool whole again');
    expect(svc.pool.piscina.threads.map((t) => t.threadId).filter((id) => !before.has(id))).toHaveLength(1);
    const load = inProcessTraffic(svc.app, users, CLIENTS);
    await until(() => load.answers.length >= 100, 30_000, 'traffic');
    await load.stop();
    expect(load.answers.filter((a) => a.status !== 200 || a.modelVersion === 'fallback-popular')).toEqual([]);
  });
});

describe('fault injection in a served pool', () => {
  it('is off unless a test asks for it (config has no way to turn it on)', async () => {
    const dataDir = await tinyWorldDir();
    const svc = await buildService(config(dataDir));
    const threads = svc.pool.piscina.threads.map((t) => t.threadId);
    try {
      await expect(svc.pool.injectFault('exit')).rejects.toThrow(/fault injection is off/);
      // A task that carries a fault anyway is ranked as usual by workers started without it.
      const now = performance.timeOrigin + performance.now();
      const res = (await svc.pool.piscina.run({
        kind: 'rank',
        group: 'control',
        reqs: [{ ui: 0, tMs: Date.UTC(2021, 11, 1, 10), limit: 5 }],
        deadlines: [now + 60_000],
        fault: 'exit',
      } satisfies RankTask)) as RankTaskResult;
      expect(res.postIds[0]).toHaveLength(5);
      expect(svc.pool.piscina.threads.map((t) => t.threadId)).toEqual(threads);
    } finally {
      await svc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
