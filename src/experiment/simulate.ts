import type { ExpGroup as Group } from '../ab/index.js';
import { ValidationError } from '../errors/index.js';
import { loopbackUrl, type LikeHistory } from '../eval/index.js';
import type { FeedRow } from '../live/index.js';
import {
  planVisits,
  visitExpectedHit,
  visitOutcome,
  type Visit,
  type World,
  type WorldSpec,
} from '../world/index.js';
import { LatencyHistogram, type LatencySummary } from './latency.js';
import type { FeedSink } from './sinks.js';
import { meanCi } from './stats.js';
import { BatchWriter } from './writer.js';

const GROUPS: readonly Group[] = ['control', 'test'];

export interface SimulateOptions {
  url: string;
  world: World;
  spec: WorldSpec;
  seed: number;
  visits: number;
  /** Simulated days of the experiment, from startMs. */
  days: number;
  startMs: number;
  /** Visits in flight at once. */
  concurrency: number;
  /** Wall-clock bound of the run: no new visit starts after it. */
  maxSeconds: number;
  /**
   * Wall-clock time between the moment a visit's rows are in the log and the same user's next
   * visit: simulated days pass in minutes, while real users come back hours later. Set it to
   * the service's freshness, or the service is asked about likes it cannot have seen yet.
   */
  minRevisitMs: number;
  sink: FeedSink;
  /** Each user's likes before the experiment (the truth's drop for a post liked before). */
  history(userIds: number[]): Promise<LikeHistory>;
  /** With a QA token, also ask for the other group's answer on every visit (not logged as an exposure). */
  qaToken?: string;
  onProgress?(done: number, planned: number): void;
}

export interface GroupRun {
  visits: number;
  /** Mean true chance of a hit (1 − Π(1 − P)) of the answers shown: the world's own figure. */
  expectedHitrate: number;
  /** Visits with at least one like among the posts shown. */
  hits: number;
  likes: number;
  latency: LatencySummary;
}

/** What one simulation did: written next to the database for `feedrec ab report --run`. */
export interface SimulationRun {
  kind: 'feedrec-ab-simulation';
  seed: number;
  world: WorldSpec;
  url: string;
  sink: string;
  /** The simulated period (UTC ISO). */
  period: { from: string; to: string };
  visits: { planned: number; done: number; failed: number; byStatus: Record<string, number> };
  rows: { views: number; likes: number };
  groups: Partial<Record<Group, GroupRun>>;
  /**
   * The world's difference between the models on the same visits (test − control of the true
   * expected hit), from the other group's answer asked with the QA header: the effect the
   * report's interval should cover.
   */
  trueEffect?: { difference: number; ci: [number, number]; control: number; test: number; visits: number };
  latencySource: string;
  wallSeconds: number;
  stoppedEarly: boolean;
}

const isoSec = (ms: number) => new Date(ms).toISOString().slice(0, 19);

interface Answer {
  status: number;
  group?: Group;
  postIds: number[];
  ms: number;
}

async function ask(base: URL, v: Visit, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(`/post/recommendations/?id=${v.userId}&time=${isoSec(v.tMs)}&limit=5`, base);
  const started = performance.now();
  const res = await fetch(url, { headers });
  const body = (await res.json().catch(() => null)) as {
    exp_group?: Group;
    recommendations?: { id: number }[];
  } | null;
  const ms = performance.now() - started;
  if (res.status !== 200 || !body?.recommendations || !body.exp_group)
    return { status: res.status, postIds: [], ms };
  return { status: 200, group: body.exp_group, postIds: body.recommendations.map((p) => p.id), ms };
}

/**
 * Simulated users of the world visit a running A/B service after the logged period: each visit
 * asks for five posts, the ground truth decides the likes, and the rows go to the log as the
 * network writes them. Visits run in simulated-time order, several at once, but never two of
 * one user: a user comes back only after the last visit's rows are logged and minRevisitMs
 * passed. Same seed and same answers ⇒ the same rows.
 */
