// The training matrix on disk: raw little-endian columns plus a JSON header, read by
// training/train.py with numpy.fromfile. Rows are buffered in fixed-size chunks, so writing a
// matrix of any size holds at most one chunk in memory.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { MissingDataError, ValidationError } from '../errors/index.js';

export const MATRIX_FORMAT = 'feedrec-matrix-v1';

export const MATRIX_FILES = {
  features: 'features.f32',
  label: 'label.u8',
  time: 'time.f64',
  user: 'user.i32',
} as const;

type Column = keyof typeof MATRIX_FILES;
const COLUMNS = Object.keys(MATRIX_FILES) as Column[];

const headerSchema = z.object({
  format: z.literal(MATRIX_FORMAT),
  rows: z.number().int().nonnegative(),
  features: z.array(z.string().min(1)).min(1),
  files: z.object({
    features: z.string(),
    label: z.string(),
    time: z.string(),
    user: z.string(),
  }),
  source: z.record(z.string(), z.unknown()),
  sha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});

/** header.json of a matrix directory. `source` is free-form provenance (world seed, cut-off, …). */
export type MatrixHeader = z.infer<typeof headerSchema>;

export interface MatrixWriterOptions {
  /** Rows buffered before a write; memory is about chunkRows × (4 × features + 17) bytes. */
  chunkRows?: number;
  source?: Record<string, unknown>;
}

/** Streams rows into `dir`; header.json appears only on close(), so a reader never sees a partial matrix. */
export class MatrixWriter {
  readonly dir: string;
  readonly features: readonly string[];
  private readonly width: number;
  private readonly chunkRows: number;
  private readonly source: Record<string, unknown>;
  private readonly handles: Record<Column, FileHandle>;
  private readonly hashes: Record<Column, Hash>;
  private readonly buf: { features: Float32Array; label: Uint8Array; time: Float64Array; user: Int32Array };
  private fill = 0;
  private written = 0;
  private state: 'open' | 'closed' | 'aborted' = 'open';

  private constructor(
    dir: string,
    features: readonly string[],
    handles: Record<Column, FileHandle>,
    opts: MatrixWriterOptions,
  ) {
    this.dir = dir;
    this.features = [...features];
    this.width = features.length;
    this.chunkRows = opts.chunkRows ?? 65_536;
    this.source = opts.source ?? {};
    this.handles = handles;
    this.hashes = {
      features: createHash('sha256'),
      label: createHash('sha256'),
      time: createHash('sha256'),
      user: createHash('sha256'),
    };
    this.buf = {
      features: new Float32Array(this.chunkRows * this.width),
      label: new Uint8Array(this.chunkRows),
      time: new Float64Array(this.chunkRows),
      user: new Int32Array(this.chunkRows),
    };
  }

  /** Creates (or truncates) the matrix in `dir`, removing any previous header.json first. */
  static async create(
    dir: string,
    features: readonly string[],
    opts: MatrixWriterOptions = {},
  ): Promise<MatrixWriter> {
    // The files are the raw memory of typed arrays; Python reads them as little-endian.
    if (os.endianness() !== 'LE') throw new ValidationError('MatrixWriter needs a little-endian machine');
    if (features.length === 0) throw new ValidationError('a training matrix needs at least one feature');
    const dup = features.find((f, i) => features.indexOf(f) !== i);
    if (dup !== undefined) throw new ValidationError(`duplicate feature name "${dup}"`);
    if (opts.chunkRows !== undefined && (!Number.isInteger(opts.chunkRows) || opts.chunkRows < 1)) {
      throw new ValidationError(`chunkRows must be a positive integer, got ${opts.chunkRows}`);
    }
    await mkdir(dir, { recursive: true });
    await rm(path.join(dir, 'header.json'), { force: true });
    const opened: Partial<Record<Column, FileHandle>> = {};
    try {
      for (const c of COLUMNS) opened[c] = await open(path.join(dir, MATRIX_FILES[c]), 'w');
    } catch (err) {
      await Promise.all(Object.values(opened).map((h) => h.close()));
      throw err;
    }
    return new MatrixWriter(dir, features, opened as Record<Column, FileHandle>, opts);
  }

  /** Rows accepted so far (buffered or written). */
  get rows(): number {
    return this.written + this.fill;
  }

  /** Appends one row; resolves at once unless the chunk is full and gets written. */
  async appendRow(features: ArrayLike<number>, label: number, time: number, user: number): Promise<void> {
    this.checkOpen();
    if (features.length !== this.width) {
      throw new ValidationError(`row has ${features.length} features, the matrix has ${this.width}`);
    }
    checkScalars(label, time, user, this.rows);
    const at = this.fill;
    this.buf.features.set(features, at * this.width);
    this.buf.label[at] = label;
    this.buf.time[at] = time;
    this.buf.user[at] = user;
    this.fill++;
    if (this.fill === this.chunkRows) await this.flush();
  }

