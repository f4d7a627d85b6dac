import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database, type OpenOptions } from '../../src/db/index.js';

const TEST_URL = process.env.TEST_DATABASE_URL;
if (!TEST_URL) {
  console.warn(
    '[feedrec tests] TEST_DATABASE_URL is not set: the Postgres variants of database tests are SKIPPED ' +
      '(only PGlite runs). .ci/run sets it up.',
  );
}

export interface DbVariant {
  name: 'pglite' | 'postgres';
  /** Skipped variants still appear, so a reader sees what did not run. */
  skip: boolean;
  /** A fresh, migrated, empty database and a function that removes it. */
  fresh(): Promise<{ db: Database; dataDir: string; url?: string; drop(): Promise<void> }>;
}

let counter = 0;

async function freshPostgres(): Promise<{
  db: Database;
  dataDir: string;
  url: string;
  drop(): Promise<void>;
}> {
  const name = `feedrec_t_${process.pid}_${Date.now()}_${counter++}`;
  const admin = new pg.Client({ connectionString: TEST_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_URL!);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-pg-'));
  const db = await openDatabase({ dataDir, databaseUrl: url.toString() });
  return {
    db,
    dataDir,
    url: url.toString(),
    async drop() {
      await db.close().catch(() => undefined);
      const a = new pg.Client({ connectionString: TEST_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function freshPglite(): Promise<{ db: Database; dataDir: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-pglite-'));
  const db = await openDatabase({ dataDir });
  return {
    db,
    dataDir,
    async drop() {
      await db.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const dbVariants: DbVariant[] = [
  { name: 'pglite', skip: false, fresh: freshPglite },
  { name: 'postgres', skip: !TEST_URL, fresh: freshPostgres },
];

/**
 * A fresh Postgres database opened a second time with the given options (timeouts, listeners),
 * unmigrated; drop() closes both handles and removes it.
 */
export async function postgresWith(
  opts: Partial<OpenOptions>,
): Promise<{ db: Database; url: string; drop(): Promise<void> }> {
  const base = await freshPostgres();
  const db = await openDatabase({ dataDir: base.dataDir, databaseUrl: base.url, migrate: false, ...opts });
  return {
    db,
    url: base.url,
    async drop() {
      await db.close().catch(() => undefined);
      await base.drop();
    },
  };
}
