#!/bin/sh
# Builds __NAME__.wasm with componentize-py (pip install componentize-py) against world `task`.
# NOT BUILT IN CI.
set -eu
cd "$(dirname "$0")"
componentize-py --wit-path wit --world task componentize app -o __NAME__.wasm
echo "built __NAME__.wasm"
