;; Recursion without end: a stack overflow whose trace is thousands of frames of $down.
(module
  (func $down (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $_start (export "_start")
    (drop (call $down (i32.const 0)))))
