#!/usr/bin/env node
// The CLI runs the compiled code; `npm ci` builds it through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('feedrec: dist/ is missing; run `npm run build` (npm ci does it for you).');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
