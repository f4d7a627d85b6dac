import type { ExpGroup as Group } from '../ab/index.js';
import type { ExperimentData } from './report-data.js';
import type { SimulationRun } from './simulate.js';
import {
  compare,
  cupedCompare,
  pText,
  minimumDetectableEffect,
  ratioEstimate,
  srmTest,
  type CovariateUnit,
  type Estimate,
  type SrmResult,
} from './stats.js';

const GROUPS: readonly Group[] = ['control', 'test'];
export const ALPHA = 0.05;
export const POWER = 0.8;

export interface GroupStats {
  users: number;
  exposures: number;
  hits: number;
  /** Hitrate@5 per exposure (hits / exposures) with its user-level (delta-method) interval. */
  hitrate: number;
  hitrateCi: [number, number];
  /** Likes per exposed user during the experiment. */
  likesPerUser: number;
  likesPerUserCi: [number, number];
  /** The CUPED-adjusted Hitrate and its interval. */
  cupedHitrate: number;
  cupedHitrateCi: [number, number];
  /** Answers served by the cheap fallback instead of the model. */
  fallbacks: number;
  /**
   * Exposures per model version that ranked them (e.g. {"test/v1": 9990, "fallback-popular": 10}),
   * over every exposure of the group in the window, users left out of the comparison included.
   */
  models: Record<string, number>;
}

export interface ExperimentReport {
  window: { from: string; to: string; hitWindowMinutes: number };
  config: { testShare: number };
  groups: Record<Group, GroupStats>;
  /** Hitrate@5 test − control, its 95 % interval and two-sided p-value (user-level test). */
  difference: number;
  differenceCi: [number, number];
  relativeDifference: number;
  pValue: number;
  likesPerUser: {
    difference: number;
    ci: [number, number];
    pValue: number;
    cupedDifference: number;
    cupedCi: [number, number];
    cupedPValue: number;
    /** 1 − width(CUPED interval) / width(plain interval). */
    intervalNarrowing: number;
  };
  cuped: {
    covariate: string;
    theta: number;
    difference: number;
    differenceCi: [number, number];
    pValue: number;
    /** 1 − width(CUPED interval) / width(plain interval). */
    intervalNarrowing: number;
    varianceReduction: number;
  };
  srm: SrmResult;
  mde: { absolute: number; relative: number; alpha: number; power: number };
  verdict: { winner: Group | null; trusted: boolean; text: string };
  daily: {
    day: string;
    groups: Partial<Record<Group, { hitrate: number; ci: [number, number]; exposures: number }>>;
  }[];
  /** Per-user like rates during the experiment (likes / views), as histogram counts per group. */
  likeRates: { edges: number[]; counts: Record<Group, number[]> };
  excluded: { usersInBothGroups: number; unknownGroups: number };
  simulation?: {
    seed: number;
    world: string;
    visits: number;
    trueEffect?: NonNullable<SimulationRun['trueEffect']> & { insideInterval: boolean };
    latencySource: string;
    latency: Partial<Record<Group, SimulationRun['groups'][Group]>>;
  };
}

interface UserTotals {
  group: Group;
  exposures: number;
  hits: number;
  fallbacks: number;
}

const LIKE_RATE_EDGES = Array.from({ length: 21 }, (_, i) => i * 0.025);

