import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigOverrides } from '../config/index.js';
import { openDatabase, type Database } from '../db/index.js';

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

export function openFromConfig(cfg: Config): Promise<Database> {
  return openDatabase({ dataDir: cfg.dataDir, databaseUrl: cfg.databaseUrl });
}

/** Opens the database for one command and always closes it. */
export async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openFromConfig(cfg);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
