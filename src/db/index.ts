export { openDatabase } from './open.js';
export type { Database, DbSession, OpenOptions, Orm } from './open.js';
export * as schema from './schema.js';
