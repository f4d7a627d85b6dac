import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODELS_DIR } from './tiny-world.js';

/** A models folder of our own holding the committed `<name>/v1` of each model. */
export function copyModels(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feedrec-models-'));
  for (const name of ['control', 'test'])
    cpSync(path.join(MODELS_DIR, name, 'v1'), path.join(dir, name, 'v1'), { recursive: true });
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
