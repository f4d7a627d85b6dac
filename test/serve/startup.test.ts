import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ModelError } from '../../src/errors/index.js';
import type { RunningServer } from '../../src/http/index.js';
import { createMemoryLogger } from '../../src/log/index.js';
import { runService } from '../../src/serve/index.js';
import { MODELS_DIR } from '../helpers/tiny-world.js';

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('start-up while Postgres cannot be reached', () => {
  it('listens at once: /healthz 200, /readyz and requests 503, and retries with backoff naming host and port', async () => {
    const pgPort = await closedPort();
    const cfg = loadConfig(
      {},
      {
        databaseUrl: `postgres://feedrec:secret@127.0.0.1:${pgPort}/faults_absent`,
        port: 0,
        host: '127.0.0.1',
        modelsDir: MODELS_DIR,
        db: { startRetryMs: 600_000 },
      },
    );
    const logger = createMemoryLogger();
    const waits: number[] = [];
    let wake: (() => void) | undefined;
    // The injected wait lets the test step through the retries without sleeping.
    const sleep = (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        waits.push(ms);
        wake = resolve;
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    let running: RunningServer | undefined;
    const started = runService(cfg, { logger, sleep, onListening: (r) => (running = r) });
    await expect.poll(() => waits.length).toBe(1);
    const base = `http://127.0.0.1:${running!.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'starting' });
    const rec = await fetch(`${base}/post/recommendations/?id=200&time=2021-12-01T10:00:00`);
    expect(rec.status).toBe(503);
    expect(rec.headers.get('retry-after')).toBe('1');

    for (let i = 2; i <= 4; i++) {
      wake!();
      await expect.poll(() => waits.length).toBe(i);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000]);
    const retries = logger.entries.filter((e) => e.msg === 'database unavailable at start, retrying');
    expect(retries).toHaveLength(4);
    const err = retries[0]!.err as Error;
    expect(err.message).toContain(
      `cannot connect to Postgres at 127.0.0.1:${pgPort} (database faults_absent, user feedrec)`,
    );
    expect(err.message).not.toContain('secret');

    // Shutdown while still loading stops the retries and resolves cleanly.
    expect(await running!.close()).toBe(true);
    await expect(started).resolves.toBe(running);
  });
});

describe('start-up that fails after listening', () => {
  it('closes the server again and rejects with the cause', async () => {
    const cfg = loadConfig(
      {},
      { dataDir: '/nonexistent/data', port: 0, host: '127.0.0.1', modelsDir: '/nonexistent/models' },
    );
    let running: RunningServer | undefined;
    const err = await runService(cfg, {
      logger: createMemoryLogger(),
      onListening: (r) => (running = r),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(running!.server.listening).toBe(false);
  });
});
