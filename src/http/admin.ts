import type { Context } from 'hono';
import type { z } from 'zod';
import { UnauthorizedError } from '../errors/index.js';
import type { reloadedSchema } from './contract.js';
import { sameSecret } from './qa.js';
import type { AppEnv, HttpDeps } from './types.js';

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * POST /admin/reload: load the newest models and a fresh feature snapshot, swap when warm.
 * Answers 200 with what serves now, or 422 naming why the new generation was refused (the old one
 * keeps serving). The route exists only when an admin token is configured: without one it is a
 * plain 404, so an unconfigured replica offers nothing to guess at.
 */
export function adminReloadHandler(deps: HttpDeps) {
  return async (c: Context<AppEnv>) => {
    const { adminToken } = deps.config;
    if (adminToken === undefined || deps.admin === undefined)
      return c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404);
    const given = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (given === undefined || !sameSecret(given, adminToken))
      throw new UnauthorizedError('POST /admin/reload needs Authorization: Bearer <admin token>');
    const report = await deps.admin.reload('admin route');
    const body: z.infer<typeof reloadedSchema> = { status: 'reloaded', ...report };
    return c.json(body);
  };
}
