export { describePostgres, openDatabase } from './open.js';
export { isConnectionError } from './errors.js';
export type { Database, DbSession, OpenOptions, Orm } from './open.js';
export * as schema from './schema.js';
export { retryWhileUnreachable, type RetryOptions } from './retry.js';
