import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { DEFAULT_CHECKER_SEED } from './requests.js';
import { reportHtml, reportMarkdown } from './report.js';
import { DB_POLICIES, POLICIES, runCheck } from './run.js';
import type { Database } from '../db/index.js';
import { ValidationError } from '../errors/index.js';
import type { WorldSpec } from '../world/index.js';

interface CheckFlags extends DataFlags {
  seed: string;
  requests: string;
  policies: string;
  url?: string;
  json?: boolean;
  out?: string;
  html?: string;
  candidates?: string;
  rankAll?: boolean;
  modelsDir?: string;
  world?: string;
  holdoutDays: string;
  holdout?: boolean;
  allowOverlap?: boolean;
}

export function parseWorld(s: string): WorldSpec {
  const [scale, seed, exposure, ...rest] = s.split(':');
  if (
    !['tiny', 'demo', 'full'].includes(scale ?? '') ||
    !/^\d+$/.test(seed ?? '') ||
    ![undefined, 'random', 'taste'].includes(exposure) ||
    rest.length > 0
  )
    throw new ValidationError(
      `--world expects scale:seed[:exposure] such as demo:1 or demo:1:taste, got ${JSON.stringify(s)}`,
    );
  const spec: WorldSpec = { scale: scale as WorldSpec['scale'], seed: Number(seed) };
  return exposure === 'taste' ? { ...spec, exposure } : spec;
}

export function registerCheckCommand(program: Command): void {
  withDataOptions(
    program
      .command('check')
      .description('score ranking policies by Hitrate@5 on hidden requests against the world’s ground truth')
      .option('--seed <n>', 'checker seed (never used in training or tuning)', String(DEFAULT_CHECKER_SEED))
      .option('--requests <n>', 'hidden (user, time) requests', '2000')
      .option('--policies <list>', 'comma-separated policies', POLICIES.join(','))
      .option('--url <url>', 'also score a running service over HTTP as the policy "service"')
      .option('--candidates <n>', 'candidates per request for the model policies (default: config)')
      .option('--rank-all', 'rank every post with the model instead of two stages')
      .option('--models-dir <dir>', 'models folder (default: ./models)')
      .option('--holdout-days <n>', 'hold-out mode: whole days at the end of the log to score on', '7')
      .option(
        '--holdout',
        'hold-out mode even on a simulated world: hits are logged likes in the held-out days (no ground truth)',
      )
      .option('--allow-overlap', 'hold-out mode: also score models trained on the held-out days')
      .option(
        '--world <scale:seed[:exposure]>',
        'score against this world without opening the database (with --url)',
      )
      .option('--out <prefix>', 'write <prefix>.json and <prefix>.md')
      .option('--html <file>', 'write a self-contained HTML page with plots (opens without a server)')
      .option('--json', 'print one JSON object instead of the table'),
  ).action(async (flags: CheckFlags) => {
    const cfg = configFrom(flags, {
      modelsDir: flags.modelsDir,
      serving: {
        candidates: flags.candidates === undefined ? undefined : Number(flags.candidates),
        rankAll: flags.rankAll,
      },
    });
    const policies = flags.policies
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const world = flags.world === undefined ? undefined : parseWorld(flags.world);
    // With --world and only world-based policies the database stays closed, so the checker can
    // run while a service holds the embedded (single-process) database.
    const needDb =
      world === undefined || flags.holdout === true || policies.some((p) => DB_POLICIES.includes(p));
    const check = (db: Database | undefined) =>
      runCheck(db, {
        seed: Number(flags.seed),
        requests: Number(flags.requests),
        policies,
        world,
        holdoutDays: Number(flags.holdoutDays),
        holdout: flags.holdout,
        allowOverlap: flags.allowOverlap,
        url: flags.url,
        modelsDir: cfg.modelsDir,
        candidates: cfg.serving.candidates,
        rankAll: cfg.serving.rankAll,
        log: (m) => console.error(`check: ${m}`),
      });
    const report = needDb ? await withDatabase(cfg, check, { create: false }) : await check(undefined);
    const md = reportMarkdown(report);
    if (flags.out) {
      await mkdir(path.dirname(path.resolve(flags.out)), { recursive: true });
      await writeFile(`${flags.out}.json`, JSON.stringify(report, null, 2) + '\n');
      await writeFile(`${flags.out}.md`, md);
    }
    if (flags.html) {
      await mkdir(path.dirname(path.resolve(flags.html)), { recursive: true });
      await writeFile(flags.html, reportHtml(report));
      console.error(`check: wrote ${flags.html}`);
    }
    console.log(flags.json ? JSON.stringify(report) : md);
  });
}
