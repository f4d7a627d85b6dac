import { createHash } from 'node:crypto';

/** Number of buckets users are hashed into; the test share is a whole number of buckets. */
export const BUCKETS = 10_000;

export type ExpGroup = 'control' | 'test';

/**
 * The user's bucket in [0, 10000): the first 8 hex digits of SHA-256 over the UTF-8 string
 * `${salt}:${userId}`, read as an unsigned 32-bit big-endian integer, modulo 10,000.
 * SHA-256 (not a faster non-cryptographic hash) because every language and Postgres have it,
 * so analysts can recompute assignments from the exposures table (see README.md here).
 */
export function bucketOf(salt: string, userId: number | string): number {
  const digest = createHash('sha256').update(`${salt}:${userId}`, 'utf8').digest();
  return digest.readUInt32BE(0) % BUCKETS;
}

/** Buckets below round(testShare · 10000) are the test group, the rest control. */
export function groupOf(bucket: number, testShare: number): ExpGroup {
  return bucket < Math.round(testShare * BUCKETS) ? 'test' : 'control';
}

/** bucketOf then groupOf: the group a user is assigned to under this salt and split. */
export function assignGroup(salt: string, userId: number, testShare: number): ExpGroup {
  return groupOf(bucketOf(salt, userId), testShare);
}
