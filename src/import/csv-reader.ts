import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { CsvError, Parser } from 'csv-parse';
import { ImportRowError } from '../errors/index.js';
import { BadValue, type TableSpec } from './tables.js';

/** COPY chunks of a few MB: big enough to amortise a statement per chunk on PGlite, small enough to bound memory. */
export const DEFAULT_CHUNK_CHARS = 4 * 1024 * 1024;

// Longest real post text is ~25k characters; a row this long means a quote that never closes, and
// without a cap csv-parse would buffer the rest of the file looking for it.
const MAX_RECORD_CHARS = 8 * 1024 * 1024;

// pandas writes its index as a column with an empty name ("Unnamed: 0" once read back and re-saved).
const INDEX_COLUMN = /^(|Unnamed: \d+)$/;

// Values in error messages stay readable even when the bad value is a whole post text.
const MAX_SHOWN = 200;

export interface ReadOptions {
  /** Text label used in errors (the path as the user gave it). */
  label?: string;
  chunkChars?: number;
  /** Primary keys already in the table; a repeat would fail COPY without a line number. */
  existingKeys?: ReadonlySet<number>;
  /** Called after each chunk is produced (for progress). */
  onChunk?: (stats: ReadStats) => void;
}

export interface ReadStats {
  /** Data rows read (header and blank lines excluded). */
  rows: number;
  /** Bytes of the file read so far. */
  bytes: number;
}

interface Header {
  /** Number of fields every row must have (ignored index columns included). */
  width: number;
  names: string[];
  /** Field position of each spec column, in spec order. */
  fieldOf: number[];
}

function countNewlines(fields: readonly string[], upTo = fields.length): number {
  let n = 0;
  for (let i = 0; i < upTo; i++) {
    const f = fields[i]!;
    for (let p = f.indexOf('\n'); p !== -1; p = f.indexOf('\n', p + 1)) n++;
  }
  return n;
}

const shown = (v: string) => (v.length > MAX_SHOWN ? `${v.slice(0, MAX_SHOWN)}…` : v);

/**
 * csv-parse's stream, with each record handed to `onRecord` synchronously as the parser produces it
 * and only what onRecord returns (whole COPY chunks) pushed downstream. Its `on_record` option would
 * do the same but builds an info object per record, which more than doubles the parse time.
 */
class RecordParser extends Parser {
  private failed = false;

  constructor(private readonly onRecord: (record: string[]) => string | null) {
    super({
      bom: true,
      // Column counts are checked by onRecord so that the error names the line and the column.
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
      max_record_size: MAX_RECORD_CHARS,
      // Each pushed item is a whole COPY chunk: hold at most one while the database catches up.
      // (csv-parse passes its options on to stream.Transform, though its types do not say so.)
      readableHighWaterMark: 1,
    } as ConstructorParameters<typeof Parser>[0]);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (!Array.isArray(chunk)) return super.push(chunk, encoding);
    // The parser keeps going through the rest of its input buffer after a failure; ignore it.
    if (this.failed) return false;
    try {
      const out = this.onRecord(chunk as string[]);
      return out === null ? true : super.push(out);
    } catch (err) {
      // Thrown out of push, the error would escape the stream machinery as an uncaught exception.
      this.failed = true;
      this.destroy(err as Error);
      return false;
    }
  }
}

/**
 * Streams a CSV file with a header row as validated CSV chunks (no header, the spec's column order)
 * ready for `copyIn`. Reading stops at the first bad row with an ImportRowError naming file, line,
 * column and value; memory stays bounded by the chunk size whatever the file size.
 */
