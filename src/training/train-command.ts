import path from 'node:path';
import { Option, type Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { ensureData } from '../cli/bootstrap.js';
import { ValidationError } from '../errors/index.js';
import { parseIsoTime } from '../http/params.js';
import { loadFeatureStore } from '../features/index.js';
import { buildTrainingMatrices } from './build-matrix.js';
import { buildWindowMatrices } from './window-matrix.js';
import { chooseTarget, CHOOSE_WINDOW_ABOVE, type TargetKind } from './target.js';
import { ensureVenv, runTrainer, type TrainerSummary } from './python.js';

interface TrainFlags extends DataFlags {
  rows: string;
  version?: string;
  iterations: string;
  depth: string;
  learningRate: string;
  validDays?: string;
  models: string;
  modelsDir?: string;
  threads: string;
  until?: string;
  sampleSeed: string;
  target: TargetKind | 'auto';
  targetDays: string;
  negatives: string;
  refit?: boolean;
}

const DAY_MS = 86_400_000;

/** `--until` as epoch ms; a clear error for anything that is not an ISO 8601 time. */
export function parseUntil(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseIsoTime(text);
  if (ms === undefined)
    throw new ValidationError(
      `--until expects an ISO 8601 time such as 2021-12-23 or 2021-12-23T00:00:00, got ${JSON.stringify(text)}`,
    );
  return ms;
}

/** Model hyper-parameters are a measured trade-off between Hitrate and serving cost (README). */
export function registerTrainCommand(program: Command): void {
  withDataOptions(
    program
      .command('train')
      .description(
        'build the training matrix from the database and fit the control and test models (CatBoost → ONNX)',
      )
      .option('--rows <n>', 'views sampled into the training matrix', '800000')
      .option('--version <v>', 'model version folder (default: a UTC time stamp)')
      .option('--iterations <n>', 'maximum trees (early stopping on the later window)', '400')
      .option('--depth <n>', 'tree depth', '6')
      .option('--learning-rate <x>', 'CatBoost learning rate', '0.12')
      .option(
        '--until <time>',
        'ISO 8601 cut-off: train, validate and build features only from events before it (for a hold-out)',
      )
      .option(
        '--valid-days <n>',
        'the last days before the cut-off (or of the log) validate (default 14; 7 for the window target, ' +
          'whose validation also keeps a window of days out of training)',
      )
      .option('--sample-seed <n>', 'salt of the view sample (0 = the original sample)', '0')
      .addOption(
        new Option(
          '--target <kind>',
          'view: P(like | view), for a random feed; window: liked within --target-days over all posts, ' +
            `for logs where users choose what they view; auto: window when over ${CHOOSE_WINDOW_ABOVE * 100} % ` +
            'of views go to the 1 % most viewed posts (README)',
        )
          .choices(['auto', 'view', 'window'])
          .default('auto'),
      )
      .option('--target-days <n>', 'window target: a like counts within this many days', '7')
      .option('--negatives <n>', 'window target: posts not liked, drawn per moment', '20')
      .option('--refit', 'after early stopping, refit on every row with the best tree count')
      .option('--models <list>', 'which models to fit', 'control,test')
      .option('--models-dir <dir>', 'models folder (default: ./models)')
      .option('--threads <n>', 'CatBoost threads', '2'),
  ).action(async (flags: TrainFlags) => {
    const cfg = configFrom(flags, { modelsDir: flags.modelsDir });
    const untilMs = parseUntil(flags.until);
    const log = (m: string) => console.error(`train: ${m}`);
    const started = Date.now();
    const version = flags.version ?? `v${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 12)}`;
    const matrixDir = path.join(cfg.dataDir, 'training-matrix');
    const built = await withDatabase(
      cfg,
      async (db) => {
        // After opening: a missing database is reported before minutes of venv set-up.
        log('Python venv…');
        await ensureVenv({ onOutput: (line) => console.error(`venv: ${line}`) });
        await ensureData(db, cfg, log);
        const { store } = await loadFeatureStore(db);
        const chosen = await chooseTarget(db, flags.target, untilMs);
        if (chosen.chosenBy === 'log')
          log(
            `target ${chosen.kind}: ${((chosen.viewConcentration ?? 0) * 100).toFixed(1)} % of views ` +
              `went to the 1 % most viewed posts (window above ${CHOOSE_WINDOW_ABOVE * 100} %)`,
          );
        const opts = {
          dir: matrixDir,
          targetRows: Number(flags.rows),
          untilMs,
          seed: Number(flags.sampleSeed),
          choice: {
            chosen_by: chosen.chosenBy,
            ...(chosen.viewConcentration === undefined
              ? {}
              : { view_concentration: chosen.viewConcentration }),
          },
        };
        if (chosen.kind === 'view')
          return { ...(await buildTrainingMatrices(db, store, opts, log)), kind: chosen.kind };
        const window = { days: Number(flags.targetDays), negatives: Number(flags.negatives) };
        return { ...(await buildWindowMatrices(db, store, { ...opts, ...window }, log)), kind: chosen.kind };
      },
      { create: false },
    );
    // With a cut-off the validation window ends at the cut-off, so early stopping never sees
    // an event at or after it either. A look-ahead target validates on the last moments whose
    // window fits, and keeps a gap of one window before them out of training.
    const validDaysMs = Number(flags.validDays ?? (built.kind === 'view' ? 14 : 7)) * DAY_MS;
    const validFromMs = (built.kind === 'view' ? (untilMs ?? built.maxMs) : built.maxMs) - validDaysMs;
    const gapMs = built.kind === 'view' ? undefined : Number(flags.targetDays) * DAY_MS;
    const results: TrainerSummary[] = [];
    for (const name of flags.models.split(',').map((s) => s.trim())) {
      log(`fitting ${name}…`);
      results.push(
        await runTrainer({
          matrixDir: name === 'control' ? built.control : built.test,
          outDir: path.join(cfg.modelsDir, name, version),
          name,
          validFromMs,
          gapMs,
          refit: flags.refit,
          iterations: Number(flags.iterations),
          depth: Number(flags.depth),
          learningRate: Number(flags.learningRate),
          threads: Number(flags.threads),
          seed: 42,
          onOutput: (line) => console.error(`${name}: ${line}`),
        }),
      );
    }
    console.log(
      JSON.stringify({
        version,
        rows: built.rows,
        positives: built.positives,
        validFrom: new Date(validFromMs).toISOString(),
        target: built.kind,
        until: untilMs === undefined ? null : new Date(untilMs).toISOString(),
        models: results.map((r) => ({
          name: r.name,
          auc: r.auc,
          trees: r.tree_count,
          fitSeconds: r.fit_seconds,
        })),
        wallSeconds: (Date.now() - started) / 1000,
      }),
    );
  });
}
