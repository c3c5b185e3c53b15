#!/bin/sh
# Builds __NAME__.wasm with TinyGo (0.33 or newer), whose wasip2 target emits a wasi:cli/command
# component directly. NOT BUILT IN CI.
set -eu
cd "$(dirname "$0")"
tinygo build -target=wasip2 -no-debug -o __NAME__.wasm .
echo "built __NAME__.wasm"
