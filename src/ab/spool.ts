// The exposure spool: where answered exposures wait on local disk while Postgres cannot take
// them, to be replayed when it can. Segments are written whole (temp file + rename), so a crash
// never leaves half a segment; a replay that stops halfway is safe to repeat because every row
// carries its idempotency key.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Exposure } from './exposures.js';

/** An exposure with the key that makes writing it idempotent. */
export interface KeyedExposure extends Exposure {
  key: string;
}

export interface SpoolSegment {
  id: string;
  rows: KeyedExposure[];
}

/** Where exposures wait while the database is away. */
export interface Spool {
  /** True when what it holds survives the process (a restart replays it). */
  readonly durable: boolean;
  readonly where: string;
  readonly rows: number;
  readonly bytes: number;
  readonly maxBytes: number;
  /** Adds rows as one segment; false (and nothing kept) when they would not fit in maxBytes. */
  append(rows: KeyedExposure[]): Promise<boolean>;
  /** The same, synchronously: for the last rows of a process that is about to exit. */
  appendSync(rows: KeyedExposure[]): boolean;
  oldest(): Promise<SpoolSegment | undefined>;
  /** Drops a replayed segment, or replaces its rows with the ones still to write. */
  settle(id: string, left?: KeyedExposure[]): Promise<void>;
  /** Keeps rows the database refused for good, with the reason, out of the replay. */
  quarantine(rows: KeyedExposure[], reason: string): Promise<void>;
}

const line = (r: KeyedExposure) =>
  JSON.stringify({
    key: r.key,
    loggedAt: r.loggedAt.toISOString(),
    requestId: r.requestId,
    userId: r.userId,
    group: r.group,
    modelVersion: r.modelVersion,
    postIds: r.postIds,
    requestTime: r.requestTime.toISOString(),
  });

function parse(text: string): KeyedExposure[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const o = JSON.parse(l) as Omit<KeyedExposure, 'loggedAt' | 'requestTime'> & {
        loggedAt: string;
        requestTime: string;
      };
      return { ...o, loggedAt: new Date(o.loggedAt), requestTime: new Date(o.requestTime) };
    });
}

const SEGMENT = /^seg-(\d{16})-(\d+)\.jsonl$/;
const QUARANTINE = 'quarantine.jsonl';

/**
 * A folder of segment files `seg-<sequence>-<rows>.jsonl`, oldest first, bounded by maxBytes
 * (quarantined rows count too). Opening it finds the segments a previous process left.
 */
