/**
 * Audience segments: coarse groups of users by one profile field. Like rates of a post, topic or
 * text cluster within the user's segment (relative to what the segment and the post would give
 * apart) carry the world's demographic × topic and age × sub-topic tastes in one number each,
 * which a few hundred trees find hard to assemble from raw profile columns.
 */

/** Profile column order (PROFILE in layout.ts): gender, age, country, city_rank, exp_group, os, source. */
export interface SegmentDim {
  name: string;
  /** Segment values 0 … size - 1. */
  size: number;
  of(profile: Float32Array, off: number): number;
}

/** Age bands as the taste tables see age: under 20, 20–24, 25–32, 33–44, 45 and over. */
export function ageBand(age: number): number {
  return age < 20 ? 0 : age < 25 ? 1 : age < 33 ? 2 : age < 45 ? 3 : 4;
}

/** Country codes are ranks by user count (0 = most users); the rarest share the last value. */
const COUNTRY_VALUES = 8;

export const SEGMENT_DIMS: readonly SegmentDim[] = [
  { name: 'age', size: 5, of: (p, o) => ageBand(p[o + 1]!) },
  {
    name: 'country',
    size: COUNTRY_VALUES,
    of: (p, o) => Math.min(Math.max(0, p[o + 2]!), COUNTRY_VALUES - 1),
  },
  { name: 'gender', size: 2, of: (p, o) => (p[o]! > 0 ? 1 : 0) },
  { name: 'os', size: 2, of: (p, o) => (p[o + 5]! > 0 ? 1 : 0) },
  { name: 'source', size: 2, of: (p, o) => (p[o + 6]! > 0 ? 1 : 0) },
  { name: 'exp_group', size: 5, of: (p, o) => Math.min(Math.max(0, p[o + 4]!), 4) },
];

/** First segment index of each dimension in the flat segment space. */
export const SEGMENT_BASE: readonly number[] = SEGMENT_DIMS.map((_, i) =>
  SEGMENT_DIMS.slice(0, i).reduce((s, d) => s + d.size, 0),
);

/** Segment values over all dimensions. */
export const SEGMENTS = SEGMENT_DIMS.reduce((s, d) => s + d.size, 0);
