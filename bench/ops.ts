// The operations benchmark (issue 10): traffic through HAProxy at 64 connections to replicas set
// up by deploy/local.sh over one Postgres, while (a) each replica in turn reloads a new model
// version, and (b) a rolling restart replaces every replica with one that starts on the new
// version. It checks what an operator needs to trust a switch: no non-2xx answer, one exposure row
// per A/B answer with the same version and posts, every answer named by the old or the new
// version, every answer's posts exactly what that one version ranks (recomputed offline from the
// same snapshot and both models), one group per user whatever replica answered, and the memory of
// a replica during its reload.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/ops.js
//     [--pg-url postgres://postgres:postgres@127.0.0.1:5432/ops_demo] [--scenarios reload,roll]
//     [--duration 60s] [--connections 64] [--replicas 2] [--port 8400] [--verify 20000]
//
// The database is built by `deploy/local.sh data` when it has no feature tables. The new model
// version is trained once into a cache (FEEDREC_BENCH_CACHE, default /tmp/feedrec-ops-bench) with
// smaller settings than the committed one, so the two rank differently: a mix inside one answer
// would show. Results: bench/results/ops-<scenario>.json and .md.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { openDatabase, type Database } from '../src/db/index.js';
import { featureNames, loadFeatureStore, type FeatureStore } from '../src/features/index.js';
import { findModels, loadModel, type LoadedModel } from '../src/ranking/onnx-model.js';
import { RankingPipeline, type RankInput } from '../src/ranking/pipeline.js';
import type { Group } from '../src/ranking/protocol.js';
import { machineDetails, readRss } from './load-report.js';
import { durationMs, pathSampler, readScenario, rng } from './load-scenario.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const GROUPS: Group[] = ['control', 'test'];

interface Answer {
  /** ms since the load started, at send. */
  t: number;
  ms: number;
  status: number;
  rid: string;
  user: number;
  tMs: number;
  limit: number;
  version: string;
  by: string;
  group: string;
  ids: number[];
}

interface Event {
  name: string;
  startMs: number;
  endMs: number;
  detail: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { env, cwd: root, maxBuffer: 64 << 20 }, (e, out, err) =>
      resolve({ code: e ? Number(e.code ?? 1) : 0, out, err }),
    ),
  );
}