/** Turns the per-user data into the report: every figure is computed over users. */
export function buildReport(
  data: ExperimentData,
  opts: { testShare: number; hitWindowMinutes: number },
  run?: SimulationRun,
): ExperimentReport {
  const users = new Map<number, UserTotals>();
  const mixed = new Set<number>();
  let unknownGroups = 0;
  for (const r of data.userDays) {
    if (r.group !== 'control' && r.group !== 'test') {
      unknownGroups++;
      continue;
    }
    const u = users.get(r.userId);
    if (!u)
      users.set(r.userId, { group: r.group, exposures: r.exposures, hits: r.hits, fallbacks: r.fallbacks });
    else if (u.group !== r.group) mixed.add(r.userId);
    else {
      u.exposures += r.exposures;
      u.hits += r.hits;
      u.fallbacks += r.fallbacks;
    }
  }
  // A user seen in both groups (the salt or split changed mid-experiment) belongs to neither.
  for (const id of mixed) users.delete(id);

  // Covariate: the user's like rate before the experiment; users without history get the mean.
  const rates = [...users.keys()].map((id) => data.activity.get(id)).filter((a) => a && a.preViews > 0);
  const meanRate = rates.reduce((s, a) => s + a!.preLikes / a!.preViews, 0) / Math.max(1, rates.length);
  type Row = CovariateUnit & { id: number; likes: number; views: number };
  const byGroup: Record<Group, Row[]> = { control: [], test: [] };
  for (const [id, u] of users) {
    const a = data.activity.get(id) ?? { preViews: 0, preLikes: 0, views: 0, likes: 0 };
    byGroup[u.group].push({
      id,
      num: u.hits,
      den: u.exposures,
      x: a.preViews > 0 ? a.preLikes / a.preViews : meanRate,
      likes: a.likes,
      views: a.views,
    });
  }
  const [c, t] = [byGroup.control, byGroup.test];
  const hitrate = compare(ratioEstimate(c), ratioEstimate(t));
  const likes = compare(
    ...([c, t].map((units) => ratioEstimate(units.map((u) => ({ num: u.likes, den: 1 })))) as [
      Estimate,
      Estimate,
    ]),
  );
  const cuped = cupedCompare(c, t);
  const perUser = (units: Row[]) => units.map((u) => ({ num: u.likes, den: 1, x: u.x }));
  const likesCuped = cupedCompare(perUser(c), perUser(t));

  const groupStats = (g: Group, units: typeof c): GroupStats => {
    const h = g === 'control' ? hitrate.control : hitrate.test;
    const l = g === 'control' ? likes.control : likes.test;
    const cu = g === 'control' ? cuped.control : cuped.test;
    let fallbacks = 0;
    for (const u of units) fallbacks += users.get(u.id)!.fallbacks;
    return {
      users: units.length,
      exposures: units.reduce((s, u) => s + u.den, 0),
      hits: units.reduce((s, u) => s + u.num, 0),
      hitrate: h.value,
      hitrateCi: h.ci,
      likesPerUser: l.value,
      likesPerUserCi: l.ci,
      cupedHitrate: cu.value,
      cupedHitrateCi: cu.ci,
      fallbacks,
      models: Object.fromEntries(
        (data.models ?? []).filter((m) => m.group === g).map((m) => [m.model, m.exposures]),
      ),
    };
  };

  const srm = srmTest(
    { control: c.length, test: t.length },
    { control: 1 - opts.testShare, test: opts.testShare },
  );
  const mdeAbs = minimumDetectableEffect(hitrate.difference.se, ALPHA, POWER);
  const width = (ci: [number, number]) => ci[1] - ci[0];
  const report: ExperimentReport = {
    window: {
      from: new Date(data.fromMs).toISOString(),
      to: new Date(data.toMs).toISOString(),
      hitWindowMinutes: opts.hitWindowMinutes,
    },
    config: { testShare: opts.testShare },
    groups: { control: groupStats('control', c), test: groupStats('test', t) },
    difference: hitrate.difference.value,
    differenceCi: hitrate.difference.ci,
    relativeDifference: hitrate.relative,
    pValue: hitrate.pValue,
    likesPerUser: {
      difference: likes.difference.value,
      ci: likes.difference.ci,
      pValue: likes.pValue,
      cupedDifference: likesCuped.difference.value,
      cupedCi: likesCuped.difference.ci,
      cupedPValue: likesCuped.pValue,
      intervalNarrowing: 1 - width(likesCuped.difference.ci) / width(likes.difference.ci),
    },
    cuped: {
      covariate: 'each user’s like rate before the experiment (likes / views in feed_data before the window)',
      theta: cuped.theta,
      difference: cuped.difference.value,
      differenceCi: cuped.difference.ci,
      pValue: cuped.pValue,
      intervalNarrowing: 1 - width(cuped.difference.ci) / width(hitrate.difference.ci),
      varianceReduction: cuped.varianceReduction,
    },
    srm,
    mde: {
      absolute: mdeAbs,
      relative: hitrate.control.value > 0 ? mdeAbs / hitrate.control.value : 0,
      alpha: ALPHA,
      power: POWER,
    },
    verdict: verdict(hitrate.difference.value, hitrate.pValue, srm, mdeAbs),
    daily: daily(data, users),
    likeRates: likeRates(byGroup),
    excluded: { usersInBothGroups: mixed.size, unknownGroups },
  };
  if (run) {
    report.simulation = {
      seed: run.seed,
      world: `${run.world.scale}:${run.world.seed}`,
      visits: run.visits.done,
      latencySource: run.latencySource,
      latency: run.groups,
    };
    if (run.trueEffect) {
      const [lo, hi] = report.differenceCi;
      report.simulation.trueEffect = {
        ...run.trueEffect,
        insideInterval: run.trueEffect.difference >= lo && run.trueEffect.difference <= hi,
      };
    }
  }
  return report;
}

