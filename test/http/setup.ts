import type { Exposure } from '../../src/ab/index.js';
import { loadConfig, type Config, type ConfigOverrides } from '../../src/config/index.js';
import { createApp, Metrics, type Recommender } from '../../src/http/index.js';
import { createMemoryLogger } from '../../src/log/index.js';
import { fixtureRecommender, type FixtureOptions } from '../../bench/fixture-recommender.js';

/** Response whose json() is loosely typed, so tests can assert on payload fields directly. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export const QA_TOKEN = 'qa-secret-token';

export function makeApp(
  overrides: ConfigOverrides = {},
  fixture: FixtureOptions = {},
  recommenderOverride?: (r: ReturnType<typeof fixtureRecommender>) => Recommender,
) {
  const config: Config = loadConfig({}, { qaToken: QA_TOKEN, ...overrides });
  const fixtureRec = fixtureRecommender(fixture);
  const recommender = recommenderOverride ? recommenderOverride(fixtureRec) : fixtureRec;
  const logged: Exposure[] = [];
  const exposures = { log: (e: Exposure) => void logged.push(e) };
  const metrics = new Metrics({ defaultMetrics: false });
  const logger = createMemoryLogger();
  const app = createApp({ config, recommender, exposures, metrics, logger });
  const get = async (path: string, headers: Record<string, string> = {}) =>
    (await app.request(path, { headers })) as JsonResponse;
  return { app, config, recommender: fixtureRec, logged, metrics, logger, get };
}

export const REC = '/post/recommendations/?id=7&time=2021-12-01T10:00:00';

export const metricValue = async (metrics: Metrics, name: string, labels: Record<string, string> = {}) => {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
};
