import { Option, type Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { ValidationError } from '../errors/index.js';
import { SCALES, type Scale } from './constants.js';
import { EXPOSURES, type Exposure } from './exposure.js';
import { writeWorld } from './write.js';

interface WorldFlags extends DataFlags {
  scale: Scale;
  seed: string;
  force?: boolean;
  progress?: boolean;
  exposure: Exposure;
}

/** `feedrec world`: fills the three tables with a generated world. */
export function registerWorldCommand(program: Command): void {
  const cmd = program
    .command('world')
    .description(
      'generate the seeded simulated network (users, posts, feed log) into the database; ' +
        'the seed and scale are recorded in checker.world_info for the checker only',
    )
    .addOption(
      new Option('--scale <scale>', 'tiny (tests), demo (default start), full (real sizes)')
        .choices(SCALES)
        .default('demo'),
    )
    .option('--seed <n>', 'world seed (non-negative integer)', '1')
    .addOption(
      new Option(
        '--exposure <mode>',
        'how views come about: random (the karpov feed) or taste (users open what is popular or matches their taste)',
      )
        .choices(EXPOSURES)
        .default('random'),
    )
    .option('--force', 'replace the data already in the tables')
    .option('--no-progress', 'no progress bar');
  withDataOptions(cmd).action(async (flags: WorldFlags) => {
    const seed = Number(flags.seed);
    if (!/^\d+$/.test(flags.seed) || !Number.isSafeInteger(seed))
      throw new ValidationError(`--seed must be a non-negative integer, got ${JSON.stringify(flags.seed)}`);
    const cfg = configFrom(flags);
    await withDatabase(cfg, async (db) => {
      const s = await writeWorld(
        db,
        { seed, scale: flags.scale, exposure: flags.exposure },
        { force: flags.force, progress: flags.progress !== false && process.stderr.isTTY },
      );
      const secs = s.ms.total / 1000;
      console.log(
        `world ${s.spec.scale} seed ${s.spec.seed}${s.spec.exposure ? ` (${s.spec.exposure} exposure)` : ''} → ${db.where}: ${s.users.toLocaleString('en-US')} users, ` +
          `${s.posts.toLocaleString('en-US')} posts, ${s.feedRows.toLocaleString('en-US')} feed rows ` +
          `(${s.views.toLocaleString('en-US')} views, ${s.likes.toLocaleString('en-US')} likes) in ${secs.toFixed(1)} s ` +
          `(${Math.round(s.feedRows / secs).toLocaleString('en-US')} rows/s)`,
      );
    });
  });
}
