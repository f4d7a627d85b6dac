// Fixed facts of the simulated network: the period, the topics, the scales, and the figures of
// the real tables (DESIGN.md section 2) that the world is calibrated against.

export type Scale = 'tiny' | 'demo' | 'full';
export const SCALES: readonly Scale[] = ['tiny', 'demo', 'full'];

export interface WorldSpec {
  seed: number;
  scale: Scale;
  /** How views come about (src/world/exposure.ts); absent means the random feed. */
  exposure?: 'random' | 'taste';
}

/** Bump when the same seed would produce different tables or a different ground truth. */
export const GENERATOR_VERSION = 1;

const utc = (iso: string) => Date.parse(`${iso}Z`);

/** The logged period (UTC; the tables store timestamps without time zone). */
export const PERIOD = {
  startMs: utc('2021-10-01T06:01:00'),
  endMs: utc('2021-12-29T23:51:00'),
} as const;

/** Midnight of the first day: day indexes and seconds-of-day count from here. */
export const DAY0_MS = utc('2021-10-01T00:00:00');
export const DAY0_SEC = DAY0_MS / 1000;
export const DAYS = 90;
export const DAY_MS = 86_400_000;
/** Views happen from 06:00 to 23:59 only. */
export const FIRST_HOUR = 6;

export const TOPICS: readonly string[] = [
  'movie',
  'covid',
  'business',
  'sport',
  'politics',
  'tech',
  'entertainment',
];
export const TOPIC_COUNT = TOPICS.length;

/** Posts per topic in the real table (same order as TOPICS). */
export const REAL_TOPIC_POSTS = [3000, 1799, 510, 510, 417, 401, 386] as const;

export interface ScaleSize {
  users: number;
  /** Posts per topic, TOPICS order. */
  topicPosts: readonly number[];
  /** Ids are drawn, with gaps, from these ranges. */
  userIdMax: number;
  postIdMax: number;
  /** Posts that never appear in the feed. */
  unshownPosts: number;
}

/**
 * tiny: 300 users and a tenth of the posts (~140k feed rows): seconds, for unit tests.
 * demo: 10,000 users and all posts (~4.7 M feed rows): the embedded default.
 * full: the real sizes (~76.9 M feed rows).
 */
export const SCALE_SIZES: Record<Scale, ScaleSize> = {
  tiny: {
    users: 300,
    topicPosts: [300, 180, 51, 51, 42, 40, 39],
    userIdMax: 168_552,
    postIdMax: 733,
    unshownPosts: 19,
  },
  demo: {
    users: 10_000,
    topicPosts: REAL_TOPIC_POSTS,
    userIdMax: 168_552,
    postIdMax: 7_319,
    unshownPosts: 192,
  },
  full: {
    users: 163_205,
    topicPosts: REAL_TOPIC_POSTS,
    userIdMax: 168_552,
    postIdMax: 7_319,
    unshownPosts: 192,
  },
};
export const USER_ID_MIN = 200;
export const POST_ID_MIN = 1;

/** The real tables' figures (public EDA), for calibration tests and the report. */
export const REAL = {
  users: 163_205,
  posts: 7_023,
  feedRows: 76_892_800,
  views: 68_686_455,
  likes: 8_206_345,
  viewsPerUser: 420.9,
  likesPerUser: 50.3,
  likeRate: 0.1195,
  likeRateFirstWeek: 0.093,
  likeRateLastWeek: 0.136,
  likeRateEvening: 0.14, // 19-21 h
  likeRateMidday: 0.105, // 10-14 h
  likeRateExpGroup12: 0.14,
  likeRateExpGroup03: 0.1,
  likeRateGender1: 0.125,
  likeRateGender0: 0.111,
  repeatLikeShare: 0.0085,
  textLength: { min: 30, median: 994, mean: 1287, max: 25_392 },
  age: { min: 14, max: 95, mean: 27.2, sd: 10.2, q1: 19, median: 24, q3: 33 },
  countries: {
    Russia: 0.876,
    Ukraine: 0.049,
    Belarus: 0.021,
    Kazakhstan: 0.02,
    Finland: 0.01,
    Turkey: 0.01,
    Azerbaijan: 0.009,
    Estonia: 0.0015,
    Latvia: 0.0015,
    Cyprus: 0.001,
    Switzerland: 0.001,
  } as Record<string, number>,
  cities: 3_915,
  moscowShare: 21_874 / 163_205,
  spbShare: 6_904 / 163_205,
  androidShare: 0.649,
  adsShare: 0.623,
  gender1Share: 0.55,
  postViews: { min: 6_423, max: 22_673 },
  unshownPosts: 192,
  postLikeShare: { min: 0.06, max: 0.16 },
  randomHitrate: 1 - Math.pow(0.88, 5),
} as const;
