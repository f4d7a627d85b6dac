import { describe, expect, it } from 'vitest';
import { makeApp } from './setup.js';

/** Every URL the page or a stylesheet loads: src/href attributes and CSS url(...) values. */
function assetUrls(text: string): string[] {
  const attrs = [...text.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]!);
  const css = [...text.matchAll(/url\(\s*["']?([^"')]+)/g)].map((m) => m[1]!);
  return [...attrs, ...css];
}

// Same origin: a path on this server, not a scheme-relative //host or an absolute URL.
const sameOrigin = (url: string) => url.startsWith('/') && !url.startsWith('//');

describe('/docs', () => {
  it('answers the Swagger UI page, each of whose assets the app serves itself', async () => {
    const { get } = makeApp();
    const page = await get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('id="swagger-ui"');

    const urls = assetUrls(html);
    expect(urls).toEqual(
      expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js']),
    );
    for (const url of urls) {
      expect(sameOrigin(url), url).toBe(true);
      const res = await get(url);
      expect(res.status, url).toBe(200);
      const body = await res.text();
      expect(body.length, url).toBeGreaterThan(0);
      // What an asset loads in turn must also stay on this server (images inline as data: URLs).
      if (url.endsWith('.css')) {
        for (const inner of assetUrls(body))
          expect(inner.startsWith('data:') || sameOrigin(inner), inner).toBe(true);
      }
    }
  });

  it('loads the real Swagger UI from the npm package and points it at this service’s document', async () => {
    const { get } = makeApp();
    const bundle = await get('/docs/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect(await bundle.text()).toContain('SwaggerUIBundle');
    const init = await (await get('/docs/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    // Swagger UI's default would send the document to an online validator.
    expect(init).toContain('validatorUrl: null');
    expect(init).not.toMatch(/https?:\/\//);
    expect((await get('/openapi.json')).status).toBe(200);
  });

  it('serves only the listed files of the package', async () => {
    const { get } = makeApp();
    for (const path of [
      '/docs/package.json',
      '/docs/index.html',
      '/docs/..%2Fpackage.json',
      '/docs/%2e%2e',
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it('counts the page and its assets under two route labels', async () => {
    const { get, metrics } = makeApp();
    await get('/docs');
    await get('/docs/swagger-ui.css');
    await get('/docs/nonexistent.js');
    const text = await metrics.text();
    expect(text).toContain(
      'feedrec_http_request_duration_seconds_count{route="/docs",status="200",group="none"} 1',
    );
    expect(text).toContain('route="/docs/asset",status="200"');
    expect(text).toContain('route="/docs/asset",status="404"');
  });
});
