// What it costs per request to validate GET /post/recommendations/ with the zod schemas that
// /openapi.json is generated from, against the validation as it was before, and against the
// @hono/zod-openapi route wrapper (its validator middleware) that the app does not use on this
// route. In-process (app.fetch, no sockets), rounds interleaved so a noisy machine hits every
// variant alike; the ratios are per round, then the median.
//
//   npm run build && flock /tmp/feedrec-bench.lock node dist/bench/openapi-validation.js [--rounds 40]
//
// Writes bench/results/openapi-validation.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.js';
import { ValidationError } from '../src/errors/index.js';
import { Metrics, createApp, parseRecommendationsQuery, type Recommender } from '../src/http/index.js';
import { recommendationsQuery } from '../src/http/params.js';
import { silentLogger } from '../src/log/index.js';
import { machineDetails } from './load-report.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const PATH = '/post/recommendations/';

// The query schema as it was at commit 99a1258 (before the document came from it), frozen here
// as the baseline: strings checked by regex, then transformed and piped into numbers.
const OLD_ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
function oldParseIsoTime(text: string): number | undefined {
  const m = OLD_ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const p = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const utc = Date.UTC(p[0], p[1], p[2], p[3], p[4], p[5], Math.floor(Number(`0.${frac || '0'}`) * 1000));
  const b = new Date(utc);
  if (b.getUTCFullYear() !== p[0] || b.getUTCMonth() !== p[1] || b.getUTCDate() !== p[2]) return undefined;
  if (b.getUTCHours() !== p[3] || b.getUTCMinutes() !== p[4] || b.getUTCSeconds() !== p[5]) return undefined;
  if (!zone || zone.toUpperCase() === 'Z') return utc;
  const digits = zone.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return utc - (zone.startsWith('-') ? -1 : 1) * offsetMin * 60_000;
}
const oldQuery = z.object({
  id: z
    .string({ error: 'is required' })
    .regex(/^\d+$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be a positive integer').max(2_147_483_647, 'is too large')),
  time: z.string({ error: 'is required' }).transform((v, ctx) => {
    const ms = oldParseIsoTime(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time' });
      return z.NEVER;
    }
    return ms;
  }),
  limit: z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .optional()
    .transform((v) => v ?? 5),
});

type Fetcher = { fetch: (req: Request) => Response | Promise<Response> };

/** The ways of answering the route; the first three answer JSON of the parsed query. */
function variants(): Record<string, Fetcher> {
  const baseline = new Hono().get(PATH, (c) => {
    const q = oldQuery.safeParse(c.req.query());
    if (!q.success) throw new ValidationError('invalid query');
    return c.json({ userId: q.data.id, timeMs: q.data.time, limit: q.data.limit });
  });
  const shipped = new Hono().get(PATH, (c) => c.json(parseRecommendationsQuery(c.req.query())));
  const wrapper = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) throw new ValidationError('invalid query');
    },
  });
  wrapper.openapi(
    createRoute({
      method: 'get',
      path: PATH,
      request: { query: recommendationsQuery },
      responses: { 200: { description: 'parsed' } },
    }),
    (c) => {
      const q = c.req.valid('query');
      return c.json({ userId: q.id, timeMs: q.time, limit: q.limit });
    },
  );
  // The whole HTTP layer around the same validation, with ranking that costs nothing.
  const post = { id: 1, text: 'post text', topic: 'movie' };
  const recommender: Recommender = {
    hasUser: () => true,
    isReady: () => true,
    post: (id) => ({ ...post, id }),
    rank: async () => ({ postIds: [1, 2, 3, 4, 5], modelVersion: 'bench' }),
    fallback: () => ({ postIds: [1, 2, 3, 4, 5], modelVersion: 'fallback' }),
  };
  const app = createApp({
    config: loadConfig({}, { mode: 'ab' }),
    recommender,
    exposures: { log: () => undefined },
    metrics: new Metrics({ defaultMetrics: false }),
    logger: silentLogger,
  });
  return { baseline, shipped, wrapper, 'whole HTTP layer (createApp, shipped)': app };
}

