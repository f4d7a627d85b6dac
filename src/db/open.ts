import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { projectRoot } from '../config/paths.js';
import { DatabaseUnavailableError, MissingDataError } from '../errors/index.js';
import * as schema from './schema.js';

export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

/** What every data job needs, on either engine and inside or outside a transaction. */
export interface DbSession {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Bulk-loads CSV text (no header) into table(columns); chunks should be a few MB each. */
  copyIn(table: string, columns: readonly string[], csvChunks: AsyncIterable<string>): Promise<void>;
  /** Streams the CSV output of `COPY (select) TO STDOUT`: the fast path for large reads. */
  copyOut(select: string): AsyncIterable<string>;
}

export interface Database extends DbSession {
  readonly kind: 'pglite' | 'postgres';
  /** A short description for logs, never with a password. */
  readonly where: string;
  readonly orm: Orm;
  transaction<T>(fn: (tx: DbSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** Apply drizzle/ migrations on open (default true). */
  migrate?: boolean;
  /**
   * Told of a pooled Postgres connection that broke outside any query (server restart, backend
   * killed). Without a listener node-postgres re-emits it as an unhandled 'error' event, which
   * ends the process; the default writes one line to stderr. The pool replaces the connection.
   */
  onConnectionError?: (err: Error) => void;
  /**
   * PGlite: create the database when dataDir holds none (default true). Commands that only read
   * data pass false, so a mistyped --data-dir is reported instead of becoming an empty database.
   */
  create?: boolean;
  /** Postgres: connecting, or waiting for a pooled connection, fails after this (default 10 s). */
  connectTimeoutMs?: number;
  /** Postgres: server-side statement_timeout of every connection (default: none). */
  statementTimeoutMs?: number;
}

const MIGRATIONS = () => path.join(projectRoot(), 'drizzle');
/** Advisory lock key held while migrating Postgres (any constant no other code uses). */
const MIGRATION_LOCK = 7_212_010;

const copyColumns = (table: string, columns: readonly string[]) =>
  `COPY ${table} (${columns.map((c) => `"${c}"`).join(', ')}) FROM STDIN WITH (FORMAT csv)`;

/** Opens Postgres when a URL is given, else PGlite in dataDir; applies migrations. */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const db = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, opts)
    : await openPglite(opts.dataDir, opts.create ?? true);
  if (opts.migrate !== false) {
    try {
      if (db.kind === 'pglite') await migratePglite(db.orm as never, { migrationsFolder: MIGRATIONS() });
      else
        // Replicas of one deployment start together and each migrates on open: concurrent DDL of
        // the same migration fails (3 of 4 openers did in a test). One transaction-scoped advisory
        // lock makes them take turns; the later ones find the migrations applied.
        await db.transaction(async (tx) => {
          await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          await migratePg(db.orm as never, { migrationsFolder: MIGRATIONS() });
        });
    } catch (err) {
      await db.close();
      throw new DatabaseUnavailableError(
        `applying migrations on ${db.where} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return db;
}

// ---------- PGlite ----------

function pgliteSession(q: PGlite | Transaction): DbSession {
  return {
    async query<R>(text: string, params?: unknown[]) {
      return (await q.query<R>(text, params as unknown[])).rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
    async copyIn(table, columns, csvChunks) {
      const stmt = copyColumns(table, columns).replace('FROM STDIN', "FROM '/dev/blob'");
      for await (const chunk of csvChunks) {
        if (chunk.length === 0) continue;
        await q.query(stmt, [], { blob: new Blob([chunk]) });
      }
    },
    async *copyOut(select: string) {
      const res = await q.query(`COPY (${select}) TO '/dev/blob' WITH (FORMAT csv)`);
      if (res.blob) yield await res.blob.text();
    },
  };
}

async function openPglite(dataDir: string, create: boolean): Promise<Database> {
  // PG_VERSION is the first file Postgres (and so PGlite) writes into a data folder.
  if (!create && !existsSync(path.join(dataDir, 'PG_VERSION'))) {
    throw new MissingDataError(
      `no database in ${dataDir}: give the --data-dir of an existing one (or DATABASE_URL), ` +
        'or create it with `feedrec world` or `npm start` (which builds the demo world); nothing was created',
    );
  }
  mkdirSync(dataDir, { recursive: true });
  let pgl: PGlite;
  try {
    // relaxedDurability: the embedded database is a local cache of generated or imported data,
    // so we trade fsync on every commit for bulk-load speed.
    pgl = await PGlite.create(dataDir, { relaxedDurability: true });
  } catch (err) {
    throw new DatabaseUnavailableError(`cannot open PGlite in ${dataDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const orm = drizzlePglite(pgl, { schema }) as unknown as Orm;
  return {
    kind: 'pglite',
    where: `PGlite at ${dataDir}`,
    orm,
    ...pgliteSession(pgl),
    transaction: (fn) => pgl.transaction((tx) => fn(pgliteSession(tx))),
    close: () => pgl.close(),
  };
}

// ---------- Postgres ----------

function warnOnStderr(err: Error): void {
  process.stderr.write(`feedrec: a Postgres connection broke and will be replaced: ${err.message}\n`);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/** `host:port (database d, user u)`: what a newcomer checks first when a connection fails. */
export function describePostgres(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || decodeURIComponent(u.searchParams.get('host') ?? '') || 'localhost';
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default)';
    const user = decodeURIComponent(u.username) || '(default)';
    return `${host}:${u.port || '5432'} (database ${db}, user ${user})`;
  } catch {
    return 'an unparsable DATABASE_URL';
  }
}

type Queryable = pg.Pool | pg.PoolClient;

/** admin_shutdown / crash_shutdown: the server ended the backend (a restart, pg_terminate_backend). */
function isBackendTerminated(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '57P01' || code === '57P02';
}

function pgSession(q: Queryable, pool: pg.Pool): DbSession {
  const withClient = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    if (q !== pool) return fn(q as pg.PoolClient);
    const c = await pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  };
  // Outside a transaction, a statement that met a backend the server had already ended is sent
  // again once, on a fresh connection: the pool may hand out an idle connection whose termination
  // notice (a Postgres restart, pg_terminate_backend) has not been read yet. A terminated backend
  // aborts its transaction, so the first attempt took no effect. Inside a transaction the caller
  // must see the failure: the earlier statements of the transaction are gone too.
  const run = async (text: string, params?: unknown[]) => {
    if (q !== pool) return q.query(text, params);
    try {
      return await pool.query(text, params);
    } catch (err) {
      if (!isBackendTerminated(err)) throw err;
      return pool.query(text, params);
    }
  };
  return {
    async query<R>(text: string, params?: unknown[]) {
      return (await run(text, params)).rows as R[];
    },
    async exec(sql: string) {
      await run(sql);
    },
    copyIn: (table, columns, csvChunks) =>
      withClient(async (c) => {
        await pipeline(Readable.from(csvChunks), c.query(copyFrom(copyColumns(table, columns))));
      }),
    async *copyOut(select: string) {
      const c = q === pool ? await pool.connect() : (q as pg.PoolClient);
      try {
        const stream = c.query(copyTo(`COPY (${select}) TO STDOUT WITH (FORMAT csv)`));
        stream.setEncoding('utf8');
        for await (const chunk of stream) yield chunk as string;
      } finally {
        if (q === pool) c.release();
      }
    },
  };
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Database> {
  const onConnectionError = opts.onConnectionError ?? warnOnStderr;
  // Timestamps are stored without time zone and always meant as UTC.
  pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (v) => new Date(`${v.replace(' ', 'T')}Z`));
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    // Without these a Postgres that accepts TCP but never answers, or a statement stuck on a
    // lock, hangs its caller forever.
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    // Notices a peer that vanished without closing the connection (a partition, a killed VM).
    keepAlive: true,
  });
  // The pool re-emits errors of idle connections; a checked-out connection emits on itself, even
  // when a query is running (the query is rejected too). Either unheard ends the process, and a
  // Postgres restart must not stop a service that answers from memory: listen on both.
  pool.on('error', onConnectionError);
  pool.on('connect', (client) => client.on('error', onConnectionError));
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    const e = err as Error;
    const reason = e.message || (e instanceof AggregateError ? e.errors.map(String).join('; ') : String(e));
    throw new DatabaseUnavailableError(`cannot connect to Postgres at ${describePostgres(url)}: ${reason}`, {
      cause: err,
    });
  }
  const orm = drizzlePg(pool, { schema }) as unknown as Orm;
  return {
    kind: 'postgres',
    where: `Postgres at ${redact(url)}`,
    orm,
    ...pgSession(pool, pool),
    async transaction(fn) {
      const c = await pool.connect();
      // A connection whose ROLLBACK failed is in an unknown state: destroy it, do not pool it.
      let broken: Error | undefined;
      try {
        await c.query('BEGIN');
        const out = await fn(pgSession(c, pool));
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        c.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
