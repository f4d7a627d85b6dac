import type { Exposure } from '../../src/ab/index.js';
import type { DbSession } from '../../src/db/index.js';

export const exposure = (i: number): Exposure => ({
  loggedAt: new Date(Date.UTC(2026, 0, 1, 12, 0, 0, i)),
  requestId: `req-${i}`,
  userId: 1000 + i,
  group: i % 2 ? 'test' : 'control',
  modelVersion: 'model-v1',
  postIds: [i, i + 1, i + 2],
  requestTime: new Date(Date.UTC(2021, 11, 1, 10, 0, 0)),
});

/** The error node-postgres gives when Postgres is stopped or restarts under a connection. */
export const connectionLost = () =>
  Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

/**
 * Counts INSERTs into exposures and misbehaves on demand: fails the next n (`failNext`), or
 * writes the next n and then fails as if the reply was lost after the commit (`loseReplyNext`),
 * or is down altogether (`down`).
 */
export function flakyDb(db: DbSession) {
  const state = { inserts: 0, failNext: 0, loseReplyNext: 0, down: false, batchSizes: [] as number[] };
  const session: Pick<DbSession, 'query'> = {
    async query<R>(text: string, params?: unknown[]) {
      if (text.startsWith('INSERT INTO exposures')) {
        state.inserts += 1;
        if (state.down) throw connectionLost();
        if (state.failNext > 0) {
          state.failNext -= 1;
          throw connectionLost();
        }
        state.batchSizes.push((params![1] as unknown[]).length);
        if (state.loseReplyNext > 0) {
          state.loseReplyNext -= 1;
          await db.query<R>(text, params);
          throw new Error('Connection terminated unexpectedly');
        }
      }
      return db.query<R>(text, params);
    },
  };
  return { session, state };
}

export const exposureRows = (db: DbSession) =>
  db.query<{
    request_id: string;
    user_id: number;
    exp_group: string;
    post_ids: number[];
    logged_at: Date;
    request_time: Date;
    model_version: string;
  }>('SELECT * FROM exposures ORDER BY id');