function verdict(d: number, p: number, srm: SrmResult, mde: number): ExperimentReport['verdict'] {
  const pct = (x: number) => `${(100 * x).toFixed(2)} pp`;
  if (srm.mismatch)
    return {
      winner: null,
      trusted: false,
      text: `Do not trust this comparison: the users per group do not match the configured split (SRM ${pText(srm.pValue)}).`,
    };
  if (p < ALPHA) {
    const winner: Group = d > 0 ? 'test' : 'control';
    return {
      winner,
      trusted: true,
      text: `${winner === 'test' ? 'Test' : 'Control'} wins: Hitrate@5 ${d > 0 ? '+' : '−'}${pct(Math.abs(d))} for test (${pText(p)}).`,
    };
  }
  return {
    winner: null,
    trusted: true,
    text: `No significant difference (${pText(p)}); this sample would detect ±${pct(mde)} with 80 % power.`,
  };
}

function daily(data: ExperimentData, users: Map<number, UserTotals>): ExperimentReport['daily'] {
  const byDay = new Map<string, Record<Group, { num: number; den: number }[]>>();
  for (const r of data.userDays) {
    const u = users.get(r.userId);
    if (!u || u.group !== r.group) continue;
    if (!byDay.has(r.day)) byDay.set(r.day, { control: [], test: [] });
    byDay.get(r.day)![u.group].push({ num: r.hits, den: r.exposures });
  }
  return [...byDay.keys()].sort().map((day) => {
    const groups: ExperimentReport['daily'][number]['groups'] = {};
    for (const g of GROUPS) {
      const units = byDay.get(day)![g];
      if (units.length === 0) continue;
      const e = ratioEstimate(units);
      groups[g] = { hitrate: e.value, ci: e.ci, exposures: units.reduce((s, x) => s + x.den, 0) };
    }
    return { day, groups };
  });
}

function likeRates(
  byGroup: Record<Group, { likes: number; views: number }[]>,
): ExperimentReport['likeRates'] {
  const edges = LIKE_RATE_EDGES;
  const counts = {} as Record<Group, number[]>;
  for (const g of GROUPS) {
    counts[g] = new Array<number>(edges.length).fill(0);
    for (const u of byGroup[g]) {
      if (u.views === 0) continue;
      const rate = u.likes / u.views;
      // The last bin holds everything from its edge up (a few users like most of what they see).
      const i = Math.min(edges.length - 1, Math.floor(rate / (edges[1]! - edges[0]!)));
      counts[g][i]! += 1;
    }
  }
  return { edges, counts };
}
