import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QA_TOKEN, REC, makeApp } from './setup.js';

const API = [
  '/post/recommendations/',
  '/post/recommendations',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
];

// Values a careless or hostile client sends: near-valid numbers and dates, junk, percent
// escapes (valid and broken), unicode, and the valid values themselves.
const value = fc.oneof(
  fc.constantFrom('7', '0', '-1', '1e3', '2147483648', '99999999999999999999', '7.5', ' 7', '0x10', ''),
  fc.constantFrom('2021-12-01T10:00:00', '2021-02-30T10:00:00', '2021-12-01T25:00:00', 'yesterday', 'NaN'),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%ff', '+', '&', '=', '[]', 'null', 'undefined'),
  fc.integer({ min: -5, max: 2000 }).map(String),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);
const key = fc.oneof(
  fc.constantFrom('id', 'time', 'limit', 'id[]', 'ID', 'limit ', '__proto__'),
  fc.string(),
);
const rawPair = fc
  .tuple(key, value, fc.boolean())
  .map(([k, v, encode]) => (encode ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`));
const query = fc.array(rawPair, { maxLength: 6 }).map((pairs) => pairs.join('&'));

// Header values must be valid for the Headers API (visible ASCII); names from ours plus junk.
const headerValue = fc.oneof(
  fc.constantFrom('control', 'test', 'CONTROL', ' test ', 'both', '', QA_TOKEN, `${QA_TOKEN}x`),
  fc.stringMatching(/^[\x21-\x7e]{0,40}$/),
);
const headerName = fc.oneof(
  fc.constantFrom('x-exp-group', 'x-qa-token', 'x-request-id', 'accept', 'content-type', 'content-length'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
);
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 4 });

async function expectJsonError(res: Response, request: string) {
  expect(res.status, request).toBeGreaterThanOrEqual(400);
  expect(res.status, request).toBeLessThan(500);
  expect(res.headers.get('content-type'), request).toMatch(/application\/json/);
  const body = (await res.json()) as { error?: unknown };
  expect(typeof body.error, request).toBe('string');
}

describe('fuzzed requests', () => {
  it('bad query strings and headers always get a 4xx JSON error, never a 5xx, and the service keeps answering', async () => {
    const { app, get } = makeApp({ mode: 'ab' });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...API.slice(0, 2)), query, headers, async (path, q, h) => {
        const request = `${path}?${q} ${JSON.stringify(h)}`;
        const res = await app.request(`${path}?${q}`, { headers: h });
        if (res.status === 200) {
          expect(await res.json()).toHaveProperty('recommendations');
          return;
        }
        await expectJsonError(res, request);
      }),
      { numRuns: 400 },
    );
    const after = await get(REC);
    expect(after.status).toBe(200);
    expect((await after.json()).recommendations).toHaveLength(5);
  });

  it('any method but GET and HEAD on an API route gets 405 with Allow and a JSON error', async () => {
    const { app } = makeApp();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...API),
        fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'FOO'),
        async (path, method) => {
          const res = await app.request(path, { method });
          expect(res.status).toBe(405);
          expect(res.headers.get('allow')).toBe('GET, HEAD');
          expect(await res.json()).toEqual({
            error: expect.stringContaining(`method ${method} not allowed`),
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers HEAD like GET, without a body and without logging an exposure', async () => {
    const { app, logged } = makeApp({ mode: 'ab' });
    for (const path of [REC, '/healthz', '/readyz', '/openapi.json']) {
      const res = await app.request(path, { method: 'HEAD' });
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe('');
    }
    expect(logged).toHaveLength(0);
    expect((await app.request(REC)).status).toBe(200);
    expect(logged).toHaveLength(1);
  });
});
