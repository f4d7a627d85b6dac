// `feedrec serve` as a child process for benchmarks: start it, wait for /readyz, read its
// metrics, stop it with SIGTERM. Request logs are at level warn (one JSON line per request would
// otherwise be written to a pipe nobody reads); everything else is the service as `npm start` runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/index.js';

const here = fileURLToPath(import.meta.url);
/** The repository root, from the compiled (dist/bench) or the source (bench) location. */
export const repoRoot = path.resolve(
  path.dirname(here),
  here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..',
);

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  url: string;
  startupSeconds: number;
  stop(): Promise<void>;
}

export async function waitReady(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`service not ready after ${timeoutMs} ms`);
}

/** Starts `bin/feedrec.js serve` of `root` (default: this checkout) and waits until it is ready. */
export async function startService(opts: {
  port: number;
  dataDir: string;
  pgUrl?: string;
  args?: string[];
  env?: Record<string, string>;
  root?: string;
  readyTimeoutMs?: number;
}): Promise<ServiceProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(opts.port),
    ...opts.env,
  };
  if (opts.pgUrl) env.DATABASE_URL = opts.pgUrl;
  else delete env.DATABASE_URL;
  const root = opts.root ?? repoRoot;
  const args = ['bin/feedrec.js', 'serve', '--data-dir', path.resolve(opts.dataDir), ...(opts.args ?? [])];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitReady(opts.port, child, opts.readyTimeoutMs ?? 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const startupSeconds = (performance.now() - started) / 1000;
  return { child, port: opts.port, url: `http://127.0.0.1:${opts.port}`, startupSeconds, stop };
}

/** Every user id of the data set (read before the service takes the database). */
export async function readUserIds(dataDir: string, pgUrl?: string): Promise<number[]> {
  const db = await openDatabase({ dataDir, databaseUrl: pgUrl });
  try {
    const rows = await db.query<{ user_id: number }>('select user_id from user_data order by 1');
    return rows.map((r) => r.user_id);
  } finally {
    await db.close();
  }
}

/** Prometheus text → samples keyed by `name{labels}` as the service writes them. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of the samples of one metric whose labels include all of `labels`. */
export function metricSum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, v] of m) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) sum += v;
  }
  return sum;
}

/** Runs `feedrec <args>` to completion, as a user types it; resolves with its stdout, rejects on a non-zero exit. */
export function feedrec(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/feedrec.js', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`feedrec ${args.join(' ')} exited with ${code}`)),
    );
  });
}
