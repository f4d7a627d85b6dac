import type { Exposure } from '../ab/index.js';
import type { ExposureSink, PostInfo, RankRequest, RankResult, Recommender } from '../http/index.js';
import { NotReadyError } from '../errors/index.js';
import type { Service } from './service.js';

/**
 * What the HTTP app serves with while the service loads: it listens at once, so /healthz answers
 * 200 and /readyz 503 during a slow start (a big snapshot, a Postgres still starting), and
 * requests get 503 + Retry-After. When the service is built it is attached and everything
 * delegates to it. Shutdown during the load aborts it.
 */
export class LoadingService implements Recommender {
  private svc: Service | undefined;
  private loading: Promise<void> | undefined;
  private readonly aborter = new AbortController();

  /** Aborted when shutdown begins before the service was attached. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Follows the build; the service is attached when it succeeds (closed if shutdown began). */
  load(build: Promise<Service>): Promise<void> {
    this.loading = build.then(async (svc) => {
      if (this.aborter.signal.aborted) {
        await svc.close();
        return;
      }
      this.svc = svc;
    });
    return this.loading;
  }

  get service(): Service | undefined {
    return this.svc;
  }

  /** The service, or NotReadyError (503 + Retry-After) while it loads. */
  get loaded(): Service {
    if (!this.svc) throw new NotReadyError();
    return this.svc;
  }

  hasUser(userId: number): boolean {
    return this.svc?.recommender.hasUser(userId) ?? false;
  }

  rank(req: RankRequest): Promise<RankResult> {
    return this.loaded.recommender.rank(req);
  }

  fallback(req: RankRequest): RankResult {
    return this.loaded.recommender.fallback(req);
  }

  admits(): boolean {
    return this.svc?.recommender.admits() ?? true;
  }

  post(postId: number): PostInfo | undefined {
    return this.svc?.recommender.post(postId);
  }

  isReady(): boolean {
    return this.svc?.recommender.isReady() ?? false;
  }

  /** The exposure sink the app logs to: the service's logger once attached. */
  readonly exposures: ExposureSink = {
    log: (exposure: Exposure) => this.loaded.exposures.log(exposure),
    // Shutdown, first hook: writes the exposures (nothing to do while loading).
    close: async () => this.svc?.exposures.close(),
  };

  /** Shutdown, second hook: stops a load still running, or closes the ranking pools. */
  async close(): Promise<void> {
    this.aborter.abort(new Error('shutting down'));
    await this.loading?.catch(() => undefined);
    // A reload in progress finishes (or fails) first, so no generation is left running.
    await this.svc?.reloader.settled();
    await this.svc?.recommender.close();
  }

  /** Shutdown, last hook: the database, after everything that writes to it. */
  async closeDatabase(): Promise<void> {
    await this.svc?.db.close();
  }
}
