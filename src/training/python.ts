// The bridge to training/ (Python): set up its venv and run train.py as a child process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config/paths.js';
import { TrainingError } from '../errors/index.js';

export type OutputStream = 'stdout' | 'stderr';
/** Receives the child's output line by line (progress, CatBoost's log). */
export type OutputHandler = (line: string, stream: OutputStream) => void;

const STDERR_TAIL_LINES = 40;

/** By default the trainer's progress goes to our stderr, so `npm run train` shows it. */
const forwardToStderr: OutputHandler = (line) => {
  process.stderr.write(line + '\n');
};

export function venvPython(root: string = projectRoot()): string {
  return path.join(root, 'training', '.venv', 'bin', 'python');
}

/** True when training/.venv has been set up (it may still be outdated; ensureVenv checks that). */
export function hasVenv(root: string = projectRoot()): boolean {
  return existsSync(venvPython(root));
}

/** Runs training/setup-venv.sh (fast when the venv matches requirements.txt); returns the venv's python. */
export async function ensureVenv(opts: { root?: string; onOutput?: OutputHandler } = {}): Promise<string> {
  const root = opts.root ?? projectRoot();
  const script = path.join(root, 'training', 'setup-venv.sh');
  if (!existsSync(script)) throw new TrainingError(`missing ${script}`);
  const { code, stderrTail } = await run('bash', [script], root, opts.onOutput ?? forwardToStderr);
  if (code !== 0)
    throw new TrainingError(`training/setup-venv.sh failed with exit code ${code}`, code, stderrTail);
  return venvPython(root);
}

export interface TrainerOptions {
  matrixDir: string;
  /** models/<name>/<version>; the version is its last path segment. */
  outDir: string;
  name: string;
  /** Rows at or after this request time (epoch ms) are the validation window. */
  validFromMs: number;
  /** Rows this long before validFromMs neither train nor validate (a look-ahead target's labels). */
  gapMs?: number;
  iterations?: number;
  depth?: number;
  learningRate?: number;
  l2LeafReg?: number;
  earlyStoppingRounds?: number;
  seed?: number;
  threads?: number;
  /** Refit on all rows with the best iteration count after validation. */
  refit?: boolean;
  samples?: number;
  /** More train.py flags, appended as given (experiments: --drop-features, --loss-function, …). */
  extraArgs?: string[];
  root?: string;
  /** Defaults to training/.venv/bin/python under root. */
  python?: string;
  onOutput?: OutputHandler;
}

/** The JSON line train.py prints last. */
export interface TrainerSummary {
  ok: true;
  name: string;
  version: string;
  out: string;
  auc: number;
  best_iteration: number;
  tree_count: number;
  train_rows: number;
  valid_rows: number;
  model_bytes: number;
  fit_seconds: number;
  wall_seconds: number;
}

/** The command line runTrainer uses (exported so it can be logged or reproduced by hand). */
export function trainerArgs(opts: TrainerOptions, root: string): string[] {
  const args = [
    path.join(root, 'training', 'train.py'),
    '--matrix',
    opts.matrixDir,
    '--out',
    opts.outDir,
    '--name',
    opts.name,
    '--valid-from-ms',
    String(opts.validFromMs),
  ];
  const optional: [string, number | undefined][] = [
    ['--iterations', opts.iterations],
    ['--depth', opts.depth],
    ['--learning-rate', opts.learningRate],
    ['--l2-leaf-reg', opts.l2LeafReg],
    ['--early-stopping-rounds', opts.earlyStoppingRounds],
    ['--seed', opts.seed],
    ['--threads', opts.threads],
    ['--samples', opts.samples],
    ['--gap-ms', opts.gapMs],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  if (opts.refit) args.push('--refit');
  if (opts.extraArgs) args.push(...opts.extraArgs);
  return args;
}

/** Runs train.py and returns its summary; TrainingError (with the stderr tail) on any failure. */
export async function runTrainer(opts: TrainerOptions): Promise<TrainerSummary> {
  const root = opts.root ?? projectRoot();
  const python = opts.python ?? venvPython(root);
  if (!existsSync(python)) {
    throw new TrainingError(`no Python at ${python}; run training/setup-venv.sh (ensureVenv) first`);
  }
  const { code, lastStdoutLine, stderrTail } = await run(
    python,
    trainerArgs(opts, root),
    root,
    opts.onOutput ?? forwardToStderr,
  );
  let summary: unknown;
  try {
    summary = lastStdoutLine ? JSON.parse(lastStdoutLine) : undefined;
  } catch {
    summary = undefined;
  }
  const s = summary as Partial<TrainerSummary> & { ok?: boolean; error?: string };
  if (code !== 0 || !s || s.ok !== true) {
    const why = s?.error ? `: ${s.error}` : '';
    throw new TrainingError(
      `train.py for model "${opts.name}" failed (exit code ${code})${why}`,
      code,
      stderrTail,
    );
  }
  return s as TrainerSummary;
}

interface RunResult {
  code: number | null;
  lastStdoutLine: string | undefined;
  stderrTail: string;
}

function run(cmd: string, args: string[], cwd: string, onOutput: OutputHandler): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let lastStdoutLine: string | undefined;
    const tail: string[] = [];
    const lines = (stream: OutputStream, onLine: (line: string) => void) => {
      let pending = '';
      const source = stream === 'stdout' ? child.stdout : child.stderr;
      source.setEncoding('utf8');
      source.on('data', (chunk: string) => {
        pending += chunk;
        // CatBoost rewrites progress with \r; treat it as a line break too.
        const parts = pending.split(/\r?\n|\r/);
        pending = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      });
      source.on('end', () => {
        if (pending) onLine(pending);
      });
    };
    lines('stdout', (line) => {
      if (line.trim()) lastStdoutLine = line.trim();
      onOutput(line, 'stdout');
    });
    lines('stderr', (line) => {
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
      onOutput(line, 'stderr');
    });
    child.on('error', (err) => reject(new TrainingError(`cannot start ${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? -1 : null),
        lastStdoutLine,
        stderrTail: tail.join('\n'),
      });
    });
  });
}
