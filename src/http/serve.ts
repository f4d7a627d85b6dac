import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Config } from '../config/index.js';
import { ListenError } from '../errors/index.js';
import type { FeedrecApp } from './app.js';

export interface StartOptions {
  /** Longest wait for in-flight requests, then for close hooks, at shutdown. */
  drainTimeoutMs?: number;
  /** Run after the deps' own hooks (exposures, recommender), e.g. closing the database. */
  onClosed?: () => Promise<void>;
  /** Signals that start a graceful shutdown; [] for none (tests). */
  signals?: NodeJS.Signals[];
  /** Where signals come from (process by default). */
  signalSource?: Pick<NodeJS.EventEmitter, 'once' | 'removeListener'>;
  /** Called after a signal-triggered shutdown with 0 (clean) or 1 (timed out or failed). */
  exit?: (code: number) => void;
  /** Told of each runtime error of the listening server (after it was logged), e.g. for a metric. */
  onServerError?: (err: Error) => void;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Graceful shutdown (same as on SIGTERM); resolves true when everything closed in time. */
  close(): Promise<boolean>;
}

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
};

/**
 * Listens on config.host:config.port. On SIGTERM/SIGINT (or close()): mark draining (readyz
 * → 503), stop accepting connections, wait for in-flight requests, then flush exposures and
 * close the recommender and onClosed, each bounded by drainTimeoutMs so shutdown always ends.
 */
export async function startServer(
  app: FeedrecApp,
  config: Config,
  opts: StartOptions = {},
): Promise<RunningServer> {
  const { logger, exposures, recommender } = app.serving.deps;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 10_000;
  const { onServerError } = opts;
  const server = await new Promise<Server>((resolve, reject) => {
    // The Hono listener, behind the early shed (app.ts) that answers refused requests first.
    const listener = getRequestListener(app.fetch, { hostname: config.host });
    const s = createServer((req, res) => {
      if (!app.serving.shedEarly(req, res)) void listener(req, res);
    });
    s.listen(config.port, config.host, () => {
      s.removeListener('error', onListenError);
      resolve(s);
    });
    const onListenError = (err: NodeJS.ErrnoException) => {
      s.close();
      reject(new ListenError(config.host, config.port, err.code));
    };
    s.once('error', onListenError);
  });
  // A runtime error of the listening socket (EMFILE when out of file descriptors, for one) must
  // not end a process that is still answering on the connections it has: log it and go on.
  server.on('error', (err) => {
    logger.error({ msg: 'HTTP server error', err });
    onServerError?.(err);
  });
  // Beyond this idle time a kept-alive socket is closed; shorter than typical LB timeouts.
  server.keepAliveTimeout = 5_000;
  const port = (server.address() as AddressInfo).port;
  logger.info({ msg: 'listening', host: config.host, port, mode: config.mode });

  let closing: Promise<boolean> | undefined;
  const shutdown = (): Promise<boolean> => {
    closing ??= (async () => {
      const started = Date.now();
      app.serving.startDrain();
      logger.info({ msg: 'draining', inFlight: app.serving.inFlight });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
      server.closeIdleConnections();
      let clean = (await withTimeout(closed, drainTimeoutMs)) !== 'timeout';
      if (!clean) {
        logger.warn({ msg: 'drain timed out, closing connections', inFlight: app.serving.inFlight });
        server.closeAllConnections();
      }
      const hooks: [string, (() => Promise<unknown>) | undefined][] = [
        ['exposures', exposures.close?.bind(exposures)],
        ['recommender', recommender.close?.bind(recommender)],
        ['onClosed', opts.onClosed],
      ];
      for (const [name, hook] of hooks) {
        if (!hook) continue;
        try {
          if ((await withTimeout(hook(), drainTimeoutMs)) === 'timeout') {
            clean = false;
            logger.error({ msg: 'close hook timed out', hook: name, timeoutMs: drainTimeoutMs });
          }
        } catch (err) {
          clean = false;
          logger.error({ msg: 'close hook failed', hook: name, err });
        }
      }
      logger.info({ msg: 'stopped', clean, ms: Date.now() - started });
      return clean;
    })();
    return closing;
  };

  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const source = opts.signalSource ?? process;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ msg: 'signal received', signal });
    void shutdown().then((clean) => exit(clean ? 0 : 1));
  };
  for (const s of signals) source.once(s, onSignal);

  return {
    server,
    port,
    close: async () => {
      for (const s of signals) source.removeListener(s, onSignal);
      return shutdown();
    },
  };
}
