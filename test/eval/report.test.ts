import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CheckReport } from '../../src/eval/index.js';

interface Spec {
  type: string;
  data: { labels: string[]; datasets: { label: string; data: unknown[] }[] };
}

/** The Chart.js configurations the page draws, read back from its inline script. */
function chartSpecs(html: string): Spec[] {
  const json = /const specs = (.*);\n/.exec(html)?.[1];
  if (!json) throw new Error('no chart data in the page');
  return JSON.parse(json) as Spec[];
}

describe('feedrec check --html', () => {
  let dir: string;
  let html: string;
  let report: CheckReport;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-check-html-'));
    // --world with world-only policies: no database, so this runs in a second.
    await main([
      'node',
      'feedrec',
      'check',
      '--world',
      'tiny:3',
      '--policies',
      'random,oracle',
      '--requests',
      '300',
      '--seed',
      '5',
      '--out',
      path.join(dir, 'check'),
      '--html',
      path.join(dir, 'page', 'check.html'),
    ]);
    html = readFileSync(path.join(dir, 'page', 'check.html'), 'utf8');
    report = JSON.parse(readFileSync(path.join(dir, 'check.json'), 'utf8')) as CheckReport;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one self-contained page: Chart.js and the data inline, nothing fetched', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('Checker seed 5, 300 hidden requests; world tiny seed 3');
    expect(chartSpecs(html)).toHaveLength(3);
  });

  it('plots Hitrate@5 per policy with its 95 % interval, as the JSON report has them', () => {
    const [hitrate] = chartSpecs(html);
    expect(hitrate!.data.labels).toEqual(['random', 'oracle']);
    const byLabel = Object.fromEntries(hitrate!.data.datasets.map((d) => [d.label, d.data]));
    expect(byLabel['Hitrate@5']).toEqual([report.policies.random!.hitrate, report.policies.oracle!.hitrate]);
    expect(byLabel['95 % interval']).toEqual([report.policies.random!.ci, report.policies.oracle!.ci]);
    for (const p of ['random', 'oracle'])
      expect(html).toContain(`<td>${report.policies[p]!.hitrate.toFixed(3)}</td>`);
  });

  it('plots the gap closed: 0 % for random, 100 % for the oracle', () => {
    const gap = chartSpecs(html)[1]!;
    expect(gap.data.labels).toEqual(['random', 'oracle']);
    expect(gap.data.datasets[0]!.data).toEqual([0, 100]);
  });

  it('plots the distribution of per-request expected hits of every request, per policy', () => {
    const dist = chartSpecs(html)[2]!;
    expect(dist.data.labels).toHaveLength(20);
    expect(dist.data.datasets.map((d) => d.label)).toEqual(['random', 'oracle']);
    for (const name of ['random', 'oracle'] as const) {
      const counts = report.policies[name]!.distribution!;
      expect(counts.reduce((a, b) => a + b, 0)).toBe(300);
      const shares = dist.data.datasets.find((d) => d.label === name)!.data as number[];
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
    }
    // The oracle's answers are better request by request, not only on average.
    const mean = (c: number[]) => c.reduce((s, n, i) => s + n * (i + 0.5), 0) / c.reduce((a, b) => a + b, 0);
    expect(mean(report.policies.oracle!.distribution!)).toBeGreaterThan(
      mean(report.policies.random!.distribution!),
    );
  });
});
