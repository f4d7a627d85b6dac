import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import { adminReloadHandler } from './admin.js';
import { REQUEST_ID } from './contract.js';
import { DOCS_PATH, addDocsRoutes } from './docs.js';
import { errorHandler } from './errors.js';
import { ingestHandlers } from './ingest.js';
import {
  adminReloadRoute,
  feedDataRoute,
  healthzRoute,
  metricsRoute,
  openApiDocument,
  readyzRoute,
  recommendationsRoute,
} from './openapi.js';
import { SHED_RETRY_AFTER_S, recommendationsHandler } from './recommend.js';
import { ShedHold } from './shed-hold.js';
import { OverloadedError } from '../errors/index.js';
import type { AppEnv, HttpDeps } from './types.js';

/** What the server wrapper (serve.ts) needs to drain the app; tests can use it too. */
export interface ServingControl {
  readonly deps: HttpDeps;
  /** True once draining began: /readyz fails so the load balancer stops sending traffic. */
  readonly draining: boolean;
  /** HTTP requests being handled right now. */
  readonly inFlight: number;
  startDrain(): void;
  /**
   * Answers a recommendations request 503 + Retry-After straight from the Node request, before
   * the router, the query or the request log: true when it did (the request is done).
   */
  shedEarly(req: IncomingMessage, res: ServerResponse): boolean;
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
  [DOCS_PATH]: DOCS_PATH,
  '/feed_data': '/feed_data',
};
// One label for the page's assets, so a scan of /docs/<anything> cannot multiply label values.
const routeLabel = (p: string) =>
  ROUTES[p] ?? (p.startsWith(`${DOCS_PATH}/`) ? `${DOCS_PATH}/asset` : 'unmatched');

const ALLOW = 'GET, HEAD';

/** Builds the HTTP application. No side effects: no port, no timers, no signal handlers. */
export function createApp(deps: HttpDeps): FeedrecApp {
  const { metrics, logger, recommender } = deps;
  const state = { draining: false, inFlight: 0 };
  const app = new OpenAPIHono<AppEnv>();

  const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const vars = { requestId: given && REQUEST_ID.test(given) ? given : randomUUID() };
    c.set('log', vars);
    // Set before the handler builds its response: a header added to a finished response makes
    // Hono rebuild it as a Web Response with a body stream, which @hono/node-server then reads
    // back chunk by chunk (about a tenth of this thread's profile samples at 64 connections).
    c.header('X-Request-Id', vars.requestId);
    state.inFlight += 1;
    try {
      await next();
    } finally {
      state.inFlight -= 1;
    }
    // While draining, ask keep-alive clients to reconnect (to another replica). Rare, so the
    // rebuild it costs does not matter.
    if (state.draining) c.header('Connection', 'close');
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(c.req.path);
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

  // The recommendations route is documented from its zod schemas but validated by the handler
  // itself: the @hono/zod-openapi validator middleware costs more per request on this hot path
  // (bench/openapi-validation.ts) and would check the headers before the QA rule's 403.
  const recommendations = recommendationsHandler(deps);
  const recRoute = recommendationsRoute(deps.config.mode);
  app.openAPIRegistry.registerPath(recRoute);
  app.get(recRoute.path, recommendations);
  app.get('/post/recommendations', recommendations);

  // Validated by its handler, like recommendations (the body's errors name each row and field).
  app.openAPIRegistry.registerPath(feedDataRoute);
  app.post(feedDataRoute.path, ...ingestHandlers(deps));

  app.openapi(healthzRoute, (c) => c.json({ status: 'ok' }, 200));
  app.openapi(readyzRoute, (c) => {
    if (state.draining) return c.json({ status: 'draining' }, 503);
    if (!recommender.isReady()) return c.json({ status: 'starting' }, 503);
    return c.json({ status: 'ready' }, 200);
  });
  app.openapi(metricsRoute, async (c) =>
    c.text(await metrics.text(), 200, { 'Content-Type': metrics.contentType }),
  );
  // Documented for operators; its handler answers 404 unless an admin token is configured.
  app.openAPIRegistry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerPath(adminReloadRoute);
  app.post(adminReloadRoute.path, adminReloadHandler(deps));
  // Generated on first request, after every route above has registered itself.
  let openapi: object | undefined;
  app.get('/openapi.json', (c) => c.json((openapi ??= openApiDocument(app, deps.config.mode))));
  addDocsRoutes(app as unknown as Hono<AppEnv>);

  // Registered after the GET routes (Hono answers HEAD with them), so only other methods get here.
  // /admin/reload is POST-only and answers other methods itself.
  app.all('/feed_data', (c) => {
    c.header('Allow', 'POST');
    return c.json({ error: `method ${c.req.method} not allowed on /feed_data; use POST` }, 405);
  });
  for (const route of Object.keys(ROUTES).filter((r) => r !== '/admin/reload' && r !== '/feed_data')) {
    app.all(route, (c) => {
      c.header('Allow', ALLOW);
      return c.json({ error: `method ${c.req.method} not allowed on ${c.req.path}; use ${ALLOW}` }, 405);
    });
  }

  // Under overload most requests are refused, and with clients that retry at once (closed loop)
  // the cost of a refusal decides how much of the event loop is left to feed the workers. So
  // the refusal happens where it is cheapest: a look at the method and path, the queue's own
  // admission test, a prepared body. It is the answer the handler would give (same status,
  // headers and body; shed and queue-drop counters, duration histogram), without the query
  // parsing, the Web Request/Response objects, the stack of an error, the request log line.
  const shedBody = Buffer.from(JSON.stringify({ error: new OverloadedError().message }));
  const shedSeconds = metrics.requestDuration.labels({
    route: '/post/recommendations',
    status: '503',
    group: 'none',
  });
  const hold = new ShedHold({
    holdMs: deps.config.serving.shedHoldMs,
    holdOn: deps.config.serving.shedHoldOn,
    hasRoom: () => !state.draining && recommender.isReady() && (recommender.admits?.() ?? true),
    clock: deps.holdClock,
    onHold: (held) => {
      if (held) metrics.connectionHolds.inc();
      metrics.heldConnections.inc(held ? 1 : -1);
    },
  });
  const shedEarly = (req: IncomingMessage, res: ServerResponse): boolean => {
    const started = performance.now();
    const url = req.url ?? '';
    if (!url.startsWith('/post/recommendations')) return false;
    const next = url.charCodeAt(21); // after "/post/recommendations": "/", "?" or the end
    if (!(Number.isNaN(next) || next === 47 || next === 63)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (state.draining || !recommender.isReady() || (recommender.admits?.() ?? true)) return false;
    const given = req.headers['x-request-id'];
    res.writeHead(503, {
      'Content-Type': 'application/json',
      'Content-Length': shedBody.length,
      'Retry-After': String(SHED_RETRY_AFTER_S),
      'X-Request-Id': typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID(),
    });
    res.end(shedBody);
    const conn = req.socket;
    if (hold.enabled) res.once('finish', () => hold.refused(conn));
    metrics.shed.inc();
    metrics.observeQueueDrop('admission', 1);
    shedSeconds.observe((performance.now() - started) / 1000);
    return true;
  };

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
    shedEarly,
  };
  return Object.assign(app, { serving });
}
