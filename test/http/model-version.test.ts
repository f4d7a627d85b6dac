import { describe, expect, it } from 'vitest';
import { assignGroup } from '../../src/ab/index.js';
import type { RankResult } from '../../src/http/index.js';
import { REC, makeApp } from './setup.js';

describe('X-Model-Version header', () => {
  it('names the version that ranked the answer, the same one its exposure records', async () => {
    const { get, logged, config } = makeApp({ mode: 'ab' });
    const res = await get(REC);
    const group = assignGroup(config.ab.salt, 7, config.ab.testShare);
    expect(res.headers.get('x-model-version')).toBe(`fixture-${group}-v1`);
    expect(logged[0]!.modelVersion).toBe(res.headers.get('x-model-version'));
  });

  it('follows the model when a ranking comes from another version (as during a reload)', async () => {
    const versions = ['test/v1', 'test/v2'];
    let call = 0;
    const rank = async (): Promise<RankResult> => ({
      postIds: [1, 2, 3, 4, 5],
      modelVersion: versions[call++ % 2]!,
    });
    const { get, logged } = makeApp({ mode: 'test' }, { rank });
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push((await get(REC)).headers.get('x-model-version'));
    expect(seen).toEqual(['test/v1', 'test/v2', 'test/v1', 'test/v2']);
    expect(logged).toHaveLength(0);
  });

  it('says fallback-popular when the deadline served the fallback ranking', async () => {
    const never = () => new Promise<RankResult>(() => undefined);
    const { get } = makeApp({ mode: 'ab', serving: { deadlineMs: 5 } }, { rank: never });
    const res = await get(REC);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('fallback-popular');
  });

  it('is absent from error answers, which no model ranked', async () => {
    const { get } = makeApp({ mode: 'ab' });
    const res = await get('/post/recommendations/?id=999999&time=2021-12-01T10:00:00');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-model-version')).toBeNull();
  });
});
