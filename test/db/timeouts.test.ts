import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { DatabaseUnavailableError } from '../../src/errors/index.js';
import { dbVariants, postgresWith } from '../helpers/db.js';

const postgres = dbVariants.find((v) => v.name === 'postgres')!;

describe('a Postgres that accepts the connection but never answers', () => {
  let silent: Server;
  let port: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });

  it('fails after the connect timeout, naming host and port', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-timeout-'));
    try {
      const err = await openDatabase({
        dataDir,
        databaseUrl: `postgres://u:p@127.0.0.1:${port}/faults_silent`,
        connectTimeoutMs: 300,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseUnavailableError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `cannot connect to Postgres at 127\\.0\\.0\\.1:${port} \\(database faults_silent, user u\\): .*timeout`,
          'i',
        ),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 5_000);
});

describe.skipIf(postgres.skip)('a statement longer than the statement timeout', () => {
  let base: Awaited<ReturnType<typeof postgresWith>>;
  beforeAll(async () => {
    base = await postgresWith({ statementTimeoutMs: 200 });
  });
  afterAll(async () => base?.drop());

  it('is cancelled by the server (57014), and the connection stays usable', async () => {
    const err = await base.db.query('select pg_sleep(3)').catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('57014');
    expect(await base.db.query<{ one: number }>('select 1 as one')).toEqual([{ one: 1 }]);
  });
});
