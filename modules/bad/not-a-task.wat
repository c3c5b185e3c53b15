;; not-a-task — a valid WASI P2 *component* that satisfies neither Tutti contract:
;; it exports only `hello: func() -> string`, no `run`, no `wasi:cli/run`.
;; Used to test contract validation ("component does not export run or wasi:cli/run").
;; Build: jco parse not-a-task.wat -o not-a-task.wasm
(component
  (core module $m
    (memory (export "memory") 1)
    ;; the string's (ptr, len) pair at address 0, its bytes at address 16
    (data (i32.const 0) "\10\00\00\00\16\00\00\00")
    (data (i32.const 16) "hello from not-a-task!")
    (func (export "hello") (result i32)
      i32.const 0)
  )
  (core instance $i (instantiate $m))
  (func (export "hello") (result string)
    (canon lift (core func $i "hello") (memory (core memory $i "memory"))))
)
