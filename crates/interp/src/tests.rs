//! Tests of the dispatch itself: that the build tests run is the threaded one, that it runs long
//! loops in constant native stack, and that the native stack guard traps cleanly.

use std::cell::Cell;
use std::sync::Arc;

use keel_runtime::{Module, ModuleConfig, Runtime, RuntimeConfig, Val};

use crate::Interpreter;

thread_local! {
    /// When set, replaces the native stack limit of executions started on this thread.
    pub(crate) static NATIVE_STACK_LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn instantiate(wat: &str) -> Module {
    let rt = Runtime::with_engine(RuntimeConfig::default(), Arc::new(Interpreter));
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates")
}

/// A loop of `n` iterations whose body mixes many instruction kinds: arithmetic with registers
/// and immediates, compare-and-branch, `br_table`, `select`, loads, stores, globals and a call.
const MIXED_LOOP: &str = r#"(module
    (memory 1)
    (global $g (mut i32) (i32.const 0))
    (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
    (func (export "run") (param $n i32) (result i32)
        (local $i i32) (local $acc i32) (local $x i64) (local $f f64)
        (loop $top
            (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 3))))
            (local.set $acc (i32.xor (local.get $acc) (i32.shr_u (local.get $acc) (i32.const 7))))
            (local.set $x (i64.add (local.get $x) (i64.extend_i32_u (local.get $acc))))
            (local.set $f (f64.add (local.get $f) (f64.const 0.5)))
            (i32.store (i32.and (local.get $i) (i32.const 1020)) (local.get $acc))
            (local.set $acc (i32.add (local.get $acc)
                (i32.load offset=4 (i32.and (local.get $i) (i32.const 1020)))))
            (block $b2 (block $b1 (block $b0
                (br_table $b0 $b1 $b2 (i32.and (local.get $i) (i32.const 3))))
                (local.set $acc (i32.add (local.get $acc) (i32.const 1))) (br $b2))
                (local.set $acc (i32.sub (local.get $acc) (i32.const 1))))
            (local.set $acc (select (local.get $acc) (i32.const 5)
                (i32.lt_u (local.get $acc) (i32.const -1))))
            (global.set $g (call $inc (global.get $g)))
            (br_if $top (i32.lt_u
                (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (i32.add (local.get $acc) (i32.add (global.get $g) (i32.wrap_i64 (local.get $x)))))
)"#;

/// The build that tests run is the threaded one on the targets that ship it, so that the tests
/// and the spec suites exercise the dispatch that ships (`[profile.dev.package.keel-interp]` in
/// the workspace's `Cargo.toml`).
#[test]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[allow(clippy::assertions_on_constants)]
fn tests_run_the_threaded_dispatch() {
    assert!(cfg!(keel_tail_dispatch), "keel-interp was built without threaded dispatch");
}

/// 50 million iterations of about 30 instructions: if any handler on this path were a real call
/// rather than a jump, the native stack would grow by more than a gigabyte; the guard traps
/// after 256 KiB instead, and the test fails with its message.
#[test]
fn long_loop_runs_in_constant_native_stack() {
    let m = instantiate(MIXED_LOOP);
    let n = if cfg!(keel_tail_dispatch) { 50_000_000 } else { 1_000_000 };
    let r = m.func("run").unwrap().call(&[Val::I32(n)]);
    let v = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 1);
}

/// Recursion through a call without parameters or results made at the caller's greatest stack
/// height goes as deep as any other (each such call used to take 64 Ki value slots, so that the
/// value stack overflowed after 16 of them).
#[test]
fn recursion_without_operands_is_not_a_stack_overflow() {
    let m = instantiate(
        r#"(module
            (global $n (mut i32) (i32.const 0))
            (func $down
                (if (i32.eqz (global.get $n)) (then (return)))
                (global.set $n (i32.sub (global.get $n) (i32.const 1)))
                (i32.const 7) (i32.const 8)
                (call $down)
                (drop) (drop))
            (func (export "run") (param i32)
                (global.set $n (local.get 0))
                (call $down)))"#,
    );
    let r = m.func("run").unwrap().call(&[Val::I32(1000)]);
    r.unwrap_or_else(|e| panic!("{e}"));
}

