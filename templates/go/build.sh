#!/bin/sh
# Builds __NAME__.wasm: Go's GOOS=wasip1 port (Go 1.21 or newer; standard library only, so no module
# proxy) makes a WASI preview1 command module; jco's preview1 adapter turns it into a wasi:cli/command
# component. $GO picks the go binary; otherwise the first of `go` on PATH and /usr/lib/go-1.2x/bin/go
# (Debian's golang-1.2x-go, e.g. from bookworm-backports) that is 1.21 or newer.
set -eu
cd "$(dirname "$0")"
pick() {
  for go in ${GO:-} go /usr/lib/go-1.2[1-9]/bin/go; do
    command -v "$go" >/dev/null 2>&1 || continue
    # go1.21 and newer have GOOS=wasip1
    if GOTOOLCHAIN=local "$go" tool dist list 2>/dev/null | grep -qx wasip1/wasm; then echo "$go"; return 0; fi
  done
  echo "no Go 1.21 or newer: install it from go.dev, or on Debian 12 apt-get install -t bookworm-backports golang-1.23-go" >&2
  return 1
}
go=$(pick)
# GOTOOLCHAIN=local: never download another Go; GOPROXY=off: nothing to fetch (std only).
# GOCACHE defaults to ~/.cache/go-build; a project-local one works where $HOME is not writable.
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-trimpath GOOS=wasip1 GOARCH=wasm
[ -n "${GOCACHE:-}" ] || { [ -w "${HOME:-/nonexistent}" ] || export GOCACHE="$PWD/.gocache"; }
"$go" build -ldflags=-s -o __NAME__.core.wasm .
npx jco new __NAME__.core.wasm --wasi-command -o __NAME__.wasm
echo "built __NAME__.wasm"
