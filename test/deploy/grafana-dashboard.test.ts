import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { RunningServer } from '../../src/http/index.js';
import { runService } from '../../src/serve/index.js';
import { createWorld } from '../../src/world/index.js';
import { MODELS_DIR, TINY, tinyWorldDir } from '../helpers/tiny-world.js';

interface Target {
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

const dashboard = JSON.parse(readFileSync(path.resolve('deploy/grafana/feedrec.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

// Grafana fills these in before Prometheus sees the query; any valid value parses the same.
const withGrafanaVariables = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');

/** Metric names an expression selects, read by Prometheus's own PromQL grammar. */
function metricNames(expr: string): string[] {
  const text = withGrafanaVariables(expr);
  const names: string[] = [];
  const cursor = parser.parse(text).cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL does not parse at ${cursor.from}: ${expr}`);
    if (cursor.name === 'VectorSelector') {
      const selector = cursor.node;
      const id = selector.getChild('Identifier');
      // A selector by {__name__=…} alone would escape this check: the dashboard names metrics.
      if (!id) throw new Error(`selector without a metric name: ${text.slice(selector.from, selector.to)}`);
      names.push(text.slice(id.from, id.to));
    }
  } while (cursor.next());
  return names;
}

/** Every expression the dashboard sends: panel targets and label_values(metric, …) variables. */
function queriedMetrics(): Map<string, string> {
  const where = new Map<string, string>();
  for (const p of panels) {
    for (const t of p.targets ?? []) for (const m of metricNames(t.expr)) where.set(m, p.title);
  }
  for (const v of dashboard.templating.list) {
    const m = v.definition && /label_values\(\s*([^,)\s]+)/.exec(v.definition);
    if (m) for (const name of metricNames(m[1]!)) where.set(name, `variable ${v.name}`);
  }
  return where;
}

/** Sample names each metric family of a /metrics page can produce, from its # TYPE lines. */
function exposedSeries(text: string): Set<string> {
  const series = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    series.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) series.add(name + s);
  }
  return series;
}

describe('Grafana dashboard deploy/grafana/feedrec.json', () => {
  let dataDir: string;
  let server: RunningServer;
  let metricsText: string;
  beforeAll(async () => {
    dataDir = await tinyWorldDir();
    const config = loadConfig(
      {},
      { dataDir, mode: 'ab', modelsDir: MODELS_DIR, port: 0, host: '127.0.0.1', logLevel: 'silent' },
    );
    // What `feedrec serve` runs: listen, load the features and models into real workers, ready.
    server = await runService(config);
    const base = `http://127.0.0.1:${server.port}`;
    // A few answers first, so the labelled series have samples too (not only # TYPE lines).
    for (const u of createWorld(TINY).users.slice(0, 3))
      await fetch(`${base}/post/recommendations/?id=${u.userId}&time=2021-12-01T10:00:00`);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    metricsText = await res.text();
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('queries only metrics that the running service exposes on /metrics', () => {
    const exposed = exposedSeries(metricsText);
    const queried = queriedMetrics();
    expect(queried.size).toBeGreaterThan(10);
    const missing = [...queried]
      .filter(([name]) => !exposed.has(name))
      .map(([n, panel]) => `${n} (${panel})`);
    expect(missing).toEqual([]);
  });

  it('shows what the issue asks for: rate and latency by group and status, sheds, fallbacks, pool, exposures', () => {
    const queried = queriedMetrics();
    for (const name of [
      'feedrec_http_request_duration_seconds_count',
      'feedrec_http_request_duration_seconds_bucket',
      'feedrec_shed_requests_total',
      'feedrec_fallbacks_total',
      'feedrec_batch_size_bucket',
      'feedrec_pool_queue_depth',
      'feedrec_worker_run_seconds_bucket',
      'feedrec_exposures_spooled_total',
      'feedrec_exposures_replayed_total',
      'feedrec_exposures_dropped_total',
    ]) {
      expect(queried.has(name), name).toBe(true);
    }
    const exprs = panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.some((e) => /by \(le, group\)/.test(e) && e.includes('histogram_quantile(0.99'))).toBe(true);
    expect(exprs.some((e) => /by \(group, status\)/.test(e))).toBe(true);
  });

  it('is a well-formed dashboard: unique panel ids, a Prometheus datasource variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    expect(dashboard.uid).toBe('feedrec-service');
  });

  it('reads metric names with the PromQL grammar, suffixes and all', () => {
    expect(
      metricNames(
        'histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="y"}[$__rate_interval]))) / on() group_left sum(b_total)',
      ),
    ).toEqual(['a_bucket', 'b_total']);
    expect(() => metricNames('sum(rate(a[5m])')).toThrow(/does not parse/);
    expect(exposedSeries('# TYPE h histogram\n# TYPE c counter\n')).toEqual(
      new Set(['h', 'h_bucket', 'h_sum', 'h_count', 'c']),
    );
  });
});