export async function simulateExperiment(opts: SimulateOptions): Promise<SimulationRun> {
  const base = loopbackUrl(opts.url, 'the experiment simulator');
  const wallStart = performance.now();
  const deadline = Date.now() + opts.maxSeconds * 1000;
  const plan = planVisits(opts.world, opts.seed, opts.visits, opts.startMs, opts.days);
  const history = await opts.history([...new Set(plan.map((v) => v.userId))]);
  // Per user: post id → time of their first like (before the experiment or during it).
  const likedAt = new Map<number, Map<number, number>>();
  const likesOf = (userId: number) => {
    let m = likedAt.get(userId);
    if (!m) {
      m = new Map();
      // Likes come in time order: the first one of a post is the one the drop starts from.
      for (const l of history.get(userId) ?? []) if (!m.has(l.postId)) m.set(l.postId, l.tMs);
      likedAt.set(userId, m);
    }
    return m;
  };

  const writer = new BatchWriter(opts.sink);
  const readyAt = new Map<number, number>();
  const started = new Uint8Array(plan.length);
  let head = 0;
  let done = 0;
  let failed = 0;
  let stoppedEarly = false;
  let abort: Error | undefined;
  const byStatus: Record<string, number> = {};
  const rows = { views: 0, likes: 0 };
  const acc = Object.fromEntries(
    GROUPS.map((g) => [g, { visits: 0, expected: 0, hits: 0, likes: 0, latency: new LatencyHistogram() }]),
  ) as Record<
    Group,
    { visits: number; expected: number; hits: number; likes: number; latency: LatencyHistogram }
  >;
  const paired: { control: number; test: number }[] = [];

  /** The earliest waiting visit whose user may come now (a user's visits keep their order). */
  const pickNext = (now: number): number => {
    const blocked = new Set<number>();
    for (let i = head, scanned = 0; i < plan.length && scanned < 4096; i++) {
      if (started[i]) continue;
      scanned++;
      const u = plan[i]!.userId;
      if (blocked.has(u)) continue;
      if ((readyAt.get(u) ?? 0) > now) blocked.add(u);
      else return i;
    }
    return -1;
  };

  const visit = async (v: Visit) => {
    const answer = await ask(base, v);
    if (answer.status !== 200 || !answer.group) {
      failed++;
      byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
      readyAt.set(v.userId, 0);
      if (failed >= 50 && done === 0)
        abort = new ValidationError(
          `the service answered none of the first ${failed} visits (statuses ${JSON.stringify(byStatus)}): ` +
            `is it serving the world ${opts.spec.scale}:${opts.spec.seed} in A/B mode?`,
        );
      return;
    }
    const liked = likesOf(v.userId);
    const likedBefore = (postId: number, tMs: number) => (liked.get(postId) ?? Infinity) < tMs;
    let other: Answer | undefined;
    if (opts.qaToken) {
      const g: Group = answer.group === 'test' ? 'control' : 'test';
      other = await ask(base, v, { 'X-Exp-Group': g, 'X-QA-Token': opts.qaToken });
    }
    const outcome = visitOutcome(opts.world, opts.seed, v, answer.postIds, likedBefore);
    if (other?.status === 200) {
      const mine = outcome.expectedHit;
      const theirs = visitExpectedHit(opts.world, v, other.postIds, likedBefore);
      paired.push(
        answer.group === 'test' ? { test: mine, control: theirs } : { control: mine, test: theirs },
      );
    }
    for (const l of outcome.likes) if (!liked.has(l.postId)) liked.set(l.postId, l.tMs);
    const a = acc[answer.group];
    a.visits++;
    a.expected += outcome.expectedHit;
    a.hits += outcome.likes.length > 0 ? 1 : 0;
    a.likes += outcome.likes.length;
    a.latency.add(answer.ms);
    const feedRows: FeedRow[] = outcome.rows.map((r) => ({ ...r, userId: v.userId, timeMs: r.tMs }));
    rows.views += outcome.rows.length - outcome.likes.length;
    rows.likes += outcome.likes.length;
    done++;
    opts.onProgress?.(done + failed, plan.length);
    await writer.add(feedRows);
    readyAt.set(v.userId, Date.now() + opts.minRevisitMs);
  };

  const worker = async () => {
    while (!abort) {
      if (Date.now() > deadline) {
        stoppedEarly = head < plan.length;
        return;
      }
      const i = pickNext(Date.now());
      if (i < 0) {
        if (head >= plan.length) return;
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      started[i] = 1;
      while (head < plan.length && started[head]) head++;
      const v = plan[i]!;
      readyAt.set(v.userId, Infinity);
      try {
        await visit(v);
      } catch (err) {
        abort ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  await writer.close().catch((err: Error) => (abort ??= err));
  if (abort) throw abort;

  const groups: SimulationRun['groups'] = {};
  for (const g of GROUPS) {
    const a = acc[g];
    if (a.visits === 0) continue;
    groups[g] = {
      visits: a.visits,
      expectedHitrate: a.expected / a.visits,
      hits: a.hits,
      likes: a.likes,
      latency: a.latency.summary(),
    };
  }
  const run: SimulationRun = {
    kind: 'feedrec-ab-simulation',
    seed: opts.seed,
    world: { scale: opts.spec.scale, seed: opts.spec.seed },
    url: base.origin,
    sink: opts.sink.name,
    period: { from: isoSec(opts.startMs), to: isoSec(opts.startMs + opts.days * 86_400_000) },
    visits: { planned: plan.length, done, failed, byStatus },
    rows,
    groups,
    latencySource:
      'recorded by the simulator: from sending GET /post/recommendations/ to the parsed answer, over loopback',
    wallSeconds: (performance.now() - wallStart) / 1000,
    stoppedEarly,
  };
  if (paired.length > 1) {
    const d = meanCi(paired.map((p) => p.test - p.control));
    run.trueEffect = {
      difference: d.mean,
      ci: d.ci,
      control: paired.reduce((s, p) => s + p.control, 0) / paired.length,
      test: paired.reduce((s, p) => s + p.test, 0) / paired.length,
      visits: paired.length,
    };
  }
  return run;
}
