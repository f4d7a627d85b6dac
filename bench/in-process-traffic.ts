// Closed-loop A/B traffic through a service's app in this process (the real handler, pool and
// workers; no sockets), until stop(). The worker-fault test and bench/worker-recovery.ts both
// drive it while they break workers.

export interface InProcessAnswer {
  status: number;
  /** X-Model-Version of the answer (`fallback-popular` for the fallback), null when absent. */
  modelVersion: string | null;
  /** performance.now() when the request was sent. */
  sentAt: number;
}

/** What the traffic needs of an app: Hono's request(). */
export interface RequestTarget {
  request(path: string): Response | Promise<Response>;
}

export function inProcessTraffic(app: RequestTarget, users: number[], clients: number) {
  const answers: InProcessAnswer[] = [];
  let stopped = false;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; !stopped; i += clients) {
      const sentAt = performance.now();
      const res = await app.request(
        `/post/recommendations/?id=${users[i % users.length]}&time=2021-12-01T10:00:00`,
      );
      await res.arrayBuffer();
      // In process, a request answered at once (shed with 503, say) resolves in microtasks:
      // without this yield the clients would starve the timers the batcher runs on.
      await new Promise((r) => setImmediate(r));
      answers.push({ status: res.status, modelVersion: res.headers.get('x-model-version'), sentAt });
    }
  });
  return {
    answers,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
