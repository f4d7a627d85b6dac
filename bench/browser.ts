// Headless Chromium for the README's pictures: Debian's /usr/bin/chromium driven by
// playwright-core (no browser download). Every request a page makes outside this machine is
// refused and remembered, so a picture also proves its page works offline.
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(executablePath = CHROMIUM): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking'],
  });
}

/** Refuses (and remembers in `outside`) every request that leaves this machine. */
export async function offlineOnly(page: Page, outside: string[]): Promise<void> {
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    const local = url.protocol === 'file:' || url.protocol === 'data:' || url.hostname === '127.0.0.1';
    if (local) return route.continue();
    outside.push(url.href);
    return route.abort();
  });
}

/** A whole self-contained HTML file (a report page) as one PNG. */
export async function screenshotFile(
  browser: Browser,
  html: string,
  png: string,
  outside: string[],
  width = 1100,
): Promise<void> {
  const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
  try {
    await offlineOnly(page, outside);
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    // The pages draw their charts on load with animation off (src/report/html.ts): no waiting.
    await page.screenshot({ path: png, fullPage: true });
  } finally {
    await page.close();
  }
}
