import { normalizeTimestamp } from './timestamp.js';

// The three tables an import fills, in the column layout of the original karpov.courses dumps.
// Each cell is checked while streaming and turned into the CSV text that COPY receives.

/** Why a value is rejected; the reader adds file, line and column. */
export class BadValue {
  constructor(readonly reason: string) {}
}

/** Checks one value and returns it encoded for COPY (CSV), or throws BadValue. */
export type Cell = (value: string) => string;

export interface ColumnSpec {
  name: string;
  cell: Cell;
}

export type ImportTable = 'user_data' | 'post_text_df' | 'feed_data';
export type ImportFlag = 'users' | 'posts' | 'feed';

export interface TableSpec {
  table: ImportTable;
  /** The CLI flag that names its file. */
  flag: ImportFlag;
  columns: readonly ColumnSpec[];
  /** Primary-key column: duplicates are reported with their line instead of failing COPY later. */
  key?: string;
}

const INT_MAX = 2_147_483_647;
const DIGITS = /^\d{1,10}$/;
const SIGNED_DIGITS = /^-?\d{1,10}$/;

const required = (value: string) => {
  if (value === '') throw new BadValue('empty, but every column is required');
};

// The tables use int4 columns, so anything beyond it would only fail later inside COPY.
const positiveInt: Cell = (v) => {
  required(v);
  if (!DIGITS.test(v)) throw new BadValue('not a positive integer');
  const n = Number(v);
  if (n < 1 || n > INT_MAX) throw new BadValue(`not a positive integer up to ${INT_MAX}`);
  return v;
};

const nonNegativeInt: Cell = (v) => {
  required(v);
  if (!DIGITS.test(v)) throw new BadValue('not a non-negative integer');
  if (Number(v) > INT_MAX) throw new BadValue(`larger than ${INT_MAX}`);
  return v;
};

const int: Cell = (v) => {
  required(v);
  if (!SIGNED_DIGITS.test(v)) throw new BadValue('not an integer');
  if (Math.abs(Number(v)) > INT_MAX) throw new BadValue(`outside ±${INT_MAX}`);
  return v;
};

const oneOf =
  (allowed: readonly string[]): Cell =>
  (v) => {
    required(v);
    if (!allowed.includes(v)) throw new BadValue(`not one of ${allowed.join(', ')}`);
    return v;
  };

// Always quoted: an unquoted empty field would become NULL, and quoting needs no scan for commas.
const text: Cell = (v) => {
  required(v);
  if (v.includes('\0')) throw new BadValue('contains a NUL character, which Postgres text cannot store');
  return v.includes('"') ? `"${v.replaceAll('"', '""')}"` : `"${v}"`;
};

const timestamp: Cell = (v) => {
  required(v);
  const ts = normalizeTimestamp(v);
  if (ts === undefined) throw new BadValue('not a timestamp like 2021-10-01 06:01:40 (UTC)');
  return ts;
};

export const TABLES: readonly TableSpec[] = [
  {
    table: 'user_data',
    flag: 'users',
    key: 'user_id',
    columns: [
      { name: 'user_id', cell: positiveInt },
      { name: 'gender', cell: oneOf(['0', '1']) },
      { name: 'age', cell: nonNegativeInt },
      { name: 'country', cell: text },
      { name: 'city', cell: text },
      { name: 'exp_group', cell: int },
      { name: 'os', cell: text },
      { name: 'source', cell: text },
    ],
  },
  {
    table: 'post_text_df',
    flag: 'posts',
    key: 'post_id',
    columns: [
      { name: 'post_id', cell: positiveInt },
      { name: 'text', cell: text },
      { name: 'topic', cell: text },
    ],
  },
  {
    table: 'feed_data',
    flag: 'feed',
    columns: [
      { name: 'timestamp', cell: timestamp },
      { name: 'user_id', cell: positiveInt },
      { name: 'post_id', cell: positiveInt },
      { name: 'action', cell: oneOf(['view', 'like']) },
      { name: 'target', cell: oneOf(['0', '1']) },
    ],
  },
];

export function tableSpec(flag: ImportFlag): TableSpec {
  return TABLES.find((t) => t.flag === flag)!;
}