/// With a native stack limit above the current stack, the first backward jump traps cleanly.
#[test]
fn native_stack_guard_traps() {
    let m = instantiate(MIXED_LOOP);
    NATIVE_STACK_LIMIT.set(Some(usize::MAX));
    let r = m.func("run").unwrap().call(&[Val::I32(10)]);
    NATIVE_STACK_LIMIT.set(None);
    let e = r.expect_err("the guard traps");
    assert!(e.to_string().contains("native stack"), "{e}");
    let ok = m.func("run").unwrap().call(&[Val::I32(10)]);
    assert!(ok.is_ok());
}

/// Every SIMD operator, by shape, for [`simd_loop_runs_in_constant_native_stack`].
const SIMD_UNARY: &[&str] = &[
    "v128.not",
    "i8x16.abs",
    "i8x16.neg",
    "i8x16.popcnt",
    "i16x8.extadd_pairwise_i8x16_s",
    "i16x8.extadd_pairwise_i8x16_u",
    "i16x8.abs",
    "i16x8.neg",
    "i16x8.extend_low_i8x16_s",
    "i16x8.extend_high_i8x16_s",
    "i16x8.extend_low_i8x16_u",
    "i16x8.extend_high_i8x16_u",
    "i32x4.extadd_pairwise_i16x8_s",
    "i32x4.extadd_pairwise_i16x8_u",
    "i32x4.abs",
    "i32x4.neg",
    "i32x4.extend_low_i16x8_s",
    "i32x4.extend_high_i16x8_s",
    "i32x4.extend_low_i16x8_u",
    "i32x4.extend_high_i16x8_u",
    "i64x2.abs",
    "i64x2.neg",
    "i64x2.extend_low_i32x4_s",
    "i64x2.extend_high_i32x4_s",
    "i64x2.extend_low_i32x4_u",
    "i64x2.extend_high_i32x4_u",
    "f32x4.ceil",
    "f32x4.floor",
    "f32x4.trunc",
    "f32x4.nearest",
    "f32x4.abs",
    "f32x4.neg",
    "f32x4.sqrt",
    "f64x2.ceil",
    "f64x2.floor",
    "f64x2.trunc",
    "f64x2.nearest",
    "f64x2.abs",
    "f64x2.neg",
    "f64x2.sqrt",
    "i32x4.trunc_sat_f32x4_s",
    "i32x4.trunc_sat_f32x4_u",
    "f32x4.convert_i32x4_s",
    "f32x4.convert_i32x4_u",
    "i32x4.trunc_sat_f64x2_s_zero",
    "i32x4.trunc_sat_f64x2_u_zero",
    "f64x2.convert_low_i32x4_s",
    "f64x2.convert_low_i32x4_u",
    "f32x4.demote_f64x2_zero",
    "f64x2.promote_low_f32x4",
];
const SIMD_BINARY: &[&str] = &[
    "i8x16.swizzle",
    "i8x16.eq",
    "i8x16.ne",
    "i8x16.lt_s",
    "i8x16.lt_u",
    "i8x16.gt_s",
    "i8x16.gt_u",
    "i8x16.le_s",
    "i8x16.le_u",
    "i8x16.ge_s",
    "i8x16.ge_u",
    "i16x8.eq",
    "i16x8.ne",
    "i16x8.lt_s",
    "i16x8.lt_u",
    "i16x8.gt_s",
    "i16x8.gt_u",
    "i16x8.le_s",
    "i16x8.le_u",
    "i16x8.ge_s",
    "i16x8.ge_u",
    "i32x4.eq",
    "i32x4.ne",
    "i32x4.lt_s",
    "i32x4.lt_u",
    "i32x4.gt_s",
    "i32x4.gt_u",
    "i32x4.le_s",
    "i32x4.le_u",
    "i32x4.ge_s",
    "i32x4.ge_u",
    "i64x2.eq",
    "i64x2.ne",
    "i64x2.lt_s",
    "i64x2.gt_s",
    "i64x2.le_s",
    "i64x2.ge_s",
    "f32x4.eq",
    "f32x4.ne",
    "f32x4.lt",
    "f32x4.gt",
    "f32x4.le",
    "f32x4.ge",
    "f64x2.eq",
    "f64x2.ne",
    "f64x2.lt",
    "f64x2.gt",
    "f64x2.le",
    "f64x2.ge",
    "v128.and",
    "v128.andnot",
    "v128.or",
    "v128.xor",
    "i8x16.narrow_i16x8_s",
    "i8x16.narrow_i16x8_u",
    "i8x16.add",
    "i8x16.add_sat_s",
    "i8x16.add_sat_u",
    "i8x16.sub",
    "i8x16.sub_sat_s",
    "i8x16.sub_sat_u",
    "i8x16.min_s",
    "i8x16.min_u",
    "i8x16.max_s",
    "i8x16.max_u",
    "i8x16.avgr_u",
    "i16x8.q15mulr_sat_s",
    "i16x8.narrow_i32x4_s",
    "i16x8.narrow_i32x4_u",
    "i16x8.add",
    "i16x8.add_sat_s",
    "i16x8.add_sat_u",
    "i16x8.sub",
    "i16x8.sub_sat_s",
    "i16x8.sub_sat_u",
    "i16x8.mul",
    "i16x8.min_s",
    "i16x8.min_u",
    "i16x8.max_s",
    "i16x8.max_u",
    "i16x8.avgr_u",
    "i16x8.extmul_low_i8x16_s",
    "i16x8.extmul_high_i8x16_s",
    "i16x8.extmul_low_i8x16_u",
    "i16x8.extmul_high_i8x16_u",
    "i32x4.add",
    "i32x4.sub",
    "i32x4.mul",
    "i32x4.min_s",
    "i32x4.min_u",
    "i32x4.max_s",
    "i32x4.max_u",
    "i32x4.dot_i16x8_s",
    "i32x4.extmul_low_i16x8_s",
    "i32x4.extmul_high_i16x8_s",
    "i32x4.extmul_low_i16x8_u",
    "i32x4.extmul_high_i16x8_u",
    "i64x2.add",
    "i64x2.sub",
    "i64x2.mul",
    "i64x2.extmul_low_i32x4_s",
    "i64x2.extmul_high_i32x4_s",
    "i64x2.extmul_low_i32x4_u",
    "i64x2.extmul_high_i32x4_u",
    "f32x4.add",
    "f32x4.sub",
    "f32x4.mul",
    "f32x4.div",
    "f32x4.min",
    "f32x4.max",
    "f32x4.pmin",
    "f32x4.pmax",
    "f64x2.add",
    "f64x2.sub",
    "f64x2.mul",
    "f64x2.div",
    "f64x2.min",
    "f64x2.max",
    "f64x2.pmin",
    "f64x2.pmax",
];
const SIMD_SHIFT: &[&str] = &[
    "i8x16.shl",
    "i8x16.shr_s",
    "i8x16.shr_u",
    "i16x8.shl",
    "i16x8.shr_s",
    "i16x8.shr_u",
    "i32x4.shl",
    "i32x4.shr_s",
    "i32x4.shr_u",
    "i64x2.shl",
    "i64x2.shr_s",
    "i64x2.shr_u",
];
const SIMD_TEST: &[&str] = &[
    "v128.any_true",
    "i8x16.all_true",
    "i8x16.bitmask",
    "i16x8.all_true",
    "i16x8.bitmask",
    "i32x4.all_true",
    "i32x4.bitmask",
    "i64x2.all_true",
    "i64x2.bitmask",
];
/// Operators with their own operands, as whole expressions leaving a v128 (`$v`, `$w`: v128
/// locals; `$i`: the i32 counter).
const SIMD_OTHER: &[&str] = &[
    "(i8x16.splat (local.get $i))",
    "(i16x8.splat (local.get $i))",
    "(i32x4.splat (local.get $i))",
    "(i64x2.splat (i64.extend_i32_u (local.get $i)))",
    "(f32x4.splat (f32.convert_i32_s (local.get $i)))",
    "(f64x2.splat (f64.convert_i32_s (local.get $i)))",
    "(i8x16.replace_lane 3 (local.get $v) (i8x16.extract_lane_s 5 (local.get $w)))",
    "(i8x16.replace_lane 4 (local.get $v) (i8x16.extract_lane_u 6 (local.get $w)))",
    "(i16x8.replace_lane 1 (local.get $v) (i16x8.extract_lane_s 2 (local.get $w)))",
    "(i16x8.replace_lane 0 (local.get $v) (i16x8.extract_lane_u 7 (local.get $w)))",
    "(i32x4.replace_lane 2 (local.get $v) (i32x4.extract_lane 3 (local.get $w)))",
    "(i64x2.replace_lane 1 (local.get $v) (i64x2.extract_lane 0 (local.get $w)))",
    "(f32x4.replace_lane 2 (local.get $v) (f32x4.extract_lane 1 (local.get $w)))",
    "(f64x2.replace_lane 0 (local.get $v) (f64x2.extract_lane 1 (local.get $w)))",
    "(i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get $v) (local.get $w))",
    "(v128.bitselect (local.get $v) (local.get $w) (v128.const i32x4 -1 0 -1 0))",
    "(select (local.get $v) (local.get $w) (i32.and (local.get $i) (i32.const 1)))",
    "(global.get $g)",
    "(v128.load offset=16 (i32.const 0))",
    "(v128.load8x8_s (i32.const 3))",
    "(v128.load8x8_u (i32.const 3))",
    "(v128.load16x4_s (i32.const 3))",
    "(v128.load16x4_u (i32.const 3))",
    "(v128.load32x2_s (i32.const 3))",
    "(v128.load32x2_u (i32.const 3))",
    "(v128.load8_splat (i32.const 5))",
    "(v128.load16_splat (i32.const 5))",
    "(v128.load32_splat (i32.const 5))",
    "(v128.load64_splat (i32.const 5))",
    "(v128.load32_zero (i32.const 7))",
    "(v128.load64_zero (i32.const 7))",
    "(v128.load8_lane 1 (i32.const 9) (local.get $v))",
    "(v128.load16_lane 2 (i32.const 9) (local.get $v))",
    "(v128.load32_lane 3 (i32.const 9) (local.get $v))",
    "(v128.load64_lane 1 (i32.const 9) (local.get $v))",
];
/// Statements: stores and global writes.
const SIMD_STORES: &[&str] = &[
    "(v128.store offset=32 (i32.const 0) (local.get $v))",
    "(v128.store8_lane 3 (i32.const 64) (local.get $w))",
    "(v128.store16_lane 3 (i32.const 64) (local.get $w))",
    "(v128.store32_lane 3 (i32.const 64) (local.get $w))",
    "(v128.store64_lane 1 (i32.const 64) (local.get $w))",
    "(global.set $g (local.get $w))",
];

