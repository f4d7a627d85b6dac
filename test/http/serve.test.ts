import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExposureLogger } from '../../src/ab/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { ListenError } from '../../src/errors/index.js';
import { Metrics, createApp, startServer, type RankResult } from '../../src/http/index.js';
import { createMemoryLogger, silentLogger } from '../../src/log/index.js';
import { fixtureRecommender } from '../../bench/fixture-recommender.js';
import { dbVariants } from '../helpers/db.js';

const config = loadConfig({}, { host: '127.0.0.1', port: 0, mode: 'ab' });
const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
const rec = (id: number) => `/post/recommendations/?id=${id}&time=2021-12-01T10:00:00`;

describe('graceful drain', () => {
  it('stops taking connections, finishes in-flight requests, then runs close hooks in order', async () => {
    const pending: ((r: RankResult) => void)[] = [];
    const order: string[] = [];
    const recommender = fixtureRecommender({
      rank: () => new Promise((resolve) => pending.push(resolve)),
    });
    recommender.close = async () => void order.push('recommender');
    const logger = createMemoryLogger();
    const app = createApp({
      config: { ...config, serving: { ...config.serving, deadlineMs: 60_000 } },
      recommender,
      exposures: { log: () => order.push('exposure'), close: async () => order.push('exposures.close') },
      metrics: new Metrics({ defaultMetrics: false }),
      logger,
    });
    const signals = new EventEmitter();
    const exits: number[] = [];
    const running = await startServer(app, config, {
      signalSource: signals,
      exit: (c) => exits.push(c),
      onClosed: async () => void order.push('onClosed'),
    });

    const inFlight = fetch(url(running.port, rec(7)));
    await expect.poll(() => pending.length).toBe(1);
    signals.emit('SIGTERM', 'SIGTERM');
    await expect.poll(() => app.serving.draining).toBe(true);
    // New connections are refused while the old request is still being served.
    await expect(fetch(url(running.port, '/healthz'))).rejects.toThrow();
    expect(order).toEqual([]);

    pending[0]!({ postIds: [1, 2, 3], modelVersion: 'm' });
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    await expect.poll(() => exits).toEqual([0]);
    expect(order).toEqual(['exposure', 'exposures.close', 'recommender', 'onClosed']);
    expect(logger.entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining(['signal received', 'draining', 'stopped']),
    );
  });

  it('gives up waiting after drainTimeoutMs and reports an unclean stop', async () => {
    const app = createApp({
      config,
      recommender: fixtureRecommender(),
      exposures: { log: () => undefined, close: () => new Promise(() => undefined) },
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger,
    });
    const running = await startServer(app, config, { signals: [], drainTimeoutMs: 50 });
    expect(await running.close()).toBe(false);
  });
});

describe('listening', () => {
  const appWith = (logger = createMemoryLogger()) =>
    createApp({
      config,
      recommender: fixtureRecommender(),
      exposures: { log: () => undefined },
      metrics: new Metrics({ defaultMetrics: false }),
      logger,
    });

  it('refuses a port in use with a ListenError naming the port and how to choose another', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const err = await startServer(appWith(), { ...config, port }, { signals: [] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ListenError);
      expect((err as Error).message).toBe(
        `port ${port} is already in use on 127.0.0.1: choose another with --port <n> or PORT=<n>`,
      );
    } finally {
      taken.close();
    }
  });

  it('logs runtime errors of the listening server and keeps answering (EMFILE twice)', async () => {
    const logger = createMemoryLogger();
    const errors: Error[] = [];
    const running = await startServer(appWith(logger), config, {
      signals: [],
      onServerError: (e) => errors.push(e),
    });
    try {
      // The first would reach the start-up listener of old; the second had no listener at all
      // and, as an 'error' event nobody hears, ended the process.
      for (let i = 0; i < 2; i++) {
        const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
        expect(() => running.server.emit('error', emfile)).not.toThrow();
      }
      expect(errors).toHaveLength(2);
      expect(logger.entries.filter((e) => e.msg === 'HTTP server error')).toHaveLength(2);
      expect((await fetch(url(running.port, '/healthz'))).status).toBe(200);
    } finally {
      await running.close();
    }
  });
});

describe.each(dbVariants)('exposures on SIGTERM ($name)', (variant) => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    if (variant.skip) return;
    ({ db, drop } = await variant.fresh());
  });
  afterEach(async () => {
    await drop?.();
  });

  it.skipIf(variant.skip)('writes every logged exposure before the process exits, none lost', async () => {
    // A long flush interval and a big batch: without the drain nothing would be written.
    const exposures = new ExposureLogger({ db, flushMs: 60_000, batchSize: 10_000, logger: silentLogger });
    const app = createApp({
      config,
      recommender: fixtureRecommender(),
      exposures,
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger,
    });
    const signals = new EventEmitter();
    const exits: number[] = [];
    const running = await startServer(app, config, { signalSource: signals, exit: (c) => exits.push(c) });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(url(running.port, rec(1 + (i % 900)))).then((r) => r.json()),
      ),
    );
    expect(answers.every((a) => Array.isArray((a as { recommendations: unknown[] }).recommendations))).toBe(
      true,
    );
    const count = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM exposures'))[0]!.n;
    expect(await count()).toBe(0);

    signals.emit('SIGTERM', 'SIGTERM');
    await expect.poll(() => exits, { timeout: 10_000 }).toEqual([0]);
    expect(await count()).toBe(200);
  });
});
