;; Not valid WebAssembly text: line 5, column 6 is no instruction.
(module
  (func (export "_start")
    (i32.const 1)
    (bogus)))
