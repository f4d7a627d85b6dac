import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';

const TEST_URL = process.env.TEST_DATABASE_URL;

// Replicas of one deployment start together (deploy/local.sh up, a Kubernetes rollout) and each
// applies the migrations on open: they must take turns, not fail on each other's DDL.
describe.skipIf(!TEST_URL)('migrations on one Postgres opened by several replicas at once', () => {
  it('all open, and the schema is migrated once', async () => {
    const name = `feedrec_t_mig_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: TEST_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_URL!);
    url.pathname = `/${name}`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-mig-'));
    try {
      const opened = await Promise.allSettled(
        Array.from({ length: 4 }, () => openDatabase({ dataDir, databaseUrl: url.toString() })),
      );
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
      expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual([
        'ok',
        'ok',
        'ok',
        'ok',
      ]);
      const db = await openDatabase({ dataDir, databaseUrl: url.toString() });
      const applied = await db.query<{ n: string }>('select count(*) n from drizzle.__drizzle_migrations');
      const files = await db.query<{ n: string }>(
        `select count(*) n from information_schema.tables where table_name = 'exposures'`,
      );
      await db.close();
      expect(Number(applied[0]!.n)).toBeGreaterThan(0);
      expect(Number(files[0]!.n)).toBe(1);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
