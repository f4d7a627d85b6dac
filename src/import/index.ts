export { registerImportCommand } from './cli.js';
export { readCsvForCopy, DEFAULT_CHUNK_CHARS } from './csv-reader.js';
export type { ReadOptions, ReadStats } from './csv-reader.js';
export { importTables } from './run.js';
export type { ImportFiles, ImportOptions, ImportProgress, ImportResult, TableResult } from './run.js';
export { TABLES, tableSpec } from './tables.js';
export type { ImportFlag, ImportTable, TableSpec } from './tables.js';
export { normalizeTimestamp } from './timestamp.js';
