import jstat from 'jstat';

/**
 * The statistics of the experiment report, as the experimentation platforms do them (Deng et
 * al., "Applying the delta method in metric analytics", KDD 2018; CUPED, WSDM 2013). The unit of
 * randomisation is the user, so every variance is computed over users: a user's repeated
 * exposures are correlated and counting them as independent would make intervals too narrow.
 * Distribution functions come from jStat.
 */

const { jStat } = jstat;

export const Z95 = jStat.normal.inv(0.975, 0, 1);

/** Two-sided p-value of a standard normal statistic, accurate far into the tails. */
export function twoSidedP(z: number): number {
  return Math.min(1, 2 * jStat.normal.cdf(-Math.abs(z), 0, 1));
}

export interface Estimate {
  value: number;
  se: number;
  ci: [number, number];
  n: number;
}

const estimate = (value: number, se: number, n: number): Estimate => ({
  value,
  se,
  ci: [value - Z95 * se, value + Z95 * se],
  n,
});

/** Sample mean with its normal 95 % interval. */
export function meanCi(values: readonly number[]): { mean: number; se: number; ci: [number, number] } {
  const e = ratioEstimate(values.map((v) => ({ num: v, den: 1 })));
  return { mean: e.value, se: e.se, ci: e.ci };
}

/** One user's totals: e.g. hits over exposures, or likes over 1 (a per-user mean). */
export interface Unit {
  num: number;
  den: number;
}

function sampleVariance(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 0;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i]! - m) ** 2;
  return s / (n - 1);
}

/**
 * Per-user influence of the ratio Σnum / Σden: L = (num − R·den) / mean(den). Its variance over
 * users, divided by their number, is the delta-method variance of R.
 */
function influence(units: readonly Unit[]): { r: number; l: Float64Array } {
  let num = 0;
  let den = 0;
  for (const u of units) {
    num += u.num;
    den += u.den;
  }
  const r = den > 0 ? num / den : 0;
  const meanDen = den / Math.max(1, units.length);
  return { r, l: Float64Array.from(units, (u) => (meanDen > 0 ? (u.num - r * u.den) / meanDen : 0)) };
}

/** Ratio of sums over users (e.g. Hitrate per exposure) with its delta-method interval. */
export function ratioEstimate(units: readonly Unit[]): Estimate {
  const { r, l } = influence(units);
  return estimate(r, Math.sqrt(sampleVariance(l) / Math.max(1, units.length)), units.length);
}

export interface Comparison {
  control: Estimate;
  test: Estimate;
  /** test − control. */
  difference: Estimate;
  /** difference / control. */
  relative: number;
  z: number;
  pValue: number;
}

/** Welch-style z-test of two independent estimates (the two groups' users are disjoint). */
export function compare(control: Estimate, test: Estimate): Comparison {
  const se = Math.sqrt(control.se ** 2 + test.se ** 2);
  const d = test.value - control.value;
  const z = se > 0 ? d / se : 0;
  return {
    control,
    test,
    difference: estimate(d, se, control.n + test.n),
    relative: control.value !== 0 ? d / control.value : 0,
    z,
    pValue: se > 0 ? twoSidedP(z) : 1,
  };
}

/** A user's totals and their pre-experiment covariate (CUPED). */
export interface CovariateUnit extends Unit {
  x: number;
}

export interface CupedResult extends Comparison {
  /** The pooled regression coefficient of the metric's influence on the covariate. */
  theta: number;
  /** Share of the metric's variance the covariate explains (pooled within groups). */
  varianceReduction: number;
}

/**
 * CUPED for a ratio metric: each group's estimate is moved by θ·(its mean covariate − the
 * overall mean covariate), with one θ for both groups (so the difference stays unbiased under
 * random assignment), chosen to minimise the variance: the pooled within-group regression of
 * the users' influence L on the covariate. The adjusted variance is that of L − θ·x.
 */
