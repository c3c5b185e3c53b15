#!/bin/sh
# Builds the polyglot log-analytics flow's components into modules/polyglot/dist/: parse (C),
# by-status (Rust), latency (AssemblyScript), histogram (Go 1.21+, GOOS=wasip1; `$GO`, `go` or
# Debian's /usr/lib/go-1.2x/bin/go) and report (TypeScript). Run from anywhere. Needs the toolchains
# of scripts/setup-toolchains.sh c rust go.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$HERE/../.."
DIST="$HERE/dist"
mkdir -p "$DIST"
cd "$ROOT"
step() { printf '  %-10s' "$1"; START=$(date +%s); }
done_() { echo "$(( $(date +%s) - START )) s"; }

step parse
clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wl,--strip-debug "$HERE/parse.c" -o "$DIST/parse.core.wasm"
npx jco new "$DIST/parse.core.wasm" --wasi-command -o "$DIST/parse.wasm"
# Lines split: a few KiB per instance, so the sample log fans out.
node bin/tutti.mjs manifest set "$DIST/parse.wasm" --split lines --per 4KiB --max 64 >/dev/null 2>&1
done_

step by-status
RUSTC_BIN=/usr/bin/rustc
[ -x "$RUSTC_BIN" ] || RUSTC_BIN=rustc
"$RUSTC_BIN" --edition 2021 --target wasm32-wasi -O -C strip=debuginfo "$HERE/by-status.rs" -o "$DIST/by-status.core.wasm"
npx jco new "$DIST/by-status.core.wasm" --wasi-command -o "$DIST/by-status.wasm"
done_

step latency
SHIM=$(node -e "console.log(require('path').relative('.', require.resolve('@assemblyscript/wasi-shim/asconfig.json')))")
npx asc "$HERE/latency/index.ts" --config "$SHIM" -O3 -o "$DIST/latency.core.wasm"
npx jco new "$DIST/latency.core.wasm" --wasi-command -o "$DIST/latency.wasm"
done_

step histogram
GO_BIN=
for g in ${GO:-} go /usr/lib/go-1.2[1-9]/bin/go; do
  command -v "$g" >/dev/null 2>&1 || continue
  if GOTOOLCHAIN=local "$g" tool dist list 2>/dev/null | grep -qx wasip1/wasm; then GO_BIN=$g; break; fi
done
[ -n "$GO_BIN" ] || { echo "no Go 1.21 or newer (GOOS=wasip1): bash scripts/setup-toolchains.sh go" >&2; exit 1; }
(cd "$HERE/histogram" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-trimpath GOOS=wasip1 GOARCH=wasm \
  "$GO_BIN" build -ldflags=-s -o "$DIST/histogram.core.wasm" .)
npx jco new "$DIST/histogram.core.wasm" --wasi-command -o "$DIST/histogram.wasm"
done_

step report
node "$HERE/report/build.mjs"
done_
