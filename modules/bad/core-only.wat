;; core-only — a plain *core* WebAssembly module (a WASI preview1-style command with an
;; empty `_start`), not a component. Used to test "core module instead of component".
;; Build: jco parse core-only.wat -o core-only.wasm
(module
  (memory (export "memory") 1)
  (func (export "_start"))
)
