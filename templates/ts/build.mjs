#!/usr/bin/env node
// Builds __NAME__.wasm: TypeScript types for the world from wit/ (jco guest-types), tsc, then
// componentize-js against world planned-task, with every WASI feature off (the component imports
// only tutti:task/host).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORLD = 'planned-task';
process.chdir(HERE);
// jco and componentize-js read WIT and sources through preview2-shim, which starts with no
// filesystem ("No such file or directory (os error 44)"): grant it the host's, in this process only.
_setPreopens({ '/': '/' });

const { types } = await import('@bytecodealliance/jco');
for (const [file, bytes] of Object.entries(await types(resolve('wit'), { worldName: WORLD, guest: true }))) {
  mkdirSync(dirname(join('types', file)), { recursive: true });
  writeFileSync(join('types', file), bytes);
}

const tsc = spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const { componentize } = await import('@bytecodealliance/componentize-js');
const { component } = await componentize({
  sourcePath: resolve('dist/task.js'),
  witPath: resolve('wit'),
  worldName: WORLD,
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
writeFileSync('__NAME__.wasm', component);
console.log('built __NAME__.wasm');
