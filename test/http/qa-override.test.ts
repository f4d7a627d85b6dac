import { describe, expect, it } from 'vitest';
import { QA_TOKEN, REC, makeApp } from './setup.js';

describe('QA group override', () => {
  it.each(['control', 'test'] as const)(
    'forces group %s with a valid token and logs no exposure',
    async (group) => {
      const { get, logged, recommender, logger } = makeApp({ mode: 'ab' });
      const res = await get(REC, { 'X-Exp-Group': group, 'X-QA-Token': QA_TOKEN });
      expect(res.status).toBe(200);
      expect((await res.json()).exp_group).toBe(group);
      expect(recommender.rankCalls[0]!.group).toBe(group);
      expect(logged).toHaveLength(0);
      expect(logger.entries.find((e) => e.msg === 'request')).toMatchObject({ group, forced: true });
    },
  );

  it('refuses the header without a token (403) and ranks nothing', async () => {
    const { get, logged, recommender } = makeApp({ mode: 'ab' });
    const res = await get(REC, { 'X-Exp-Group': 'test' });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatch(/X-QA-Token/);
    expect(recommender.rankCalls).toHaveLength(0);
    expect(logged).toHaveLength(0);
  });

  it.each(['wrong-token-value', `${QA_TOKEN}x`, QA_TOKEN.slice(0, -1), ''])(
    'refuses a wrong token %j with 403',
    async (token) => {
      const { get } = makeApp({ mode: 'ab' });
      expect((await get(REC, { 'X-Exp-Group': 'test', 'X-QA-Token': token })).status).toBe(403);
    },
  );

  it('refuses every override when no token is configured', async () => {
    const { get } = makeApp({ mode: 'ab', qaToken: undefined });
    expect((await get(REC, { 'X-Exp-Group': 'test', 'X-QA-Token': QA_TOKEN })).status).toBe(403);
    // Without the header the service works as usual.
    expect((await get(REC)).status).toBe(200);
  });

  it('answers 422 naming the header for a group that does not exist', async () => {
    const { get } = makeApp({ mode: 'ab' });
    const res = await get(REC, { 'X-Exp-Group': 'treatment', 'X-QA-Token': QA_TOKEN });
    expect(res.status).toBe(422);
    expect((await res.json()).issues[0].path).toBe('X-Exp-Group');
  });

  it('does not change the model of a single-model service', async () => {
    const { get, recommender } = makeApp({ mode: 'control' });
    const res = await get(REC, { 'X-Exp-Group': 'test', 'X-QA-Token': QA_TOKEN });
    expect(res.status).toBe(200);
    expect(recommender.rankCalls[0]!.group).toBe('control');
  });
});