  /** Appends `label.length` rows; `features` is row-major, label.length × features. */
  async append(batch: {
    features: Float32Array;
    label: ArrayLike<number>;
    time: ArrayLike<number>;
    user: ArrayLike<number>;
  }): Promise<void> {
    this.checkOpen();
    const n = batch.label.length;
    if (batch.features.length !== n * this.width || batch.time.length !== n || batch.user.length !== n) {
      throw new ValidationError(
        `batch sizes disagree: ${batch.features.length} feature values, ${n} labels, ` +
          `${batch.time.length} times, ${batch.user.length} users for ${this.width} features`,
      );
    }
    for (let i = 0; i < n; i++) checkScalars(batch.label[i]!, batch.time[i]!, batch.user[i]!, this.rows + i);
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, this.chunkRows - this.fill);
      const at = this.fill;
      this.buf.features.set(
        batch.features.subarray(done * this.width, (done + take) * this.width),
        at * this.width,
      );
      for (let i = 0; i < take; i++) {
        this.buf.label[at + i] = batch.label[done + i]!;
        this.buf.time[at + i] = batch.time[done + i]!;
        this.buf.user[at + i] = batch.user[done + i]!;
      }
      this.fill += take;
      done += take;
      if (this.fill === this.chunkRows) await this.flush();
    }
  }

  /**
   * Writes the last chunk, closes the files and writes header.json (hashes included); `source`
   * adds provenance known only at the end (the training window).
   */
  async close(source: Record<string, unknown> = {}): Promise<MatrixHeader> {
    this.checkOpen();
    await this.flush();
    this.state = 'closed';
    await Promise.all(COLUMNS.map((c) => this.handles[c].close()));
    const sha256: Record<string, string> = {};
    for (const c of COLUMNS) sha256[MATRIX_FILES[c]] = this.hashes[c].digest('hex');
    const header: MatrixHeader = {
      format: MATRIX_FORMAT,
      rows: this.written,
      features: [...this.features],
      files: { ...MATRIX_FILES },
      source: { ...this.source, ...source },
      sha256,
    };
    await writeFile(path.join(this.dir, 'header.json'), JSON.stringify(header, null, 2) + '\n');
    return header;
  }

  /** Closes the files without a header; the directory is left as an incomplete matrix. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await Promise.all(COLUMNS.map((c) => this.handles[c].close()));
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new ValidationError(`MatrixWriter for ${this.dir} is ${this.state}`);
  }

  private async flush(): Promise<void> {
    const n = this.fill;
    if (n === 0) return;
    const parts: Record<Column, Uint8Array> = {
      features: bytesOf(this.buf.features.subarray(0, n * this.width)),
      label: bytesOf(this.buf.label.subarray(0, n)),
      time: bytesOf(this.buf.time.subarray(0, n)),
      user: bytesOf(this.buf.user.subarray(0, n)),
    };
    await Promise.all(
      COLUMNS.map(async (c) => {
        this.hashes[c].update(parts[c]);
        await writeAll(this.handles[c], parts[c]);
      }),
    );
    this.written += n;
    this.fill = 0;
  }
}

function checkScalars(label: number, time: number, user: number, row: number): void {
  if (label !== 0 && label !== 1) throw new ValidationError(`row ${row}: label must be 0 or 1, got ${label}`);
  if (!Number.isFinite(time))
    throw new ValidationError(`row ${row}: time must be finite epoch ms, got ${time}`);
  if (!Number.isInteger(user) || user < -2147483648 || user > 2147483647) {
    throw new ValidationError(`row ${row}: user id must be an int32, got ${user}`);
  }
}

function bytesOf(a: Float32Array | Float64Array | Int32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function writeAll(h: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await h.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** Reads and validates header.json; MissingDataError when the matrix is absent or incomplete. */
export async function readMatrixHeader(dir: string): Promise<MatrixHeader> {
  const file = path.join(dir, 'header.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MissingDataError(`no training matrix header at ${file}`, { cause: err });
  }
  const parsed = headerSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new ValidationError(
      `${file} is not a ${MATRIX_FORMAT} header`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

export interface Matrix {
  header: MatrixHeader;
  features: Float32Array;
  label: Uint8Array;
  time: Float64Array;
  user: Int32Array;
}

/** Reads a whole matrix into memory (tests and small matrices); sizes are checked against the header. */
export async function readMatrix(dir: string): Promise<Matrix> {
  const header = await readMatrixHeader(dir);
  const load = async (c: Column, bytesPerValue: number, count: number): Promise<ArrayBuffer> => {
    const buf = await readFile(path.join(dir, header.files[c]));
    if (buf.length !== count * bytesPerValue) {
      throw new ValidationError(
        `${header.files[c]}: ${buf.length} bytes, header implies ${count * bytesPerValue}`,
      );
    }
    // Copy into a fresh, aligned ArrayBuffer: Buffer slices may share an unaligned pool.
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
  };
  const n = header.rows;
  return {
    header,
    features: new Float32Array(await load('features', 4, n * header.features.length)),
    label: new Uint8Array(await load('label', 1, n)),
    time: new Float64Array(await load('time', 8, n)),
    user: new Int32Array(await load('user', 4, n)),
  };
}
