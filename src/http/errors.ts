import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  DatabaseUnavailableError,
  ForbiddenError,
  NotReadyError,
  OverloadedError,
  ReloadRefusedError,
  UnauthorizedError,
  UnknownUserError,
  ValidationError,
} from '../errors/index.js';
import type { z } from 'zod';
import type { Logger } from '../log/index.js';
import type { errorSchema } from './contract.js';
import type { AppEnv } from './types.js';

export type ErrorBody = z.infer<typeof errorSchema>;

interface Mapped {
  status: ContentfulStatusCode;
  body: ErrorBody;
  retryAfter?: number;
}

/** The one place where named errors become HTTP statuses. */
export function mapError(err: unknown): Mapped {
  if (err instanceof ValidationError)
    return { status: 422, body: { error: err.message, issues: err.issues } };
  if (err instanceof UnknownUserError) return { status: 404, body: { error: err.message } };
  if (err instanceof ForbiddenError) return { status: 403, body: { error: err.message } };
  if (err instanceof UnauthorizedError) return { status: 401, body: { error: err.message } };
  // The request was fine; what it asked to load was not (a model or snapshot that cannot serve).
  if (err instanceof ReloadRefusedError)
    return { status: 422, body: { error: `reload refused: ${err.message}`, serving: err.serving } };
  if (err instanceof OverloadedError) {
    return { status: 503, body: { error: err.message }, retryAfter: err.retryAfterSeconds };
  }
  if (err instanceof NotReadyError) {
    return { status: 503, body: { error: err.message }, retryAfter: err.retryAfterSeconds };
  }
  if (err instanceof DatabaseUnavailableError) {
    return { status: 503, body: { error: 'database unavailable' }, retryAfter: 5 };
  }
  // Anything else is our bug: say so without leaking internals; the log has the details.
  return { status: 500, body: { error: 'internal error' } };
}

export function errorHandler(logger: Logger) {
  return (err: unknown, c: Context<AppEnv>) => {
    const mapped = mapError(err);
    if (mapped.status >= 500 && mapped.retryAfter === undefined) {
      logger.error({ msg: 'unhandled error', requestId: c.get('log')?.requestId, path: c.req.path, err });
    }
    if (mapped.retryAfter !== undefined) c.header('Retry-After', String(mapped.retryAfter));
    return c.json(mapped.body, mapped.status);
  };
}
