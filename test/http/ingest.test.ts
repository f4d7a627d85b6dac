import { afterEach, describe, expect, it } from 'vitest';
import { fixtureRecommender } from '../../bench/fixture-recommender.js';
import { loadConfig, type ConfigOverrides } from '../../src/config/index.js';
import { createApp, Metrics, startServer, type RunningServer } from '../../src/http/index.js';
import type { FeedRow } from '../../src/live/index.js';
import { createMemoryLogger } from '../../src/log/index.js';
import { metricValue, type JsonResponse } from './setup.js';

const TOKEN = 'ingest-secret-1';

function ingestApp(overrides: ConfigOverrides = {}, fail?: Error) {
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, logLevel: 'silent', ...overrides });
  const written: FeedRow[][] = [];
  const feedLog = {
    async append(rows: readonly FeedRow[]) {
      if (fail) throw fail;
      written.push([...rows]);
    },
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const app = createApp({
    config,
    recommender: fixtureRecommender(),
    exposures: { log: () => undefined },
    feedLog,
    metrics,
    logger: createMemoryLogger(),
  });
  const post = async (body: unknown, headers: Record<string, string> = {}) =>
    (await app.request('/feed_data', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })) as JsonResponse;
  return { app, config, written, metrics, post };
}

const view = { timestamp: '2021-12-30T10:00:00', user_id: 7, post_id: 3, action: 'view', target: 1 };
const like = { timestamp: '2021-12-30T10:01:30', user_id: 7, post_id: 3, action: 'like', target: 0 };

describe('POST /feed_data (appending to the log)', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('writes the rows with a valid token, as UTC times, and counts them', async () => {
    const { post, written, metrics } = ingestApp({ ingestToken: TOKEN });
    const res = await post({ rows: [view, like] }, { 'X-Ingest-Token': TOKEN });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ rows: 2 });
    expect(written).toEqual([
      [
        { timeMs: Date.UTC(2021, 11, 30, 10), userId: 7, postId: 3, action: 'view', target: 1 },
        { timeMs: Date.UTC(2021, 11, 30, 10, 1, 30), userId: 7, postId: 3, action: 'like', target: 0 },
      ],
    ]);
    expect(await metricValue(metrics, 'feedrec_ingested_rows_total')).toBe(2);
  });

  it('refuses a missing or wrong token with 403 and writes nothing', async () => {
    const { post, written } = ingestApp({ ingestToken: TOKEN });
    expect((await post({ rows: [view] })).status).toBe(403);
    expect((await post({ rows: [view] }, { 'X-Ingest-Token': `${TOKEN}x` })).status).toBe(403);
    expect(written).toEqual([]);
  });

  it('names every bad field (422) and writes none of the rows', async () => {
    const { post, written } = ingestApp({ ingestToken: TOKEN });
    const res = await post(
      {
        rows: [
          view,
          { ...view, timestamp: 'yesterday', action: 'click' },
          { ...like, target: 1 },
          { ...view, userId: 7 },
        ],
      },
      { 'X-Ingest-Token': TOKEN },
    );
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error).toContain('nothing was written');
    const paths = (body.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['rows.1.timestamp', 'rows.1.action', 'rows.2.target', 'rows.3']),
    );
    expect(written).toEqual([]);
    for (const bad of ['not json', '{"rows": []}', JSON.stringify({ rows: Array(10_001).fill(view) })]) {
      expect((await post(bad, { 'X-Ingest-Token': TOKEN })).status).toBe(422);
    }
  });

  it('answers 503 when the database refuses the rows', async () => {
    const { post } = ingestApp({ ingestToken: TOKEN }, new Error('connection refused'));
    const res = await post({ rows: [view] }, { 'X-Ingest-Token': TOKEN });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('answers other methods with 405 naming POST, and is documented in /openapi.json', async () => {
    const { app } = ingestApp({ ingestToken: TOKEN });
    const res = await app.request('/feed_data');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths['/feed_data'] as object)).toEqual(['post']);
  });

  it('takes rows from this machine without a token only on the embedded database', async () => {
    const embedded = ingestApp();
    server = await startServer(embedded.app, embedded.config, { signals: [] });
    const url = `http://127.0.0.1:${server.port}/feed_data`;
    const send = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: [view] }),
      });
    expect((await send()).status).toBe(200);
    expect(embedded.written).toHaveLength(1);
    // Without a socket (app.request) the client cannot be shown to be local.
    expect((await embedded.post({ rows: [view] })).status).toBe(403);
    await server.close();

    const postgres = ingestApp({ databaseUrl: 'postgres://u:p@127.0.0.1:5432/x' });
    server = await startServer(postgres.app, postgres.config, { signals: [] });
    const res = await fetch(`http://127.0.0.1:${server.port}/feed_data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [view] }),
    });
    expect(res.status).toBe(403);
    expect(postgres.written).toEqual([]);
  });
});
