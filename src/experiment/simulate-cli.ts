import { writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { configFrom } from '../cli/common.js';
import { openDatabase, type Database } from '../db/index.js';
import { MissingDataError, ValidationError } from '../errors/index.js';
import { parseIsoTime } from '../http/index.js';
import { utcText } from '../live/index.js';
import { loopbackUrl, parseWorld, readLikes, type LikeHistory } from '../eval/index.js';
import {
  createWorld,
  EXPERIMENT_START_MS,
  readWorldSpec,
  regeneratedLikes,
  type World,
  type WorldSpec,
} from '../world/index.js';
import { simulateExperiment, type SimulationRun } from './simulate.js';
import { databaseSink, serviceSink } from './sinks.js';

interface SimulateFlags {
  url: string;
  seed: string;
  visits: string;
  days: string;
  start?: string;
  world?: string;
  databaseUrl?: string;
  concurrency: string;
  maxSeconds: string;
  minRevisitMs: string;
  trueEffect?: boolean;
  out: string;
}

const positiveInt = (name: string, v: string, max = 10_000_000) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new ValidationError(`--${name} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
  return n;
};

function regenerated(world: World): (userIds: number[]) => Promise<LikeHistory> {
  return async (userIds) => new Map(userIds.map((id) => [id, regeneratedLikes(world, world.userIndex(id))]));
}

/** A progress bar on a terminal, a line every 10 s otherwise (logs, CI). */
function progress(): { update(done: number, total: number): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'ab simulate [{bar}] {percentage}% | {value}/{total} visits | ETA {eta_formatted}',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done, total) {
      if (Date.now() - last < 10_000 && done < total) return;
      last = Date.now();
      process.stderr.write(`ab simulate: ${done}/${total} visits\n`);
    },
    stop: () => undefined,
  };
}

export function registerSimulateCommand(ab: Command): void {
  ab.command('simulate')
    .description(
      'simulated users of the world visit a running A/B service after the logged period; their views and likes go to feed_data',
    )
    .requiredOption('--url <url>', 'the service, on this machine (e.g. http://127.0.0.1:8000)')
    .option('--seed <n>', 'simulation seed: visits and likes (same seed and answers ⇒ same rows)', '1')
    .option('--visits <n>', 'visits to make', '20000')
    .option('--days <n>', 'simulated days the visits spread over', '7')
    .option('--start <iso>', 'first simulated day (default: the midnight after the logged period)')
    .option('--world <scale:seed>', 'the world the service serves (default: read from DATABASE_URL)')
    .option('--database-url <url>', 'Postgres: read the world there and write rows straight into feed_data')
    .option('--concurrency <n>', 'visits in flight', '8')
    .option('--max-seconds <n>', 'wall-clock bound: no visit starts later', '1800')
    .option('--min-revisit-ms <n>', 'wall time between a user’s logged visit and their next one', '1000')
    .option('--true-effect', 'also ask each visit’s other model (QA header; needs FEEDREC_QA_TOKEN)')
    .option(
      '--out <file>',
      'where to write the run summary (read by `ab report --run`)',
      'experiment-run.json',
    )
    .action(async (flags: SimulateFlags) => {
      const cfg = configFrom({ databaseUrl: flags.databaseUrl });
      const base = loopbackUrl(flags.url, 'the experiment simulator');
      if (flags.trueEffect && !cfg.qaToken)
        throw new ValidationError(
          '--true-effect asks the other model with the QA header: set FEEDREC_QA_TOKEN',
        );
      const startMs = flags.start === undefined ? EXPERIMENT_START_MS : parseIsoTime(flags.start);
      if (startMs === undefined) throw new ValidationError(`--start must be an ISO date, got ${flags.start}`);
      // The embedded database belongs to the running service: only Postgres is opened here.
      let db: Database | undefined;
      try {
        if (cfg.databaseUrl) db = await openDatabase({ dataDir: cfg.dataDir, databaseUrl: cfg.databaseUrl });
        let spec: WorldSpec | null = flags.world === undefined ? null : parseWorld(flags.world);
        if (!spec && db) spec = await readWorldSpec(db);
        if (!spec)
          throw new MissingDataError(
            db
              ? 'this database holds no simulated world: the simulator needs one'
              : 'give --world scale:seed (the embedded database cannot be opened while the service runs) or --database-url',
          );
        const world = createWorld(spec);
        const bar = progress();
        let run: SimulationRun;
        try {
          run = await simulateExperiment({
            url: base.href,
            world,
            spec,
            seed: positiveInt('seed', flags.seed, 2 ** 31),
            visits: positiveInt('visits', flags.visits),
            days: positiveInt('days', flags.days, 365),
            startMs,
            concurrency: positiveInt('concurrency', flags.concurrency, 256),
            maxSeconds: positiveInt('max-seconds', flags.maxSeconds, 86_400),
            minRevisitMs: Number(flags.minRevisitMs),
            sink: db ? databaseSink(db) : serviceSink(base, cfg.ingestToken),
            history: db
              ? (ids) =>
                  readLikes(db!, `user_id = any($1::int[]) and "timestamp" < $2::timestamp`, [
                    ids,
                    utcText(startMs),
                  ])
              : regenerated(world),
            qaToken: flags.trueEffect ? cfg.qaToken : undefined,
            onProgress: (d, t) => bar.update(d, t),
          });
        } finally {
          bar.stop();
        }
        await writeFile(flags.out, JSON.stringify(run, null, 2) + '\n');
        console.log(simulationSummary(run, flags.out));
      } finally {
        await db?.close();
      }
    });
}

export function simulationSummary(run: SimulationRun, file: string): string {
  const lines = [
    `simulated ${run.visits.done} of ${run.visits.planned} visits (${run.visits.failed} failed) over ${run.period.from} … ${run.period.to}` +
      ` in ${run.wallSeconds.toFixed(1)} s${run.stoppedEarly ? ' (stopped by --max-seconds)' : ''}`,
    `logged ${run.rows.views} views and ${run.rows.likes} likes into feed_data (${run.sink})`,
  ];
  for (const [g, r] of Object.entries(run.groups))
    lines.push(
      `${g}: ${r.visits} visits, true expected Hitrate@5 ${r.expectedHitrate.toFixed(4)}, latency p50 ${r.latency.p50.toFixed(1)} ms p99 ${r.latency.p99.toFixed(1)} ms`,
    );
  if (run.trueEffect)
    lines.push(
      `true effect (both models on the same ${run.trueEffect.visits} visits): ${run.trueEffect.difference.toFixed(4)} ` +
        `[${run.trueEffect.ci[0].toFixed(4)}, ${run.trueEffect.ci[1].toFixed(4)}]`,
    );
  lines.push(`run summary: ${file}`);
  return lines.join('\n');
}