function requests(n: number): Request[] {
  const times = ['2021-12-01T10:00:00', '2021-11-03 18:22:41.123456', '2021-10-20T07:05:00Z'];
  return Array.from(
    { length: n },
    (_, i) =>
      new Request(
        `http://bench${PATH}?id=${(i % 9_999) + 1}&time=${encodeURIComponent(times[i % 3]!)}${i % 2 ? '&limit=5' : ''}`,
      ),
  );
}

async function microsPerRequest(app: Fetcher, reqs: Request[], n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await app.fetch(reqs[i % reqs.length]!);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  }
  return ((performance.now() - t) * 1000) / n;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '40' },
      'per-round': { type: 'string', default: '2000' },
      out: { type: 'string', default: path.join(root, 'bench/results/openapi-validation') },
    },
  });
  const rounds = Number(values.rounds);
  const perRound = Number(values['per-round']);
  const apps = variants();
  const names = Object.keys(apps);
  const reqs = requests(1000);
  const startedAt = new Date().toISOString();
  const loadBefore = machineDetails().loadAvg;
  for (const name of names) await microsPerRequest(apps[name]!, reqs, 5 * perRound); // warm-up (JIT)

  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so no variant always runs first after a pause.
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!;
      samples[name]!.push(await microsPerRequest(apps[name]!, reqs, perRound));
    }
  }
  const ratio = (a: string, b: string) => median(samples[a]!.map((x, i) => x / samples[b]![i]!));
  const result = {
    startedAt,
    rounds,
    requestsPerRound: perRound,
    machine: { ...machineDetails(), loadAvgBefore: loadBefore },
    note: 'Shared machine: other engineers ran builds and tests at the same time; compare the ratios, which are paired per round.',
    microsPerRequest: Object.fromEntries(
      names.map((n) => [n, { median: r2(median(samples[n]!)), min: r2(Math.min(...samples[n]!)) }]),
    ),
    ratios: {
      shippedOverBaseline: r2(ratio('shipped', 'baseline')),
      wrapperOverBaseline: r2(ratio('wrapper', 'baseline')),
      wrapperOverShipped: r2(ratio('wrapper', 'shipped')),
    },
  };
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(`${values.out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const m = result.machine;
  const md = [
    '# Validation cost of GET /post/recommendations/',
    '',
    `${startedAt}; ${m.cpuModel}, ${m.cpuCount} CPUs, ${m.totalMemGb} GB, node ${m.node}; load average ` +
      `before ${loadBefore.join(' / ')}, after ${m.loadAvg.join(' / ')}. ${result.note}`,
    '',
    `In-process \`app.fetch\`, ${rounds} interleaved rounds of ${perRound} valid requests per variant.`,
    '',
    '| variant | µs per request (median of rounds) | best round |',
    '|---|--:|--:|',
    ...names.map(
      (n) => `| ${n} | ${result.microsPerRequest[n]!.median} | ${result.microsPerRequest[n]!.min} |`,
    ),
    '',
    '| ratio (median of per-round ratios) | |',
    '|---|--:|',
    `| shipped / baseline | ${result.ratios.shippedOverBaseline} |`,
    `| wrapper / baseline | ${result.ratios.wrapperOverBaseline} |`,
    `| wrapper / shipped | ${result.ratios.wrapperOverShipped} |`,
    '',
    '- **baseline**: the query schema before /openapi.json came from it (frozen copy in the script).',
    '- **shipped**: `parseRecommendationsQuery` with the schema the document is generated from, called by the handler.',
    '- **wrapper**: the same schema through `OpenAPIHono.openapi()` (the zod-validator middleware), not used on this route.',
    '- **whole HTTP layer**: `createApp` (request id, metrics, A/B group, deadline race, exposure call, JSON answer) with a recommender that does no work, logs silent.',
    '',
  ].join('\n');
  writeFileSync(`${values.out}.md`, md);
  process.stdout.write(md);
}

void main();
