import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { ValidationError } from '../errors/index.js';
import { parseIsoTime } from '../http/index.js';
import { readExperimentData } from './report-data.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-text.js';
import { buildReport, type ExperimentReport } from './report.js';
import type { SimulationRun } from './simulate.js';

interface ReportFlags extends DataFlags {
  from?: string;
  to?: string;
  hitWindow: string;
  testShare?: string;
  run?: string;
  json?: boolean;
  html?: string;
}

const DEFAULT_RUN = 'experiment-run.json';

const time = (flag: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const ms = parseIsoTime(v);
  if (ms === undefined)
    throw new ValidationError(`--${flag} must be an ISO 8601 date-time, got ${JSON.stringify(v)}`);
  return ms;
};

async function readRun(file: string): Promise<SimulationRun> {
  const run = JSON.parse(await readFile(file, 'utf8')) as SimulationRun;
  if (run.kind !== 'feedrec-ab-simulation')
    throw new ValidationError(`${file} is not a run file of \`feedrec ab simulate\``);
  return run;
}

/**
 * The exposures the report reads: --from/--to when given, else the simulated period of the run
 * file, else every exposure in the table. The run's period matters: anything else that asked the
 * service in A/B mode (a benchmark, a smoke test) left exposures too, at times inside the logged
 * period, and counted in they would bias both groups.
 */
export function reportWindow(
  flags: Pick<ReportFlags, 'from' | 'to'>,
  run: Pick<SimulationRun, 'period'> | undefined,
): { fromMs?: number; toMs?: number } {
  const fromRun = (v: string | undefined) => (v === undefined ? undefined : parseIsoTime(v));
  return {
    fromMs: time('from', flags.from) ?? fromRun(run?.period.from),
    toMs: time('to', flags.to) ?? fromRun(run?.period.to),
  };
}

/** Everything the report command does, for scripts and tests: read, compute. */
export async function experimentReport(
  flags: Pick<ReportFlags, 'from' | 'to' | 'hitWindow' | 'testShare' | 'run'> & DataFlags,
): Promise<ExperimentReport> {
  const cfg = configFrom(flags, {
    ab: { testShare: flags.testShare === undefined ? undefined : Number(flags.testShare) },
  });
  const hitWindowMinutes = Number(flags.hitWindow);
  if (!Number.isInteger(hitWindowMinutes) || hitWindowMinutes < 1)
    throw new ValidationError(
      `--hit-window must be a whole number of minutes, got ${JSON.stringify(flags.hitWindow)}`,
    );
  const runFile = flags.run ?? (existsSync(DEFAULT_RUN) ? DEFAULT_RUN : undefined);
  const run = runFile ? await readRun(runFile) : undefined;
  const data = await withDatabase(cfg, (db) =>
    readExperimentData(db, { ...reportWindow(flags, run), hitWindowMinutes }),
  );
  return buildReport(data, { testShare: cfg.ab.testShare, hitWindowMinutes }, run);
}

export function registerReportCommand(ab: Command): void {
  withDataOptions(
    ab
      .command('report')
      .description(
        'the experiment’s verdict: Hitrate@5 per group with user-level intervals, CUPED, SRM check, MDE',
      )
      .option(
        '--from <time>',
        "first exposure time to include (default: the run file's first simulated day, else the first exposure)",
      )
      .option(
        '--to <time>',
        "last exposure time to include (default: the end of the run file's period, else the last exposure)",
      )
      .option('--hit-window <minutes>', 'a like within this many minutes of the exposure is a hit', '60')
      .option(
        '--test-share <share>',
        'the configured test share the split is checked against (default: config)',
      )
      .option(
        '--run <file>',
        `run summary of \`ab simulate\` (latency, true effect; default ${DEFAULT_RUN} if present)`,
      )
      .option('--json', 'print the report as one JSON object')
      .option('--html <file>', 'also write a self-contained HTML page with plots'),
  ).action(async (flags: ReportFlags) => {
    const report = await experimentReport(flags);
    if (flags.html) await writeFile(flags.html, reportHtml(report));
    console.log(flags.json ? JSON.stringify(report, null, 2) : reportMarkdown(report));
  });
}
