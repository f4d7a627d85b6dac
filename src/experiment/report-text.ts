import type { ExpGroup as Group } from '../ab/index.js';
import type { ExperimentReport } from './report.js';
import { formatP, pText } from './stats.js';

const f4 = (x: number) => x.toFixed(4);
const ci = (c: [number, number]) => `${f4(c[0])} – ${f4(c[1])}`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** "test/v2 (9,990 exposures), fallback-popular (10)": the versions that ranked a group's answers. */
export function modelList(models: Record<string, number>): string {
  const entries = Object.entries(models).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '(none recorded)';
  return entries
    .map(([m, n], i) => `${m} (${n.toLocaleString('en-US')}${i === 0 ? ' exposures' : ''})`)
    .join(', ');
}

/** The report as Markdown: what `feedrec ab report` prints and docs/ keep. */
export function reportMarkdown(r: ExperimentReport): string {
  const g = (name: Group) => r.groups[name];
  const lines = [
    `Exposures from ${r.window.from} to ${r.window.to}; a hit is a like of a shown post within ${r.window.hitWindowMinutes} min.`,
    '',
    `**Verdict: ${r.verdict.text}**`,
    '',
    '| group | users | exposures | Hitrate@5 | 95 % CI | CUPED Hitrate@5 | 95 % CI | likes per user | 95 % CI | fallback answers |',
    '|---|--:|--:|--:|---|--:|---|--:|---|--:|',
    ...(['control', 'test'] as const).map(
      (n) =>
        `| ${n} | ${g(n).users} | ${g(n).exposures} | ${f4(g(n).hitrate)} | ${ci(g(n).hitrateCi)} | ${f4(g(n).cupedHitrate)} | ` +
        `${ci(g(n).cupedHitrateCi)} | ${g(n).likesPerUser.toFixed(3)} | ${g(n)
          .likesPerUserCi.map((x) => x.toFixed(3))
          .join(' – ')} | ${g(n).fallbacks} |`,
    ),
    '',
    '| test − control | difference | 95 % CI | relative | p-value |',
    '|---|--:|---|--:|--:|',
    `| Hitrate@5 (user-level delta method) | ${f4(r.difference)} | ${ci(r.differenceCi)} | ${pct(r.relativeDifference)} | ${formatP(r.pValue)} |`,
    `| Hitrate@5, CUPED | ${f4(r.cuped.difference)} | ${ci(r.cuped.differenceCi)} | | ${formatP(r.cuped.pValue)} |`,
    `| likes per user | ${r.likesPerUser.difference.toFixed(3)} | ${r.likesPerUser.ci.map((x) => x.toFixed(3)).join(' – ')} | | ${formatP(r.likesPerUser.pValue)} |`,
    `| likes per user, CUPED | ${r.likesPerUser.cupedDifference.toFixed(3)} | ${r.likesPerUser.cupedCi.map((x) => x.toFixed(3)).join(' – ')} | | ${formatP(r.likesPerUser.cupedPValue)} |`,
    '',
    `CUPED covariate: ${r.cuped.covariate}; θ = ${r.cuped.theta.toFixed(3)}; the Hitrate interval is ${pct(r.cuped.intervalNarrowing)} narrower ` +
      `(variance explained ${pct(r.cuped.varianceReduction)}), the likes-per-user interval ${pct(r.likesPerUser.intervalNarrowing)}.`,
    '',
    `Sample ratio: ${r.srm.observed.control} control / ${r.srm.observed.test} test users against a configured test share of ` +
      `${r.config.testShare}: χ² = ${r.srm.chiSquare.toFixed(2)}, ${pText(r.srm.pValue)} → ` +
      (r.srm.mismatch
        ? `**MISMATCH** (p < ${r.srm.threshold}): the split is broken.`
        : 'consistent with the split.'),
    '',
    `Models served: ${(['control', 'test'] as const)
      .map((n) => `${n} ${modelList(g(n).models)}`)
      .join('; ')}.`,
    '',
    `Minimum detectable effect at this sample (α = ${r.mde.alpha}, power ${r.mde.power}): ±${f4(r.mde.absolute)} ` +
      `(${pct(r.mde.relative)} of control's Hitrate).`,
  ];
  if (r.excluded.usersInBothGroups > 0 || r.excluded.unknownGroups > 0)
    lines.push(
      '',
      `Excluded: ${r.excluded.usersInBothGroups} users seen in both groups, ${r.excluded.unknownGroups} rows of unknown groups.`,
    );
  const te = r.simulation?.trueEffect;
  if (te)
    lines.push(
      '',
      `World's true effect on the same ${te.visits} visits (both models asked; expected Hitrate@5 from the ground truth): ` +
        `control ${f4(te.control)}, test ${f4(te.test)}, difference ${f4(te.difference)} (${ci(te.ci)}) — ` +
        `${te.insideInterval ? 'inside' : 'OUTSIDE'} the report's interval.`,
    );
  return lines.join('\n') + '\n';
}
