// The README's pictures, taken in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the /docs page of a running service after "Try it out" → Execute, and the
// page `feedrec check --html` writes, and (given --experiment-html) the page `feedrec ab report
// --html` wrote. Not part of CI.
//
//   npm run screenshots [-- --data-dir data --port 8000 --requests 2000 --out docs/screenshots]
//     [--experiment-html docs/experiments/ab-demo-report.html [--experiment-only]]
//
// Starts `feedrec serve` on the data folder (a first start builds the demo world, as
// `npm start` does), then stops it and runs the checker on the same data (the embedded database
// takes one process at a time). Every request the browser makes outside this machine is
// refused and fails the script, so the pictures also show that /docs works offline.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium, offlineOnly, screenshotFile } from './browser.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const feedrec = path.join(root, 'bin/feedrec.js');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });

function run(args: string[], opts: { detached?: boolean } = {}): ChildProcess {
  return spawn(process.execPath, [feedrec, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', opts.detached ? 'ignore' : 'inherit', 'inherit'],
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code ?? 1)),
  );

async function waitReady(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`feedrec serve exited with ${child.exitCode}`);
    const status = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`feedrec serve not ready after ${timeoutMs / 1000} s`);
}

async function docsPage(page: Page, base: string, file: string): Promise<void> {
  // Deep link: the operation opens expanded (Swagger UI's deepLinking), "Try it out" is on.
  await page.goto(`${base}/docs#/default/recommendations`, { waitUntil: 'networkidle' });
  const op = page.locator('#operations-default-recommendations');
  await op.locator('.parameters').waitFor();
  await op.locator('tr[data-param-name="id"] input').fill('226');
  await op.locator('tr[data-param-name="time"] input').fill('2021-12-01T12:00:00');
  await op.locator('tr[data-param-name="limit"] input').fill('2');
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table');
  // The answer's row (code 200, body, headers) comes after the table's header row.
  await live.locator('.response-col_description').nth(1).locator('.microlight').first().waitFor();
  await page.waitForTimeout(500); // syntax highlighting settles the layout
  // From the page's title to the end of the live answer (the documented statuses follow).
  const box = await live.boundingBox();
  if (!box) throw new Error('Swagger UI did not render the answer');
  const width = page.viewportSize()!.width;
  await page.screenshot({
    path: file,
    fullPage: true,
    clip: { x: 0, y: 0, width, height: box.y + box.height + 24 },
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string', default: path.join(root, 'data') },
      port: { type: 'string', default: '0' },
      requests: { type: 'string', default: '2000' },
      out: { type: 'string', default: path.join(root, 'docs/screenshots') },
      chromium: { type: 'string', default: CHROMIUM },
      'experiment-html': { type: 'string' },
      // The experiment page alone: no service, no checker (the page is already written).
      'experiment-only': { type: 'boolean', default: false },
    },
  });
  const dataDir = path.resolve(values['data-dir']);
  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'feedrec-screenshots-'));
  const browser = await launchChromium(values.chromium);
  const outside: string[] = [];
  try {
    if (!values['experiment-only']) await docsAndChecker();
    if (values['experiment-html'])
      await screenshotFile(
        browser,
        path.resolve(values['experiment-html']),
        path.join(out, 'experiment-report.png'),
        outside,
      );
  } finally {
    await browser.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (outside.length > 0) throw new Error(`the pages asked for outside URLs: ${outside.join(', ')}`);
  const wrote = values['experiment-only'] ? [] : ['docs-page.png', 'checker-report.png'];
  if (values['experiment-html']) wrote.push('experiment-report.png');
  console.error(`screenshots: wrote ${wrote.join(', ')} in ${out}`);

  async function docsAndChecker(): Promise<void> {
    const port = values.port === '0' ? await freePort() : Number(values.port);
    const base = `http://127.0.0.1:${port}`;
    const service = run(['serve', '--port', String(port), '--data-dir', dataDir], { detached: true });
    try {
      console.error(
        `screenshots: waiting for feedrec serve on ${base} (a first start builds the demo world)`,
      );
      await waitReady(base, service, 15 * 60_000);
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
      await offlineOnly(page, outside);
      await docsPage(page, base, path.join(out, 'docs-page.png'));
    } finally {
      service.kill('SIGTERM');
      await exited(service);
    }

    const html = path.join(tmp, 'checker.html');
    console.error('screenshots: running the checker (every policy, in process)');
    const check = run(['check', '--data-dir', dataDir, '--requests', values.requests, '--html', html]);
    if ((await exited(check)) !== 0) throw new Error('feedrec check failed');
    await screenshotFile(browser, html, path.join(out, 'checker-report.png'), outside);
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
