import { stat } from 'node:fs/promises';
import type { Database, DbSession } from '../db/index.js';
import { DatabaseUnavailableError, FeedrecError, ValidationError } from '../errors/index.js';
import { readCsvForCopy } from './csv-reader.js';
import { TABLES, type ImportFlag, type ImportTable, type TableSpec } from './tables.js';
import { invalidateFeatures } from '../features/index.js';

/** CSV file per table, by CLI flag; any subset. */
export type ImportFiles = Partial<Record<ImportFlag, string>>;

export interface ImportProgress {
  table: ImportTable;
  file: string;
  rows: number;
  bytes: number;
  totalBytes: number;
}

export interface ImportOptions {
  /** Empty each table that gets a file before loading it, in the same transaction. */
  replace?: boolean;
  /** Size of each COPY chunk in characters (default a few MB). */
  chunkChars?: number;
  onProgress?: (p: ImportProgress) => void;
}

export interface TableResult {
  table: ImportTable;
  file: string;
  rows: number;
  bytes: number;
  seconds: number;
}

export interface ImportResult {
  tables: TableResult[];
  seconds: number;
}

interface Job {
  spec: TableSpec;
  file: string;
  size: number;
}

async function checkFile(flag: ImportFlag, file: string): Promise<number> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new ValidationError(`--${flag} ${file}: not a file`);
    return st.size;
  } catch (err) {
    if (err instanceof FeedrecError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(
      `--${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
}

/** Ids already in a table, read through COPY because it is the fast path on both engines. */
async function existingKeys(tx: DbSession, table: string, key: string): Promise<Set<number>> {
  const keys = new Set<number>();
  let rest = '';
  for await (const chunk of tx.copyOut(`select "${key}" from ${table}`)) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l !== '') keys.add(Number(l));
  }
  if (rest !== '') keys.add(Number(rest));
  return keys;
}

/**
 * Secondary indexes of an empty table are dropped before the load and rebuilt from their own
 * definitions after it: one sort instead of tens of millions of B-tree inserts. Constraint indexes
 * (primary keys) stay. Appends to a filled table keep their indexes, since rebuilding over the old
 * rows would cost more than it saves; so does a table that a concurrent reader may be using.
 */
async function dropIndexesIfEmpty(tx: DbSession, table: string): Promise<string[]> {
  const empty = await tx.query(`select 1 from ${table} limit 1`);
  if (empty.length > 0) return [];
  const indexes = await tx.query<{ name: string; def: string }>(
    `select i.indexname as name, i.indexdef as def from pg_indexes i
     where i.schemaname = current_schema() and i.tablename = $1
       and not exists (select 1 from pg_constraint c
                       where c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
    [table],
  );
  for (const ix of indexes) await tx.exec(`DROP INDEX "${ix.name}"`);
  return indexes.map((ix) => ix.def);
}

async function loadTable(tx: DbSession, job: Job, opts: ImportOptions): Promise<TableResult> {
  const { spec, file, size } = job;
  const started = performance.now();
  if (opts.replace) await tx.exec(`TRUNCATE ${spec.table}`);
  const rebuild = await dropIndexesIfEmpty(tx, spec.table);
  const keys =
    spec.key !== undefined && !opts.replace ? await existingKeys(tx, spec.table, spec.key) : undefined;
  const { chunks, stats } = readCsvForCopy(file, spec, {
    label: file,
    chunkChars: opts.chunkChars,
    existingKeys: keys,
    onChunk: (s) =>
      opts.onProgress?.({ table: spec.table, file, rows: s.rows, bytes: s.bytes, totalBytes: size }),
  });
  try {
    await tx.copyIn(
      spec.table,
      spec.columns.map((c) => c.name),
      chunks,
    );
  } catch (err) {
    if (err instanceof FeedrecError) throw err;
    throw new DatabaseUnavailableError(
      `loading ${file} into ${spec.table} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  for (const def of rebuild) await tx.exec(def);
  return {
    table: spec.table,
    file,
    rows: stats.rows,
    bytes: stats.bytes,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Loads CSV files in the original karpov.courses layout into user_data, post_text_df and
 * feed_data. All files of one call share one transaction: a bad row anywhere (reported as an
 * ImportRowError) leaves every table as it was before the call.
 */
export async function importTables(
  db: Database,
  files: ImportFiles,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const jobs: Job[] = [];
  for (const spec of TABLES) {
    const file = files[spec.flag];
    if (file === undefined) continue;
    jobs.push({ spec, file, size: await checkFile(spec.flag, file) });
  }
  if (jobs.length === 0) {
    throw new ValidationError('nothing to import: give at least one of --users, --posts, --feed');
  }
  const started = performance.now();
  const tables = await db.transaction(async (tx) => {
    await invalidateFeatures(tx);
    const done: TableResult[] = [];
    for (const job of jobs) done.push(await loadTable(tx, job, opts));
    return done;
  });
  // Fresh statistics so the first feature build after a big load gets sensible query plans; the
  // data is already committed, so a failure here must not turn a good import into an error.
  await db.exec(`ANALYZE ${tables.map((t) => t.table).join(', ')}`).catch(() => undefined);
  return { tables, seconds: (performance.now() - started) / 1000 };
}
