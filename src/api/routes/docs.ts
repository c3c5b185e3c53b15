/** A browsable API reference: Swagger UI, served from the installed swagger-ui-dist (no CDN needed). */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';

/** Found on first use: on Workers (which serve no files) resolving it at load would stop the Worker from starting. */
let dist: string | undefined;
const FILES: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript', 'swagger-ui-standalone-preset.js': 'text/javascript' };

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tutti API</title><link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="docs/swagger-ui-bundle.js"></script><script src="docs/swagger-ui-standalone-preset.js"></script>
<script>window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#ui', presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });</script>
</body></html>`;

export function docsRoutes() {
  const app = new Hono();
  app.get('/docs', (c) => c.html(page));
  app.get('/docs/:file', async (c) => {
    const file = c.req.param('file');
    const type = FILES[file];
    if (!type) return c.notFound();
    dist ??= path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    return c.body(new Uint8Array(await readFile(path.join(dist, file))), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
  return app;
}