export function readCsvForCopy(
  file: string,
  spec: TableSpec,
  opts: ReadOptions = {},
): { chunks: AsyncIterable<string>; stats: ReadStats } {
  const label = opts.label ?? file;
  const chunkChars = opts.chunkChars ?? DEFAULT_CHUNK_CHARS;
  const stats: ReadStats = { rows: 0, bytes: 0 };
  const keyColumn = spec.key === undefined ? -1 : spec.columns.findIndex((c) => c.name === spec.key);
  const keyLines = new Map<number, number>();
  const expected = spec.columns.map((c) => c.name).join(', ');

  // csv-parse's own line counter counts CRLF twice, so physical lines are counted here: every
  // record spans one line plus the line breaks inside its quoted fields.
  let line = 1;
  let header: Header | undefined;
  const cells: string[] = new Array<string>(spec.columns.length).fill('');
  let rows: string[] = [];
  let chars = 0;

  function readHeader(record: string[], at: number): Header {
    const names = record.map((n) => n.trim());
    const fieldOf: number[] = [];
    const seen = new Set<string>();
    names.forEach((name, field) => {
      if (INDEX_COLUMN.test(name)) return;
      if (seen.has(name)) throw new ImportRowError(label, at, name, name, 'the header names it twice');
      seen.add(name);
      const col = spec.columns.findIndex((c) => c.name === name);
      if (col < 0) {
        throw new ImportRowError(label, at, name, name, `unknown column; ${spec.table} has ${expected}`);
      }
      fieldOf[col] = field;
    });
    const missing = spec.columns.filter((c) => !seen.has(c.name)).map((c) => c.name);
    if (missing.length > 0) {
      throw new ImportRowError(
        label,
        at,
        missing[0]!,
        '',
        `missing from the header (missing: ${missing.join(', ')}; ${spec.table} has ${expected})`,
      );
    }
    return { width: names.length, names, fieldOf };
  }

  function convert(record: string[], at: number, h: Header): string {
    if (record.length !== h.width) {
      const reason = `the row has ${record.length} fields, the header has ${h.width}`;
      if (record.length < h.width) throw new ImportRowError(label, at, h.names[record.length]!, '', reason);
      throw new ImportRowError(label, at, `(field ${h.width + 1})`, shown(record[h.width]!), reason);
    }
    for (let i = 0; i < h.fieldOf.length; i++) {
      const field = h.fieldOf[i]!;
      const value = record[field]!;
      try {
        cells[i] = spec.columns[i]!.cell(value);
      } catch (err) {
        if (!(err instanceof BadValue)) throw err;
        const valueLine = at + countNewlines(record, field);
        throw new ImportRowError(label, valueLine, spec.columns[i]!.name, shown(value), err.reason);
      }
      if (i === keyColumn) checkKey(Number(value), value, at + countNewlines(record, field));
    }
    // join() yields a flat string; `+=` would build ropes of small pieces that cost more in GC
    // than the parsing itself.
    return cells.join(',');
  }

  function checkKey(id: number, value: string, at: number): void {
    const name = spec.key!;
    if (opts.existingKeys?.has(id)) {
      throw new ImportRowError(label, at, name, value, `${spec.table} already has ${name} ${value}`);
    }
    const first = keyLines.get(id);
    if (first !== undefined) {
      throw new ImportRowError(label, at, name, value, `repeats the ${name} of line ${first}`);
    }
    keyLines.set(id, at);
  }

  function takeChunk(): string {
    const chunk = rows.length === 0 ? '' : `${rows.join('\n')}\n`;
    rows = [];
    chars = 0;
    return chunk;
  }

  // Runs synchronously inside the parser, so `line` is exact even when the parser fails later on.
  function onRecord(record: string[]): string | null {
    const at = line;
    line += 1 + countNewlines(record);
    if (record.length === 1 && record[0] === '') return null; // blank line
    if (header === undefined) {
      header = readHeader(record, at);
      return null;
    }
    const row = convert(record, at, header);
    rows.push(row);
    chars += row.length + 1;
    stats.rows++;
    return chars < chunkChars ? null : takeChunk();
  }

  function syntaxError(err: CsvError): ImportRowError {
    const ctx = err as CsvError & { index?: number; field?: unknown };
    const index = typeof ctx.index === 'number' ? ctx.index : 0;
    const column = header?.names[index] ?? `(field ${index + 1})`;
    const value = typeof ctx.field === 'string' ? shown(ctx.field) : '';
    const reasons: Record<string, string> = {
      CSV_QUOTE_NOT_CLOSED: 'a quoted field that starts in this row is never closed',
      INVALID_OPENING_QUOTE: 'a quote inside an unquoted field (quote the field and double inner quotes)',
      CSV_INVALID_CLOSING_QUOTE: 'characters follow the closing quote of a field',
      CSV_MAX_RECORD_SIZE: `the row is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?)`,
    };
    return new ImportRowError(label, line, column, value, reasons[err.code] ?? err.message);
  }

  async function* chunks(): AsyncGenerator<string> {
    const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
    const parser = new RecordParser(onRecord);
    // Errors of either stream surface through the iteration below; the callback only silences them.
    pipeline(input, parser, () => undefined);
    const progress = () => {
      stats.bytes = input.bytesRead;
      opts.onChunk?.(stats);
    };
    try {
      for await (const chunk of parser as AsyncIterable<string>) {
        progress();
        yield chunk;
      }
    } catch (err) {
      throw err instanceof CsvError ? syntaxError(err) : err;
    }
    if (header === undefined) {
      throw new ImportRowError(label, 1, '(header)', '', 'the file is empty; a header row is required');
    }
    const rest = takeChunk();
    progress();
    if (rest.length > 0) yield rest;
  }

  return { chunks: chunks(), stats };
}
