#!/bin/sh
# Builds __NAME__.wasm: a freestanding wasm32 core module (libc's string and memory functions, no
# WASI) that exports `run` and `plan` and carries its world's type, both through tutti.h; `jco new`
# then makes it a component (no WASI adapter: the component imports only tutti:task/host).
set -eu
cd "$(dirname "$0")"
if [ -n "${WASI_SDK_PATH:-}" ]; then
  CLANG="$WASI_SDK_PATH/bin/clang"; SYSROOT="$WASI_SDK_PATH/share/wasi-sysroot"
else
  CLANG=clang; SYSROOT=/usr
fi
"$CLANG" --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -Wall -nostartfiles -Wl,--no-entry -Wl,--strip-debug -I . task.c -o __NAME__.core.wasm
npx jco new __NAME__.core.wasm -o __NAME__.wasm
echo "built __NAME__.wasm"