export class DiskSpool implements Spool {
  readonly durable = true;
  private readonly segments: { name: string; rows: number; bytes: number }[] = [];
  private seq = 0;
  private quarantineBytes = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir).sort()) {
      // A segment whose write a crash interrupted was never renamed into place: its rows are still
      // in the caller's hands or were lost with the process, never half in the spool.
      if (name.startsWith('.') && name.endsWith('.tmp')) rmSync(path.join(dir, name), { force: true });
      const m = SEGMENT.exec(name);
      if (name === QUARANTINE) this.quarantineBytes = statSync(path.join(dir, name)).size;
      if (!m) continue;
      this.segments.push({ name, rows: Number(m[2]), bytes: statSync(path.join(dir, name)).size });
      this.seq = Math.max(this.seq, Number(m[1]));
    }
  }

  get where(): string {
    return this.dir;
  }

  get rows(): number {
    return this.segments.reduce((s, g) => s + g.rows, 0);
  }

  get bytes(): number {
    return this.segments.reduce((s, g) => s + g.bytes, 0) + this.quarantineBytes;
  }

  private prepare(rows: KeyedExposure[]) {
    const text = rows.map(line).join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    if (this.bytes + bytes > this.maxBytes) return undefined;
    const name = `seg-${String(++this.seq).padStart(16, '0')}-${rows.length}.jsonl`;
    return { text, bytes, name, tmp: path.join(this.dir, `.${name}.tmp`) };
  }

  async append(rows: KeyedExposure[]): Promise<boolean> {
    const seg = this.prepare(rows);
    if (!seg) return false;
    await writeFile(seg.tmp, seg.text);
    await rename(seg.tmp, path.join(this.dir, seg.name));
    this.segments.push({ name: seg.name, rows: rows.length, bytes: seg.bytes });
    return true;
  }

  appendSync(rows: KeyedExposure[]): boolean {
    const seg = this.prepare(rows);
    if (!seg) return false;
    writeFileSync(seg.tmp, seg.text);
    renameSync(seg.tmp, path.join(this.dir, seg.name));
    this.segments.push({ name: seg.name, rows: rows.length, bytes: seg.bytes });
    return true;
  }

  async oldest(): Promise<SpoolSegment | undefined> {
    const seg = this.segments[0];
    if (!seg) return undefined;
    return { id: seg.name, rows: parse(await readFile(path.join(this.dir, seg.name), 'utf8')) };
  }

  async settle(id: string, left: KeyedExposure[] = []): Promise<void> {
    const i = this.segments.findIndex((s) => s.name === id);
    if (i < 0) return;
    const file = path.join(this.dir, id);
    if (left.length === 0) {
      await rm(file, { force: true });
      this.segments.splice(i, 1);
      return;
    }
    const text = left.map(line).join('\n') + '\n';
    const name = id.replace(SEGMENT, (_m, seq: string) => `seg-${seq}-${left.length}.jsonl`);
    await writeFile(path.join(this.dir, `.${name}.tmp`), text);
    await rename(path.join(this.dir, `.${name}.tmp`), path.join(this.dir, name));
    if (name !== id) await rm(file, { force: true });
    this.segments[i] = { name, rows: left.length, bytes: Buffer.byteLength(text) };
  }

  async quarantine(rows: KeyedExposure[], reason: string): Promise<void> {
    const text = rows.map((r) => `${line(r).slice(0, -1)},"rejected":${JSON.stringify(reason)}}\n`).join('');
    await appendFile(path.join(this.dir, QUARANTINE), text);
    this.quarantineBytes += Buffer.byteLength(text);
  }

  /** The quarantined rows as written (one JSON object per line, with the reason). */
  quarantined(): string[] {
    const file = path.join(this.dir, QUARANTINE);
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }
}

/**
 * The spool of a logger given no folder (tests, tools): bounded like the disk one, but what it
 * holds is lost with the process, so close() reports it as lost.
 */
export class MemorySpool implements Spool {
  readonly durable = false;
  readonly where = 'memory';
  private readonly segments: { id: string; rows: KeyedExposure[]; bytes: number }[] = [];
  private seq = 0;
  readonly rejected: { row: KeyedExposure; reason: string }[] = [];

  constructor(readonly maxBytes: number) {}

  get rows(): number {
    return this.segments.reduce((s, g) => s + g.rows.length, 0);
  }

  get bytes(): number {
    return this.segments.reduce((s, g) => s + g.bytes, 0);
  }

  appendSync(rows: KeyedExposure[]): boolean {
    const bytes = rows.reduce((s, r) => s + line(r).length + 1, 0);
    if (this.bytes + bytes > this.maxBytes) return false;
    this.segments.push({ id: String(++this.seq), rows, bytes });
    return true;
  }

  async append(rows: KeyedExposure[]): Promise<boolean> {
    return this.appendSync(rows);
  }

  async oldest(): Promise<SpoolSegment | undefined> {
    const seg = this.segments[0];
    return seg && { id: seg.id, rows: seg.rows };
  }

  async settle(id: string, left: KeyedExposure[] = []): Promise<void> {
    const i = this.segments.findIndex((s) => s.id === id);
    if (i < 0) return;
    if (left.length === 0) this.segments.splice(i, 1);
    else this.segments[i] = { id, rows: left, bytes: left.reduce((s, r) => s + line(r).length + 1, 0) };
  }

  async quarantine(rows: KeyedExposure[], reason: string): Promise<void> {
    for (const row of rows) this.rejected.push({ row, reason });
  }
}