async function must(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.err}`);
  return r.out;
}

/** KEY=value lines, as deploy/local.sh's `set -a; .` reads them. */
function envFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Copies a version folder in under a dot name and renames it: a reload never sees half of it. */
function publish(from: string, modelsDir: string, name: string, version: string): void {
  const staging = path.join(modelsDir, name, `.${version}`);
  cpSync(from, staging, { recursive: true });
  renameSync(staging, path.join(modelsDir, name, version));
}

/** Closed loop: `conns` keep-alive connections, each sending its next request when the last answered. */
async function closedLoop(opts: {
  url: URL;
  conns: number;
  ms: number;
  next: () => string;
  tag: string;
  onAnswer: (a: Answer) => void;
}): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.conns });
  const t0 = performance.now();
  let seq = 0;
  const one = (p: string) =>
    new Promise<void>((resolve) => {
      const q = new URLSearchParams(p.slice(p.indexOf('?') + 1));
      const rid = `${opts.tag}-${seq++}`;
      const sent = performance.now();
      const base = {
        t: sent - t0,
        rid,
        user: Number(q.get('id')),
        tMs: Date.parse(`${q.get('time')}Z`),
        limit: Number(q.get('limit')),
      };
      const fail = (status: number) => {
        opts.onAnswer({
          ...base,
          ms: performance.now() - sent,
          status,
          version: '',
          by: '',
          group: '',
          ids: [],
        });
        resolve();
      };
      const req = http.get(
        {
          agent,
          host: opts.url.hostname,
          port: opts.url.port,
          path: p,
          headers: { 'x-request-id': rid },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => fail(-1));
          res.on('end', () => {
            let group = '';
            let ids: number[] = [];
            if (res.statusCode === 200) {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                exp_group: string;
                recommendations: { id: number }[];
              };
              group = body.exp_group;
              ids = body.recommendations.map((r) => r.id);
            }
            opts.onAnswer({
              ...base,
              ms: performance.now() - sent,
              status: res.statusCode ?? 0,
              version: String(res.headers['x-model-version'] ?? ''),
              by: String(res.headers['x-served-by'] ?? ''),
              group,
              ids,
            });
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => fail(-1));
    });
  await Promise.all(
    Array.from({ length: opts.conns }, async () => {
      while (performance.now() - t0 < opts.ms) await one(opts.next());
    }),
  );
  agent.destroy();
}

/** RSS of every replica (pids re-read from local.sh's pid files, since a roll replaces them). */
function rssSampler(stateDir: string, replicas: number, t0: () => number) {
  const samples: { t: number; replica: number; pid: number; rssMb: number }[] = [];
  const timer = setInterval(() => {
    for (let i = 1; i <= replicas; i++) {
      const pidFile = path.join(stateDir, `replica-${i}.pid`);
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const r = readRss(pid);
      if (r && Number.isFinite(r.rssMb))
        samples.push({ t: t0(), replica: i, pid, rssMb: Math.round(r.rssMb) });
    }
  }, 100);
  return { samples, stop: () => clearInterval(timer) };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! * 100) / 100;
}

function latency(answers: Answer[]) {
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  return { answers: answers.length, p50: pct(ms, 0.5), p99: pct(ms, 0.99), max: pct(ms, 1) };
}

/** Recomputes answers offline with both versions of each group's model over the same snapshot. */
class Ranker {
  private constructor(
    private readonly store: FeatureStore,
    private readonly pipelines: Map<Group, RankingPipeline>,
    private readonly models: Map<string, LoadedModel>,
  ) {}

  static async open(db: Database, dirs: Map<string, string>, candidates: number): Promise<Ranker> {
    const { store } = await loadFeatureStore(db);
    const pipelines = new Map<Group, RankingPipeline>();
    for (const g of GROUPS)
      pipelines.set(g, new RankingPipeline(store, { set: g, candidates, rankAll: false }));
    const models = new Map<string, LoadedModel>();
    for (const [label, dir] of dirs) {
      const group = label.split('/')[0] as Group;
      models.set(label, await loadModel(dir, featureNames(group), { intraOpThreads: 1 }));
    }
    return new Ranker(store, pipelines, models);
  }

  /** Post ids `label` ranks for each answer (all of one group), in batches as the workers do. */
  async rank(label: string, answers: Answer[]): Promise<number[][]> {
    const group = label.split('/')[0] as Group;
    const pipeline = this.pipelines.get(group)!;
    const model = this.models.get(label)!;
    const out: number[][] = [];
    for (let i = 0; i < answers.length; i += 32) {
      const reqs: RankInput[] = answers.slice(i, i + 32).map((a) => ({
        ui: this.store.userIndexById[a.user]!,
        tMs: a.tMs,
        limit: a.limit,
      }));
      const batch = pipeline.prepare(reqs);
      out.push(...pipeline.finish(batch, reqs, await model.score(batch.features, batch.rows)));
    }
    return out;
  }
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'pg-url': { type: 'string', default: 'postgres://postgres:postgres@127.0.0.1:5432/ops_demo' },
      scenarios: { type: 'string', default: 'reload,roll' },
      duration: { type: 'string', default: '60s' },
      connections: { type: 'string', default: '64' },
      replicas: { type: 'string', default: '2' },
      port: { type: 'string', default: '8400' },
      verify: { type: 'string', default: '20000' },
      scale: { type: 'string', default: 'demo' },
      /** KEY=VALUE,… on top of deploy/feedrec.env for the replicas (e.g. FEEDREC_DEADLINE_MS=2000). */
      set: { type: 'string' },
      /** Appended to the results file name (bench/results/ops-<scenario><suffix>). */
      suffix: { type: 'string', default: '' },
    },
  });
  const pgUrl = values['pg-url']!;
  const port = Number(values.port);
  const replicas = Number(values.replicas);
  const conns = Number(values.connections);
  const ms = durationMs(values.duration!);
  const cache = process.env.FEEDREC_BENCH_CACHE ?? '/tmp/feedrec-ops-bench';
  const log = (m: string) => process.stderr.write(`ops bench: ${m}\n`);
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: pgUrl };

  // Data: the world and its feature tables in our own database.
  let db = await openDatabase({ dataDir: path.join(cache, 'unused'), databaseUrl: pgUrl }).catch(
    () => undefined,
  );
  const hasFeatures = db
    ? (
        await db
          .query<{ n: string }>(`select count(*) n from feature_meta where key = 'meta'`)
          .catch(() => [{ n: '0' }])
      )[0]!.n !== '0'
    : false;
  if (!hasFeatures) {
    await db?.close();
    log(`no feature tables in ${pgUrl}: deploy/local.sh data --scale ${values.scale}`);
    await must('deploy/local.sh', ['data', '--scale', values.scale!], baseEnv);
    db = await openDatabase({ dataDir: path.join(cache, 'unused'), databaseUrl: pgUrl });
  }
  const users = (await db!.query<{ user_id: number }>('select user_id from user_data order by 1')).map(
    (r) => r.user_id,
  );

  // Models: the newest committed version of each, and a new version trained once into the cache.
  const committed = await findModels(path.join(root, 'models'));
  const oldVersion = committed.get('test')!.version;
  if (committed.get('control')!.version !== oldVersion)
    throw new Error('control and test have different newest versions');
  const m = /^v(\d+)$/.exec(oldVersion);
  const newVersion = m ? `v${Number(m[1]) + 1}` : `${oldVersion}-next`;
  const newDir = (g: string) => path.join(cache, 'models', g, newVersion);
  if (!GROUPS.every((g) => existsSync(path.join(newDir(g), 'model.onnx')))) {
    log(`training ${newVersion} (smaller than ${oldVersion}) into ${cache}/models`);
    await must(
      process.execPath,
      [
        'bin/feedrec.js',
        'train',
        '--version',
        newVersion,
        '--rows',
        '200000',
        '--iterations',
        '100',
        '--depth',
        '5',
        '--models-dir',
        path.join(cache, 'models'),
        '--data-dir',
        path.join(cache, 'train'),
      ],
      baseEnv,
    );
  }
  const labels = new Map<string, string>();
  for (const g of GROUPS) {
    labels.set(`${g}/${oldVersion}`, committed.get(g)!.dir);
    labels.set(`${g}/${newVersion}`, newDir(g));
  }
  const replicaEnv = envFile(path.join(root, 'deploy', 'feedrec.env'));
  for (const kv of values.set?.split(',') ?? []) {
    const [k, ...v] = kv.split('=');
    replicaEnv[k!] = v.join('=');
  }
  const envPath = path.join(cache, 'replica.env');
  mkdirSync(cache, { recursive: true });
  writeFileSync(
    envPath,
    Object.entries(replicaEnv)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  const cfg = loadConfig(replicaEnv);
  log('loading the snapshot and both versions for the offline check');
  const ranker = await Ranker.open(db!, labels, cfg.serving.candidates);

  const scenario = readScenario(path.join(root, 'k6', 'scenario.json'));
  for (const name of values.scenarios!.split(',')) {
    const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-ops-models-'));
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-ops-state-'));
    for (const g of GROUPS)
      cpSync(committed.get(g)!.dir, path.join(modelsDir, g, oldVersion), { recursive: true });
    const env = {
      ...baseEnv,
      FEEDREC_MODELS_DIR: modelsDir,
      FEEDREC_DEPLOY_DIR: stateDir,
      FEEDREC_ENV_FILE: envPath,
    };
    const sh = (...args: string[]) => run('deploy/local.sh', [...args, '--port', String(port)], env);
    log(`${name}: deploy/local.sh up --replicas ${replicas}`);
    const up = await sh('up', '--replicas', String(replicas));
    if (up.code !== 0) throw new Error(`local.sh up failed:\n${up.err}`);
    const token = readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim();
    const firstId = Number(
      (await db!.query<{ id: string | null }>('select max(id) id from exposures'))[0]!.id ?? 0,
    );
    const tag = `ops-${name}-${Date.now()}`;
    const answers: Answer[] = [];
    const events: Event[] = [];
    let t0 = performance.now();
    const now = () => performance.now() - t0;
    const rss = rssSampler(stateDir, replicas, now);
    const publishNew = () => {
      for (const g of GROUPS) publish(newDir(g), modelsDir, g, newVersion);
    };
    let reloads = 0;
    const reloadReplica = async (i: number) => {
      const startMs = now();
      const res = await fetch(`http://127.0.0.1:${port + i}/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      const detail = { status: res.status, body: await res.json() };
      events.push({
        name: `reload r${i}${name === 'reloads' ? ` #${++reloads}` : ''}`,
        startMs,
        endMs: now(),
        detail,
      });
      log(`${name}: reload r${i} → ${res.status} in ${Math.round(now() - startMs)} ms`);
    };
    const script = async () => {
      if (name === 'reload') {
        await sleep(ms * 0.25);
        publishNew();
        await reloadReplica(1);
        await sleep(Math.max(0, ms * 0.6 - now()));
        for (let i = 2; i <= replicas; i++) await reloadReplica(i);
      } else if (name === 'reloads') {
        // Memory across repeated reloads of one replica: each loads a fresh snapshot again.
        await sleep(5000);
        publishNew();
        for (let k = 0; now() < ms - 12_000; k++) {
          await reloadReplica(1);
          await sleep(6000);
        }
      } else if (name === 'roll') {
        await sleep(ms * 0.2);
        publishNew();
        const startMs = now();
        const r = await sh('roll');
        events.push({
          name: 'rolling restart',
          startMs,
          endMs: now(),
          detail: { code: r.code, log: r.err.trim().split('\n') },
        });
        log(`${name}: roll exited ${r.code} after ${Math.round(now() - startMs)} ms`);
        if (r.code !== 0) throw new Error(`roll failed:\n${r.err}`);
      } else throw new Error(`unknown scenario ${name} (reload, roll, reloads)`);
    };
    log(`${name}: ${conns} connections for ${ms / 1000} s through http://127.0.0.1:${port}`);
    t0 = performance.now();
    const next = pathSampler(scenario, users, rng(7));
    const [, scripted] = await Promise.allSettled([
      closedLoop({
        url: new URL(`http://127.0.0.1:${port}`),
        conns,
        ms,
        next,
        tag,
        onAnswer: (a) => answers.push(a),
      }),
      script(),
    ]);
    rss.stop();
    const lb = await haproxyRetries(port + 99);
    // down drains every replica, which flushes its exposures.
    const down = await sh('down');
    if (down.code !== 0) log(`down: ${down.err}`);
    if (scripted.status === 'rejected') throw scripted.reason;

    const exposures = await db!.query<{
      request_id: string;
      model_version: string;
      post_ids: number[];
      exp_group: string;
    }>(
      `select request_id, model_version, post_ids, exp_group from exposures where id > $1 and request_id like $2`,
      [firstId, `${tag}-%`],
    );
    const report = analyse({
      name,
      answers,
      events,
      exposures,
      rss: rss.samples,
      oldVersion,
      newVersion,
      ms,
    });
    const verified = await verify(ranker, answers, events, Number(values.verify));
    const result: Result = {
      startedAt: new Date().toISOString(),
      scenario: name,
      command: `flock /tmp/feedrec-bench.lock node dist/bench/ops.js --scenarios ${name} --duration ${values.duration} --connections ${conns} --replicas ${replicas}${values.set ? ` --set ${values.set}` : ''}`,
      database: pgUrl.replace(/:[^:@/]*@/, ':***@'),
      users: users.length,
      replicas,
      connections: conns,
      durationS: ms / 1000,
      versions: { old: oldVersion, new: newVersion },
      replicaConfig: replicaEnv,
      machine: machineDetails(),
      ...report,
      verified,
      haproxy: lb,
    };
    const out = path.join(root, 'bench', 'results', `ops-${name}${values.suffix}`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + '\n');
    writeFileSync(`${out}.md`, markdown(result));
    log(`wrote ${out}.json and .md`);
    rmSync(modelsDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
  await db!.close();
}

