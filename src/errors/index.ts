// Named errors of the whole project. Only src/http maps them to HTTP statuses.

export class FeedrecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration (environment or flags) that fails its schema. */
export class ConfigError extends FeedrecError {}

/** Request or command parameters that are malformed. */
export class ValidationError extends FeedrecError {
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** A user id the database does not know. */
export class UnknownUserError extends FeedrecError {
  constructor(readonly userId: number) {
    super(`unknown user id ${userId}`);
  }
}

/** A QA override header without a valid token. */
export class ForbiddenError extends FeedrecError {}

// Under overload thousands of requests a second are shed or expire. Their errors are control
// flow whose stack nobody reads, and capturing it took about 6 % of the event loop at 1,024
// connections (a CPU profile of the service): these two capture none.

/** The bounded queue is full; the caller should retry later. */
export class OverloadedError extends FeedrecError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds = 1) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('service overloaded, retry later');
    Error.stackTraceLimit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A request's deadline passed before a ranking worker got to it (it gets the fallback answer). */
export class DeadlineExceededError extends FeedrecError {
  constructor() {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('deadline passed before ranking started');
    Error.stackTraceLimit = limit;
  }
}

/** The database cannot be reached or refused a statement we rely on. */
export class DatabaseUnavailableError extends FeedrecError {}

/** A model on disk that is missing, unreadable or does not match the feature code. */
export class ModelError extends FeedrecError {}

/**
 * A reload that could not build the new generation (bad model, mismatched features, missing
 * snapshot): the generation named in `serving` keeps answering.
 */
export class ReloadRefusedError extends FeedrecError {
  constructor(
    message: string,
    readonly serving: string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The admin routes need the configured bearer token. */
export class UnauthorizedError extends FeedrecError {}

/** A bad row in an imported CSV file: names file, line, column and value. */
export class ImportRowError extends FeedrecError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: string,
    readonly value: string,
    reason: string,
  ) {
    super(`${file}:${line}: column "${column}" has ${JSON.stringify(value)}: ${reason}`);
  }
}

/** The service cannot listen where config says (port taken, or a privileged port). */
export class ListenError extends FeedrecError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `port ${port} is already in use on ${host}: choose another with --port <n> or PORT=<n>`
        : code === 'EACCES'
          ? `no permission to listen on port ${port} of ${host}: choose a port above 1023 with --port <n> or PORT=<n>`
          : `cannot listen on ${host}:${port} (${code ?? 'unknown error'}): check HOST, or choose another port with --port <n> or PORT=<n>`,
    );
  }
}

/** Data the command needs is not there yet (no world, no features). */
export class MissingDataError extends FeedrecError {}

/** The service is starting or draining and cannot answer yet; the caller should retry. */
export class NotReadyError extends FeedrecError {
  constructor(readonly retryAfterSeconds = 1) {
    super('service not ready');
  }
}

/**
 * A hold-out check asked to score a model that learned from the held-out days (or whose card
 * does not say what it learned from): its score would not be a hold-out score.
 */
export class HoldoutOverlapError extends FeedrecError {}

/** The Python trainer (training/) could not be set up or failed; carries the tail of its stderr. */
export class TrainingError extends FeedrecError {
  constructor(
    message: string,
    readonly exitCode: number | null = null,
    readonly stderrTail: string = '',
  ) {
    super(stderrTail ? `${message}\n--- last lines of stderr ---\n${stderrTail}` : message);
  }
}
