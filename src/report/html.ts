import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Self-contained HTML reports (checker, experiment): one file with the data and the charting
 * library inline, so the page opens from disk or an e-mail attachment without a server or a
 * network. Charts are Chart.js configurations (https://www.chartjs.org/docs/latest/), drawn by
 * the library rather than by hand-written SVG.
 */

/**
 * A Chart.js configuration object (type, data, options), serialised into the page as JSON (so
 * no functions). A dataset with `legendHidden: true` is drawn but left out of the legend.
 */
export interface ChartSpec {
  type: string;
  data: unknown;
  options?: unknown;
}

export type ReportBlock =
  | { kind: 'html'; html: string }
  | { kind: 'table'; columns: string[]; rows: (string | number)[][]; caption?: string }
  | { kind: 'chart'; title: string; chart: ChartSpec; height?: number };

export interface ReportPage {
  title: string;
  /** One line under the title: what was measured, when, with which seeds. */
  subtitle?: string;
  sections: { heading: string; blocks: ReportBlock[] }[];
}

let chartJsSource: string | undefined;

/** The Chart.js UMD bundle from node_modules, read once. */
function chartJs(): string {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    // The package's exports map hides the UMD bundle; it sits beside the main entry in dist/.
    const dist = path.dirname(require.resolve('chart.js'));
    chartJsSource = readFileSync(path.join(dist, 'chart.umd.min.js'), 'utf8');
  }
  return chartJsSource;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

// JSON inside <script> must not be able to close the element or open a comment.
const scriptJson = (value: unknown) =>
  JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

function table(block: Extract<ReportBlock, { kind: 'table' }>): string {
  const head = block.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = block.rows
    .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(String(v))}</td>`).join('')}</tr>`)
    .join('\n');
  const caption = block.caption ? `<caption>${escapeHtml(block.caption)}</caption>` : '';
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Renders the page as one HTML string (no outside requests: every asset is inline). */
export function renderReport(page: ReportPage): string {
  const charts: ChartSpec[] = [];
  const sections = page.sections
    .map((s) => {
      const blocks = s.blocks
        .map((b) => {
          if (b.kind === 'html') return b.html;
          if (b.kind === 'table') return table(b);
          charts.push(b.chart);
          const id = charts.length - 1;
          return `<figure><figcaption>${escapeHtml(b.title)}</figcaption><div class="chart" style="height:${
            b.height ?? 320
          }px"><canvas id="chart-${id}"></canvas></div></figure>`;
        })
        .join('\n');
      return `<section><h2>${escapeHtml(s.heading)}</h2>\n${blocks}\n</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } .subtitle { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; } caption { text-align: left; color: #666; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: right; } th { background: #f5f5f5; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5rem 0; } figcaption { font-weight: 600; margin-bottom: .4rem; }
.chart { position: relative; width: 100%; }
</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
${page.subtitle ? `<p class="subtitle">${escapeHtml(page.subtitle)}</p>` : ''}
${sections}
<script>${chartJs()}</script>
<script>
const specs = ${scriptJson(charts)};
// A dataset marked legendHidden (e.g. the lower edge of an interval band) gets no legend entry.
Chart.defaults.plugins.legend.labels.filter = (item, data) => !(data.datasets[item.datasetIndex] || {}).legendHidden;
specs.forEach((spec, i) => {
  spec.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, spec.options || {});
  new Chart(document.getElementById('chart-' + i), spec);
});
</script>
</body>
</html>
`;
}
