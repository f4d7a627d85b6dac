// Candidate recall: the share of the oracle's top 5 (true P, posts liked before excluded) that
// retrieval keeps, per candidate count and retrieval score, on the checker's hidden requests of a
// tuning seed. Retrieval is never allowed to be the ceiling of the two-stage ranking.
//
//   DATABASE_URL=… node dist/bench/candidate-recall.js --seed 7 [--requests 2000] [--out FILE]
import { writeFile } from 'node:fs/promises';
import { openDatabase } from '../src/db/index.js';
import { loadFeatureStore } from '../src/features/index.js';
import { RankingPipeline } from '../src/ranking/pipeline.js';
import { likedBefore, readLikes } from '../src/eval/policies.js';
import { drawRequests } from '../src/eval/requests.js';
import { createWorld, PERIOD, readWorldSpec } from '../src/world/index.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const seed = Number(arg('--seed', '7'));
const n = Number(arg('--requests', '2000'));
const counts = arg('--counts', '35,70,105,150,210,280,420').split(',').map(Number);
const out = arg('--out', '');

const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: arg('--data-dir', 'data') });
try {
  const spec = await readWorldSpec(db);
  if (!spec) throw new Error('no simulated world in this database');
  const world = createWorld(spec);
  const reqs = drawRequests(
    world.users.map((u) => u.userId),
    PERIOD,
    seed,
    n,
  );
  const users = [...new Set(reqs.map((r) => r.userId))];
  const history = await readLikes(db, 'user_id = any($1::int[])', [users]);
  const { store } = await loadFeatureStore(db);
  const buf = new Float64Array(world.posts.length);
  // True P of every post for every request (liked-before drop included), by store post index.
  const truth = reqs.map((r) => {
    const ui = world.userIndex(r.userId);
    const liked = likedBefore(history, r.userId, r.tMs);
    const P = new Float32Array(store.dims.posts);
    for (let pi = 0; pi < store.dims.posts; pi++) {
      const id = store.postIds[pi]!;
      P[pi] = world.likeProbability(ui, world.postIndex(id), r.tMs, liked.has(id));
    }
    return P;
  });
  // The oracle's top 5 of every request, as store post indexes.
  const oracle = reqs.map((r) => {
    world.scoreAllPosts(world.userIndex(r.userId), r.tMs, buf);
    const liked = likedBefore(history, r.userId, r.tMs);
    const order = Array.from(buf.keys()).filter((pi) => !liked.has(world.posts[pi]!.postId));
    order.sort((a, b) => buf[b]! - buf[a]! || a - b);
    return order.slice(0, 5).map((pi) => store.postIndexById[world.posts[pi]!.postId]!);
  });
  const lines = [
    `Candidate recall: share of the oracle's top 5 that retrieval keeps; checker seed ${seed} (tuning), ${n} requests, world ${spec.scale}:${spec.seed}.`,
    '',
    'Each cell: recall of the oracle top 5 / ceiling (expected Hitrate@5 of the best 5 candidates by true P).',
    '',
    '| set | retrieval score | topic quota | ' + counts.map((c) => `${c}`).join(' | ') + ' |',
    '|---|---|---|' + counts.map(() => '--:').join('|') + '|',
  ];
  const variants = [
    ['rate', true],
    ['lift', true],
    ['lift', false],
  ] as const;
  for (const set of ['control', 'test'] as const)
    for (const [score, quota] of variants) {
      const cells: string[] = [];
      for (const c of counts) {
        const p = new RankingPipeline(store, {
          set,
          candidates: c,
          rankAll: false,
          retrievalScore: score,
          topicQuota: quota,
        });
        let kept = 0;
        let total = 0;
        let ceiling = 0;
        reqs.forEach((r, i) => {
          const list = p.candidatesFor({ ui: store.userIndexById[r.userId]!, tMs: r.tMs, limit: 5 });
          const cands = new Set(list);
          for (const pi of oracle[i]!) {
            total++;
            if (cands.has(pi)) kept++;
          }
          const P = truth[i]!;
          const best = [...list].sort((a, b) => P[b]! - P[a]!).slice(0, 5);
          ceiling += 1 - best.reduce((q, pi) => q * (1 - P[pi]!), 1);
        });
        cells.push(`${(kept / total).toFixed(3)} / ${(ceiling / reqs.length).toFixed(3)}`);
      }
      lines.push(`| ${set} | ${score} | ${quota ? 'yes' : 'no'} | ${cells.join(' | ')} |`);
      console.error(lines.at(-1));
    }
  const text = lines.join('\n') + '\n';
  if (out) await writeFile(out, text);
  console.log(text);
} finally {
  await db.close();
}
