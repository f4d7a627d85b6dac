import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/http/index.js';
import { REC, makeApp } from './setup.js';

describe('/metrics', () => {
  it('exposes request latency by route, status and group, in Prometheus text', async () => {
    const { get, config } = makeApp({ mode: 'control' });
    await get(REC);
    await get('/post/recommendations/?id=x&time=2021-12-01T10:00:00');
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(config.mode).toBe('control');
    expect(text).toContain(
      'feedrec_http_request_duration_seconds_count{route="/post/recommendations",status="200",group="control"} 1',
    );
    expect(text).toContain(
      'feedrec_http_request_duration_seconds_count{route="/post/recommendations",status="422",group="none"} 1',
    );
    expect(text).toMatch(/feedrec_http_request_duration_seconds_bucket\{le="0.001",/);
    expect(text).toMatch(/feedrec_http_request_duration_seconds_bucket\{le="2",/);
    for (const name of [
      'feedrec_fallbacks_total',
      'feedrec_shed_requests_total',
      'feedrec_batch_size',
      'feedrec_pool_queue_depth',
      'feedrec_worker_run_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it('records what the worker pool reports through the Metrics object', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.observeBatchSize(12);
    metrics.setQueueDepth(3);
    metrics.observeWorkerRun(0.004);
    const text = await metrics.text();
    expect(text).toContain('feedrec_batch_size_sum 12');
    expect(text).toContain('feedrec_pool_queue_depth 3');
    expect(text).toContain('feedrec_worker_run_seconds_count 1');
  });

  it('includes process metrics by default', async () => {
    expect(await new Metrics().text()).toContain('feedrec_process_resident_memory_bytes');
  });
});

describe('/openapi.json', () => {
  it('describes the endpoint, its parameters, both payload shapes and the errors', async () => {
    const { get } = makeApp({ mode: 'ab' });
    const doc = await (await get('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    const op = doc.paths['/post/recommendations/'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['id', 'time', 'limit', 'X-Exp-Group', 'X-QA-Token']),
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '403', '404', '422', '503']));
    expect(op.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/AbAnswer');
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['AbAnswer', 'PostList', 'Error']),
    );
  });

  it('describes the bare list in a single-model mode', async () => {
    const { get } = makeApp({ mode: 'test' });
    const doc = await (await get('/openapi.json')).json();
    expect(
      doc.paths['/post/recommendations/'].get.responses['200'].content['application/json'].schema.$ref,
    ).toBe('#/components/schemas/PostList');
  });
});