function analyse(r: {
  name: string;
  answers: Answer[];
  events: Event[];
  exposures: { request_id: string; model_version: string; post_ids: number[]; exp_group: string }[];
  rss: { t: number; replica: number; pid: number; rssMb: number }[];
  oldVersion: string;
  newVersion: string;
  ms: number;
}) {
  const { answers, events } = r;
  const ok = answers.filter((a) => a.status === 200);
  const statusCounts: Record<string, number> = {};
  for (const a of answers) statusCounts[a.status] = (statusCounts[a.status] ?? 0) + 1;
  const versions: Record<string, number> = {};
  for (const a of ok) versions[a.version] = (versions[a.version] ?? 0) + 1;
  const allowed = new Set(GROUPS.flatMap((g) => [`${g}/${r.oldVersion}`, `${g}/${r.newVersion}`]));
  // The fallback ranking (deadline passed) is no model version: counted on its own line.
  const badVersions = ok.filter(
    (a) =>
      a.version !== 'fallback-popular' && (!allowed.has(a.version) || !a.version.startsWith(`${a.group}/`)),
  ).length;

  const byRid = new Map(r.exposures.map((e) => [e.request_id, e]));
  let exposureMismatch = 0;
  for (const a of ok) {
    const e = byRid.get(a.rid);
    if (!e || e.model_version !== a.version || e.exp_group !== a.group || !same(e.post_ids, a.ids))
      exposureMismatch++;
  }

  const groupsOf = new Map<number, Set<string>>();
  const replicasOf = new Map<number, Set<string>>();
  for (const a of ok) {
    (groupsOf.get(a.user) ?? groupsOf.set(a.user, new Set()).get(a.user)!).add(a.group);
    (replicasOf.get(a.user) ?? replicasOf.set(a.user, new Set()).get(a.user)!).add(a.by);
  }
  const servedBy: Record<string, number> = {};
  for (const a of ok) servedBy[a.by] = (servedBy[a.by] ?? 0) + 1;

  const window = (e: Event) => answers.filter((a) => a.t >= e.startMs && a.t <= e.endMs + 1000);
  const seconds = Math.ceil(r.ms / 1000);
  const timeline = Array.from({ length: seconds }, (_, s) => {
    const inS = answers.filter((a) => a.t >= s * 1000 && a.t < (s + 1) * 1000);
    const v: Record<string, number> = {};
    for (const a of inS) v[a.version || String(a.status)] = (v[a.version || String(a.status)] ?? 0) + 1;
    return { second: s, ...latency(inS), versions: v };
  });

  // Per event and replica: the largest RSS in the 5 s before it, and during it (+5 s after).
  const max = (xs: { rssMb: number }[]) => (xs.length ? Math.max(...xs.map((s) => s.rssMb)) : null);
  const memory = events.flatMap((e) => {
    const own = /^reload r(\d+)/.exec(e.name);
    const replicas = [...new Set(r.rss.map((s) => s.replica))].filter((i) => !own || i === Number(own[1]));
    return replicas.sort().map((replica) => {
      const mine = r.rss.filter((s) => s.replica === replica);
      return {
        event: e.name,
        replica,
        beforeEventMb: max(mine.filter((s) => s.t < e.startMs && s.t > e.startMs - 5000)),
        peakDuringEventMb: max(mine.filter((s) => s.t >= e.startMs && s.t <= e.endMs + 5000)),
        afterEventMb: mine.filter((s) => s.t <= e.endMs + 5000).at(-1)?.rssMb ?? null,
      };
    });
  });
  const memoryRun = [...new Set(r.rss.map((s) => s.replica))].sort().map((replica) => {
    const mine = r.rss.filter((s) => s.replica === replica);
    return {
      replica,
      firstMb: mine[0]?.rssMb ?? null,
      peakMb: max(mine),
      lastMb: mine.at(-1)?.rssMb ?? null,
    };
  });

  return {
    total: { ...latency(answers), ok: ok.length, throughputRps: Math.round(answers.length / (r.ms / 1000)) },
    statusCounts,
    non2xx: answers.filter((a) => a.status < 200 || a.status > 299).length,
    versionCounts: versions,
    answersWithAnotherVersion: badVersions,
    exposures: { rows: r.exposures.length, abAnswers: ok.length, mismatched: exposureMismatch },
    groups: {
      users: groupsOf.size,
      usersOnSeveralReplicas: [...replicasOf.values()].filter((s) => s.size > 1).length,
      usersWithSeveralGroups: [...groupsOf.values()].filter((s) => s.size > 1).length,
    },
    servedBy,
    events: events.map((e) => ({ ...e, window: latency(window(e)) })),
    memory,
    memoryRun,
    timeline,
  };
}

