import { DAY0_MS, DAYS } from './constants.js';
import { FeedGenerator, KIND_LIKE, KIND_VIEW_LIKED } from './feed.js';
import type { WorldModel } from './world.js';

// CSV text for COPY (no header), built from precomputed string pieces: at full scale this runs
// 77 M times, so a row is three concatenations of cached strings.

export const USER_COLUMNS = [
  'user_id',
  'gender',
  'age',
  'country',
  'city',
  'exp_group',
  'os',
  'source',
] as const;
export const POST_COLUMNS = ['post_id', 'text', 'topic'] as const;
export const FEED_COLUMNS = ['timestamp', 'user_id', 'post_id', 'action', 'target'] as const;

/** Chunks of about this many characters: big enough that per-COPY overhead vanishes. */
export const CHUNK_CHARS = 4 << 20;

function field(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function* usersCsv(world: WorldModel): Generator<string> {
  let parts: string[] = [];
  for (const u of world.users) {
    parts.push(
      `${u.userId},${u.gender},${u.age},${field(u.country)},${field(u.city)},${u.expGroup},${u.os},${u.source}\n`,
    );
    if (parts.length === 50_000) {
      yield parts.join('');
      parts = [];
    }
  }
  if (parts.length) yield parts.join('');
}

export function* postsCsv(world: WorldModel): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const p of world.posts) {
    const row = `${p.postId},${field(p.text)},${p.topic}\n`;
    parts.push(row);
    size += row.length;
    if (size >= CHUNK_CHARS) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  if (parts.length) yield parts.join('');
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

let hms: string[] | undefined;
let dayPrefix: string[] | undefined;

function timeTables(): { hms: string[]; dayPrefix: string[] } {
  if (!hms || !dayPrefix) {
    hms = new Array<string>(86_400);
    for (let s = 0; s < 86_400; s++)
      hms[s] = `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
    dayPrefix = Array.from({ length: DAYS + 1 }, (_, d) =>
      new Date(DAY0_MS + d * 86_400_000).toISOString().slice(0, 10).concat(' '),
    );
  }
  return { hms, dayPrefix };
}

/** `YYYY-MM-DD HH:MM:SS` of seconds since 2021-10-01 00:00 UTC. */
export function formatTimestamp(sec: number): string {
  const t = timeTables();
  const day = Math.floor(sec / 86_400);
  return t.dayPrefix[day]! + t.hms[sec - day * 86_400]!;
}

export interface FeedProgress {
  users: number;
  rows: number;
  views: number;
  likes: number;
}

/**
 * The feed log as CSV chunks, user by user in index order (bounded memory at any scale).
 * `onUser` is told after each user, for progress bars and counts.
 */
export function* feedCsv(
  world: WorldModel,
  onUser?: (p: FeedProgress) => void,
  chunkChars = CHUNK_CHARS,
): Generator<string> {
  const { hms: H, dayPrefix: D } = timeTables();
  const gen = new FeedGenerator(world);
  const userPart = world.users.map((u) => `,${u.userId},`);
  const view0 = world.posts.map((p) => `${p.postId},view,0\n`);
  const view1 = world.posts.map((p) => `${p.postId},view,1\n`);
  const like = world.posts.map((p) => `${p.postId},like,0\n`);
  const progress: FeedProgress = { users: 0, rows: 0, views: 0, likes: 0 };
  let parts: string[] = [];
  let size = 0;
  for (let u = 0; u < world.users.length; u++) {
    const log = gen.generate(u);
    const up = userPart[u]!;
    const { time, post, kind } = log;
    for (let i = 0; i < log.length; i++) {
      const t = time[i]!;
      const day = (t / 86_400) | 0;
      const k = kind[i]!;
      const p = post[i]!;
      const row =
        D[day]! +
        H[t - day * 86_400]! +
        up +
        (k === KIND_LIKE ? like[p]! : k === KIND_VIEW_LIKED ? view1[p]! : view0[p]!);
      parts.push(row);
      size += row.length;
      if (k === KIND_LIKE) progress.likes++;
      else progress.views++;
    }
    progress.rows += log.length;
    progress.users = u + 1;
    if (size >= chunkChars) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
    onUser?.(progress);
  }
  if (parts.length) yield parts.join('');
}
