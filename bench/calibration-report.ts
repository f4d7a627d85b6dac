// Writes docs/calibration.md: the real tables' figures (DESIGN.md section 2) next to the
// simulated world's, at demo scale and at full scale (both generated in memory, byte-identical
// to what `feedrec world` writes), with the expected Hitrate@5 figures.
//   npm run build && node dist/bench/calibration-report.js [--seed 1] [--pairs 2000] [--no-full]
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { GENERATOR_VERSION, REAL, TOPICS, type Scale } from '../src/world/index.js';
import {
  feedStats,
  hitrates,
  likeRate,
  pooledRate,
  type FeedStats,
  type HitrateFigures,
} from '../src/world/stats.js';
import { createWorldModel, type WorldModel } from '../src/world/world.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Figures {
  world: WorldModel;
  feed: FeedStats;
  hr: HitrateFigures;
  seconds: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)} %`;
const f3 = (x: number) => x.toFixed(3);

function figures(scale: Scale, seed: number, pairs: number): Figures {
  const t0 = performance.now();
  const world = createWorldModel({ seed, scale });
  const feed = feedStats(world);
  const hr = hitrates(world, pairs);
  return { world, feed, hr, seconds: (performance.now() - t0) / 1000 };
}

type Row = [string, string, ...string[]];

function rows(fs: Figures[]): Row[] {
  const each = (f: (x: Figures) => string) => fs.map(f);
  const users = (x: Figures) => x.world.users;
  const frac = (x: Figures, p: (u: WorldModel['users'][number]) => boolean) =>
    users(x).filter(p).length / users(x).length;
  const ages = (x: Figures) =>
    users(x)
      .map((u) => u.age)
      .sort((a, b) => a - b);
  const lens = (x: Figures) => x.world.posts.map((p) => p.text.length).sort((a, b) => a - b);
  const shown = (x: Figures) => [...x.feed.postViews].filter((v) => v > 0).sort((a, b) => a - b);
  const shares = (x: Figures) =>
    [...x.feed.postViews]
      .map((v, i) => (v > 0 ? x.feed.postLikes[i]! / v : NaN))
      .filter((s) => !Number.isNaN(s))
      .sort((a, b) => a - b);
  const rate = (x: Figures) => x.feed.likes / x.feed.views;
  const topicRates = (x: Figures) => x.feed.byTopic.map(likeRate);
  const out: Row[] = [
    [
      'users / posts',
      `${int(REAL.users)} / ${int(REAL.posts)}`,
      ...each((x) => `${int(users(x).length)} / ${int(x.world.posts.length)}`),
    ],
    [
      'feed rows (views + likes)',
      `${int(REAL.feedRows)} (${int(REAL.views)} + ${int(REAL.likes)})`,
      ...each((x) => `${int(x.feed.rows)} (${int(x.feed.views)} + ${int(x.feed.likes)})`),
    ],
    [
      'views / likes per user',
      `${REAL.viewsPerUser} / ${REAL.likesPerUser}`,
      ...each(
        (x) =>
          `${(x.feed.views / users(x).length).toFixed(1)} / ${(x.feed.likes / users(x).length).toFixed(1)}`,
      ),
    ],
    [
      'user_id range',
      '200 … 168,552 (gaps)',
      ...each((x) => `${int(users(x)[0]!.userId)} … ${int(users(x).at(-1)!.userId)}`),
    ],
    [
      'post_id range',
      '1 … 7,319 (gaps)',
      ...each((x) => `${int(x.world.posts[0]!.postId)} … ${int(x.world.posts.at(-1)!.postId)}`),
    ],
    [
      'topics (posts)',
      REAL_TOPICS,
      ...each((x) => TOPICS.map((t) => x.world.posts.filter((p) => p.topic === t).length).join(' / ')),
    ],
    [
      'text length min / median / mean / max',
      `${REAL.textLength.min} / ${REAL.textLength.median} / ${int(REAL.textLength.mean)} / ${int(REAL.textLength.max)}`,
      ...each((x) => {
        const l = lens(x);
        return `${l[0]} / ${quantile(l, 0.5)} / ${int(mean(l))} / ${int(l.at(-1)!)}`;
      }),
    ],
    [
      'age min / max, mean, sd',
      `${REAL.age.min} / ${REAL.age.max}, ${REAL.age.mean}, ${REAL.age.sd}`,
      ...each((x) => {
        const a = ages(x);
        const m = mean(a);
        return `${a[0]} / ${a.at(-1)}, ${m.toFixed(1)}, ${Math.sqrt(mean(a.map((v) => (v - m) ** 2))).toFixed(1)}`;
      }),
    ],
    [
      'age quartiles',
      `${REAL.age.q1} / ${REAL.age.median} / ${REAL.age.q3}`,
      ...each((x) => {
        const a = ages(x);
        return `${quantile(a, 0.25)} / ${quantile(a, 0.5)} / ${quantile(a, 0.75)}`;
      }),
    ],
    ...Object.entries(REAL.countries).map(([c, s]): Row => [
      `country ${c}`,
      pct(s, 2),
      ...each((x) =>
        pct(
          frac(x, (u) => u.country === c),
          2,
        ),
      ),
    ]),
    ['distinct cities', int(REAL.cities), ...each((x) => int(new Set(users(x).map((u) => u.city)).size))],
    [
      'Moscow / Saint Petersburg',
      `${pct(REAL.moscowShare)} / ${pct(REAL.spbShare)}`,
      ...each(
        (x) =>
          `${pct(frac(x, (u) => u.city === 'Moscow'))} / ${pct(frac(x, (u) => u.city === 'Saint Petersburg'))}`,
      ),
    ],
    [
      'Android / ads / gender 1',
      `${pct(REAL.androidShare)} / ${pct(REAL.adsShare)} / ≈ ${pct(REAL.gender1Share, 0)}`,
      ...each(
        (x) =>
          `${pct(frac(x, (u) => u.os === 'Android'))} / ${pct(frac(x, (u) => u.source === 'ads'))} / ${pct(frac(x, (u) => u.gender === 1))}`,
      ),
    ],
    [
      'exp_group 0 … 4',
      'about equal',
      ...each((x) =>
        [0, 1, 2, 3, 4]
          .map((g) =>
            pct(
              frac(x, (u) => u.expGroup === g),
              0,
            ),
          )
          .join(' / '),
      ),
    ],
    ['like rate (likes / views)', '0.12', ...each((x) => f3(rate(x)))],
    [
      'like rate first week → last week',
      `${REAL.likeRateFirstWeek} → ${REAL.likeRateLastWeek}`,
      ...each(
        (x) => `${f3(pooledRate(x.feed.byDay.slice(0, 7)))} → ${f3(pooledRate(x.feed.byDay.slice(-7)))}`,
      ),
    ],
    [
      'like rate 19–21 h / 10–14 h',
      `≈ ${REAL.likeRateEvening} / ≈ ${REAL.likeRateMidday}`,
      ...each(
        (x) =>
          `${f3(pooledRate(x.feed.byHour.slice(19, 22)))} / ${f3(pooledRate(x.feed.byHour.slice(10, 15)))}`,
      ),
    ],
    [
      'like rate exp_group 0 / 1 / 2 / 3 / 4',
      '≈ 0.10 / 0.14 / 0.14 / 0.10 / –',
      ...each((x) => x.feed.byExpGroup.map((r) => likeRate(r).toFixed(3)).join(' / ')),
    ],
    [
      'like rate gender 0 / 1',
      `${REAL.likeRateGender0} / ${REAL.likeRateGender1}`,
      ...each((x) => `${f3(likeRate(x.feed.byGender[0]!))} / ${f3(likeRate(x.feed.byGender[1]!))}`),
    ],
    [
      'least liked topic',
      'tech',
      ...each((x) => {
        const r = topicRates(x);
        return `${TOPICS[r.indexOf(Math.min(...r))]} (${f3(Math.min(...r))})`;
      }),
    ],
    [
      'like rate by topic',
      '–',
      ...each((x) =>
        topicRates(x)
          .map((r, i) => `${TOPICS[i]} ${r.toFixed(3)}`)
          .join(', '),
      ),
    ],
    [
      'views only 06:00–23:59',
      'yes',
      ...each((x) => ([...x.feed.viewHours.subarray(0, 6)].every((v) => v === 0) ? 'yes' : 'no')),
    ],
    ['like row after its view', '1–2 min', ...each((x) => `${x.feed.likeDelayMin}–${x.feed.likeDelayMax} s`)],
    [
      'likes repeating an earlier like',
      pct(REAL.repeatLikeShare, 2),
      ...each((x) => pct(x.feed.repeatLikes / x.feed.likes, 2)),
    ],
    ['repeat views', 'exist', ...each((x) => pct(x.feed.repeatViews / x.feed.views, 1))],
    [
      'views per shown post min … max',
      `${int(REAL.postViews.min)} … ${int(REAL.postViews.max)}`,
      ...each((x) => {
        const s = shown(x);
        return `${int(s[0]!)} … ${int(s.at(-1)!)} (mean ${int(mean(s))})`;
      }),
    ],
    [
      'posts never shown',
      `${REAL.unshownPosts}`,
      ...each((x) => `${x.world.posts.length - shown(x).length}`),
    ],
    [
      'like share per post (min … max; 1st–99th pct)',
      '6 … 16 %',
      ...each((x) => {
        const s = shares(x);
        return `${pct(s[0]!)} … ${pct(s.at(-1)!)}; ${pct(quantile(s, 0.01))}–${pct(quantile(s, 0.99))}`;
      }),
    ],
  ];
  return out;
}

const REAL_TOPICS = '3000 / 1799 / 510 / 510 / 417 / 401 / 386';

function hitrateRows(fs: Figures[]): Row[] {
  const each = (f: (x: Figures) => string) => fs.map(f);
  return [
    ['uniformly random top-5', `≈ ${f3(REAL.randomHitrate)} (1 − 0.88^5)`, ...each((x) => f3(x.hr.random))],
    [
      'public-information oracle (demographics, topic, post, time)',
      'control bar 0.52',
      ...each((x) => f3(x.hr.publicOracle)),
    ],
    [
      'history-informed estimate (+ sub-topic rates from the user log)',
      'test bar 0.57',
      ...each((x) => f3(x.hr.historyModel)),
    ],
    [
      'history-informed estimate from the log before t only',
      'test bar 0.57',
      ...each((x) => f3(x.hr.historyBeforeT)),
    ],
    ['oracle (top 5 by true P)', '–', ...each((x) => f3(x.hr.oracle))],
  ];
}

function table(head: string[], body: Row[]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const seed = Number(arg('--seed') ?? 1);
  const pairs = Number(arg('--pairs') ?? 2000);
  const fs = [figures('demo', seed, pairs)];
  if (!process.argv.includes('--no-full')) fs.push(figures('full', seed, pairs));
  const head = ['figure', 'real', ...fs.map((x) => `simulated ${x.world.spec.scale}`)];
  const md = [
    '# World calibration: real vs simulated',
    '',
    `Generated by \`node dist/bench/calibration-report.js\` (bench/calibration-report.ts) for seed ${seed}, ` +
      `generator version ${GENERATOR_VERSION}. The simulated figures come from the in-memory generation that ` +
      '`feedrec world` streams into the database byte for byte; the calibration tests ' +
      '(test/world/calibration.test.ts) assert them at demo scale. Real figures: DESIGN.md section 2.',
    '',
    table(head, rows(fs)),
    '',
    '## Difficulty: expected Hitrate@5',
    '',
    `Over ${pairs.toLocaleString('en-US')} sampled (user, time) pairs (uniform over users, days and the active hours ` +
      '06–24), expected hit = 1 − Π(1 − P) with the true P; every ranking excludes the posts the user liked before t.',
    '',
    table(['ranking', 'real / bar', ...fs.map((x) => `simulated ${x.world.spec.scale}`)], hitrateRows(fs)),
    '',
    '- *public-information oracle*: ranks by the true logit with every individual part (activity, personal topic',
    '  offsets, favourite sub-topics) replaced by its population average and no sub-topic taste: what',
    '  demographics, topic, post popularity and time can tell. A learned control model approaches it from below.',
    "- *history-informed estimate*: the public score plus each sub-topic's shrunk like log-odds in the user's own",
    '  log: the whole log (as features computed once from the training tables see it), and the log before t',
    '  only (features computed as of t). It shows what a test model that clusters texts into sub-topics and',
    '  uses user history can gain over the control model; the calibration test asserts the before-t figure.',
    '- The oracle is the ceiling: `gap closed = (HR − random) / (oracle − random)`.',
    '- Learned models against the same bars: `feedrec world --scale demo && feedrec features && feedrec check`',
    '  scores random, popular, control, test and oracle on hidden requests drawn from the checker seed.',
    '',
    '## How the world is built',
    '',
    '`P(u, p, t) = sigmoid(user × topic (base, exp_group, gender, demographic × topic tastes, activity, personal',
    'topic offsets) + post (quality, sub-topic main effect) + age bucket × sub-topic + favourite sub-topic boost',
    '+ day (trend, weekend, topic trend) + hour of day + liked-before drop)`; parameters in src/world/params.ts.',
    "Users, posts and the feed log come from independent seeded streams; each user's log from (seed, user index).",
    '',
  ].join('\n');
  // Formatted like the rest of the repository, so regenerating gives no spurious diff.
  const formatted = await prettier.format(md, {
    ...((await prettier.resolveConfig(path.join(root, 'docs/calibration.md'))) ?? {}),
    parser: 'markdown',
  });
  await writeFile(path.join(root, 'docs/calibration.md'), formatted);
  console.log(formatted);
  console.error(fs.map((x) => `${x.world.spec.scale}: ${x.seconds.toFixed(1)} s`).join(', '));
}

await main();
