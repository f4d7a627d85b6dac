import { randomUUID } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { adminReloadHandler } from './admin.js';
import { errorHandler } from './errors.js';
import { openApiDocument } from './openapi.js';
import { recommendationsHandler } from './recommend.js';
import type { AppEnv, HttpDeps } from './types.js';

/** What the server wrapper (serve.ts) needs to drain the app; tests can use it too. */
export interface ServingControl {
  readonly deps: HttpDeps;
  /** True once draining began: /readyz fails so the load balancer stops sending traffic. */
  readonly draining: boolean;
  /** HTTP requests being handled right now. */
  readonly inFlight: number;
  startDrain(): void;
}

export type FeedrecApp = Hono<AppEnv> & { readonly serving: ServingControl };

const ROUTES: Record<string, string> = {
  '/post/recommendations/': '/post/recommendations',
  '/post/recommendations': '/post/recommendations',
  '/healthz': '/healthz',
  '/readyz': '/readyz',
  '/metrics': '/metrics',
  '/openapi.json': '/openapi.json',
  '/admin/reload': '/admin/reload',
};

// Client-supplied ids are echoed into logs and headers: keep them short and printable.
const REQUEST_ID = /^[\w.:@/-]{1,128}$/;

/** Builds the HTTP application. No side effects: no port, no timers, no signal handlers. */
export function createApp(deps: HttpDeps): FeedrecApp {
  const { metrics, logger, recommender } = deps;
  const state = { draining: false, inFlight: 0 };
  const app = new Hono<AppEnv>();

  const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const vars = { requestId: given && REQUEST_ID.test(given) ? given : randomUUID() };
    c.set('log', vars);
    state.inFlight += 1;
    try {
      await next();
    } finally {
      state.inFlight -= 1;
    }
    c.header('X-Request-Id', vars.requestId);
    // While draining, ask keep-alive clients to reconnect (to another replica).
    if (state.draining) c.header('Connection', 'close');
    const seconds = (performance.now() - started) / 1000;
    const route = ROUTES[c.req.path] ?? 'unmatched';
    const { group, userId, fallback, forced } = c.get('log');
    metrics.requestDuration.observe({ route, status: String(c.res.status), group: group ?? 'none' }, seconds);
    logger.info({
      msg: 'request',
      requestId: vars.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(seconds * 10_000) / 10,
      userId,
      group,
      fallback: fallback ?? false,
      ...(forced ? { forced } : {}),
    });
  };

  app.use('*', requestLog);
  app.onError(errorHandler(logger));
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));

  const recommendations = recommendationsHandler(deps);
  app.get('/post/recommendations/', recommendations);
  app.get('/post/recommendations', recommendations);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    if (state.draining) return c.json({ status: 'draining' }, 503);
    if (!recommender.isReady()) return c.json({ status: 'starting' }, 503);
    return c.json({ status: 'ready' });
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.text(), 200, { 'Content-Type': metrics.contentType }),
  );
  app.post('/admin/reload', adminReloadHandler(deps));
  const openapi = openApiDocument(deps.config.mode);
  app.get('/openapi.json', (c) => c.json(openapi));

  const serving: ServingControl = {
    deps,
    get draining() {
      return state.draining;
    },
    get inFlight() {
      return state.inFlight;
    },
    startDrain() {
      state.draining = true;
    },
  };
  return Object.assign(app, { serving });
}
