// The hidden ground truth's parameters. Tuned so that the generated tables match the real
// figures and the world is as hard as the real checker (see test/world and docs/calibration.md);
// changing any value changes the world, so bump GENERATOR_VERSION with it.

export const PARAMS = {
  /** Intercept of the like logit. */
  base: -2.54,
  /** Logit added linearly from the first to the last day (like rate 0.093 → 0.136). */
  trend: 0.55,
  /** Hour of day: amplitude of a cosine peaking at hourPeak (evening likes more than midday). */
  hourAmp: 0.23,
  hourPeak: 21,
  /** Saturday and Sunday. */
  weekend: 0.05,
  /** Per topic (TOPICS order): tech is the least liked. */
  topicBase: [0.02, -0.05, -0.06, 0.08, 0.0, -0.3, 0.06],
  /** Per topic, logit change from the first to the last day (covid fades, sport rises). */
  topicTrend: [0.0, -0.35, 0.05, 0.25, 0.1, -0.05, 0.2],
  /** Main effects: exp_group 1-2 like more than 0 and 3; gender 1 more than 0. */
  expGroup: [-0.17, 0.2, 0.2, -0.17, 0.02],
  gender: [-0.055, 0.055],
  /** Standard deviations of the demographic × topic taste tables. */
  taste: { age: 0.12, country: 0.08, gender: 0.08, os: 0.06, source: 0.06, expGroup: 0.1 },
  /** Age bucket × sub-topic taste: learnable from demographics plus text clusters. */
  ageSubtopic: 0.25,
  /** Individual, only the user's own history reveals them. */
  activity: 0.25,
  topicOffset: 0.25,
  favouriteCount: [0.3, 0.45, 0.25], // P(1), P(2), P(3) favourite sub-topics
  favouriteBoost: [1.0, 1.7] as [number, number],
  /** Gamma shape of sub-topic popularity among favourites (smaller = more unequal). */
  subtopicPopularityShape: 6,
  subtopicsPerTopic: [8, 6, 4, 4, 4, 4, 4],
  subtopicMain: 0.1, // half-width of a uniform
  quality: 0.18, // half-width of a uniform
  /** Logit drop for a post the user already liked. */
  likedDrop: -1.2,
  /** Share of views that re-show a post the user saw before (on top of random repeats). */
  repeatViewShare: 0.055,
  viewsPerUser: 421,
  /** Gamma shape of views per user (mean viewsPerUser). */
  viewsShape: 3,
  /** Post view weights: three clusters (weight, share) with a little jitter. */
  viewClusters: [
    [0.8, 0.5],
    [1.08, 0.4],
    [2.0, 0.1],
  ] as [number, number][],
  viewJitter: 0.05,
  /** Seconds from a view to its like. */
  likeDelay: [60, 120] as [number, number],
} as const;

export type Params = typeof PARAMS;

/** Age buckets used by the taste tables. */
export function ageBucket(age: number): number {
  return age < 20 ? 0 : age < 25 ? 1 : age < 33 ? 2 : age < 45 ? 3 : 4;
}
export const AGE_BUCKETS = 5;
