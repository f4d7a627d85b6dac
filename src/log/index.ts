// Structured logging: one JSON object per line, so logs can be grepped and shipped as they are.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

/** What serving code needs from a logger; tests inject a recording one. */
export interface Logger {
  debug(fields: LogFields): void;
  info(fields: LogFields): void;
  warn(fields: LogFields): void;
  error(fields: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** A logger that writes one JSON line per call at or above `level` (stdout by default). */
export function createJsonLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (fields: LogFields) => {
    if (RANK[lvl] < RANK[level]) return;
    const out: LogFields = { time: new Date().toISOString(), level: lvl };
    for (const [k, v] of Object.entries(fields)) out[k] = errorFields(v);
    write(`${JSON.stringify(out)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Drops everything: for tests and tools that do not care. */
export const silentLogger: Logger = createJsonLogger('silent', () => undefined);

/** Keeps every entry in memory, for tests that assert on what was logged. */
export function createMemoryLogger(): Logger & { entries: (LogFields & { level: string })[] } {
  const entries: (LogFields & { level: string })[] = [];
  const at = (level: string) => (fields: LogFields) => entries.push({ level, ...fields });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