/// A loop of `n` iterations running every SIMD operator, each through its own handler.
fn simd_loop() -> String {
    let mut body = String::new();
    let mut n = 0;
    let mut set = |expr: String| {
        // Alternate the destination so that both locals keep changing.
        let dst = ["$v", "$w"][n & 1];
        n += 1;
        body += &format!("(local.set {dst} {expr})\n");
    };
    for op in SIMD_UNARY {
        set(format!("({op} (local.get $v))"));
    }
    for op in SIMD_BINARY {
        set(format!("({op} (local.get $v) (local.get $w))"));
    }
    for op in SIMD_SHIFT {
        set(format!("({op} (local.get $v) (local.get $i))"));
    }
    for op in SIMD_TEST {
        set(format!("(i32x4.splat ({op} (local.get $w)))"));
    }
    for expr in SIMD_OTHER {
        set(expr.to_string());
    }
    for stmt in SIMD_STORES {
        body += stmt;
        body += "\n";
    }
    format!(
        r#"(module (memory 1) (global $g (mut v128) (v128.const i64x2 1 2))
        (func (export "run") (param $n i32) (result i32) (local $i i32) (local $v v128) (local $w v128)
            (local.set $v (v128.const i32x4 1 2 3 4))
            (local.set $w (v128.const i32x4 5 6 7 8))
            (loop $top
                {body}
                (br_if $top (i32.lt_u
                    (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
            (i32x4.extract_lane 0 (v128.xor (local.get $v) (local.get $w)))))"#
    )
}

/// The SIMD handlers dispatch by tail calls too: 100 000 iterations of a loop through every
/// one of them (about 25 million dispatches) would grow the native stack past the guard's
/// budget if one were a real call.
#[test]
fn simd_loop_runs_in_constant_native_stack() {
    let m = instantiate(&simd_loop());
    let n = if cfg!(keel_tail_dispatch) { 100_000 } else { 1_000 };
    let r = m.func("run").unwrap().call(&[Val::I32(n)]);
    r.unwrap_or_else(|e| panic!("{e}"));
}

/// Loads whose address shift (and addition) is folded into them: wrapping only where Wasm wraps.
#[test]
fn loads_through_folded_shifts() {
    let m = instantiate(
        r#"(module (memory 1)
        (data (i32.const 4) "\04\00\00\00\08\00\00\00")
        (func (export "shl_off") (param i32) (result i32)
            (i32.load offset=4 (i32.shl (local.get 0) (i32.const 2))))
        (func (export "shl_add") (param i32) (result i32)
            (i32.load (i32.add (i32.shl (local.get 0) (i32.const 34)) (i32.const 8))))
        (func (export "shl_f64") (param i32) (result f64)
            (f64.load offset=4 (i32.shl (local.get 0) (i32.const 3)))))"#,
    );
    let call = |name: &str, x: i32| m.func(name).unwrap().call(&[Val::I32(x)]);
    let i32_of = |r: Vec<Val>| match r[0] {
        Val::I32(v) => v,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(i32_of(call("shl_off", 0).unwrap()), 4);
    assert_eq!(i32_of(call("shl_off", 1).unwrap()), 8);
    // (0x4000_0001 << 2) wraps to 4 as an i32.shl does; then + offset 4, without wrapping.
    assert_eq!(i32_of(call("shl_off", 0x4000_0001).unwrap()), 8);
    // 0xFFFF_FFFC + offset 4 is past 4 GiB: out of bounds, not address 0.
    assert!(call("shl_off", 0x3FFF_FFFF).is_err());
    // The shift count is taken modulo 32; the i32.add wraps: 0xFFFF_FFFC + 8 = 4.
    assert_eq!(i32_of(call("shl_add", 0).unwrap()), 8);
    assert_eq!(i32_of(call("shl_add", 0x3FFF_FFFF).unwrap()), 4);
    assert!(call("shl_f64", 0x2000_0000).is_ok()); // wraps to 0, then + 4
    assert!(call("shl_f64", 0x1FFF_FFFF).is_err());
}

/// `i32.add` of a shifted index, in either operand order: wrapping, shift counts modulo 32.
#[test]
fn add_of_a_shifted_index() {
    let m = instantiate(
        r#"(module
        (func (export "right") (param i32 i32) (result i32)
            (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 35))))
        (func (export "left") (param i32 i32) (result i32)
            (i32.add (i32.shl (local.get 1) (i32.const 2)) (local.get 0)))
        (func (export "tee") (param i32 i32) (result i32) (local i32)
            (i32.add (local.get 0) (local.tee 2 (i32.shl (local.get 1) (i32.const 2))))
            (local.get 2) (i32.add)))"#,
    );
    let call = |name: &str, a: i32, b: i32| match m
        .func(name)
        .unwrap()
        .call(&[Val::I32(a), Val::I32(b)])
        .unwrap()[0]
    {
        Val::I32(v) => v,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(call("right", 100, 3), 124);
    assert_eq!(call("left", 100, 3), 112);
    assert_eq!(call("left", -4, 0x4000_0001), 0);
    assert_eq!(call("tee", 1, 3), 25);
}

/// Counted loops whose step and back edge are fused: every comparison and operand order.
#[test]
fn counted_loops() {
    let m = instantiate(
        r#"(module
        (func (export "ne") (param $n i32) (result i32) (local $i i32) (local $k i32)
            (loop $l (local.set $k (i32.add (local.get $k) (i32.const 3)))
                (br_if $l (i32.ne (local.get $n)
                    (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
            (local.get $k))
        (func (export "lts") (param $n i32) (result i32) (local $i i32) (local $k i32)
            (local.set $i (i32.const -10))
            (loop $l (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_s
                    (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $n))))
            (local.get $k))
        (func (export "ltu_reg") (param $n i32) (result i32) (local $i i32) (local $s i32) (local $k i32)
            (local.set $s (i32.const 7))
            (loop $l (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i32.lt_u
                    (local.tee $i (i32.add (local.get $s) (local.get $i))) (local.get $n))))
            (local.get $k))
        (func (export "ne64") (param $n i32) (result i32) (local $i i64) (local $k i32)
            (loop $l (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $l (i64.ne (local.tee $i (i64.sub (local.get $i) (i64.const 1)))
                    (i64.extend_i32_s (local.get $n)))))
            (local.get $k)))"#,
    );
    let call = |name: &str, n: i32| match m.func(name).unwrap().call(&[Val::I32(n)]).unwrap()[0] {
        Val::I32(v) => v,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(call("ne", 5), 15);
    assert_eq!(call("lts", 0), 5); // -8, -6, -4, -2 < 0; then 0
    assert_eq!(call("lts", -20), 1);
    assert_eq!(call("ltu_reg", 70), 10);
    assert_eq!(call("ltu_reg", 0), 1);
    assert_eq!(call("ne64", -4), 4);
}

/// `br_table` on a byte just loaded: each target, the default, and an out-of-bounds address.
#[test]
fn br_table_on_a_loaded_byte() {
    let m = instantiate(
        r#"(module (memory 1) (data (i32.const 0) "\00\01\02\09")
        (func (export "switch") (param i32) (result i32)
            (block $d (block $b2 (block $b1 (block $b0
                (br_table $b0 $b1 $b2 $d (i32.load8_u offset=0 (local.get 0))))
                (return (i32.const 10)))
                (return (i32.const 11)))
                (return (i32.const 12)))
            (i32.const 13)))"#,
    );
    let call = |x: i32| m.func("switch").unwrap().call(&[Val::I32(x)]);
    let i32_of = |r: Vec<Val>| match r[0] {
        Val::I32(v) => v,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(i32_of(call(0).unwrap()), 10);
    assert_eq!(i32_of(call(1).unwrap()), 11);
    assert_eq!(i32_of(call(2).unwrap()), 12);
    assert_eq!(i32_of(call(3).unwrap()), 13); // byte 9: the default
    assert_eq!(i32_of(call(4).unwrap()), 10); // byte 0
    assert!(call(65536).is_err());
    assert!(call(-1).is_err());
}

/// The interpreter keeps no code worth caching: asked to load some (the `Engine` trait's default),
/// it says so by kind.
#[test]
fn the_interpreter_loads_no_cached_code() {
    use keel_runtime::{CompileError, CompileOptions, Engine, Error};
    let wasm = wat::parse_str("(module (func))").unwrap();
    let module = Arc::new(keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap());
    match Interpreter.deserialize(&module, &[], CompileOptions::default()) {
        Err(Error::Compile(CompileError::NotCacheable { engine })) => {
            assert_eq!(engine, "interpreter")
        }
        other => panic!("expected not-cacheable, got {:?}", other.err()),
    }
}