/**
 * Every answer around a switch, and a uniform sample of the others, ranked again offline by the
 * old and by the new version: the posts must be exactly what the version in the header ranks.
 */
async function verify(ranker: Ranker, answers: Answer[], events: Event[], sample: number) {
  const ok = answers.filter((a) => a.status === 200);
  const near = (a: Answer) => events.some((e) => a.t >= e.startMs - 2000 && a.t <= e.endMs + 2000);
  const chosen = ok.filter(near);
  const rest = ok.filter((a) => !near(a));
  const random = rng(11);
  for (let i = 0; i < rest.length && chosen.length < sample; i++)
    if (random() < sample / rest.length) chosen.push(rest[i]!);
  const counts = {
    answers: chosen.filter((a) => a.version.startsWith(`${a.group}/`)).length,
    fallbacks: ok.filter((a) => a.version === 'fallback-popular').length,
    nearSwitch: ok.filter(near).length,
    asHeaderSays: 0,
    asOtherVersion: 0,
    neither: 0,
    bothVersionsAgree: 0,
  };
  // Only model versions can be ranked again; fallback answers (deadline) are counted apart.
  const versionsOf = (group: string) =>
    [...new Set(ok.filter((a) => a.group === group).map((a) => a.version))].filter((v) =>
      v.startsWith(`${group}/`),
    );
  for (const g of GROUPS) {
    const labels = versionsOf(g);
    const mine = chosen.filter((a) => a.group === g && labels.includes(a.version));
    const ranked = new Map<string, number[][]>();
    for (const l of labels) ranked.set(l, await ranker.rank(l, mine));
    mine.forEach((a, i) => {
      const expected = ranked.get(a.version)![i]!;
      const others = labels.filter((l) => l !== a.version).map((l) => ranked.get(l)![i]!);
      if (others.some((o) => same(o, expected))) counts.bothVersionsAgree++;
      if (same(a.ids, expected)) counts.asHeaderSays++;
      else if (others.some((o) => same(o, a.ids))) counts.asOtherVersion++;
      else counts.neither++;
    });
  }
  return counts;
}

