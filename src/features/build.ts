import type { Database, DbSession } from '../db/index.js';
import { MissingDataError } from '../errors/index.js';
import type { FeatureMeta } from './layout.js';
import { parseCsvLines } from './csv-numbers.js';
import { buildTextModel } from './text.js';

export const FEATURE_VERSION = 1;
/** Sub-topic clusters of the text model; a measured trade-off between detail and noise per cluster. */
export const TEXT_CLUSTERS = 48;
const KNOWN_TOPICS = ['movie', 'covid', 'business', 'sport', 'politics', 'tech', 'entertainment'];

export interface FeatureBuildStats {
  users: number;
  posts: number;
  likes: number;
  days: number;
  clusters: number;
  vocabulary: number;
  seconds: number;
}

async function one<R>(db: DbSession, sql: string, params: unknown[] = []): Promise<R> {
  const rows = await db.query<R>(sql, params);
  return rows[0]!;
}

/**
 * Marks the feature tables stale. Every bulk writer of the source tables (world, import) calls
 * it first in its transaction, so `serve`, `train` and `check` rebuild features instead of using
 * old ones. It also tells feed_data's change trigger to skip the transaction's rows: the rebuild
 * includes them, and copying millions of loaded rows into feed_changes would double the load.
 */
export async function invalidateFeatures(tx: DbSession): Promise<void> {
  await tx.exec(`DELETE FROM feature_meta; SET LOCAL feedrec.bulk_load = 'on'`);
}

/**
 * `feedrec features`: builds user_features, post_features and feature_meta from the three tables.
 * Aggregations run in SQL; the text model runs here because it needs tokenisation and k-means.
 */
export async function buildFeatures(
  db: Database,
  log: (msg: string) => void = () => {},
): Promise<FeatureBuildStats> {
  const started = Date.now();
  let vocabulary = 0;
  let days = 0;
  // One snapshot for everything read: the watermark of followed rows (feed_changes) must match
  // the rows the tables include, or a live follower would count some twice or never.
  await db.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const built = await buildIn(tx, log);
    vocabulary = built.vocabulary;
    days = built.days;
  });
  const counts = await one<{ users: string; likes: string; posts: string }>(
    db,
    `select (select count(*) from user_features) users, (select count(*) from post_features) posts,
            (select coalesce(sum(cardinality(liked_post_ids)), 0) from user_features) likes`,
  );
  return {
    users: Number(counts.users),
    posts: Number(counts.posts),
    likes: Number(counts.likes),
    days,
    clusters: TEXT_CLUSTERS,
    vocabulary,
    seconds: (Date.now() - started) / 1000,
  };
}

