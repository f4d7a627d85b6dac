import type { DbSession } from '../db/index.js';
import { DatabaseUnavailableError } from '../errors/index.js';
import { INGEST_TOKEN_HEADER, MAX_INGEST_ROWS } from '../http/index.js';
import { appendFeedRows, utcText, type FeedRow } from '../live/index.js';

/** Where the simulator logs what its users did: the same rows either way. */
export interface FeedSink {
  readonly name: string;
  write(rows: readonly FeedRow[]): Promise<void>;
}

/** Straight into Postgres, as the network itself logs; the service follows the table. */
export function databaseSink(db: Pick<DbSession, 'query'>): FeedSink {
  return { name: 'database', write: (rows) => appendFeedRows(db, rows) };
}

/**
 * Through the service's POST /feed_data: the way on the embedded database, which only the
 * service's process can open.
 */
export function serviceSink(base: URL, token?: string): FeedSink {
  const url = new URL('/feed_data', base);
  return {
    name: 'service',
    async write(rows) {
      for (let i = 0; i < rows.length; i += MAX_INGEST_ROWS) {
        const chunk = rows.slice(i, i + MAX_INGEST_ROWS).map((r) => ({
          timestamp: utcText(r.timeMs).replace(' ', 'T'),
          user_id: r.userId,
          post_id: r.postId,
          action: r.action,
          target: r.target,
        }));
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { [INGEST_TOKEN_HEADER]: token } : {}) },
          body: JSON.stringify({ rows: chunk }),
        });
        if (!res.ok)
          throw new DatabaseUnavailableError(
            `the service refused the simulated feed rows (${res.status}): ${await res.text()}` +
              (res.status === 403
                ? ' — set FEEDREC_INGEST_TOKEN to the service’s token, or pass --database-url'
                : ''),
          );
      }
    },
  };
}
