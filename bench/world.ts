// Times `feedrec world`: demo scale into PGlite and full scale into Postgres.
//   npm run build && node dist/bench/world.js [--only demo|full] [--seed 1] [--pg-url URL]
// Each run happens in a child process (so peak RSS is the generator's own), which opens the
// database, writes the world with writeWorld (what the CLI does) and closes it. The Postgres run
// uses a separate database (default: feedrec_bench_world on the TEST_DATABASE_URL / DATABASE_URL
// server), dropped and re-created first. Writes bench/results/world.json and world.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase } from '../src/db/index.js';
import { writeWorld, type Scale, type WorldWriteStats } from '../src/world/index.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface RunResult {
  scale: Scale;
  target: string;
  engine: 'pglite' | 'postgres';
  wallSeconds: number;
  openSeconds: number;
  stats: WorldWriteStats;
  rowsPerSecond: number;
  peakRssMB: number;
  databaseBytes: number;
  feedTableBytes: number;
}

/** Child: open, write, measure, print one JSON line. */
async function child(scale: Scale, seed: number, dataDir: string, url: string | undefined): Promise<void> {
  const t0 = performance.now();
  const db = await openDatabase({ dataDir, databaseUrl: url });
  const opened = performance.now();
  const stats = await writeWorld(db, { seed, scale }, { force: true, progress: process.stderr.isTTY });
  const [size] = await db.query<{ db: string; feed: string }>(
    `select pg_database_size(current_database())::text db, pg_total_relation_size('feed_data')::text feed`,
  );
  await db.close();
  const wall = (performance.now() - t0) / 1000;
  const out: RunResult = {
    scale,
    target: db.where,
    engine: db.kind,
    wallSeconds: wall,
    openSeconds: (opened - t0) / 1000,
    stats,
    rowsPerSecond: Math.round((stats.feedRows + stats.users + stats.posts) / (stats.ms.total / 1000)),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    databaseBytes: Number(size!.db),
    feedTableBytes: Number(size!.feed),
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

function runChild(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [here, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line)
        reject(new Error(`bench child ${args.join(' ')} failed (exit ${code}): ${out}`));
      else resolve(JSON.parse(line.slice(7)) as RunResult);
    });
  });
}

function benchUrl(): string | undefined {
  const explicit = arg('--pg-url') ?? process.env.BENCH_DATABASE_URL;
  if (explicit) return explicit;
  const base = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!base) return undefined;
  const u = new URL(base);
  u.pathname = '/feedrec_bench_world';
  return u.toString();
}

async function recreateDatabase(url: string): Promise<string> {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  const [v] = (await c.query<{ v: string }>('select version() v')).rows;
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return v!.v;
}

function machine() {
  const cpus = os.cpus();
  let disk = '';
  try {
    disk = execFileSync('df', ['-h', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  } catch {
    /* not essential */
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    tmpDisk: disk,
    /** Other work on the machine skews the timings: the 1-minute load average when the report was written. */
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

function markdown(report: {
  date: string;
  machine: ReturnType<typeof machine>;
  postgres?: string;
  runs: RunResult[];
}) {
  const m = report.machine;
  const lines = [
    '# Benchmark: `feedrec world`',
    '',
    `Run ${report.date} with \`node dist/bench/world.js\` (seed 1). Machine: ${m.cpus} × ${m.cpuModel}, ` +
      `${m.memoryGB} GB RAM, Node ${m.node}, ${m.os}; load average ${m.loadAverage1m} when written (the machine is shared, timings are noisy).` +
      (report.postgres ? ` Postgres: ${report.postgres.split(',')[0]}.` : ''),
    '',
    '| scale | target | users | posts | feed rows | wall (s) | feed COPY (s) | index (s) | rows/s | peak RSS | database size | feed_data size |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...report.runs.map(
      (r) =>
        `| ${r.scale} | ${r.engine} | ${r.stats.users.toLocaleString('en-US')} | ${r.stats.posts.toLocaleString('en-US')} | ` +
        `${r.stats.feedRows.toLocaleString('en-US')} | ${r.wallSeconds.toFixed(1)} | ${(r.stats.ms.feed / 1000).toFixed(1)} | ` +
        `${(r.stats.ms.index / 1000).toFixed(1)} | ${r.rowsPerSecond.toLocaleString('en-US')} | ${r.peakRssMB} MB | ` +
        `${mb(r.databaseBytes)} | ${mb(r.feedTableBytes)} |`,
    ),
    '',
    'Wall time covers opening the database (migrations), generating, COPY of the three tables, ',
    'rebuilding `feed_data_user_time_idx` and ANALYZE; rows/s is all rows over the write time. ',
    'The issue asks for demo into PGlite in ≤ 60 s on this 2-core machine.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    const [scale, seed, dataDir, url] = process.argv.slice(process.argv.indexOf('--child') + 1);
    await child(scale as Scale, Number(seed), dataDir!, url || undefined);
    return;
  }
  const only = arg('--only');
  const seed = arg('--seed') ?? '1';
  const runs: RunResult[] = [];
  let postgres: string | undefined;
  if (!only || only === 'demo') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-bench-world-'));
    try {
      console.error('world demo → PGlite …');
      runs.push(await runChild(['demo', seed, dir, '']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!only || only === 'full') {
    const url = benchUrl();
    if (!url)
      console.error(
        'no Postgres URL (--pg-url, BENCH_DATABASE_URL or TEST_DATABASE_URL): full scale skipped',
      );
    else {
      postgres = await recreateDatabase(url);
      console.error('world full → Postgres …');
      runs.push(await runChild(['full', seed, os.tmpdir(), url]));
    }
  }
  const dir = path.join(root, 'bench/results');
  // With --only, the other scale's last result is kept.
  const previous = path.join(dir, 'world.json');
  if (only && existsSync(previous)) {
    const old = JSON.parse(readFileSync(previous, 'utf8')) as { postgres?: string; runs: RunResult[] };
    runs.unshift(...old.runs.filter((r) => r.scale !== only));
    postgres ??= old.postgres;
  }
  runs.sort((a, b) => a.stats.users - b.stats.users);
  const report = { date: new Date().toISOString(), machine: machine(), postgres, runs };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'world.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(dir, 'world.md'), markdown(report));
  console.log(markdown(report));
}

await main();
