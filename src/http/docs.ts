import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Hono } from 'hono';
import type { AppEnv } from './types.js';

/**
 * Swagger UI at /docs, served from the swagger-ui-dist package through the app's own routes:
 * the page works without internet access, where the Hono middlewares' CDN default would not.
 */

export const DOCS_PATH = '/docs';

// Only these files of the package are served (no path from the request reaches the disk).
const PACKAGE_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

// validatorUrl: null keeps Swagger UI from sending the document to its online validator.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>feedrec API</title>
<link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png" sizes="32x32">
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

let packageDir: string | undefined;
const cache = new Map<string, Promise<Buffer>>();

/** A file of swagger-ui-dist, read once on first use (not at app creation: no side effects). */
function packageAsset(file: string): Promise<Buffer> {
  let bytes = cache.get(file);
  if (!bytes) {
    packageDir ??= path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    bytes = readFile(path.join(packageDir, file));
    bytes.catch(() => cache.delete(file));
    cache.set(file, bytes);
  }
  return bytes;
}

/** Adds GET /docs (the page) and GET /docs/<asset> to the app. */
export function addDocsRoutes(app: Hono<AppEnv>): void {
  app.get(DOCS_PATH, (c) => c.html(PAGE));
  app.get(`${DOCS_PATH}/init.js`, (c) =>
    c.body(INIT_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }),
  );
  app.get(`${DOCS_PATH}/:file`, async (c) => {
    const file = c.req.param('file');
    const type = Object.hasOwn(PACKAGE_ASSETS, file) ? PACKAGE_ASSETS[file] : undefined;
    if (type === undefined) return c.notFound();
    const bytes = await packageAsset(file);
    // The assets change only with the package version, i.e. with a new release of the service.
    return c.body(new Uint8Array(bytes), 200, {
      'Content-Type': type,
      'Cache-Control': 'public, max-age=3600',
    });
  });
}
