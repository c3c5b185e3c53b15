#!/bin/sh
# Builds __NAME__.wasm with cargo-component (cargo install cargo-component) against world
# planned-task of wit/task.wit. NOT BUILT IN CI.
set -eu
cd "$(dirname "$0")"
cargo component build --release
cp target/wasm32-wasip1/release/__NAME__.wasm __NAME__.wasm
echo "built __NAME__.wasm"
