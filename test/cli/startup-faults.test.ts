import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs the CLI as a newcomer would; resolves with exit code and output, or kills it after ms. */
function feedrec(
  args: string[],
  ms = 60_000,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/feedrec.js', ...args], {
      env: { ...process.env, DATABASE_URL: '', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'feedrec-startup-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a port already in use', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => taken.close());

  it('ends serve with one line naming the port and how to choose another, before building anything', async () => {
    // An empty folder: a start that built the demo world before listening would take a minute and
    // fill it; listening comes first, so nothing is opened or created.
    const dataDir = path.join(scratch, 'serve-data');
    const { code, stderr } = await feedrec(['serve', '--port', String(port), '--data-dir', dataDir], 20_000);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `feedrec: ListenError: port ${port} is already in use on 127.0.0.1: choose another with --port <n> or PORT=<n>\n`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a read-only command pointed at a folder without a database', () => {
  it.each([
    ['check', ['--requests', '10']],
    ['features', []],
    ['train', ['--rows', '100']],
  ])('%s says so and creates nothing', async (command, extra) => {
    const typo = path.join(scratch, `typo-${command}`, 'dir');
    const { code, stderr } = await feedrec([command, '--data-dir', typo, ...extra]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `feedrec: MissingDataError: no database in ${typo}: give the --data-dir of an existing one (or DATABASE_URL), ` +
        'or create it with `feedrec world` or `npm start` (which builds the demo world); nothing was created\n',
    );
    expect(existsSync(path.join(scratch, `typo-${command}`))).toBe(false);
  });

  it('leaves an existing empty folder empty', async () => {
    const empty = mkdtempSync(path.join(scratch, 'empty-'));
    const { code, stderr } = await feedrec(['check', '--data-dir', empty, '--requests', '10']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^feedrec: MissingDataError: no database in /);
    expect(readdirSync(empty)).toEqual([]);
  });
});
