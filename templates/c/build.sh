#!/bin/sh
# Builds __NAME__.wasm: clang (wasm32-wasi, Debian's wasi-libc or a wasi-sdk) makes a WASI preview1
# command module; jco's preview1 adapter turns it into a wasi:cli/command component.
set -eu
cd "$(dirname "$0")"
if [ -n "${WASI_SDK_PATH:-}" ]; then
  CLANG="$WASI_SDK_PATH/bin/clang"; SYSROOT="$WASI_SDK_PATH/share/wasi-sysroot"
else
  CLANG=clang; SYSROOT=/usr
fi
"$CLANG" --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -Wall -Wl,--strip-debug task.c -o __NAME__.core.wasm
npx jco new __NAME__.core.wasm --wasi-command -o __NAME__.wasm
echo "built __NAME__.wasm"
