import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { abAnswerSchema, postListSchema } from '../../src/http/contract.js';
import { QA_TOKEN, makeApp } from './setup.js';

// The agreement between /openapi.json and the validation, checked from the document's side:
// values are generated from the constraints the document publishes (types, ranges, enums,
// patterns, required), never from the validator's code.

interface ParamSchema {
  type: 'integer' | 'string';
  minimum?: number;
  maximum?: number;
  enum?: string[];
  pattern?: string;
}
interface Param {
  name: string;
  in: 'query' | 'header';
  required: boolean;
  schema: ParamSchema;
}

// A few ids beyond the fixture's users would be 404s, not validation answers: every id the
// document allows is a known user here.
const ALL_USERS = 2_147_483_647;
const INT64_MAX = 2n ** 63n - 1n;

async function documentedParams(mode: 'ab' | 'control') {
  const { get } = makeApp({ mode });
  const doc = await (await get('/openapi.json')).json();
  return doc.paths['/post/recommendations/'].get.parameters as Param[];
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** The document's time description asks for a date that exists; its pattern cannot say so. */
function dateExists(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!);
}

// Printable ASCII: what an HTTP header value and a URL-encoded query value can both carry.
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
});

/** Text forms of values the parameter's schema allows. */
function allowed(p: Param): fc.Arbitrary<string> {
  const s = p.schema;
  if (s.type === 'integer') return fc.integer({ min: s.minimum, max: s.maximum }).map(String);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.pattern)
    return fc.stringMatching(new RegExp(s.pattern)).filter((v) => p.name !== 'time' || dateExists(v));
  return printable;
}

/** Text forms of values the parameter's schema forbids. */
function forbidden(p: Param): fc.Arbitrary<string> {
  const s = p.schema;
  if (s.type === 'integer') {
    const outside = fc.oneof(
      fc.bigInt({ min: -INT64_MAX, max: BigInt(s.minimum!) - 1n }),
      fc.bigInt({ min: BigInt(s.maximum!) + 1n, max: INT64_MAX }),
    );
    return fc.oneof(
      outside.map(String),
      allowed(p).map((v) => ` ${v}`),
      fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .filter((x) => !Number.isInteger(x))
        .map(String),
      printable.filter((v) => Number.isNaN(Number(v))),
    );
  }
  if (s.enum) {
    const values = s.enum;
    return fc
      .oneof(
        printable,
        fc.constantFrom(...values).map((v) => v.toUpperCase()),
      )
      .filter((v) => !values.includes(v));
  }
  const re = new RegExp(s.pattern!);
  // Near misses too: a valid value with one character replaced, or padded with a space.
  const nearMiss = fc
    .tuple(
      allowed(p),
      fc.nat(),
      printable.filter((c) => c.length === 1),
    )
    .map(([v, i, c]) => v.slice(0, i % v.length) + c + v.slice((i % v.length) + 1));
  const padded = allowed(p).map((v) => ` ${v}`);
  return fc.oneof(printable, nearMiss, padded).filter((v) => !re.test(v));
}

type Request = { query: Record<string, string>; headers: Record<string, string> };

/** A request with an allowed value for every required parameter and some optional ones. */
function allowedRequest(params: Param[], skip: (p: Param) => boolean = () => false): fc.Arbitrary<Request> {
  const entries = params
    .filter((p) => !skip(p))
    .map((p) =>
      (p.required ? allowed(p) : fc.option(allowed(p), { nil: undefined })).map((v) => [p, v] as const),
    );
  return fc.tuple(...entries).map((pairs) => {
    const req: Request = { query: {}, headers: {} };
    for (const [p, v] of pairs) if (v !== undefined) (p.in === 'query' ? req.query : req.headers)[p.name] = v;
    // The QA header is honoured only with the token; the token is the configured one then.
    if (req.headers['X-Exp-Group'] !== undefined) req.headers['X-QA-Token'] = QA_TOKEN;
    return req;
  });
}

