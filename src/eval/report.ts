import { escapeHtml, renderReport, type ChartSpec, type ReportBlock } from '../report/index.js';
import type { CheckReport } from './types.js';

/** The checker's results for people: the Markdown table (README, docs/) and the HTML page. */

const f3 = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(3));
const pct = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(1)} %`);

/** One line: which requests, which world (or real tables), which ranking. */
export function reportHeadline(r: CheckReport): string {
  return (
    `Checker seed ${r.checker.seed}, ${r.checker.requests} hidden requests; ` +
    (r.world
      ? `world ${r.world.scale} seed ${r.world.seed}${r.world.exposure ? ` (${r.world.exposure} exposure)` : ''}; `
      : `hold-out: hits = likes in the last ${r.checker.holdoutDays} days of the log ` +
        `(${r.checker.holdout?.start ?? '?'} … ${r.checker.holdout?.end ?? '?'}); `) +
    `ranking ${r.ranking.rankAll ? 'every post' : `two-stage, ${r.ranking.candidates} candidates`}.`
  );
}

/** Hitrate is expected from the ground truth, or counted from logged likes in hold-out mode. */
const columns = (r: CheckReport) => [
  'policy',
  r.world ? 'Hitrate@5 (expected)' : 'Hitrate@5 (held-out likes)',
  '95 % CI',
  'sampled hit',
  'gap closed',
  'ROC-AUC',
  'model',
];

function trainedNote(s: CheckReport['policies'][string]): string {
  if (s.trainedUntil === undefined) return '';
  const until = s.trainedUntil === null ? 'unknown window' : `trained until ${s.trainedUntil}`;
  return ` (${until}${s.overlap ? ', OVERLAPS the held-out days' : ''})`;
}

function tableRows(r: CheckReport): string[][] {
  return Object.entries(r.policies).map(([name, s]) => [
    name,
    f3(s.hitrate),
    `${f3(s.ci[0])} – ${f3(s.ci[1])}`,
    f3(s.sampled),
    pct(s.gapClosed),
    f3(s.auc),
    `${s.model ?? ''}${trainedNote(s)}`,
  ]);
}

function latencyLines(r: CheckReport): string[] {
  return Object.entries(r.policies)
    .filter(([, s]) => s.latencyMs)
    .map(
      ([name, s]) =>
        `${name} latency over HTTP: p50 ${s.latencyMs!.p50.toFixed(1)} ms, p90 ${s.latencyMs!.p90.toFixed(1)} ms, ` +
        `p99 ${s.latencyMs!.p99.toFixed(1)} ms, max ${s.latencyMs!.max.toFixed(1)} ms`,
    );
}

/** The Markdown table of a report (README and docs/checker.md). */
export function reportMarkdown(r: CheckReport): string {
  const lines = [
    reportHeadline(r),
    '',
    `| ${columns(r).join(' | ')} |`,
    `|${columns(r)
      .map(() => '---|')
      .join('')}`,
    ...tableRows(r).map((row) => `| ${row.join(' | ')} |`),
  ];
  for (const l of latencyLines(r)) lines.push('', l);
  return lines.join('\n') + '\n';
}

const POLICY_COLORS: Record<string, string> = {
  random: '#9e9e9e',
  popular: '#8d6e63',
  control: '#1e88e5',
  test: '#43a047',
  oracle: '#fb8c00',
  service: '#8e24aa',
};
const colorOf = (name: string) => POLICY_COLORS[name] ?? '#546e7a';

// The original services' bars on the real checker (DESIGN.md §1).
const BARS = [
  { label: 'bar of the control service (0.52)', value: 0.52, color: '#1565c0' },
  { label: 'bar of the test service (0.57)', value: 0.57, color: '#2e7d32' },
];

function hitrateChart(r: CheckReport): ChartSpec {
  const names = Object.keys(r.policies);
  const scores = Object.values(r.policies);
  return {
    type: 'bar',
    data: {
      labels: names,
      datasets: [
        {
          label: 'Hitrate@5',
          data: scores.map((s) => s.hitrate),
          backgroundColor: names.map(colorOf),
          grouped: false,
          order: 2,
        },
        {
          label: '95 % interval',
          data: scores.map((s) => [s.ci[0], s.ci[1]]),
          backgroundColor: '#212121',
          barPercentage: 0.12,
          grouped: false,
          order: 0,
        },
        ...BARS.map((b) => ({
          type: 'line',
          label: b.label,
          data: names.map(() => b.value),
          borderColor: b.color,
          borderDash: [6, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          order: 1,
        })),
      ],
    },
    options: {
      // The legend follows the drawing order (the interval on top); reversed it starts with Hitrate@5.
      plugins: { legend: { reverse: true } },
      scales: { y: { min: 0, max: 1, title: { display: true, text: 'Hitrate@5' } } },
    },
  };
}

function gapChart(r: CheckReport): ChartSpec {
  const entries = Object.entries(r.policies).filter(([, s]) => s.gapClosed !== undefined);
  return {
    type: 'bar',
    data: {
      labels: entries.map(([n]) => n),
      datasets: [
        {
          label: 'gap closed (%)',
          data: entries.map(([, s]) => Math.round(1000 * s.gapClosed!) / 10),
          backgroundColor: entries.map(([n]) => colorOf(n)),
        },
      ],
    },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false } },
      scales: {
        x: { min: 0, max: 100, title: { display: true, text: '% of the way from random to the oracle' } },
      },
    },
  };
}

function distributionChart(r: CheckReport): ChartSpec {
  const entries = Object.entries(r.policies).filter(([, s]) => s.distribution);
  const bins = entries[0]?.[1].distribution?.length ?? 0;
  const labels = Array.from(
    { length: bins },
    (_, i) => `${(i / bins).toFixed(2)}–${((i + 1) / bins).toFixed(2)}`,
  );
  return {
    type: 'line',
    data: {
      labels,
      datasets: entries.map(([name, s]) => {
        const total = s.distribution!.reduce((a, b) => a + b, 0) || 1;
        return {
          label: name,
          data: s.distribution!.map((c) => Math.round((10_000 * c) / total) / 100),
          borderColor: colorOf(name),
          backgroundColor: colorOf(name),
          cubicInterpolationMode: 'monotone',
        };
      }),
    },
    options: {
      scales: {
        x: { title: { display: true, text: 'expected hits of one answer: 1 − Π(1 − P(like))' } },
        y: { min: 0, title: { display: true, text: '% of requests' } },
      },
    },
  };
}

/** The self-contained HTML page of a report (`feedrec check --html FILE`). */
export function reportHtml(r: CheckReport, generatedAt = new Date()): string {
  const hitrate: ReportBlock[] = [
    { kind: 'table', columns: columns(r), rows: tableRows(r) },
    {
      kind: 'chart',
      title: 'Hitrate@5 per policy, with its 95 % confidence interval',
      chart: hitrateChart(r),
    },
  ];
  for (const l of latencyLines(r)) hitrate.push({ kind: 'html', html: `<p>${escapeHtml(l)}</p>` });
  const sections = [{ heading: 'Hitrate@5', blocks: hitrate }];
  if (Object.values(r.policies).some((s) => s.gapClosed !== undefined)) {
    sections.push({
      heading: 'Gap closed',
      blocks: [
        {
          kind: 'html',
          html: '<p>(Hitrate − Hitrate of random) / (Hitrate of the oracle − Hitrate of random).</p>',
        },
        {
          kind: 'chart',
          title: 'Gap closed per policy',
          chart: gapChart(r),
          height: 60 + 36 * Object.keys(r.policies).length,
        },
      ],
    });
  }
  if (r.checker.mode === 'ground-truth') {
    sections.push({
      heading: 'Per-request expected hits',
      blocks: [
        {
          kind: 'html',
          html:
            '<p>For each hidden request, the chance that the user likes at least one of the five answered ' +
            'posts, from the world’s true like probabilities; its mean over requests is the Hitrate@5 above.</p>',
        },
        { kind: 'chart', title: 'Distribution of per-request expected hits', chart: distributionChart(r) },
      ],
    });
  }
  return renderReport({
    title: 'feedrec checker',
    subtitle: `${reportHeadline(r)} Generated ${generatedAt.toISOString()}.`,
    sections,
  });
}