/**
 * What HAProxy did behind the answers: requests it sent again (wretr) and sent again to another
 * replica (wredis), e.g. to a replica that had just stopped listening to drain.
 */
async function haproxyRetries(
  statsPort: number,
): Promise<Record<string, { retries: number; redispatches: number }>> {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
  const [header, ...rows] = csv.trim().split('\n');
  const cols = header!.replace(/^# /, '').split(',');
  const at = (name: string) => cols.indexOf(name);
  const out: Record<string, { retries: number; redispatches: number }> = {};
  for (const row of rows) {
    const f = row.split(',');
    if (f[0] !== 'replicas') continue;
    out[f[1]!] = { retries: Number(f[at('wretr')] || 0), redispatches: Number(f[at('wredis')] || 0) };
  }
  return out;
}

type Result = ReturnType<typeof analyse> & {
  haproxy: Awaited<ReturnType<typeof haproxyRetries>>;
  startedAt: string;
  scenario: string;
  command: string;
  database: string;
  users: number;
  replicas: number;
  connections: number;
  durationS: number;
  versions: { old: string; new: string };
  replicaConfig: Record<string, string>;
  machine: ReturnType<typeof machineDetails>;
  verified: Awaited<ReturnType<typeof verify>>;
};

function markdown(r: Result): string {
  const m = r.machine;
  const title =
    r.scenario === 'reload'
      ? 'a model reload in each replica, one after the other'
      : r.scenario === 'reloads'
        ? 'repeated reloads of one replica (memory)'
        : 'a rolling restart of every replica';
  const lines = [
    `# Operations benchmark: ${title}`,
    '',
    `Run ${r.startedAt}: \`${r.command}\`. ${r.replicas} replicas (deploy/local.sh, HAProxy, config deploy/feedrec.env: ` +
      `${r.replicaConfig.FEEDREC_WORKERS} ranking worker each) over one Postgres (${r.users.toLocaleString('en')} users), ` +
      `${r.connections} keep-alive connections through HAProxy for ${r.durationS} s, load generator on the same cores. ` +
      `Machine: ${m.cpuCount} × ${m.cpuModel}, ${m.totalMemGb} GB RAM, Node ${m.node}, load average ${m.loadAvg.join(' ')} at the end ` +
      '(the machine is shared with other engineers: absolute figures are noisy). ' +
      `Models: ${r.versions.old} (committed) → ${r.versions.new} (trained by the script with smaller settings, so that the two rank differently).`,
    '',
    '| check | result |',
    '|---|---|',
    `| answers | ${r.total.answers.toLocaleString('en')} (${r.total.throughputRps} /s), p50 ${r.total.p50} ms, p99 ${r.total.p99} ms, max ${r.total.max} ms |`,
    `| non-2xx answers | **${r.non2xx}** (statuses: ${Object.entries(r.statusCounts)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}) |`,
    `| X-Model-Version | ${Object.entries(r.versionCounts)
      .map(([k, v]) => `${k}: ${v}`)
      .join(
        ', ',
      )}; neither the old nor the new version of the answer's group, nor the fallback: **${r.answersWithAnotherVersion}** |`,
    `| fallback answers (ranked by the cheap fallback after the ${r.replicaConfig.FEEDREC_DEADLINE_MS} ms deadline) | ${r.verified.fallbacks} |`,
    `| exposures in Postgres | ${r.exposures.rows.toLocaleString('en')} rows for ${r.exposures.abAnswers.toLocaleString('en')} A/B answers; answers without an identical row (version, group, posts): **${r.exposures.mismatched}** |`,
    `| one version per answer | ${r.verified.answers.toLocaleString('en')} answers ranked again offline by both versions (all ${r.verified.nearSwitch.toLocaleString('en')} within 2 s of a switch + a uniform sample): exactly the header's version's posts: ${r.verified.asHeaderSays}; the other version's: ${r.verified.asOtherVersion}; neither (a mix): **${r.verified.neither}**; both versions rank the same: ${r.verified.bothVersionsAgree} |`,
    `| same group on every replica | ${r.groups.users.toLocaleString('en')} users, ${r.groups.usersOnSeveralReplicas.toLocaleString('en')} answered by more than one replica; users with more than one group: **${r.groups.usersWithSeveralGroups}** |`,
    `| HAProxy retries (another try of a GET whose connection to a replica failed) | ${Object.entries(
      r.haproxy,
    )
      .map(([k, v]) => `${k}: ${v.retries} retried, ${v.redispatches} to another replica`)
      .join('; ')} |`,
    `| answers per replica | ${Object.entries(r.servedBy)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} |`,
    '',
    '| event | start s | took s | answers during it (+1 s) | p50 ms | p99 ms | max ms |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...r.events.map(
      (e) =>
        `| ${e.name} | ${(e.startMs / 1000).toFixed(1)} | ${((e.endMs - e.startMs) / 1000).toFixed(1)} | ${e.window.answers} | ${e.window.p50} | ${e.window.p99} | ${e.window.max} |`,
    ),
    '',
    'Memory of each replica (RSS of the whole process, all threads, sampled every 100 ms):',
    '',
    '| event | replica | before it (max of 5 s) MB | peak during it (+5 s) MB | 5 s after it MB |',
    '|---|---|--:|--:|--:|',
    ...r.memory.map(
      (x) =>
        `| ${x.event} | r${x.replica} | ${x.beforeEventMb ?? '–'} | ${x.peakDuringEventMb ?? '–'} | ${x.afterEventMb ?? '–'} |`,
    ),
    '',
    `Whole run: ${r.memoryRun.map((x) => `r${x.replica} ${x.firstMb} MB at the start, peak ${x.peakMb} MB, ${x.lastMb} MB at the end`).join('; ')}.`,
    '',
    'Per second (answers, p99 ms, versions): ' +
      r.timeline
        .map(
          (s) =>
            `${s.second}: ${s.answers}/${s.p99}/${Object.entries(s.versions)
              .map(([k, v]) => `${k}=${v}`)
              .join('+')}`,
        )
        .join('; ') +
      '.',
    '',
  ];
  return lines.join('\n');
}

main().catch((err: Error) => {
  process.stderr.write(`ops bench: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
