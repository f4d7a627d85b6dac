import { describe, expect, it } from 'vitest';
import { escapeHtml, renderReport } from '../../src/report/index.js';

const page = renderReport({
  title: 'Checker <seed 7>',
  subtitle: 'demo world',
  sections: [
    {
      heading: 'Hitrate@5',
      blocks: [
        { kind: 'table', columns: ['policy', 'hitrate'], rows: [['test', 0.61]] },
        {
          kind: 'chart',
          title: 'per policy',
          chart: { type: 'bar', data: { labels: ['a</script><script>alert(1)'], datasets: [{ data: [1] }] } },
        },
      ],
    },
  ],
});

describe('html report', () => {
  it('is self-contained: the charting library is inline and nothing is fetched', () => {
    expect(page).toContain('Chart.js');
    expect(page).not.toMatch(/<script[^>]+src=/);
    expect(page).not.toMatch(/<link[^>]+href=/);
    expect(page).not.toMatch(/https?:\/\/(?!www\.chartjs\.org)[^\s"']*\.(js|css)\b/);
  });

  it('escapes text and cannot be broken out of by data inside the chart JSON', () => {
    expect(page).toContain('<title>Checker &lt;seed 7&gt;</title>');
    expect(page).not.toContain('a</script><script>alert(1)');
    expect(page).toContain('\\u003c/script\\u003e');
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });

  it('gives every chart its own canvas and config', () => {
    expect(page).toContain('<canvas id="chart-0">');
    expect(page).not.toContain('chart-1"');
    expect(page).toContain('"type":"bar"');
  });
});
