import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import {
  abAnswerSchema,
  errorSchema,
  postListSchema,
  recommendationsHeaders,
  reloadedSchema,
  type EXP_GROUPS,
} from './contract.js';
import { feedRowsBody, MAX_INGEST_ROWS } from './ingest.js';
import { MAX_LIMIT, recommendationsQuery } from './params.js';

/**
 * The routes of the public API as @hono/zod-openapi route definitions: the parameters come from
 * the zod schemas the handlers validate with, the answers from contract.ts. app.ts serves each
 * route from its definition, and /openapi.json is generated from the same definitions.
 */

const errorAnswer = (description: string, example: z.infer<typeof errorSchema>) => ({
  description,
  content: { 'application/json': { schema: errorSchema, example } },
});

const POSTS_EXAMPLE = [
  { id: 3737, text: 'Stafudog was other vupet just luseab lalicaf …', topic: 'movie' },
  { id: 5357, text: 'Cukana all who to boumepa nedeabro beafai of luseab ending …', topic: 'movie' },
];
const AB_EXAMPLE: { exp_group: (typeof EXP_GROUPS)[number]; recommendations: typeof POSTS_EXAMPLE } = {
  exp_group: 'test',
  recommendations: POSTS_EXAMPLE,
};

/** GET /post/recommendations/; the answer's shape depends on the service mode. */
export function recommendationsRoute(mode: Config['mode']) {
  return createRoute({
    method: 'get',
    path: '/post/recommendations/',
    operationId: 'recommendations',
    summary: 'Top posts for a user at a given time (posts the user liked before it excluded)',
    description: 'Also served without the trailing slash.',
    request: { query: recommendationsQuery, headers: recommendationsHeaders },
    responses: {
      200: {
        description: 'Recommendations (shape depends on the service mode)',
        headers: z.object({
          'X-Model-Version': z.string().meta({
            description:
              'The model version that ranked every post of this answer (`<name>/<version>`, e.g. `test/v2`), or `fallback-popular`.',
          }),
        }),
        content: {
          'application/json':
            mode === 'ab'
              ? { schema: abAnswerSchema, example: AB_EXAMPLE }
              : { schema: postListSchema, example: POSTS_EXAMPLE },
        },
      },
      403: errorAnswer('X-Exp-Group without a valid X-QA-Token', {
        error: 'X-Exp-Group needs a valid X-QA-Token',
      }),
      404: errorAnswer('Unknown user', { error: 'unknown user id 99999999' }),
      422: errorAnswer('Malformed or missing parameters, each named', {
        error: 'invalid query parameters: id, limit',
        issues: [
          { path: 'id', message: 'is required' },
          { path: 'limit', message: `must be an integer from 1 to ${MAX_LIMIT}` },
        ],
      }),
      503: {
        ...errorAnswer('Overloaded or not ready; retry after the given seconds', {
          error: 'service overloaded, retry later',
        }),
        headers: z.object({ 'Retry-After': z.int().meta({ description: 'Seconds to wait' }) }),
      },
      500: errorAnswer('Unexpected error', { error: 'internal error' }),
    },
  });
}

const status = <const T extends readonly [string, ...string[]]>(...values: T) => ({
  'application/json': { schema: z.object({ status: z.enum(values) }) },
});

export const healthzRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  responses: { 200: { description: 'Process is up', content: status('ok') } },
});

export const readyzRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: models and features loaded and not draining',
  responses: {
    200: { description: 'Ready', content: status('ready') },
    503: { description: 'Not ready or draining', content: status('starting', 'draining') },
  },
});

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics',
  responses: { 200: { description: 'Text format', content: { 'text/plain': { schema: z.string() } } } },
});

export const adminReloadRoute = createRoute({
  method: 'post',
  path: '/admin/reload',
  operationId: 'reload',
  summary: 'Load the newest models and a fresh feature snapshot; swap them in once warm',
  description:
    'Exists only when FEEDREC_ADMIN_TOKEN is set (404 otherwise). SIGHUP does the same. ' +
    'A refused reload leaves the serving generation in place.',
  security: [{ adminToken: [] }],
  responses: {
    200: {
      description: 'Reloaded: what serves now',
      content: { 'application/json': { schema: reloadedSchema } },
    },
    401: errorAnswer('Missing or wrong bearer token', {
      error: 'POST /admin/reload needs Authorization: Bearer <admin token>',
    }),
    404: errorAnswer('No admin token configured', { error: 'no route for POST /admin/reload' }),
    422: errorAnswer('The new models or snapshot cannot serve; the old generation keeps serving', {
      error: 'reload refused: ModelError: <what the new models or snapshot lack>',
      serving: ['control/v1', 'test/v1'],
    }),
  },
});

export const feedDataRoute = createRoute({
  method: 'post',
  path: '/feed_data',
  operationId: 'appendFeedRows',
  summary: 'Append rows to the log (feed_data); the service follows them into its features',
  description:
    'All rows or none. Needs X-Ingest-Token (FEEDREC_INGEST_TOKEN); without a configured token only ' +
    'a service on the embedded database accepts rows, from clients on the same machine. ' +
    `At most ${MAX_INGEST_ROWS} rows per request.`,
  request: {
    body: {
      content: {
        'application/json': {
          schema: feedRowsBody,
          example: {
            rows: [
              { timestamp: '2021-12-30T10:00:00', user_id: 200, post_id: 3737, action: 'view', target: 1 },
              { timestamp: '2021-12-30T10:01:30', user_id: 200, post_id: 3737, action: 'like', target: 0 },
            ],
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'Written',
      content: { 'application/json': { schema: z.object({ rows: z.number().int() }), example: { rows: 2 } } },
    },
    403: errorAnswer('No valid X-Ingest-Token', { error: 'POST /feed_data needs a valid X-Ingest-Token' }),
    422: errorAnswer('A bad row or field; nothing was written', {
      error: 'invalid feed rows (nothing was written): rows.1.action must be "view" or "like"',
      issues: [{ path: 'rows.1.action', message: 'must be "view" or "like"' }],
    }),
    503: errorAnswer('The database refused the rows', { error: 'database unavailable' }),
  },
});

/** The OpenAPI 3.1 document of every route registered on the app, served at /openapi.json. */
export function openApiDocument(
  app: Pick<OpenAPIHono, 'getOpenAPI31Document'>,
  mode: Config['mode'],
): object {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'feedrec',
      version: '1',
      description:
        'Post recommendations. In mode `ab` the answer carries the A/B group; in modes `control` and ' +
        `\`test\` it is the bare list. This instance runs in mode \`${mode}\`; /docs shows this document.`,
    },
  });
}
