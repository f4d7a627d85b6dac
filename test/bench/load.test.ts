import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { Metrics, createApp, startServer, type RunningServer } from '../../src/http/index.js';
import { silentLogger } from '../../src/log/index.js';
import { fixtureRecommender } from '../../bench/fixture-recommender.js';
import { assertLoopback, main, runLoad } from '../../bench/load.js';
import { readRss, threadCpuShare, threadCpuTicks } from '../../bench/load-report.js';
import { pathSampler, readScenario, rng } from '../../bench/load-scenario.js';

describe('load generator', () => {
  let running: RunningServer;
  let dir: string;
  let url: string;
  beforeAll(async () => {
    const config = loadConfig({}, { host: '127.0.0.1', port: 0, mode: 'ab' });
    const app = createApp({
      config,
      recommender: fixtureRecommender({ users: 100 }),
      exposures: { log: () => undefined },
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger,
    });
    running = await startServer(app, config, { signals: [] });
    url = `http://127.0.0.1:${running.port}`;
    dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-load-'));
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses targets that are not loopback', () => {
    expect(() => assertLoopback('http://10.0.0.1:8000')).toThrow(/non-loopback/);
    expect(() => assertLoopback('http://example.com')).toThrow(/non-loopback/);
    expect(() => assertLoopback('https://127.0.0.1')).toThrow(/http/);
    expect(assertLoopback('http://127.0.0.1:8000').port).toBe('8000');
    expect(assertLoopback('http://localhost:1').hostname).toBe('localhost');
    expect(assertLoopback('http://[::1]:1').port).toBe('1');
  });

  it('draws users from the list and times inside the world period, 06:00–23:59', () => {
    const sc = readScenario('k6/scenario.json');
    const next = pathSampler(sc, [11, 22, 33], rng(5));
    for (let i = 0; i < 2000; i++) {
      const u = new URL(next(), 'http://x');
      expect(u.pathname).toBe('/post/recommendations/');
      expect([11, 22, 33]).toContain(Number(u.searchParams.get('id')));
      const t = u.searchParams.get('time')!;
      expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(t >= '2021-10-01T06:00:00' && t <= '2021-12-29T23:59:59').toBe(true);
      expect(Number(t.slice(11, 13))).toBeGreaterThanOrEqual(6);
    }
  });

  it('runs closed- and open-loop phases against a live server and reports percentiles and statuses', async () => {
    const report = await runLoad({
      url,
      userRange: '1-120', // ids above 100 are unknown to the fixture: some 404s on purpose
      phases: ['closed-1', 'closed-64', 'open-300'],
      duration: '400ms',
      gapSeconds: 0,
      pid: process.pid,
      log: () => undefined,
    });
    expect(report.phases.map((p) => p.name)).toEqual(['closed-1', 'closed-64', 'open-300']);
    for (const p of report.phases) {
      expect(p.requests).toBeGreaterThan(10);
      expect(p.throughputRps).toBeGreaterThan(0);
      expect(p.latencyMs.p50).toBeLessThanOrEqual(p.latencyMs.p99);
      expect(p.latencyMs.p99).toBeLessThanOrEqual(p.latencyMs.max);
      expect(p.statusCounts['200']).toBeGreaterThan(0);
      expect(p.errors).toBe(p.statusCounts['404'] ?? 0);
      expect(p.serverRssMb!.peak).toBeGreaterThan(10);
      // The generator's own CPU is recorded, so its share of the cores is known.
      expect(p.clientCpuPct).toBeGreaterThanOrEqual(0);
    }
    expect(report.phases[1]!.connections).toBe(64);
    // Open loop sends at the target rate: ~120 requests in 0.4 s at 300 req/s.
    expect(report.phases[2]!.requests).toBeGreaterThan(90);
    expect(report.phases[2]!.requests).toBeLessThanOrEqual(121);
    expect(report.phases[2]!.sendLagMs!.p99).toBeGreaterThanOrEqual(0);
    expect(report.phases[0]!.sendLagMs).toBeUndefined();
    expect(report.server!.vmHwmMb).toBeGreaterThan(0);
    // The fixture names its ranker: every 200 is model-ranked, the 404s are not answers.
    for (const p of report.phases)
      expect(p.answers!.modelRps / ((p.statusCounts['200'] ?? 0) / p.durationS)).toBeCloseTo(1, 1);
  });

  it('counts the same kinds of answers with either open-loop client (raw and undici)', async () => {
    for (const openClient of ['raw', 'undici'] as const) {
      const report = await runLoad({
        url,
        userRange: '1-120',
        phases: ['open-300'],
        duration: '400ms',
        gapSeconds: 0,
        log: () => undefined,
        openClient,
      });
      const p = report.phases[0]!;
      expect(p.requests, openClient).toBeGreaterThan(90);
      expect(p.statusCounts['200'], openClient).toBeGreaterThan(0);
      expect(p.statusCounts['404'], openClient).toBeGreaterThan(0);
      // Users 101-120 are unknown: their 404s are the only errors, and every 200 is the model's.
      expect(p.errors, openClient).toBe(p.statusCounts['404']);
      // (answers/s are rounded to 0.01, so the count comes back within a request or two)
      expect(Math.abs(p.answers!.modelRps * p.durationS - p.statusCounts['200']!), openClient).toBeLessThan(
        2,
      );
    }
  });

  it('runs open loop at a multiple of the capacity its capacity phase measured, and times the recovery', async () => {
    const report = await runLoad({
      url,
      userRange: '1-100',
      phases: ['closed-64', 'open-3x', 'recover-64'],
      duration: '400ms',
      gapSeconds: 0,
      log: () => undefined,
    });
    const [cap, open, recover] = report.phases;
    expect(report.capacityRps).toBe(cap!.answers!.modelRps);
    expect(open!.targetRps).toBe(Math.round(3 * report.capacityRps!));
    expect(recover!.recoveryMs === null || recover!.recoveryMs! >= 0).toBe(true);
    expect(cap!.recoveryMs).toBeUndefined();
    expect(report.machine.cpuCount).toBeGreaterThan(0);
  });

  it('writes JSON and Markdown results from the command line', async () => {
    const users = path.join(dir, 'users.txt');
    writeFileSync(users, '1\n2\n3\n');
    const out = path.join(dir, 'result');
    const code = await main([
      '--url',
      url,
      '--users',
      users,
      '--phases',
      'closed-1',
      '--duration',
      '200ms',
      '--out',
      out,
      '--label',
      'fixture',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(json).toMatchObject({ label: 'fixture', users: 3, phases: [{ name: 'closed-1', errors: 0 }] });
    const md = readFileSync(`${out}.md`, 'utf8');
    expect(md).toMatch(/\| closed-1 \| 1 conn \|/);
    expect(md).toContain(json.machine.cpuModel);
  });

  it('reads VmRSS and VmHWM of a process', () => {
    const r = readRss(process.pid)!;
    expect(r.rssMb).toBeGreaterThan(10);
    expect(r.hwmMb).toBeGreaterThanOrEqual(r.rssMb - 1);
  });

  it('counts CPU per thread and tells the main thread from the others', () => {
    const before = threadCpuTicks(process.pid);
    expect(before.has(process.pid)).toBe(true);
    const t0 = performance.now();
    while (performance.now() - t0 < 200); // 200 ms of this (main) thread's CPU
    const after = threadCpuTicks(process.pid);
    const share = threadCpuShare(process.pid, before, after, (performance.now() - t0) / 1000);
    expect(share.mainPct).toBeGreaterThan(30);
    expect(share.otherPct).toBeGreaterThanOrEqual(0);
  });
});
