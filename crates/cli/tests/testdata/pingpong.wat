;; Mutual recursion without end: a stack overflow whose trace cycles through $ping and $pong.
(module
  (func $ping (param i32) (result i32)
    (i32.add (call $pong (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $pong (param i32) (result i32)
    (i32.add (call $ping (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $_start (export "_start")
    (drop (call $ping (i32.const 0)))))
