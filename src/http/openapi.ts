import type { Config } from '../config/index.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './params.js';

const errorBody = (description: string, example: object) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' }, example } },
});

/** OpenAPI 3.1 description of the public endpoints, served at /openapi.json. */
export function openApiDocument(mode: Config['mode']): object {
  const listRef = { $ref: '#/components/schemas/PostList' };
  const abRef = { $ref: '#/components/schemas/AbAnswer' };
  return {
    openapi: '3.1.0',
    info: {
      title: 'feedrec',
      version: '1',
      description:
        'Post recommendations. In mode `ab` the answer carries the A/B group; in modes `control` and ' +
        `\`test\` it is the bare list. This instance runs in mode \`${mode}\`.`,
    },
    paths: {
      '/post/recommendations/': {
        get: {
          operationId: 'recommendations',
          summary: 'Top posts for a user at a given time (posts the user liked before it excluded)',
          description: 'Also served without the trailing slash.',
          parameters: [
            {
              name: 'id',
              in: 'query',
              required: true,
              schema: { type: 'integer', minimum: 1 },
              example: 200,
            },
            {
              name: 'time',
              in: 'query',
              required: true,
              description: 'ISO 8601 date-time; no zone means UTC; fractional seconds allowed.',
              schema: { type: 'string' },
              example: '2021-12-01T10:00:00',
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
            },
            {
              name: 'X-Exp-Group',
              in: 'header',
              required: false,
              description:
                'QA only: forces the A/B group; requires X-QA-Token. Forced answers are not logged.',
              schema: { type: 'string', enum: ['control', 'test'] },
            },
            { name: 'X-QA-Token', in: 'header', required: false, schema: { type: 'string' } },
            {
              name: 'X-Request-Id',
              in: 'header',
              required: false,
              description: 'Echoed back; generated when absent.',
              schema: { type: 'string', maxLength: 128 },
            },
          ],
          responses: {
            '200': {
              description: 'Recommendations (shape depends on the service mode)',
              headers: {
                'X-Model-Version': {
                  description:
                    'The model version that ranked every post of this answer (`<name>/<version>`, e.g. `test/v2`), or `fallback-popular`.',
                  schema: { type: 'string' },
                },
              },
              content: {
                'application/json': {
                  schema: mode === 'ab' ? abRef : listRef,
                },
              },
            },
            '403': errorBody('X-Exp-Group without a valid X-QA-Token', {
              error: 'X-Exp-Group needs a valid X-QA-Token',
            }),
            '404': errorBody('Unknown user', { error: 'unknown user id 99999999' }),
            '422': errorBody('Malformed or missing parameters, each named', {
              error: 'invalid query parameters: id, limit',
              issues: [
                { path: 'id', message: 'is required' },
                { path: 'limit', message: `must be an integer from 1 to ${MAX_LIMIT}` },
              ],
            }),
            '503': {
              ...errorBody('Overloaded or not ready; retry after the given seconds', {
                error: 'service overloaded, retry later',
              }),
              headers: { 'Retry-After': { schema: { type: 'integer' } } },
            },
            '500': errorBody('Unexpected error', { error: 'internal error' }),
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'Process is up' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness: models and features loaded and not draining',
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready or draining' } },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text format' } } },
      },
    },
    components: {
      schemas: {
        Post: {
          type: 'object',
          required: ['id', 'text', 'topic'],
          properties: { id: { type: 'integer' }, text: { type: 'string' }, topic: { type: 'string' } },
        },
        PostList: { type: 'array', items: { $ref: '#/components/schemas/Post' } },
        AbAnswer: {
          type: 'object',
          required: ['exp_group', 'recommendations'],
          properties: {
            exp_group: { type: 'string', enum: ['control', 'test'] },
            recommendations: { $ref: '#/components/schemas/PostList' },
          },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: { type: 'string' },
            issues: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'message'],
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
