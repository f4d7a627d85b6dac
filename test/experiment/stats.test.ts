import { describe, expect, it } from 'vitest';
import { checkerRandom } from '../../src/eval/index.js';
import {
  clusteredBootstrap,
  compare,
  cupedCompare,
  formatP,
  minimumDetectableEffect,
  proportionCi,
  pText,
  ratioEstimate,
  srmTest,
  twoSidedP,
  type CovariateUnit,
  type Unit,
} from '../../src/experiment/index.js';

/**
 * Users with their own like propensity (a beta-ish mix) and a varying number of exposures: the
 * dependence a user-level test must respect. Seeded, so every run draws the same data.
 */
function clusteredGroup(rnd: () => number, users: number, base: number): Unit[] {
  return Array.from({ length: users }, () => {
    const propensity = Math.min(0.98, Math.max(0.02, base + 0.35 * (rnd() - 0.5) + 0.35 * (rnd() - 0.5)));
    const exposures = 1 + Math.floor(rnd() * rnd() * 16);
    let hits = 0;
    for (let i = 0; i < exposures; i++) if (rnd() < propensity) hits++;
    return { num: hits, den: exposures };
  });
}

const sd = (xs: number[]) => {
  const m = xs.reduce((s, v) => s + v, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1));
};

describe('user-level intervals (delta method)', () => {
  it('reduce to the textbook interval of a mean when every user has the same exposures', () => {
    const hits = [0, 1, 3, 2, 2, 0, 1, 3, 3, 1];
    const units = hits.map((h) => ({ num: h, den: 3 }));
    const e = ratioEstimate(units);
    expect(e.value).toBeCloseTo(16 / 30, 12);
    expect(e.se).toBeCloseTo(sd(hits) / 3 / Math.sqrt(hits.length), 12);
    expect(e.ci[1] - e.value).toBeCloseTo(1.959964 * e.se, 5);
  });

  it('agree with a user-clustered bootstrap, and are wider than counting exposures as independent', () => {
    const units = clusteredGroup(checkerRandom(11), 800, 0.55);
    const delta = ratioEstimate(units);
    const boot = clusteredBootstrap(units, 2000, checkerRandom(12));
    expect(delta.se / boot.se).toBeGreaterThan(0.93);
    expect(delta.se / boot.se).toBeLessThan(1.07);
    expect(Math.abs(boot.ci[0] - delta.ci[0])).toBeLessThan(0.25 * (delta.ci[1] - delta.ci[0]));
    const n = units.reduce((s, u) => s + u.den, 0);
    const naive = Math.sqrt((delta.value * (1 - delta.value)) / n);
    expect(delta.se).toBeGreaterThan(1.2 * naive);
  });

  it('give a two-sided z-test of the difference', () => {
    const c = { value: 0.5, se: 0.01, ci: [0, 0] as [number, number], n: 100 };
    const t = { value: 0.53, se: 0.01, ci: [0, 0] as [number, number], n: 100 };
    const r = compare(c, t);
    expect(r.difference.value).toBeCloseTo(0.03, 12);
    expect(r.difference.se).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    expect(r.pValue).toBeCloseTo(0.0339, 4);
    expect(twoSidedP(1.959964)).toBeCloseTo(0.05, 6);
    // Far tails are below what doubles resolve after 1 − erf: reported as < 1e-15.
    expect(twoSidedP(10)).toBeLessThan(1e-15);
  });

  it('reject about 5 % of A/A comparisons, where exposure-level tests reject far more', () => {
    const rnd = checkerRandom(2024);
    const runs = 600;
    let userLevel = 0;
    let exposureLevel = 0;
    for (let i = 0; i < runs; i++) {
      const a = clusteredGroup(rnd, 150, 0.6);
      const b = clusteredGroup(rnd, 150, 0.6);
      if (compare(ratioEstimate(a), ratioEstimate(b)).pValue < 0.05) userLevel++;
      // The mistake the report avoids: every exposure as an independent Bernoulli trial.
      const binom = (u: Unit[]) => {
        const n = u.reduce((s, x) => s + x.den, 0);
        const p = u.reduce((s, x) => s + x.num, 0) / n;
        return { value: p, se: Math.sqrt((p * (1 - p)) / n), ci: [0, 0] as [number, number], n };
      };
      if (compare(binom(a), binom(b)).pValue < 0.05) exposureLevel++;
    }
    // 600 runs: a true 5 % gives 30 ± 10 rejections (two binomial standard errors ≈ 11).
    expect(userLevel / runs).toBeGreaterThan(0.03);
    expect(userLevel / runs).toBeLessThan(0.075);
    expect(exposureLevel / runs).toBeGreaterThan(0.1);
  });
});

