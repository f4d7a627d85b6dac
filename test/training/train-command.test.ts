// `feedrec train --until` end to end: matrix, CatBoost through training/.venv, model card.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openDatabase } from '../../src/db/index.js';
import { ValidationError } from '../../src/errors/index.js';
import { buildFeatures } from '../../src/features/index.js';
import type { ModelCard } from '../../src/ranking/onnx-model.js';
import { hasVenv } from '../../src/training/index.js';
import { parseUntil } from '../../src/training/train-command.js';
import { loadMini, miniWorld, T0 } from '../fixtures/mini-log.js';

const DAY = 86_400_000;

describe('train --until', () => {
  it('takes an ISO 8601 date or date-time and names a bad one', () => {
    expect(parseUntil('2021-12-23')).toBe(Date.UTC(2021, 11, 23));
    expect(parseUntil('2021-12-23T06:30:00')).toBe(Date.UTC(2021, 11, 23, 6, 30));
    expect(parseUntil(undefined)).toBeUndefined();
    expect(() => parseUntil('23.12.2021')).toThrow(ValidationError);
    expect(() => parseUntil('23.12.2021')).toThrow(/--until expects an ISO 8601 time.*23\.12\.2021/);
  });
});

describe.skipIf(!hasVenv())('train --until writes the training window into the model card', () => {
  const world = miniWorld(9, 40, 90, 20);
  const cut = T0 + 15 * DAY; // day 15, 06:00
  let dir: string;
  let models: string;
  let summary: { until: string; rows: number; validFrom: string; target: string };
  let windowSummary: typeof summary;

  async function train(extra: string[]): Promise<typeof summary> {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await main(['node', 'feedrec', 'train', '--data-dir', dir, '--models-dir', models, ...extra]);
    } finally {
      vi.restoreAllMocks();
    }
    expect(process.exitCode ?? 0).toBe(0);
    return JSON.parse(out.at(-1)!) as typeof summary;
  }
  const url = process.env.DATABASE_URL;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-train-until-'));
    models = path.join(dir, 'models');
    delete process.env.DATABASE_URL; // this test is about the PGlite folder
    const db = await openDatabase({ dataDir: dir });
    try {
      await loadMini(db, world);
      await buildFeatures(db);
    } finally {
      await db.close();
    }
    const common = ['--until', new Date(cut).toISOString(), '--iterations', '20', '--threads', '1'];
    summary = await train([...common, '--target', 'view', '--valid-days', '3', '--version', 'v1']);
    const window = ['--target', 'window', '--target-days', '2', '--negatives', '5'];
    windowSummary = await train([...common, ...window, '--version', 'v2']);
  });
  afterAll(() => {
    if (url !== undefined) process.env.DATABASE_URL = url;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records the cut-off, the first and last event used and a validation window before the cut-off', () => {
    const before = world.events.filter((e) => e.ts < cut);
    const views = before.filter((e) => e.action === 'view');
    const validFrom = cut - 3 * DAY;
    expect(summary.until).toBe(new Date(cut).toISOString());
    expect(summary.rows).toBe(views.length);
    for (const name of ['control', 'test']) {
      const card = JSON.parse(readFileSync(path.join(models, name, 'v1', 'meta.json'), 'utf8')) as ModelCard;
      expect(card.window).toMatchObject({
        until_ms: cut,
        until: '2021-10-16T06:00:00Z',
        first_event_ms: world.events[0]!.ts,
        last_event_ms: before.at(-1)!.ts,
        first_row_ms: views[0]!.ts,
        last_row_ms: views.at(-1)!.ts,
        valid_from_ms: validFrom,
      });
      // The validation set is the rows from validFrom to the cut-off, and nothing else.
      expect(card.validation.valid_rows).toBe(views.filter((v) => v.ts >= validFrom).length);
      expect(card.validation.train_rows).toBe(views.filter((v) => v.ts < validFrom).length);
    }
  });

  it('records the "liked within" target in the card, validated on moments whose window ends before the cut-off', () => {
    expect(windowSummary.target).toBe('window');
    for (const name of ['control', 'test']) {
      const card = JSON.parse(readFileSync(path.join(models, name, 'v2', 'meta.json'), 'utf8')) as ModelCard;
      expect(card.target).toMatchObject({ kind: 'liked-within', days: 2, negatives: 5, chosen_by: 'flag' });
      expect(card.window).toMatchObject({ until_ms: cut });
      expect(card.window!.last_row_ms!).toBeLessThan(cut - 2 * DAY);
      // Validation: the last 7 days of moments; training stops one window before them.
      expect(card.window!.valid_from_ms).toBe(card.window!.last_row_ms! - 7 * DAY);
      expect(card.validation.valid_rows).toBeGreaterThan(0);
    }
    const viewCard = JSON.parse(
      readFileSync(path.join(models, 'test', 'v1', 'meta.json'), 'utf8'),
    ) as ModelCard;
    expect(viewCard.target).toEqual({ kind: 'view', chosen_by: 'flag' });
  });
});
