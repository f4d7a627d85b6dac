import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODELS_DIR } from './tiny-world.js';

/** The folder of the committed (latest) version of a model: what `feedrec serve` would load. */
export function committedModel(name: string): string {
  const versions = readdirSync(path.join(MODELS_DIR, name)).filter((v) => !v.startsWith('.'));
  const latest = versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1)!;
  return path.join(MODELS_DIR, name, latest);
}

/**
 * A models folder of our own holding the committed (latest) version of each model as `<name>/v1`,
 * so that tests can publish v2, v3, … over it whatever the committed version is called.
 */
export function copyModels(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-models-'));
  for (const name of ['control', 'test']) {
    cpSync(committedModel(name), path.join(dir, name, 'v1'), { recursive: true });
    const cardFile = path.join(dir, name, 'v1', 'meta.json');
    const card = JSON.parse(readFileSync(cardFile, 'utf8')) as { version: string };
    writeFileSync(cardFile, JSON.stringify({ ...card, version: 'v1' }));
  }
  return dir;
}

/**
 * Publishes `<name>/<to>` as a copy of `<name>/<from>`, its card changed by `edit` (e.g. a
 * feature list that no longer matches the code). Written under a dot name and renamed, as an
 * operator should publish a version: a reload never sees half a folder.
 */
export function publishVersion(
  dir: string,
  name: string,
  from: string,
  to: string,
  edit: (card: { feature_names: string[]; version: string }) => void = () => undefined,
): void {
  const staging = path.join(dir, name, `.${to}`);
  cpSync(path.join(dir, name, from), staging, { recursive: true });
  const cardFile = path.join(staging, 'meta.json');
  const card = JSON.parse(readFileSync(cardFile, 'utf8')) as { feature_names: string[]; version: string };
  card.version = to;
  edit(card);
  writeFileSync(cardFile, JSON.stringify(card));
  renameSync(staging, path.join(dir, name, to));
}
