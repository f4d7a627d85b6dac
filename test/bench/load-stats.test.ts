import { describe, expect, it } from 'vitest';
import { classify, fitLine, recoveryMs, soakSummary } from '../../bench/load-stats.js';

describe('load statistics', () => {
  it('classifies answers by status and by what ranked them', () => {
    expect(classify(200, 'test/v1')).toBe('model');
    expect(classify(200, 'fallback-popular')).toBe('fallback');
    expect(classify(200, undefined)).toBe('unlabelled');
    expect(classify(503, 'test/v1')).toBe('503');
  });

  it('times the recovery as the start of the first 500 ms window back at 90 % of capacity', () => {
    // capacity 100/s: a 500 ms window needs 45 model-ranked answers
    const slow = Array.from({ length: 20 }, (_, i) => i * 50); // 20/s for the first second
    const fast = Array.from({ length: 200 }, (_, i) => 2000 + i * 5); // nothing, then 200/s from 2 s on
    // the 45th fast answer (at 2,220 ms) completes the first window that holds the rate
    expect(recoveryMs([...slow, ...fast], 100)).toBe(2220 - 500);
    expect(recoveryMs(fast, 100, { fromMs: 1000 })).toBe(2220 - 500 - 1000);
    expect(recoveryMs(slow, 100)).toBeUndefined();
    expect(
      recoveryMs(
        Array.from({ length: 100 }, (_, i) => i),
        100,
      ),
    ).toBe(0);
  });

  it('fits the RSS slope per hour and the p99 drift of a soak', () => {
    expect(fitLine([0, 1, 2, 3], [5, 7, 9, 11])).toEqual({ slope: 2, intercept: 5 });
    // RSS grows 0.5 MB per 10 s sample = 180 MB/hour; p99 doubles from the first third to the last
    const samples = Array.from({ length: 12 }, (_, i) => ({
      t: (i + 1) * 10,
      rssMb: 300 + i * 0.5,
      p99Ms: i < 4 ? 10 : i < 8 ? 15 : 20,
      answersPerS: 100,
      modelPerS: 100,
      errors: 0,
    }));
    expect(soakSummary(samples)).toMatchObject({
      rssSlopeMbPerHour: 180,
      rssFirstMb: 300,
      rssLastMb: 305.5,
      p99FirstThirdMs: 10,
      p99LastThirdMs: 20,
      p99DriftPct: 100,
    });
  });
});
