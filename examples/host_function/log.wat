;; Calls the host's env.log with a string in its memory, and env.add to sum two numbers.
(module
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm")
  (func (export "run") (param i32 i32) (result i32)
    (call $log (i32.const 16) (i32.const 15))
    (call $add (local.get 0) (local.get 1))))
