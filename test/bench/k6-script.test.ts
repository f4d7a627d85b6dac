import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// k6 cannot be installed here, so the script runs in a tiny stand-in of k6's runtime:
// enough to check that it reads the shared scenario and builds the requests it describes.
function loadK6Script(env: Record<string, string> = {}) {
  const src = readFileSync('k6/recommendations.js', 'utf8')
    .replace(/^import .*$/gm, '')
    .replace(/^export const options =/m, 'const options =')
    .replace(/^export default function/m, 'function run');
  const open = (p: string) =>
    p.endsWith('scenario.json') ? readFileSync(path.join('k6', p), 'utf8') : '200\n201\n\n202\nnot-an-id\n';
  const urls: string[] = [];
  const counts: Record<string, number> = {};
  const http = {
    get: (url: string) => (
      urls.push(url),
      { status: 200, headers: { 'X-Model-Version': urls.length % 2 ? 'test/v1' : 'fallback-popular' } }
    ),
  };
  class Counter {
    constructor(readonly name: string) {}
    add(n: number) {
      counts[this.name] = (counts[this.name] ?? 0) + n;
    }
  }
  const check = () => true;
  class SharedArray extends Array {
    constructor(_name: string, fn: () => unknown[]) {
      super();
      this.push(...fn());
    }
  }
  const factory = new Function(
    'open',
    '__ENV',
    'http',
    'check',
    'SharedArray',
    'Counter',
    `${src}\nreturn { options, run };`,
  );
  const mod = factory(open, env, http, check, SharedArray, Counter) as {
    options: { scenarios: Record<string, Record<string, unknown>>; thresholds: Record<string, string[]> };
    run: () => void;
  };
  return { ...mod, urls, counts };
}

describe('k6 script', () => {
  it('builds its scenarios and thresholds from k6/scenario.json, phases back to back', () => {
    const scenario = JSON.parse(readFileSync('k6/scenario.json', 'utf8'));
    const { options } = loadK6Script();
    expect(Object.keys(options.scenarios)).toEqual(scenario.sets.serve);
    expect(options.scenarios['closed-64']).toMatchObject({
      executor: 'constant-vus',
      vus: 64,
      startTime: '33s',
    });
    expect(options.scenarios['open-300']).toMatchObject({
      executor: 'constant-arrival-rate',
      rate: 300,
      timeUnit: '1s',
    });
    expect(options.thresholds.http_req_duration).toEqual(['p(99)<500']);
    expect(options.thresholds.http_req_failed).toEqual(['rate<0.01']);
  });

  it('runs the overload set with open-loop rates from CAPACITY and recovery phases right after each overload', () => {
    const { options } = loadK6Script({ SET: 'overload', CAPACITY: '2000' });
    expect(Object.keys(options.scenarios)).toEqual([
      'closed-64',
      'closed-256',
      'recover-64',
      'closed-1024',
      'recover-64-4',
      'open-3x',
      'recover-64-6',
    ]);
    expect(options.scenarios['open-3x']).toMatchObject({ executor: 'constant-arrival-rate', rate: 6000 });
    // closed-64 30 s, gap 3, closed-256 10 s, then recover-64 with no gap
    expect(options.scenarios['closed-256']!.startTime).toBe('33s');
    expect(options.scenarios['recover-64']!.startTime).toBe('43s');
    expect(() => loadK6Script({ SET: 'overload' })).toThrow(/CAPACITY/);
  });

  it('counts answers ranked by a model apart from fallback answers', () => {
    const { run, counts } = loadK6Script({ PHASES: 'closed-1' });
    for (let i = 0; i < 10; i++) run();
    expect(counts).toEqual({ model_ranked: 5, fallback_answers: 5 });
  });

  it('requests users from the users file at times inside the world period', () => {
    const { run, urls } = loadK6Script({
      BASE_URL: 'http://127.0.0.1:9',
      PHASES: 'closed-1',
      DURATION: '5s',
    });
    for (let i = 0; i < 500; i++) run();
    // One request per iteration, as k6 counts them: the checks below must not pass on no URLs.
    expect(urls).toHaveLength(500);
    for (const u of urls.map((x) => new URL(x))) {
      expect(u.origin).toBe('http://127.0.0.1:9');
      expect(['200', '201', '202']).toContain(u.searchParams.get('id'));
      const t = u.searchParams.get('time')!;
      expect(t >= '2021-10-01T06:00:00' && t <= '2021-12-29T23:59:59').toBe(true);
      expect(Number(t.slice(11, 13))).toBeGreaterThanOrEqual(6);
      expect(u.searchParams.get('limit')).toBe('5');
    }
  });
});
