;; v128 values through the interpreter's frame layout: two slots each, results that overlap
;; their operands, blocks, branches, calls and multi-value returns. Driven by tests/simd.rs.
(module
  (memory 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\80\ff")
  (table 1 funcref)
  (elem (i32.const 0) $pair)
  (global $g (mut v128) (v128.const i32x4 0 0 0 0))
  (type $pair_t (func (param v128 i32) (result i32 v128)))

  ;; The splat's result (two slots) starts where its i32 operand, a temporary, is.
  (func (export "splat_over_operand") (param i32) (result v128)
    (i32x4.splat (i32.add (local.get 0) (i32.const 1))))

  ;; A lane load whose address is a temporary right below the vector, and whose result
  ;; starts on that address's slot.
  (func (export "load_lane_temp_address") (param i32 v128) (result v128)
    (v128.load32_lane 1 (i32.add (local.get 0) (i32.const 4)) (local.get 1)))

  ;; A lane store, read back.
  (func (export "store_lane") (param v128) (result i64)
    (v128.store16_lane 7 (i32.const 100) (local.get 0))
    (i64.load16_u (i32.const 100)))

  (func (export "load_extend") (param i32) (result v128)
    (v128.load8x8_s (local.get 0)))

  ;; A block with v128 parameters and result.
  (func (export "block_params") (param v128 v128) (result v128)
    (local.get 0) (local.get 1)
    (block (param v128 v128) (result v128) (i8x16.add)))

  ;; br_table carrying a v128 to one of three targets.
  (func (export "br_table") (param i32 v128) (result v128)
    (block $b2 (result v128)
      (block $b1 (result v128)
        (block $b0 (result v128)
          (local.get 1) (local.get 0) (br_table $b0 $b1 $b2))
        (return (i32x4.add (v128.const i32x4 1 1 1 1))))
      (return (i32x4.add (v128.const i32x4 2 2 2 2))))
    (i32x4.add (v128.const i32x4 3 3 3 3)))

  ;; A loop carrying a v128 parameter: the sum 1 + 2 + ... + n in every lane.
  (func (export "loop_param") (param $n i32) (result v128) (local $i i32)
    (v128.const i32x4 0 0 0 0)
    (loop $l (param v128) (result v128)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (i32x4.add (i32x4.splat (local.get $i)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))

  ;; local.set of a v128 still read from the stack: the old value is kept.
  (func (export "set_keeps_old") (param v128) (result v128)
    (local.get 0)
    (local.set 0 (v128.const i32x4 1 1 1 1))
    (local.get 0)
    (i32x4.sub))

  (func (export "select") (param v128 v128 i32) (result v128)
    (select (local.get 0) (local.get 1) (local.get 2)))

  (func (export "if_result") (param i32 v128) (result v128)
    (if (result v128) (local.get 0)
      (then (i64x2.neg (local.get 1)))
      (else (local.get 1))))

  ;; Multi-value results mixing widths, swapped through the result slots.
  (func $pair (param v128 i32) (result i32 v128)
    (local.get 1) (local.get 0))
  (func (export "call_pair") (param v128 i32) (result v128 i32) (local i32 v128)
    (call $pair (local.get 0) (local.get 1))
    (local.set 3)
    (local.set 2)
    (call_indirect (type $pair_t)
      (local.get 3) (i32.add (local.get 2) (i32.const 1)) (i32.const 0))
    (local.set 3)
    (local.set 2)
    (local.get 3)
    (local.get 2))

  (func (export "global") (param v128) (result v128)
    (global.set $g (i32x4.mul (local.get 0) (local.get 0)))
    (global.get $g))

  (func (export "shuffle_bitselect") (param v128 v128) (result v128)
    (v128.bitselect
      (i8x16.shuffle 16 1 18 3 20 5 22 7 24 9 26 11 28 13 30 15 (local.get 0) (local.get 1))
      (local.get 1)
      (v128.const i64x2 -1 0)))

  (func (export "bitmask_of_compare") (param v128 v128) (result i32)
    (i8x16.bitmask (i8x16.lt_s (local.get 0) (local.get 1))))

  (func (export "f32x4_min_zeros") (param v128 v128) (result v128)
    (f32x4.min (local.get 0) (local.get 1)))
)