describe('CUPED', () => {
  it('recovers the known coefficient and leaves only the part the covariate does not explain', () => {
    // y = 2x + e, with e orthogonal to x in each group: θ is exactly 2 and the adjusted
    // difference is the difference of the e parts.
    const xs = [0.1, 0.2, 0.3, 0.4];
    const es = [0.05, -0.05, -0.05, 0.05];
    const group = (shiftX: number, shiftE: number): CovariateUnit[] =>
      xs.map((x, i) => ({ x: x + shiftX, num: 2 * (x + shiftX) + es[i]! + shiftE, den: 1 }));
    const control = group(0, 0);
    const test = group(0.1, 0.02);
    const r = cupedCompare(control, test);
    expect(r.theta).toBeCloseTo(2, 12);
    expect(r.difference.value).toBeCloseTo(0.02, 12);
    expect(r.test.se).toBeCloseTo(sd(es) / 2, 12);
    expect(r.varianceReduction).toBeGreaterThan(0.9);
    // The plain comparison carries the covariate's imbalance (0.2) and its variance.
    const plain = compare(ratioEstimate(control), ratioEstimate(test));
    expect(plain.difference.value).toBeCloseTo(0.22, 12);
    expect(plain.difference.se).toBeGreaterThan(3 * r.difference.se);
  });

  it('changes nothing when the covariate is unrelated to the metric', () => {
    // Within each group the covariate and the hits are uncorrelated; the groups differ in x only.
    const units = (shift: number): CovariateUnit[] =>
      [1, 0, 1, 0, 1, 1].map((h, i) => ({ num: h, den: 1, x: [1, 1, 0, 0, 0.5, 0.5][i]! + shift }));
    const r = cupedCompare(units(0), units(1));
    expect(r.theta).toBeCloseTo(0, 12);
    expect(r.difference.value).toBeCloseTo(0, 12);
    expect(r.difference.se).toBeCloseTo(
      compare(ratioEstimate(units(0)), ratioEstimate(units(1))).difference.se,
      12,
    );
  });
});

describe('sample ratio mismatch', () => {
  it('passes a split that matches the configured shares', () => {
    const even = srmTest({ control: 5000, test: 5000 }, { control: 0.5, test: 0.5 });
    expect(even.pValue).toBe(1);
    expect(even.mismatch).toBe(false);
    const noise = srmTest({ control: 5050, test: 4950 }, { control: 0.5, test: 0.5 });
    expect(noise.chiSquare).toBeCloseTo(1, 12);
    expect(noise.pValue).toBeCloseTo(0.3173, 4);
    expect(noise.mismatch).toBe(false);
  });

  it('flags 55/45 served where 50/50 was configured, and knows a 45 % test share is fine when configured', () => {
    const broken = srmTest({ control: 5500, test: 4500 }, { control: 0.5, test: 0.5 });
    expect(broken.chiSquare).toBeCloseTo(100, 9);
    expect(broken.pValue).toBeLessThan(1e-20);
    expect(broken.mismatch).toBe(true);
    expect(srmTest({ control: 5500, test: 4500 }, { control: 0.55, test: 0.45 }).mismatch).toBe(false);
  });
});

describe('proportions', () => {
  it('get the Wilson interval (5 of 100: 2.2 % – 11.2 %) and readable p-values', () => {
    const r = proportionCi(5, 100);
    expect(r.rate).toBe(0.05);
    expect(r.ci[0]).toBeCloseTo(0.02154, 4);
    expect(r.ci[1]).toBeCloseTo(0.11175, 4);
    expect(proportionCi(0, 50).ci[0]).toBe(0);
    expect(formatP(0.04321)).toBe('0.043');
    expect(formatP(3.2e-7)).toBe('3.2e-7');
    expect(formatP(0)).toBe('< 1e-15');
    // In sentences: never "p = < 1e-15".
    expect(pText(0.04321)).toBe('p = 0.043');
    expect(pText(0)).toBe('p < 1e-15');
  });
});

describe('minimum detectable effect', () => {
  it('is (z 0.975 + z 0.8) standard errors', () => {
    expect(minimumDetectableEffect(0.01)).toBeCloseTo(0.028016, 6);
    expect(minimumDetectableEffect(0.01, 0.05, 0.9)).toBeCloseTo(0.032415, 6);
  });
});
