#!/bin/sh
# Builds __NAME__.wasm: rustc (std only, target wasm32-wasip1 or, before Rust 1.78, wasm32-wasi) makes
# a WASI preview1 command module; jco's preview1 adapter turns it into a wasi:cli/command component.
# $RUSTC picks the compiler; otherwise the first of rustc and /usr/bin/rustc (Debian's, with
# libstd-rust-dev-wasm32) that has a WASI standard library installed.
set -eu
cd "$(dirname "$0")"
pick() {
  for rc in ${RUSTC:-} rustc /usr/bin/rustc; do
    command -v "$rc" >/dev/null 2>&1 || continue
    root=$("$rc" --print sysroot)
    for target in wasm32-wasip1 wasm32-wasi; do
      if [ -d "$root/lib/rustlib/$target/lib" ]; then echo "$rc $target"; return 0; fi
    done
  done
  echo "no rustc with a WASI standard library: rustup target add wasm32-wasip1, or apt-get install rustc libstd-rust-dev-wasm32" >&2
  return 1
}
set -- $(pick)
"$1" --edition 2021 --target "$2" -O -C strip=debuginfo src/main.rs -o __NAME__.core.wasm
npx jco new __NAME__.core.wasm --wasi-command -o __NAME__.wasm
echo "built __NAME__.wasm"
