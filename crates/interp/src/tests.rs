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
