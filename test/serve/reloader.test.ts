import { describe, expect, it } from 'vitest';
import { ModelError, ReloadRefusedError } from '../../src/errors/index.js';
import { createMemoryLogger } from '../../src/log/index.js';
import type { Generation } from '../../src/serve/index.js';
import { PoolRecommender, Reloader } from '../../src/serve/index.js';

/** A generation with no workers: enough for the reloader, which only swaps and closes. */
function fakeGeneration(id: number, version: string) {
  let closed = false;
  const gen = {
    id,
    models: [{ name: 'test', version, dir: `/models/test/${version}` }],
    store: { dims: { users: 1, posts: 1, likes: 0, maxUserId: 0 }, userIndexById: Int32Array.of(0) },
    pool: {
      close: async () => void (closed = true),
    },
    follower: { close: async () => undefined },
  } as unknown as Generation;
  return { gen, isClosed: () => closed };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('Reloader', () => {
  it('swaps only once the new generation is built, then closes the old one', async () => {
    const first = fakeGeneration(1, 'v1');
    const second = fakeGeneration(2, 'v2');
    const building = deferred<Generation>();
    const rec = new PoolRecommender(first.gen);
    const reloader = new Reloader({
      recommender: rec,
      load: () => building.promise,
      logger: createMemoryLogger(),
    });
    const run = reloader.reload('test');
    await Promise.resolve();
    expect(rec.current).toBe(first.gen);
    building.resolve(second.gen);
    expect(await run).toMatchObject({ generation: 2, previous: ['test/v1'], models: ['test/v2'] });
    expect(rec.current).toBe(second.gen);
    await reloader.settled();
    expect(first.isClosed()).toBe(true);
    expect(second.isClosed()).toBe(false);
  });

  it('keeps the serving generation and names it when loading fails', async () => {
    const first = fakeGeneration(1, 'v1');
    const logger = createMemoryLogger();
    const rec = new PoolRecommender(first.gen);
    const reloader = new Reloader({
      recommender: rec,
      load: async () => {
        throw new ModelError('model test/v2 does not match the feature code');
      },
      logger,
    });
    const err = await reloader.reload('test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadRefusedError);
    expect((err as ReloadRefusedError).message).toMatch(/ModelError: model test\/v2 does not match/);
    expect((err as ReloadRefusedError).serving).toEqual(['test/v1']);
    expect(rec.current).toBe(first.gen);
    expect(first.isClosed()).toBe(false);
    expect(logger.entries.find((e) => e.level === 'error')).toMatchObject({ serving: ['test/v1'] });
  });

  it('runs a reload asked for during another once more afterwards, shared by every caller meanwhile', async () => {
    const gens = [fakeGeneration(2, 'v2'), fakeGeneration(3, 'v3')];
    const builds = [deferred<Generation>(), deferred<Generation>()];
    let loads = 0;
    const rec = new PoolRecommender(fakeGeneration(1, 'v1').gen);
    const reloader = new Reloader({
      recommender: rec,
      load: () => builds[loads++]!.promise,
      logger: createMemoryLogger(),
    });
    const a = reloader.reload('a');
    const b = reloader.reload('b');
    const c = reloader.reload('c');
    expect(b).toBe(c);
    builds[0]!.resolve(gens[0]!.gen);
    expect((await a).generation).toBe(2);
    await expect.poll(() => loads).toBe(2);
    builds[1]!.resolve(gens[1]!.gen);
    expect((await b).generation).toBe(3);
    expect(loads).toBe(2);
    expect(rec.current).toBe(gens[1]!.gen);
  });
});
