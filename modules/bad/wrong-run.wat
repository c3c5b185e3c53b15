;; wrong-run — a component that exports a function named `run`, but with the wrong type
;; (`run: func() -> u32` instead of tutti:task's `run(partition, inputs, params)`), and
;; no `wasi:cli/run`. Used to test that contract checks compare types, not just names.
;; Build: jco parse wrong-run.wat -o wrong-run.wasm
(component
  (core module $m
    (func (export "run") (result i32)
      i32.const 42)
  )
  (core instance $i (instantiate $m))
  (func (export "run") (result u32)
    (canon lift (core func $i "run")))
)
