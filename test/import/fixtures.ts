import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DbSession } from '../../src/db/index.js';

// Tiny CSV fixtures in the original dump layout, written into a temp folder by each test.

// Type aliases, not interfaces, so rows pass as Record<string, unknown>.
export type UserRow = {
  user_id: number;
  gender: number;
  age: number;
  country: string;
  city: string;
  exp_group: number;
  os: string;
  source: string;
};
export type PostRow = {
  post_id: number;
  text: string;
  topic: string;
};
export type FeedRow = {
  timestamp: string;
  user_id: number;
  post_id: number;
  action: string;
  target: number;
};

export const USER_COLUMNS = ['user_id', 'gender', 'age', 'country', 'city', 'exp_group', 'os', 'source'];
export const POST_COLUMNS = ['post_id', 'text', 'topic'];
export const FEED_COLUMNS = ['timestamp', 'user_id', 'post_id', 'action', 'target'];

/** RFC 4180 quoting, as pandas writes it (only where needed). */
export function csvField(value: unknown): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * CSV text with a header; `index` adds pandas' leading unnamed index column. Rows are objects or,
 * for malformed input, raw lines that are written as they are.
 */
export function toCsv(
  columns: readonly string[],
  rows: readonly (Record<string, unknown> | string)[],
  opts: { index?: boolean; eol?: string } = {},
): string {
  const eol = opts.eol ?? '\n';
  const lines = [(opts.index ? ['', ...columns] : columns).join(',')];
  rows.forEach((row, i) => {
    if (typeof row === 'string') lines.push(row);
    else lines.push([...(opts.index ? [i] : []), ...columns.map((c) => csvField(row[c]))].join(','));
  });
  return lines.join(eol) + eol;
}

export function tempDir(): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-import-'));
  return {
    dir,
    write(name, text) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const users: UserRow[] = [
  {
    user_id: 200,
    gender: 1,
    age: 34,
    country: 'Russia',
    city: 'Degtyarsk',
    exp_group: 3,
    os: 'Android',
    source: 'ads',
  },
  {
    user_id: 201,
    gender: 0,
    age: 37,
    country: 'Russia',
    city: 'Abakan',
    exp_group: 0,
    os: 'Android',
    source: 'ads',
  },
  {
    user_id: 168552,
    gender: 1,
    age: 17,
    country: 'Kazakhstan',
    city: 'Nur-Sultan, "Astana"',
    exp_group: 4,
    os: 'iOS',
    source: 'organic',
  },
];

export const posts: PostRow[] = [
  {
    post_id: 1,
    text: 'UK economy facing major risks\n\nThe UK manufacturing sector will continue',
    topic: 'business',
  },
  { post_id: 2, text: 'He said: "Buy, sell, hold", then left,\r\nquietly.', topic: 'business' },
  { post_id: 7319, text: 'short covid post', topic: 'covid' },
];

export const feed: FeedRow[] = [
  { timestamp: '2021-10-01 06:01:40', user_id: 200, post_id: 1, action: 'view', target: 1 },
  { timestamp: '2021-10-01 06:03:02', user_id: 200, post_id: 1, action: 'like', target: 0 },
  { timestamp: '2021-12-29 23:51:06', user_id: 168552, post_id: 7319, action: 'view', target: 0 },
];

/** Every row of the three tables as text, in a fixed order: equal snapshots mean unchanged tables. */
export async function snapshot(db: DbSession): Promise<Record<string, string>> {
  const read = async (select: string) => {
    let out = '';
    for await (const chunk of db.copyOut(select)) out += chunk;
    return out;
  };
  return {
    user_data: await read(`select * from user_data order by user_id`),
    post_text_df: await read(`select * from post_text_df order by post_id`),
    feed_data: await read(
      `select to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS.US'), user_id, post_id, action, target
       from feed_data order by 1, 2, 3, 4, 5`,
    ),
  };
}