export function cupedCompare(control: readonly CovariateUnit[], test: readonly CovariateUnit[]): CupedResult {
  const groups = [control, test].map((units) => {
    const { r, l } = influence(units);
    const xs = Float64Array.from(units, (u) => u.x);
    const xMean = xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
    return { r, l, xs, xMean, n: units.length };
  });
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const g of groups) {
    for (let i = 0; i < g.n; i++) {
      const dx = g.xs[i]! - g.xMean;
      sxy += g.l[i]! * dx;
      sxx += dx * dx;
      syy += g.l[i]! ** 2;
    }
  }
  const theta = sxx > 0 ? sxy / sxx : 0;
  const nAll = groups[0]!.n + groups[1]!.n;
  const xAll = (groups[0]!.xMean * groups[0]!.n + groups[1]!.xMean * groups[1]!.n) / Math.max(1, nAll);
  const [c, t] = groups.map((g) => {
    const adjusted = Float64Array.from(g.l, (v, i) => v - theta * g.xs[i]!);
    const value = g.r - theta * (g.xMean - xAll);
    return estimate(value, Math.sqrt(sampleVariance(adjusted) / Math.max(1, g.n)), g.n);
  });
  return {
    ...compare(c!, t!),
    theta,
    varianceReduction: syy > 0 && sxx > 0 ? (sxy * sxy) / (sxx * syy) : 0,
  };
}

export interface SrmResult {
  /** Users per group as observed, and as the configured split expects. */
  observed: Record<string, number>;
  expected: Record<string, number>;
  chiSquare: number;
  pValue: number;
  /** p below the threshold: the split is broken and the comparison cannot be trusted. */
  mismatch: boolean;
  threshold: number;
}

/**
 * Sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the users per group to
 * the configured shares. The threshold is strict (0.001, as GrowthBook and Optimizely use): the
 * check runs on every report, and a real mismatch gives p-values far smaller still.
 */
export function srmTest(
  observed: Record<string, number>,
  shares: Record<string, number>,
  threshold = 0.001,
): SrmResult {
  const names = Object.keys(shares);
  const total = names.reduce((s, k) => s + (observed[k] ?? 0), 0);
  const expected: Record<string, number> = {};
  let chi = 0;
  for (const k of names) {
    expected[k] = total * shares[k]!;
    if (expected[k]! > 0) chi += ((observed[k] ?? 0) - expected[k]!) ** 2 / expected[k]!;
  }
  const df = names.length - 1;
  // With one degree of freedom chi-square is a squared normal: the normal tail keeps tiny p exact.
  const pValue = df === 1 ? twoSidedP(Math.sqrt(chi)) : 1 - jStat.chisquare.cdf(chi, df);
  return {
    observed: { ...observed },
    expected,
    chiSquare: chi,
    pValue,
    mismatch: pValue < threshold,
    threshold,
  };
}

/**
 * Minimum detectable effect of a two-sided test at level alpha with the given power, for a
 * difference whose standard error is se (as observed): (z₁₋α/₂ + z_power)·se.
 */
export function minimumDetectableEffect(se: number, alpha = 0.05, power = 0.8): number {
  return (jStat.normal.inv(1 - alpha / 2, 0, 1) + jStat.normal.inv(power, 0, 1)) * se;
}

/**
 * Percentile interval of the ratio from resampling users with replacement (their exposures go
 * together): the user-clustered bootstrap, a check on the delta method.
 */
export function clusteredBootstrap(units: readonly Unit[], resamples: number, rnd: () => number): Estimate {
  const n = units.length;
  const values = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const u = units[Math.floor(rnd() * n)]!;
      num += u.num;
      den += u.den;
    }
    values[b] = den > 0 ? num / den : 0;
  }
  values.sort();
  const se = Math.sqrt(sampleVariance(values));
  const point = ratioEstimate(units).value;
  return {
    value: point,
    se,
    ci: [values[Math.floor(0.025 * (resamples - 1))]!, values[Math.ceil(0.975 * (resamples - 1))]!],
    n,
  };
}

/** Wilson score interval of a proportion k / n (good near 0 and 1, where the normal one is not). */
export function proportionCi(k: number, n: number, z = Z95): { rate: number; ci: [number, number] } {
  if (n === 0) return { rate: 0, ci: [0, 1] };
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { rate: p, ci: [Math.max(0, centre - half), Math.min(1, centre + half)] };
}

/** A p-value as people read it: two significant digits, and no false precision in the far tail. */
export function formatP(p: number): string {
  if (p < 1e-15) return '< 1e-15';
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

/** "p = 0.23" or "p < 1e-15", for sentences. */
export function pText(p: number): string {
  const f = formatP(p);
  return f.startsWith('<') ? `p ${f}` : `p = ${f}`;
}
