#!/usr/bin/env node
// Builds modules/polyglot/dist/report.wasm: world types from wit/ (jco guest-types), tsc, then
// componentize-js against world `task` with every WASI feature off.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = join(HERE, '..', 'dist');
const WIT = join(HERE, '..', '..', '..', 'wit');
// jco and componentize-js read WIT through preview2-shim, which starts with no filesystem.
_setPreopens({ '/': '/' });

const { types } = await import('@bytecodealliance/jco');
for (const [file, bytes] of Object.entries(await types(WIT, { worldName: 'task', guest: true }))) {
  const out = join(DIST, 'report-types', file);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
}
const tsc = spawnSync('npx', ['tsc', '-p', join(HERE, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const { componentize } = await import('@bytecodealliance/componentize-js');
const { component } = await componentize({
  sourcePath: join(DIST, 'report-js', 'task.js'),
  witPath: WIT,
  worldName: 'task',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
writeFileSync(join(DIST, 'report.wasm'), component);
