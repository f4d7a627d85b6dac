import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../../src/cli/commands.js';
import { main } from '../../src/cli/main.js';
import { openDatabase } from '../../src/db/index.js';
import { FEED_COLUMNS, POST_COLUMNS, USER_COLUMNS, feed, posts, tempDir, toCsv, users } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** Runs `feedrec ...` in-process against a PGlite folder, capturing what it prints. */
async function feedrec(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  // The command must honour --data-dir, not a DATABASE_URL the developer happens to have set.
  vi.stubEnv('DATABASE_URL', '');
  try {
    await main(['node', 'feedrec', ...args]);
    return { code: process.exitCode ?? 0, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    process.exitCode = undefined;
    log.mockRestore();
    error.mockRestore();
    vi.unstubAllEnvs();
  }
}

describe('feedrec import command', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-import-cli-'));
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('lists its options in --help', () => {
    const program = new Command('feedrec');
    registerCommands(program);
    expect(program.helpInformation()).toContain('import');
    const help = program.commands.find((c) => c.name() === 'import')!.helpInformation();
    for (const flag of ['--users <file>', '--posts <file>', '--feed <file>', '--replace', '--data-dir <dir>'])
      expect(help).toContain(flag);
  });

  it('loads files into the --data-dir database and reports rows per table', async () => {
    const res = await feedrec(
      'import',
      '--users',
      tmp.write('users.csv', toCsv(USER_COLUMNS, users, { index: true })),
      '--posts',
      tmp.write('posts.csv', toCsv(POST_COLUMNS, posts)),
      '--feed',
      tmp.write('feed.csv', toCsv(FEED_COLUMNS, feed)),
      '--data-dir',
      dataDir,
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/user_data\s+3 rows/);
    expect(res.stdout).toMatch(/post_text_df\s+3 rows/);
    expect(res.stdout).toMatch(/feed_data\s+3 rows/);
    expect(res.stdout).toContain('imported 9 rows');
  });

  it('exits with status 1 and names file, line, column and value for a bad row', async () => {
    const file = tmp.write('bad.csv', toCsv(FEED_COLUMNS, [feed[0]!, { ...feed[1]!, action: 'repost' }]));
    const res = await feedrec('import', '--feed', file, '--data-dir', dataDir);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`ImportRowError: ${file}:3: column "action" has "repost"`);
    const db = await openDatabase({ dataDir });
    try {
      const rows = await db.query(`select 1 from feed_data`);
      expect(rows).toHaveLength(feed.length);
    } finally {
      await db.close();
    }
  });
});
