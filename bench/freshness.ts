// How fresh are the features of a running service: the wall time from a like being written to
// the log until the service stops recommending the liked post. Runs `feedrec serve` as its own
// process and, per trial, asks a user's feed, logs a like of its first post, then asks again
// every few milliseconds until the post is gone. Writes bench/results/freshness.{json,md}.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/freshness.js --data-dir <demo PGlite folder>
//     [--pg-url postgres://…/experiment_fresh] [--trials 200] [--port 8310]
//
// The PGlite folder is copied first (the trials add rows to the log). On the embedded database
// the like goes through the service's POST /feed_data; on Postgres it is written straight into
// feed_data by another connection, as the network itself would.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '../src/db/index.js';
import { appendFeedRows, utcText, type FeedRow } from '../src/live/index.js';
import { EXPERIMENT_START_MS } from '../src/world/index.js';
import { machineDetails } from './load-report.js';
import { repoRoot as root, startService, type ServiceProcess } from './service-process.js';

interface Trial {
  userId: number;
  ms: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
const pct = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function firstPosts(url: string, userId: number, tMs: number): Promise<number[]> {
  const res = await fetch(`${url}/post/recommendations/?id=${userId}&time=${iso(tMs)}&limit=5`);
  if (res.status !== 200) throw new Error(`recommendations for ${userId} answered ${res.status}`);
  return ((await res.json()) as { recommendations: { id: number }[] }).recommendations.map((p) => p.id);
}

async function runTrials(
  svc: ServiceProcess,
  users: number[],
  write: (rows: FeedRow[]) => Promise<void>,
  timeoutMs: number,
): Promise<Trial[]> {
  const out: Trial[] = [];
  const t = EXPERIMENT_START_MS + 12 * 3_600_000;
  const check = t + 300_000;
  for (const userId of users) {
    const [post] = await firstPosts(svc.url, userId, check);
    await write([
      { timeMs: t + 5_000, userId, postId: post!, action: 'view', target: 1 },
      { timeMs: t + 95_000, userId, postId: post!, action: 'like', target: 0 },
    ]);
    const written = performance.now();
    let ms: number | null = null;
    while (performance.now() - written < timeoutMs) {
      if (!(await firstPosts(svc.url, userId, check)).includes(post!)) {
        ms = performance.now() - written;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    out.push({ userId, ms });
  }
  return out;
}

function summary(trials: Trial[]) {
  const ok = trials.map((t) => t.ms).filter((x): x is number => x !== null);
  ok.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    trials: trials.length,
    notSeen: trials.length - ok.length,
    ms: {
      p50: r(pct(ok, 0.5)),
      p90: r(pct(ok, 0.9)),
      p99: r(pct(ok, 0.99)),
      max: r(ok.at(-1) ?? NaN),
      mean: r(ok.reduce((s, v) => s + v, 0) / Math.max(1, ok.length)),
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      'pg-url': { type: 'string' },
      trials: { type: 'string', default: '200' },
      port: { type: 'string', default: '8310' },
      'follow-ms': { type: 'string', default: '200' },
      out: { type: 'string', default: path.join(root, 'bench', 'results', 'freshness') },
    },
  });
  const port = Number(values.port);
  const trials = Number(values.trials);
  const env = { FEEDREC_FOLLOW_MS: values['follow-ms'] };
  const runs: { database: string; writer: string; result: ReturnType<typeof summary> }[] = [];

  if (values['data-dir']) {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'feedrec-fresh-'));
    try {
      process.stderr.write(`copying ${values['data-dir']} to ${copy}…\n`);
      cpSync(values['data-dir'], copy, { recursive: true });
      const db = await openDatabase({ dataDir: copy });
      const users = (
        await db.query<{ user_id: number }>(`select user_id from user_data order by user_id limit $1`, [
          trials,
        ])
      ).map((r) => r.user_id);
      await db.close();
      const svc = await startService({ port, dataDir: copy, env });
      try {
        const write = async (rows: FeedRow[]) => {
          const res = await fetch(`${svc.url}/feed_data`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              rows: rows.map((r) => ({
                timestamp: utcText(r.timeMs).replace(' ', 'T'),
                user_id: r.userId,
                post_id: r.postId,
                action: r.action,
                target: r.target,
              })),
            }),
          });
          if (res.status !== 200) throw new Error(`POST /feed_data answered ${res.status}`);
        };
        runs.push({
          database: 'PGlite (embedded)',
          writer: 'POST /feed_data of the service',
          result: summary(await runTrials(svc, users, write, 10_000)),
        });
      } finally {
        await svc.stop();
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  if (values['pg-url']) {
    const db: Database = await openDatabase({ dataDir: os.tmpdir(), databaseUrl: values['pg-url'] });
    try {
      const since = `'${utcText(EXPERIMENT_START_MS)}'`;
      const clean = () =>
        db.exec(`delete from feed_data where "timestamp" >= ${since}; delete from exposures;`);
      await clean();
      const users = (
        await db.query<{ user_id: number }>(`select user_id from user_data order by user_id limit $1`, [
          trials,
        ])
      ).map((r) => r.user_id);
      const svc = await startService({ port, dataDir: os.tmpdir(), pgUrl: values['pg-url'], env });
      try {
        runs.push({
          database: 'Postgres',
          writer: 'another connection, straight into feed_data',
          result: summary(await runTrials(svc, users, (rows) => appendFeedRows(db, rows), 10_000)),
        });
      } finally {
        await svc.stop();
        await clean();
      }
    } finally {
      await db.close();
    }
  }
  if (runs.length === 0) throw new Error('give --data-dir (PGlite) and/or --pg-url (Postgres)');

  const report = {
    startedAt: new Date().toISOString(),
    followMs: Number(values['follow-ms']),
    machine: machineDetails(),
    runs,
  };
  mkdirSync(path.dirname(values.out!), { recursive: true });
  writeFileSync(`${values.out}.json`, JSON.stringify(report, null, 2) + '\n');
  const m = report.machine;
  const md = [
    '# Benchmark: freshness of likes',
    '',
    `Run ${report.startedAt} with \`node dist/bench/freshness.js\`. Machine: ${m.cpuCount} × ${m.cpuModel}, ` +
      `${m.totalMemGb} GB RAM, Node ${m.node}; load average at the end ${m.loadAvg.join(' / ')} ` +
      '(a shared machine: other engineers’ jobs ran at the same time).',
    '',
    `Per trial: ask a user’s feed, log a view and a like of its first post, then ask again every 5 ms ` +
      `until the post is gone. Time from the write returning (rows committed) to the first answer without ` +
      `the post. The service follows feed_changes every ${report.followMs} ms (FEEDREC_FOLLOW_MS).`,
    '',
    '| database | like written by | trials | not seen in 10 s | p50 ms | p90 ms | p99 ms | max ms | mean ms |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
    ...runs.map(
      (r) =>
        `| ${r.database} | ${r.writer} | ${r.result.trials} | ${r.result.notSeen} | ${r.result.ms.p50} | ` +
        `${r.result.ms.p90} | ${r.result.ms.p99} | ${r.result.ms.max} | ${r.result.ms.mean} |`,
    ),
  ];
  writeFileSync(`${values.out}.md`, md.join('\n') + '\n');
  process.stderr.write(`wrote ${values.out}.json and ${values.out}.md\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`freshness bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
