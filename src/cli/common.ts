import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigOverrides } from '../config/index.js';
import { openDatabase, type Database, type OpenOptions } from '../db/index.js';

/** Adds the flags every data command shares. */
export function withDataOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'PGlite data folder (used when DATABASE_URL is not set)')
    .option('--database-url <url>', 'Postgres connection string (default: $DATABASE_URL)');
}

export interface DataFlags {
  dataDir?: string;
  databaseUrl?: string;
}

export function configFrom(flags: DataFlags, extra: ConfigOverrides = {}): Config {
  return loadConfig(undefined, { dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, ...extra });
}

/** The database options every command takes from config (timeouts matter for Postgres only). */
export function databaseOptions(cfg: Config): OpenOptions {
  return {
    dataDir: cfg.dataDir,
    databaseUrl: cfg.databaseUrl,
    connectTimeoutMs: cfg.db.connectTimeoutMs,
    statementTimeoutMs: cfg.db.statementTimeoutMs,
  };
}

export function openFromConfig(cfg: Config, extra: Partial<OpenOptions> = {}): Promise<Database> {
  return openDatabase({ ...databaseOptions(cfg), ...extra });
}

/**
 * Opens the database for one command and always closes it. Commands that only read the data
 * pass `{ create: false }`: a folder without a database is an error, not a new empty database.
 */
export async function withDatabase<T>(
  cfg: Config,
  fn: (db: Database) => Promise<T>,
  extra: Partial<OpenOptions> = {},
): Promise<T> {
  const db = await openFromConfig(cfg, extra);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
