#!/bin/sh
# Builds __NAME__.wasm: asc with @assemblyscript/wasi-shim's config makes a WASI preview1 command
# module; jco's preview1 adapter turns it into a wasi:cli/command component.
set -eu
cd "$(dirname "$0")"
# asc 0.28 finds a config's `lib` folder only through a relative path, so name the shim's config relatively.
SHIM=$(node -e "console.log(require('path').relative('.', require.resolve('@assemblyscript/wasi-shim/asconfig.json')))")
npx asc assembly/index.ts --config "$SHIM" -O3 -o __NAME__.core.wasm
npx jco new __NAME__.core.wasm --wasi-command -o __NAME__.wasm
echo "built __NAME__.wasm"
