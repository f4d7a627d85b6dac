// The HTTP layer alone, on a trivial in-memory recommender: the ceiling the real service can
// reach before ranking costs anything. Request logs go to stdout as in production.
//   npm run build && node dist/bench/fixture-server.js [--port 8000] [--mode ab] [--users 1000]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { Metrics, createApp, startServer } from '../src/http/index.js';
import { createJsonLogger } from '../src/log/index.js';
import { fixtureRecommender } from './fixture-recommender.js';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8000' },
      mode: { type: 'string', default: 'ab' },
      users: { type: 'string', default: '1000' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const config = loadConfig({}, { host: '127.0.0.1', port: Number(values.port), mode: values.mode as 'ab' });
  let exposures = 0;
  const logger = createJsonLogger(values.quiet ? 'warn' : 'info');
  const app = createApp({
    config,
    recommender: fixtureRecommender({ users: Number(values.users), posts: 200 }),
    exposures: { log: () => void exposures++ },
    metrics: new Metrics(),
    logger,
  });
  const running = await startServer(app, config);
  process.stderr.write(`fixture server pid ${process.pid} on http://127.0.0.1:${running.port}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}
