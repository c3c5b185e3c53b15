#!/bin/sh
# Builds __NAME__.wasm: clang++ (wasm32-wasi, with Debian's wasi-libc and libc++/libc++abi for wasm32,
# or a wasi-sdk) makes a WASI preview1 command module; jco's preview1 adapter turns it into a
# wasi:cli/command component. WASI preview1 has no exception support, hence -fno-exceptions.
set -eu
cd "$(dirname "$0")"
if [ -n "${WASI_SDK_PATH:-}" ]; then
  CXX="$WASI_SDK_PATH/bin/clang++"; SYSROOT="$WASI_SDK_PATH/share/wasi-sysroot"
else
  CXX=clang++; SYSROOT=/usr
fi
"$CXX" --target=wasm32-wasi --sysroot="$SYSROOT" -std=c++17 -O2 -Wall -fno-exceptions -Wl,--strip-debug \
  task.cpp -o __NAME__.core.wasm
npx jco new __NAME__.core.wasm --wasi-command -o __NAME__.wasm
echo "built __NAME__.wasm"
