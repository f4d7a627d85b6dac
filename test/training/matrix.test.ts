import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MissingDataError, ValidationError } from '../../src/errors/index.js';
import { MATRIX_FORMAT, MatrixWriter, readMatrix, readMatrixHeader } from '../../src/training/index.js';

const FEATURES = ['a', 'b', 'c'];

describe('training matrix', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'feedrec-matrix-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('round-trips rows written one by one and in batches across chunk boundaries', async () => {
    const w = await MatrixWriter.create(dir, FEATURES, { chunkRows: 7, source: { seed: 3 } });
    const rows = 40;
    const expected = {
      features: [] as number[],
      label: [] as number[],
      time: [] as number[],
      user: [] as number[],
    };
    const rowOf = (i: number) => [i * 0.5, i % 5 === 0 ? NaN : -i, Math.fround(1 / (i + 1))];
    for (let i = 0; i < 10; i++) {
      await w.appendRow(rowOf(i), i % 2, 1_633_046_400_000 + i * 1000.5, 100 + i);
    }
    // A batch of 30 rows crosses several 7-row chunks.
    const n = 30;
    const batch = {
      features: new Float32Array(n * 3),
      label: [] as number[],
      time: [] as number[],
      user: [] as number[],
    };
    for (let k = 0; k < n; k++) {
      const i = 10 + k;
      batch.features.set(rowOf(i), k * 3);
      batch.label.push(i % 2);
      batch.time.push(1_633_046_400_000 + i * 1000.5);
      batch.user.push(100 + i);
    }
    await w.append(batch);
    expect(w.rows).toBe(rows);
    for (let i = 0; i < rows; i++) {
      expected.features.push(...rowOf(i).map(Math.fround));
      expected.label.push(i % 2);
      expected.time.push(1_633_046_400_000 + i * 1000.5);
      expected.user.push(100 + i);
    }
    const header = await w.close();

    expect(header).toMatchObject({ format: MATRIX_FORMAT, rows, features: FEATURES, source: { seed: 3 } });
    expect(await readMatrixHeader(dir)).toEqual(header);
    const m = await readMatrix(dir);
    expect(Array.from(m.features)).toEqual(expected.features);
    expect(Array.from(m.label)).toEqual(expected.label);
    expect(Array.from(m.time)).toEqual(expected.time);
    expect(Array.from(m.user)).toEqual(expected.user);
    for (const [file, hash] of Object.entries(header.sha256)) {
      const bytes = await readFile(path.join(dir, file));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash);
    }
    // The files are little-endian raw columns (what numpy.fromfile reads).
    const raw = await readFile(path.join(dir, header.files.features));
    expect(raw.length).toBe(rows * FEATURES.length * 4);
    expect(raw.readFloatLE(4 * 3)).toBe(Math.fround(0.5));
  });

  it('writes an empty matrix with a header', async () => {
    const w = await MatrixWriter.create(dir, FEATURES);
    const header = await w.close();
    expect(header.rows).toBe(0);
    expect((await readMatrix(dir)).features).toHaveLength(0);
  });

  it('has no header until closed, and none after an abort', async () => {
    const w = await MatrixWriter.create(dir, FEATURES, { chunkRows: 2 });
    await w.appendRow([1, 2, 3], 1, 1, 1);
    await w.appendRow([1, 2, 3], 0, 2, 1);
    await expect(readMatrixHeader(dir)).rejects.toThrow(MissingDataError);
    await w.abort();
    await expect(readMatrixHeader(dir)).rejects.toThrow(MissingDataError);
    await expect(w.appendRow([1, 2, 3], 1, 1, 1)).rejects.toThrow(ValidationError);
  });

  it('removes the header of a previous matrix when rewriting the directory', async () => {
    await (await MatrixWriter.create(dir, FEATURES)).close();
    const w = await MatrixWriter.create(dir, FEATURES);
    await expect(readMatrixHeader(dir)).rejects.toThrow(MissingDataError);
    await w.abort();
  });

  it('rejects bad rows and bad feature lists', async () => {
    await expect(MatrixWriter.create(dir, ['a', 'a'])).rejects.toThrow(/duplicate feature name "a"/);
    await expect(MatrixWriter.create(dir, [])).rejects.toThrow(ValidationError);
    const w = await MatrixWriter.create(dir, FEATURES);
    await expect(w.appendRow([1, 2], 0, 1, 1)).rejects.toThrow(/2 features, the matrix has 3/);
    await expect(w.appendRow([1, 2, 3], 2, 1, 1)).rejects.toThrow(/label must be 0 or 1/);
    await expect(w.appendRow([1, 2, 3], 1, NaN, 1)).rejects.toThrow(/time/);
    await expect(w.appendRow([1, 2, 3], 1, 1, 1.5)).rejects.toThrow(/int32/);
    await expect(
      w.append({ features: new Float32Array(6), label: [0, 1], time: [1], user: [1, 2] }),
    ).rejects.toThrow(/batch sizes disagree/);
    expect(w.rows).toBe(0);
    await w.abort();
  });

  it('rejects a header of another format', async () => {
    await writeFile(path.join(dir, 'header.json'), JSON.stringify({ format: 'other', rows: 1 }));
    await expect(readMatrixHeader(dir)).rejects.toThrow(ValidationError);
  });
});
