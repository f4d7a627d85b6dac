import type { DbSession } from '../db/index.js';

/** One row of feed_data, as the network logs it. */
export interface FeedRow {
  /** Epoch milliseconds (UTC). */
  timeMs: number;
  userId: number;
  postId: number;
  action: 'view' | 'like';
  /** 1 on a view the user liked right after; always 0 on a like row. */
  target: 0 | 1;
}

// The table stores UTC wall-clock time without a zone; we send exactly that text, because a
// driver serialising a Date would use the process's local zone.
export const utcText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

// One INSERT with five array parameters whatever the number of rows (no 65,535-parameter limit).
const INSERT = `INSERT INTO feed_data ("timestamp", user_id, post_id, action, target)
SELECT * FROM unnest($1::timestamp[], $2::int[], $3::int[], $4::text[], $5::smallint[])`;

/**
 * Appends rows to the log in one statement: all of them or none. feed_data's change trigger
 * records them in feed_changes in the same transaction, which is how followers learn of them.
 */
export async function appendFeedRows(db: Pick<DbSession, 'query'>, rows: readonly FeedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(INSERT, [
    rows.map((r) => utcText(r.timeMs)),
    rows.map((r) => r.userId),
    rows.map((r) => r.postId),
    rows.map((r) => r.action),
    rows.map((r) => r.target),
  ]);
}
