import { escapeHtml, intervalBand, renderReport, translucent, type ReportBlock } from '../report/index.js';
import { LATENCY_BOUNDS_MS } from './latency.js';
import type { ExpGroup as Group } from '../ab/index.js';
import type { ExperimentReport } from './report.js';
import { modelList } from './report-text.js';
import { formatP, pText } from './stats.js';

const COLORS: Record<Group, string> = { control: '#4e79a7', test: '#e15759' };
const GROUPS: readonly Group[] = ['control', 'test'];
const f4 = (x: number) => x.toFixed(4);
const ci = (c: [number, number]) => `${f4(c[0])} – ${f4(c[1])}`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function dailyChart(r: ExperimentReport): ReportBlock {
  const datasets = GROUPS.flatMap((g) =>
    intervalBand(
      g,
      COLORS[g],
      r.daily.map((d) => ({
        value: d.groups[g]?.hitrate ?? null,
        lo: d.groups[g]?.ci[0] ?? null,
        hi: d.groups[g]?.ci[1] ?? null,
      })),
    ),
  );
  return {
    kind: 'chart',
    title: 'Daily Hitrate@5 per group, with 95 % intervals (users as units)',
    chart: {
      type: 'line',
      data: { labels: r.daily.map((d) => d.day), datasets },
      options: { scales: { y: { title: { display: true, text: 'Hitrate@5 per exposure' } } } },
    },
  };
}

function likeRateChart(r: ExperimentReport): ReportBlock {
  const { edges, counts } = r.likeRates;
  const step = edges[1]! - edges[0]!;
  const labels = edges.map((e, i) =>
    i === edges.length - 1 ? `≥ ${e.toFixed(3)}` : `${e.toFixed(3)}–${(e + step).toFixed(3)}`,
  );
  return {
    kind: 'chart',
    title: 'Per-user like rate during the experiment (likes / views), share of each group’s users',
    chart: {
      type: 'bar',
      data: {
        labels,
        datasets: GROUPS.map((g) => {
          const total = counts[g].reduce((s, v) => s + v, 0) || 1;
          return {
            label: g,
            data: counts[g].map((v) => v / total),
            backgroundColor: translucent(COLORS[g], 0.7),
          };
        }),
      },
      options: { scales: { y: { title: { display: true, text: 'share of users' } } } },
    },
  };
}

function latencyChart(r: ExperimentReport): ReportBlock {
  const sim = r.simulation;
  if (!sim)
    return { kind: 'html', html: '<p>No simulator run file was given (--run): no latency histogram.</p>' };
  const labels = [...LATENCY_BOUNDS_MS.map((b) => `≤ ${b} ms`), `> ${LATENCY_BOUNDS_MS.at(-1)} ms`];
  return {
    kind: 'chart',
    title: `Latency of the service’s answers (${sim.latencySource})`,
    chart: {
      type: 'bar',
      data: {
        labels,
        datasets: GROUPS.filter((g) => sim.latency[g]).map((g) => ({
          label: `${g} (p50 ${sim.latency[g]!.latency.p50.toFixed(1)} ms, p99 ${sim.latency[g]!.latency.p99.toFixed(1)} ms)`,
          data: sim.latency[g]!.latency.buckets,
          backgroundColor: translucent(COLORS[g], 0.7),
        })),
      },
      options: { scales: { y: { title: { display: true, text: 'requests' } } } },
    },
  };
}

