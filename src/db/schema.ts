import {
  index,
  integer,
  pgSchema,
  pgTable,
  smallint,
  text,
  timestamp,
  bigint,
  uniqueIndex,
  uuid,
  jsonb,
  real,
} from 'drizzle-orm/pg-core';

// The three tables of the original database, with exactly the real names and types.

export const userData = pgTable('user_data', {
  user_id: integer('user_id').primaryKey(),
  gender: integer('gender'),
  age: integer('age'),
  country: text('country'),
  city: text('city'),
  exp_group: integer('exp_group'),
  os: text('os'),
  source: text('source'),
});

export const postTextDf = pgTable('post_text_df', {
  post_id: integer('post_id').primaryKey(),
  text: text('text'),
  topic: text('topic'),
});

export const feedData = pgTable(
  'feed_data',
  {
    timestamp: timestamp('timestamp', { mode: 'date' }),
    user_id: integer('user_id'),
    post_id: integer('post_id'),
    action: text('action'),
    target: smallint('target'),
  },
  // Per-user history reads (features, liked posts) go by user and time.
  (t) => [index('feed_data_user_time_idx').on(t.user_id, t.timestamp)],
);

/**
 * Feed rows in the order they were committed, for followers of the log (src/live): a statement
 * trigger on feed_data copies every inserted row here, except in bulk loads (world, import) that
 * mark their features stale and are included by the next `feedrec features` instead. Writers
 * take turns on this table until they commit, so seq order is commit order and a follower that
 * read up to seq n has missed nothing below n.
 */
export const feedChanges = pgTable('feed_changes', {
  seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  timestamp: timestamp('timestamp', { mode: 'date' }),
  user_id: integer('user_id'),
  post_id: integer('post_id'),
  action: text('action'),
  target: smallint('target'),
});

/**
 * What the simulator used to build the world. It lives in its own schema so that nothing that
 * reads the three tables can mistake it for data; only the checker reads it.
 */
export const checkerSchema = pgSchema('checker');

export const worldInfo = checkerSchema.table('world_info', {
  id: integer('id').primaryKey(),
  seed: bigint('seed', { mode: 'number' }).notNull(),
  scale: text('scale').notNull(),
  generator_version: integer('generator_version').notNull(),
  params: jsonb('params').notNull(),
  created_at: timestamp('created_at', { mode: 'date' }).notNull().defaultNow(),
});

/** Every real A/B exposure: who saw which posts from which model. Written in batches by the service. */
export const exposures = pgTable(
  'exposures',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    logged_at: timestamp('logged_at', { mode: 'date' }).notNull(),
    request_id: text('request_id').notNull(),
    user_id: integer('user_id').notNull(),
    exp_group: text('exp_group').notNull(),
    model_version: text('model_version').notNull(),
    post_ids: integer('post_ids').array().notNull(),
    request_time: timestamp('request_time', { mode: 'date' }).notNull(),
    /**
     * Given by the service when the answer is logged, unique: a batch written twice (a retry after
     * a lost reply, a spool replayed after a crash) inserts each exposure once. Not the request id,
     * which clients may choose and repeat.
     */
    exposure_key: uuid('exposure_key').notNull().defaultRandom(),
  },
  (t) => [index('exposures_user_idx').on(t.user_id), uniqueIndex('exposures_key_idx').on(t.exposure_key)],
);

// ---------- Precomputed feature tables, built by `feedrec features` from the three tables ----------

/**
 * One row per user: encoded profile plus the history the feature code needs, as arrays so the
 * service loads 163k rows instead of tens of millions. Days count from feature_meta.day0.
 */
export const userFeatures = pgTable('user_features', {
  user_id: integer('user_id').primaryKey(),
  gender: smallint('gender').notNull(),
  age: smallint('age').notNull(),
  country_code: smallint('country_code').notNull(),
  city_rank: integer('city_rank').notNull(),
  exp_group: smallint('exp_group').notNull(),
  os_code: smallint('os_code').notNull(),
  source_code: smallint('source_code').notNull(),
  /** Views per day of the period (index = day since day0). */
  views_by_day: integer('views_by_day').array().notNull(),
  /** Every like, in time order: post ids and epoch seconds. */
  liked_post_ids: integer('liked_post_ids').array().notNull(),
  liked_at: integer('liked_at').array().notNull(),
});

/** One row per post: topic, text representation (computed offline from the text) and daily stats. */
export const postFeatures = pgTable('post_features', {
  post_id: integer('post_id').primaryKey(),
  topic_code: smallint('topic_code').notNull(),
  text_cluster: smallint('text_cluster').notNull(),
  text_len: integer('text_len').notNull(),
  /** Low-dimensional text embedding (TF-IDF reduced). */
  text_vec: real('text_vec').array().notNull(),
  views_by_day: integer('views_by_day').array().notNull(),
  likes_by_day: integer('likes_by_day').array().notNull(),
});

/** Encodings and global figures shared by all feature rows (JSON values by key). */
export const featureMeta = pgTable('feature_meta', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
});