async function buildIn(
  tx: DbSession,
  log: (msg: string) => void,
): Promise<{ vocabulary: number; days: number }> {
  // Day arithmetic stays in SQL: PGlite turns a timestamp into a Date in the host's time zone.
  const span = await one<{ day0: string | null; days: number | null; views: string; likes: string }>(
    tx,
    `select (extract(epoch from date_trunc('day', min("timestamp"))) * 1000)::bigint day0,
            floor(extract(epoch from max("timestamp") - date_trunc('day', min("timestamp"))) / 86400)::int + 1 days,
            count(*) filter (where action = 'view') views, count(*) filter (where action = 'like') likes
     from feed_data`,
  );
  if (span.day0 === null || span.days === null)
    throw new MissingDataError('feed_data is empty: run `feedrec world` or `feedrec import` first');
  const day0Ms = Number(span.day0);
  const days = span.days;
  const day0 = new Date(day0Ms).toISOString().replace('T', ' ').replace('Z', '');
  const dayExpr = `floor(extract(epoch from ("timestamp" - timestamp '${day0}')) / 86400)::int`;
  log(`log spans ${days} days from ${day0}: ${span.views} views, ${span.likes} likes`);

  const countries = (
    await tx.query<{ country: string }>(
      `select coalesce(country, '') country from user_data group by 1 order by count(*) desc, 1`,
    )
  ).map((r) => r.country);
  const topicRows = await tx.query<{ topic: string }>(
    `select distinct coalesce(topic, '') topic from post_text_df`,
  );
  const extra = topicRows.map((r) => r.topic).filter((t) => !KNOWN_TOPICS.includes(t));
  const topics = [...KNOWN_TOPICS, ...extra.sort()];

  const changes = await one<{ seq: string }>(tx, `select coalesce(max(seq), 0) seq from feed_changes`);
  await tx.exec('delete from user_features; delete from post_features; delete from feature_meta;');
  log('user features (profile encodings, daily views, likes)…');
  await tx.query(
    `with views as (
       select user_id, ${dayExpr} d, count(*)::int n from feed_data where action = 'view' group by 1, 2),
     likes as (
       select user_id, array_agg(post_id order by "timestamp", post_id) ids,
              array_agg(ceil(extract(epoch from "timestamp"))::int order by "timestamp", post_id) at
       from feed_data where action = 'like' group by 1),
     daily as (
       select u.user_id, array_agg(coalesce(v.n, 0) order by g.d) arr
       from user_data u cross join generate_series(0, $1::int - 1) g(d)
       left join views v on v.user_id = u.user_id and v.d = g.d
       group by u.user_id),
     cities as (
       select city, row_number() over (order by count(*) desc, city) r from user_data group by city),
     countries as (
       select c, (o - 1)::smallint code from unnest($2::text[]) with ordinality t(c, o))
     insert into user_features
     select u.user_id, coalesce(u.gender, 0), coalesce(u.age, 0), coalesce(co.code, 0),
            least(ci.r, 1000), coalesce(u.exp_group, 0),
            (u.os = 'iOS')::int, (u.source = 'ads')::int,
            d.arr, coalesce(l.ids, '{}'), coalesce(l.at, '{}')
     from user_data u
     join daily d on d.user_id = u.user_id
     left join likes l on l.user_id = u.user_id
     left join cities ci on ci.city is not distinct from u.city
     left join countries co on co.c = coalesce(u.country, '')`,
    [days, countries],
  );

  log('post statistics by day…');
  const posts = await tx.query<{ post_id: number; topic: string | null; text: string | null }>(
    `select post_id, topic, text from post_text_df order by post_id`,
  );
  if (posts.length === 0) throw new MissingDataError('post_text_df is empty');
  log(`text model: TF-IDF + k-means (k=${TEXT_CLUSTERS}) over ${posts.length} posts…`);
  const text = buildTextModel(
    posts.map((p) => p.text ?? ''),
    TEXT_CLUSTERS,
  );
  let stats = '';
  for await (const chunk of tx.copyOut(
    `with s as (
       select post_id, ${dayExpr} d, count(*) filter (where action = 'view')::int v,
              count(*) filter (where action = 'like')::int l
       from feed_data group by 1, 2)
     select p.post_id, array_agg(coalesce(s.v, 0) order by g.d), array_agg(coalesce(s.l, 0) order by g.d)
     from post_text_df p cross join generate_series(0, ${days} - 1) g(d)
     left join s on s.post_id = p.post_id and s.d = g.d
     group by p.post_id order by p.post_id`,
  ))
    stats += chunk;
  const byPost = new Map<number, [number[], number[]]>();
  for (const f of parseCsvLines(stats)) byPost.set(f[0] as number, [f[1] as number[], f[2] as number[]]);

  const lines: string[] = [];
  posts.forEach((p, i) => {
    const [v, l] = byPost.get(p.post_id)!;
    const topic = Math.max(0, topics.indexOf(p.topic ?? ''));
    const cluster = text.clusters[i]!;
    const vec = Array.from(text.vectors.subarray(i * text.k, (i + 1) * text.k), (x) => x.toPrecision(6));
    lines.push(
      `${p.post_id},${topic},${cluster},${(p.text ?? '').length},"{${vec.join(',')}}","{${v.join(',')}}","{${l.join(',')}}"\n`,
    );
  });
  async function* rows() {
    yield lines.join('');
  }
  await tx.copyIn(
    'post_features',
    ['post_id', 'topic_code', 'text_cluster', 'text_len', 'text_vec', 'views_by_day', 'likes_by_day'],
    rows(),
  );
  const meta: FeatureMeta = { version: FEATURE_VERSION, day0Ms, topics, countries };
  await tx.query(
    `insert into feature_meta (key, value) values ('meta', $1::jsonb), ('dims', $2::jsonb), ('live', $3::jsonb)`,
    [
      JSON.stringify(meta),
      JSON.stringify({ days, clusters: text.k, textDim: text.k, vocabulary: text.vocabulary }),
      JSON.stringify({ changesSeq: Number(changes.seq) }),
    ],
  );
  return { vocabulary: text.vocabulary, days };
}