/** The self-contained HTML page of a report (src/report, Chart.js inline). */
export function reportHtml(r: ExperimentReport): string {
  const verdictColor = !r.verdict.trusted ? '#b00020' : r.verdict.winner ? '#1b7f3b' : '#555';
  const te = r.simulation?.trueEffect;
  return renderReport({
    title: 'A/B experiment: control vs test',
    subtitle:
      `Exposures ${r.window.from} – ${r.window.to}; a hit is a like of a shown post within ${r.window.hitWindowMinutes} min` +
      (r.simulation
        ? `; simulated traffic (world ${r.simulation.world}, seed ${r.simulation.seed}, ${r.simulation.visits} visits)`
        : ''),
    sections: [
      {
        heading: 'Verdict',
        blocks: [
          {
            kind: 'html',
            html: `<p style="font-size:1.2rem;font-weight:600;color:${verdictColor}">${escapeHtml(r.verdict.text)}</p>`,
          },
          {
            kind: 'table',
            columns: ['test − control', 'difference', '95 % CI', 'relative', 'p-value'],
            rows: [
              [
                'Hitrate@5 (user-level delta method)',
                f4(r.difference),
                ci(r.differenceCi),
                pct(r.relativeDifference),
                formatP(r.pValue),
              ],
              [
                'Hitrate@5, CUPED',
                f4(r.cuped.difference),
                ci(r.cuped.differenceCi),
                '',
                formatP(r.cuped.pValue),
              ],
              [
                'likes per user',
                r.likesPerUser.difference.toFixed(3),
                r.likesPerUser.ci.map((x) => x.toFixed(3)).join(' – '),
                '',
                formatP(r.likesPerUser.pValue),
              ],
              [
                'likes per user, CUPED',
                r.likesPerUser.cupedDifference.toFixed(3),
                r.likesPerUser.cupedCi.map((x) => x.toFixed(3)).join(' – '),
                '',
                formatP(r.likesPerUser.cupedPValue),
              ],
              ...(te
                ? [
                    [
                      "world's true effect (same visits, both models)",
                      f4(te.difference),
                      ci(te.ci),
                      '',
                      te.insideInterval ? 'inside the CI' : 'OUTSIDE the CI',
                    ],
                  ]
                : []),
            ],
          },
        ],
      },
      {
        heading: 'Groups',
        blocks: [
          {
            kind: 'table',
            columns: [
              'group',
              'users',
              'exposures',
              'Hitrate@5',
              '95 % CI',
              'CUPED',
              '95 % CI',
              'likes / user',
              '95 % CI',
              'fallbacks',
            ],
            rows: GROUPS.map((g) => {
              const s = r.groups[g];
              return [
                g,
                s.users,
                s.exposures,
                f4(s.hitrate),
                ci(s.hitrateCi),
                f4(s.cupedHitrate),
                ci(s.cupedHitrateCi),
                s.likesPerUser.toFixed(3),
                s.likesPerUserCi.map((x) => x.toFixed(3)).join(' – '),
                s.fallbacks,
              ];
            }),
          },
          {
            kind: 'html',
            html:
              `<p>Models served: ${escapeHtml(GROUPS.map((g) => `${g} ${modelList(r.groups[g].models)}`).join('; '))}.</p>` +
              `<p>Sample ratio: χ² = ${r.srm.chiSquare.toFixed(2)}, ${pText(r.srm.pValue)} against a configured test share of ${r.config.testShare} — ` +
              `${r.srm.mismatch ? '<strong style="color:#b00020">mismatch: the split is broken</strong>' : 'consistent with the split'}. ` +
              `Minimum detectable effect (α ${r.mde.alpha}, power ${r.mde.power}): ±${f4(r.mde.absolute)} (${pct(r.mde.relative)}). ` +
              `CUPED (${escapeHtml(r.cuped.covariate)}): θ = ${r.cuped.theta.toFixed(3)}; intervals narrower by ` +
              `${pct(r.cuped.intervalNarrowing)} (Hitrate) and ${pct(r.likesPerUser.intervalNarrowing)} (likes per user).</p>`,
          },
        ],
      },
      { heading: 'Over time', blocks: [dailyChart(r)] },
      { heading: 'Users', blocks: [likeRateChart(r)] },
      { heading: 'Service latency', blocks: [latencyChart(r)] },
    ],
  });
}
