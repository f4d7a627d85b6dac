import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { importTables, type ImportFiles, type ImportProgress, type ImportResult } from './run.js';

interface ImportFlags extends DataFlags, ImportFiles {
  replace?: boolean;
}

const MB = 1024 * 1024;
// Without a terminal (CI, logs) a bar would print control codes; a line now and then is readable.
const LINE_EVERY_MS = 10_000;

const count = (n: number) => n.toLocaleString('en-US');

/** A bar per table on a terminal, otherwise a progress line every few seconds for big files. */
function progressReporter(tty: boolean): { update(p: ImportProgress): void; stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let current: string | undefined;
  // Counted from the first chunk, not from start-up: opening PGlite alone can take seconds.
  let lastLine: number | undefined;
  return {
    update(p) {
      if (!tty) {
        const now = performance.now();
        lastLine ??= now;
        if (now - lastLine < LINE_EVERY_MS) return;
        lastLine = now;
        const pct = p.totalBytes > 0 ? Math.round((100 * p.bytes) / p.totalBytes) : 100;
        console.error(`import: ${p.table} ${count(p.rows)} rows, ${pct}% of ${p.file}`);
        return;
      }
      if (current !== p.table) {
        bar?.stop();
        current = p.table;
        bar = new cliProgress.SingleBar(
          {
            format:
              'import {table} [{bar}] {percentage}% | {mb}/{totalMb} MB | {rows} rows | ETA {eta_formatted}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.totalBytes, 0, {
          table: p.table,
          rows: '0',
          mb: '0',
          totalMb: (p.totalBytes / MB).toFixed(0),
        });
      }
      bar?.update(p.bytes, { rows: count(p.rows), mb: (p.bytes / MB).toFixed(0) });
    },
    stop() {
      bar?.stop();
    },
  };
}

/** What the import did, one line per table, for people rather than scripts. */
export function formatReport(result: ImportResult): string {
  const lines = result.tables.map(
    (t) =>
      `${t.table.padEnd(12)} ${count(t.rows).padStart(12)} rows  ${t.seconds.toFixed(1).padStart(7)} s  ` +
      `${count(Math.round(t.rows / Math.max(t.seconds, 1e-3))).padStart(10)} rows/s  from ${t.file}`,
  );
  const total = result.tables.reduce((s, t) => s + t.rows, 0);
  lines.push(`imported ${count(total)} rows in ${result.seconds.toFixed(1)} s (one transaction)`);
  return lines.join('\n');
}

export function registerImportCommand(program: Command): void {
  withDataOptions(
    program
      .command('import')
      .description(
        'load CSV files in the original karpov.courses layout (header row) into user_data, ' +
          'post_text_df and feed_data, all in one transaction',
      )
      .option('--users <file>', 'CSV for user_data: user_id,gender,age,country,city,exp_group,os,source')
      .option('--posts <file>', 'CSV for post_text_df: post_id,text,topic')
      .option('--feed <file>', 'CSV for feed_data: timestamp,user_id,post_id,action,target')
      .option('--replace', 'empty each table that gets a file before loading it (same transaction)'),
  ).action(async (flags: ImportFlags) => {
    const cfg = configFrom(flags);
    const progress = progressReporter(process.stderr.isTTY === true);
    const result = await withDatabase(cfg, async (db) => {
      console.error(`import: into ${db.where}`);
      try {
        return await importTables(
          db,
          { users: flags.users, posts: flags.posts, feed: flags.feed },
          { replace: flags.replace === true, onProgress: (p) => progress.update(p) },
        );
      } finally {
        progress.stop();
      }
    });
    console.log(formatReport(result));
  });
}
