import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/index.js';
import { buildFeatures } from '../../src/features/index.js';
import { writeWorld, type WorldSpec } from '../../src/world/index.js';

export const TINY: WorldSpec = { scale: 'tiny', seed: 3 };

/** A PGlite folder with the tiny world and its feature tables (a few seconds), closed again. */
export async function tinyWorldDir(spec: WorldSpec = TINY): Promise<string> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-tiny-'));
  const db = await openDatabase({ dataDir });
  try {
    await writeWorld(db, spec);
    await buildFeatures(db);
  } finally {
    await db.close();
  }
  return dataDir;
}

/** The committed models: the service and the checker in tests use the same ones users get. */
export const MODELS_DIR = path.resolve('models');
