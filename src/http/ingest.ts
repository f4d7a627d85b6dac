import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import { DatabaseUnavailableError, ForbiddenError, ValidationError } from '../errors/index.js';
import type { FeedRow } from '../live/index.js';
import { parseIsoTime } from './params.js';
import { sameSecret } from './qa.js';
import type { AppEnv, HttpDeps } from './types.js';

export const INGEST_TOKEN_HEADER = 'x-ingest-token';
export const MAX_INGEST_ROWS = 10_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function peerIsLoopback(c: Context<AppEnv>): boolean {
  try {
    return LOOPBACK.has(getConnInfo(c).remote.address ?? '');
  } catch {
    // No socket (app.request in tests, other runtimes): not provably local.
    return false;
  }
}

/**
 * Who may append to the log. With an ingest token configured: whoever presents it. Without
 * one: nobody on Postgres (the network writes there itself), and on the embedded database,
 * which no other process can open, clients on this machine only, such as `feedrec ab simulate`.
 * A reverse proxy on the same machine makes every client look local: configure a token there.
 */
export function ingestAllowed(c: Context<AppEnv>, config: Config): boolean {
  const given = c.req.header(INGEST_TOKEN_HEADER);
  if (config.ingestToken !== undefined) return given !== undefined && sameSecret(given, config.ingestToken);
  return config.databaseUrl === undefined && peerIsLoopback(c);
}

const id = z.number({ error: 'must be a positive integer' }).int().min(1).max(2_147_483_647);
const row = z
  .strictObject({
    timestamp: z
      .string({ error: 'must be an ISO 8601 date-time' })
      .refine((v) => parseIsoTime(v) !== undefined, 'must be an ISO 8601 date-time, e.g. 2021-12-30T10:00:00')
      .meta({ description: 'ISO 8601; no zone means UTC', example: '2021-12-30T10:01:30' }),
    user_id: id,
    post_id: id,
    action: z.enum(['view', 'like'], { error: 'must be "view" or "like"' }),
    target: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }),
  })
  .refine((r) => r.action === 'view' || r.target === 0, {
    message: 'a like row has target 0',
    path: ['target'],
  });
/** The body of POST /feed_data: rows with the columns of feed_data (also its OpenAPI schema). */
export const feedRowsBody = z.strictObject({ rows: z.array(row).min(1).max(MAX_INGEST_ROWS) });

/** Validates a POST /feed_data body: every row, or a ValidationError naming each bad field. */
export function parseFeedRows(value: unknown): FeedRow[] {
  const parsed = feedRowsBody.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.join('.') || '(body)',
      message: i.message,
    }));
    throw new ValidationError(
      `invalid feed rows (nothing was written): ${issues
        .slice(0, 3)
        .map((i) => `${i.path} ${i.message}`)
        .join('; ')}`,
      issues,
    );
  }
  return parsed.data.rows.map((r) => ({
    timeMs: parseIsoTime(r.timestamp)!,
    userId: r.user_id,
    postId: r.post_id,
    action: r.action,
    target: r.target,
  }));
}

/** POST /feed_data: appends rows to the log, all or none; followers pick them up from there. */
export function ingestHandlers(deps: HttpDeps) {
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      c.json({ error: `body larger than ${MAX_BODY_BYTES} bytes: send fewer rows per request` }, 413),
  });
  const handler = async (c: Context<AppEnv>) => {
    const sink = deps.feedLog;
    if (!sink) return c.json({ error: 'this service does not append to the log' }, 404);
    if (!ingestAllowed(c, deps.config))
      throw new ForbiddenError(
        `POST /feed_data needs a valid X-Ingest-Token${deps.config.databaseUrl === undefined ? ' or a client on this machine' : ''}`,
      );
    let value: unknown;
    try {
      value = await c.req.json();
    } catch {
      throw new ValidationError(
        'the body must be JSON: {"rows": [{"timestamp", "user_id", "post_id", "action", "target"}]}',
      );
    }
    const rows = parseFeedRows(value);
    try {
      await sink.append(rows);
    } catch (err) {
      throw new DatabaseUnavailableError(`appending to feed_data failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    deps.metrics.ingestedRows.inc(rows.length);
    return c.json({ rows: rows.length });
  };
  return [limit, handler] as const;
}
