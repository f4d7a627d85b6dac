import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openDatabase } from '../../src/db/index.js';
import { readWorldSpec } from '../../src/world/index.js';

describe('feedrec world', () => {
  afterEach(() => vi.restoreAllMocks());

  it('explains itself with --help', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    await main(['node', 'feedrec', 'world', '--help']);
    expect(out).toMatch(/--scale/);
    expect(out).toMatch(/--seed/);
    expect(out).toMatch(/--force/);
    expect(out).toMatch(/--exposure <mode>.*random.*taste/s);
    expect(out).toMatch(/--data-dir/);
  });

  it('fills a PGlite folder', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-world-cli-'));
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const url = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL; // this test is about the PGlite folder
    try {
      await main(['node', 'feedrec', 'world', '--scale', 'tiny', '--seed', '11', '--data-dir', dir]);
      expect(process.exitCode ?? 0).toBe(0);
      const db = await openDatabase({ dataDir: dir });
      try {
        expect(await readWorldSpec(db)).toEqual({ seed: 11, scale: 'tiny' });
      } finally {
        await db.close();
      }
    } finally {
      if (url !== undefined) process.env.DATABASE_URL = url;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