function send(app: ReturnType<typeof makeApp>, req: Request) {
  return app.get(`/post/recommendations/?${new URLSearchParams(req.query)}`, req.headers);
}

// The QA token is not a validated value (a wrong one is 403, not 422), and X-Request-Id is
// never refused (an id not of the documented form is replaced): both stay out of "forbidden".
const REFUSED_WITH_422 = (p: Param) => p.name !== 'X-QA-Token' && p.name !== 'X-Request-Id';

describe('/openapi.json and the validator agree', () => {
  it.each(['ab', 'control'] as const)(
    'answers 200 to every request the document allows (mode %s)',
    async (mode) => {
      const params = await documentedParams(mode);
      expect(params.map((p) => p.name)).toEqual(
        expect.arrayContaining(['id', 'time', 'limit', 'X-Exp-Group', 'X-QA-Token', 'X-Request-Id']),
      );
      const app = makeApp({ mode }, { users: ALL_USERS });
      await fc.assert(
        fc.asyncProperty(allowedRequest(params), async (req) => {
          const res = await send(app, req);
          const body = await res.json();
          expect({ status: res.status, body }).toMatchObject({ status: 200 });
          // The answer has the documented shape, with at most `limit` posts (liked ones are left out).
          const posts =
            mode === 'ab' ? abAnswerSchema.parse(body).recommendations : postListSchema.parse(body);
          expect(posts.length).toBeLessThanOrEqual(Number(req.query.limit ?? 5));
          if (mode === 'ab' && req.headers['X-Exp-Group'])
            expect(body.exp_group).toBe(req.headers['X-Exp-Group']);
        }),
        { numRuns: 300 },
      );
    },
  );

  it('answers 422 naming the parameter for every value the document forbids', async () => {
    const params = await documentedParams('ab');
    const app = makeApp({ mode: 'ab' }, { users: ALL_USERS });
    const checked = params.filter(REFUSED_WITH_422);
    expect(checked.map((p) => p.name)).toEqual(['id', 'time', 'limit', 'X-Exp-Group']);
    for (const p of checked) {
      await fc.assert(
        fc.asyncProperty(
          allowedRequest(params, (q) => q === p),
          forbidden(p),
          async (req, bad) => {
            if (p.in === 'query') req.query[p.name] = bad;
            else Object.assign(req.headers, { [p.name]: bad, 'X-QA-Token': QA_TOKEN });
            const res = await send(app, req);
            const body = await res.json();
            expect({ status: res.status, paths: body.issues?.map((i: { path: string }) => i.path) }).toEqual({
              status: 422,
              paths: [p.name],
            });
          },
        ),
        { numRuns: 200 },
      );
    }
  });

  it('answers 422 naming every required parameter that is missing', async () => {
    const params = await documentedParams('ab');
    const app = makeApp({ mode: 'ab' }, { users: ALL_USERS });
    const required = params.filter((p) => p.required);
    expect(required.map((p) => p.name)).toEqual(['id', 'time']);
    for (const p of required) {
      await fc.assert(
        fc.asyncProperty(
          allowedRequest(params, (q) => q === p),
          async (req) => {
            const body = await (await send(app, req)).json();
            expect(body.issues).toEqual([{ path: p.name, message: 'is required' }]);
          },
        ),
        { numRuns: 50 },
      );
    }
  });

  it('documents every route the app serves', async () => {
    const { app, get } = makeApp();
    const doc = await (await get('/openapi.json')).json();
    // The slash-less twin is an alias the operation's description names; /docs is the page
    // that shows this document.
    const notInDocument = new Set([
      '/post/recommendations',
      '/openapi.json',
      '/docs',
      '/docs/init.js',
      '/docs/:file',
    ]);
    const served = app.routes.filter((r) => r.method !== 'ALL' && !notInDocument.has(r.path));
    for (const r of served)
      expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    expect(served.length).toBeGreaterThanOrEqual(4);
  });
});
