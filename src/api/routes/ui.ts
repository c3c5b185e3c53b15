/**
 * The dashboard at /ui: the static files of dashboard/, served as they are. The dashboard only calls
 * the public API, so this is a convenience; any static host serves the same folder.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json', '.ico': 'image/x-icon',
};

export function uiRoutes(dir?: string) {
  const app = new Hono();
  let root: string | undefined;
  app.get('/ui', (c) => c.redirect('/ui/', 301));
  app.get('/ui/*', async (c) => {
    // Found on first use: the package root is unknown on Workers, where importing it fails at start.
    root ??= path.resolve(dir ?? path.join((await import('../../paths.js')).packageRoot, 'dashboard'));
    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path.slice('/ui/'.length)) || 'index.html';
    } catch {
      return c.notFound(); // not percent-encoded UTF-8: no file has that name
    }
    const file = path.resolve(root, rel);
    const type = TYPES[path.extname(file)];
    if (!file.startsWith(root + path.sep) || !type) return c.notFound();
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return c.notFound();
    return c.body(new Uint8Array(await readFile(file)), 200, { 'content-type': type, 'cache-control': 'no-cache' });
  });
  return app;
}
