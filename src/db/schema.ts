import {
  index,
  integer,
  pgSchema,
  pgTable,
  smallint,
  text,
  timestamp,
  bigint,
  jsonb,
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
  },
  (t) => [index('exposures_user_idx').on(t.user_id)],
);
