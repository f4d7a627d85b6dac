import { DAY_MS, FIRST_HOUR, PERIOD } from './constants.js';
import { HOUR_WEIGHTS, userViews } from './feed.js';
import { PARAMS } from './params.js';
import { AliasTable, Rng, STREAM } from './rng.js';
import { WorldModel, type World } from './world.js';

/**
 * The world's users after the logged period: when they open their feed (visits) and what they
 * do with the posts a service shows them (views, likes drawn from the ground truth). For the
 * experiment simulator only; the service never sees any of it but the rows it logs.
 */

/** One visit: who opens the feed and when. `index` keys the visit's own random stream. */
export interface Visit {
  index: number;
  ui: number;
  userId: number;
  tMs: number;
}

/** The first midnight after the logged period: where simulated experiments start by default. */
export const EXPERIMENT_START_MS = Math.ceil(PERIOD.endMs / DAY_MS) * DAY_MS;

function model(world: World): WorldModel {
  if (!(world instanceof WorldModel))
    throw new TypeError('the experiment simulator needs a world from createWorld');
  return world;
}

/**
 * n visits over `days` days from startMs, in time order. Users come as often as they scrolled in
 * the logged period (their number of views), at the log's hourly rhythm (06:00–23:59).
 */
export function planVisits(world: World, seed: number, n: number, startMs: number, days: number): Visit[] {
  const w = model(world);
  const users = new AliasTable(Float64Array.from(w.users, (_, u) => userViews(w, u)));
  const rng = new Rng(seed, STREAM.visits);
  const out: Visit[] = [];
  for (let index = 0; index < n; index++) {
    const ui = users.draw(rng);
    const day = rng.int(days);
    const hour = FIRST_HOUR + rng.pick(HOUR_WEIGHTS);
    const tMs = startMs + day * DAY_MS + hour * 3_600_000 + rng.int(3600) * 1000;
    out.push({ index, ui, userId: w.users[ui]!.userId, tMs });
  }
  return out.sort((a, b) => a.tMs - b.tMs || a.index - b.index);
}

export interface VisitRow {
  tMs: number;
  postId: number;
  action: 'view' | 'like';
  target: 0 | 1;
}

export interface VisitOutcome {
  /** view rows (target 1 when liked) and like rows, as the network logs them. */
  rows: VisitRow[];
  likes: { postId: number; tMs: number }[];
  /** The true chance of at least one like among the posts shown: 1 − Π(1 − P), at the visit. */
  expectedHit: number;
}

/**
 * What the user does with the posts shown, in order: views each, one after another as the
 * world's feed sessions go (8 s plus an exponential 45 s apart), and likes each with the true
 * probability at that moment (the drop for a post liked before included); a like row follows
 * its view by 60–120 s. The draws depend only on (seed, visit), not on other visits.
 */
export function visitOutcome(
  world: World,
  seed: number,
  visit: Visit,
  postIds: readonly number[],
  likedBefore: (postId: number, tMs: number) => boolean,
): VisitOutcome {
  const w = model(world);
  const rng = new Rng(seed, STREAM.outcomes, visit.index);
  const [d0, d1] = PARAMS.likeDelay;
  const rows: VisitRow[] = [];
  const likes: VisitOutcome['likes'] = [];
  let t = visit.tMs + 2_000;
  for (const postId of postIds) {
    const p = truth(w, visit.ui, postId, t, likedBefore);
    const liked = rng.next() < p;
    rows.push({ tMs: t, postId, action: 'view', target: liked ? 1 : 0 });
    if (liked) {
      const tl = t + (d0 + rng.int(d1 - d0 + 1)) * 1000;
      rows.push({ tMs: tl, postId, action: 'like', target: 0 });
      likes.push({ postId, tMs: tl });
    }
    t += (8 + Math.floor(-45 * Math.log(1 - rng.next()))) * 1000;
  }
  return { rows, likes, expectedHit: expectedHit(world, visit, postIds, likedBefore) };
}

function truth(
  w: WorldModel,
  ui: number,
  postId: number,
  tMs: number,
  likedBefore: (postId: number, tMs: number) => boolean,
): number {
  const pi = w.postIndex(postId);
  return pi < 0 ? 0 : w.likeProbability(ui, pi, tMs, likedBefore(postId, tMs));
}

/** The checker's expected hit of an answer at the visit: 1 − Π(1 − P) over the posts shown. */
export function expectedHit(
  world: World,
  visit: Visit,
  postIds: readonly number[],
  likedBefore: (postId: number, tMs: number) => boolean,
): number {
  const w = model(world);
  let miss = 1;
  for (const postId of postIds.slice(0, 5)) miss *= 1 - truth(w, visit.ui, postId, visit.tMs, likedBefore);
  return 1 - miss;
}
