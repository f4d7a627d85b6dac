import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS, assignGroup, bucketOf, groupOf } from '../../src/ab/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { dbVariants } from '../helpers/db.js';

// The SQL one-liner documented in src/ab/README.md, with the salt as a parameter.
const SQL_BUCKET = `SELECT u AS user_id,
  (('x' || left(encode(sha256(convert_to($1 || ':' || u, 'UTF8')), 'hex'), 8))::bit(32)::bigint % 10000)::int AS bucket
FROM unnest($2::int[]) AS u ORDER BY u`;

describe('ab bucketing', () => {
  it('is stable across restarts (buckets fixed by the documented hash)', () => {
    // Computed once with the Python one-liner of src/ab/README.md; never change them.
    expect(bucketOf('feedrec-ab-v1', 1)).toBe(536);
    expect(bucketOf('feedrec-ab-v1', 200)).toBe(510);
    expect(bucketOf('feedrec-ab-v1', 12345)).toBe(2342);
    expect(bucketOf('feedrec-ab-v1', 168552)).toBe(9464);
    expect(bucketOf('other-salt', 200)).toBe(5769);
  });

  it('depends on the salt', () => {
    const same = Array.from({ length: 1000 }, (_, i) => i).filter(
      (u) => bucketOf('a', u) === bucketOf('b', u),
    );
    expect(same.length).toBeLessThan(10);
  });

  it('splits 100,000 users 50/50 within ±1 %', () => {
    let test = 0;
    for (let u = 1; u <= 100_000; u++) if (assignGroup('feedrec-ab-v1', u, 0.5) === 'test') test++;
    expect(Math.abs(test / 100_000 - 0.5)).toBeLessThan(0.01);
  });

  it('follows the configured test share', () => {
    for (const share of [0, 0.1, 0.25, 0.9, 1]) {
      let test = 0;
      for (let u = 1; u <= 50_000; u++) if (assignGroup('s', u, share) === 'test') test++;
      expect(Math.abs(test / 50_000 - share)).toBeLessThan(0.01);
    }
  });

  it('puts exactly round(share × 10000) buckets in the test group', () => {
    let testBuckets = 0;
    for (let b = 0; b < BUCKETS; b++) if (groupOf(b, 0.3333) === 'test') testBuckets++;
    expect(testBuckets).toBe(3333);
    expect(groupOf(0, 0)).toBe('control');
    expect(groupOf(BUCKETS - 1, 1)).toBe('test');
  });

  it('gives the same test buckets under half-up and half-to-even rounding for every share config accepts', () => {
    // The twins round differently only at a half bucket; config admits whole numbers of buckets.
    const halfToEven = (x: number) => {
      const f = Math.floor(x);
      const d = x - f;
      return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
    };
    for (let k = 0; k <= BUCKETS; k += k < 20 || k > BUCKETS - 20 ? 1 : 37) {
      const share = loadConfig({ FEEDREC_AB_TEST_SHARE: String(k / BUCKETS) }).ab.testShare;
      expect(Math.round(share * BUCKETS)).toBe(k);
      expect(halfToEven(share * BUCKETS)).toBe(k);
    }
    expect(() => loadConfig({ FEEDREC_AB_TEST_SHARE: '0.12345' })).toThrow(/whole number of buckets/);
  });
});

describe.each(dbVariants)('ab bucketing in SQL ($name)', (variant) => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterAll(async () => {
    await drop?.();
  });

  it.skipIf(variant.skip)('gives the same buckets as TypeScript for 1,000 ids', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => 1 + i * 167);
    for (const salt of ['feedrec-ab-v1', 'sälz ünïcode']) {
      const rows = await db.query<{ user_id: number; bucket: number }>(SQL_BUCKET, [salt, ids]);
      expect(rows).toHaveLength(ids.length);
      for (const r of rows) expect(r.bucket).toBe(bucketOf(salt, r.user_id));
    }
  });
});
