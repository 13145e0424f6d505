//! End-to-end tests of the interpreter through the runtime API.

use std::sync::Arc;

use keel_interp::Interpreter;
use keel_runtime::{Caller, Module, ModuleConfig, Runtime, RuntimeConfig, TrapCode, Val};

fn runtime() -> Runtime {
    Runtime::with_engine(RuntimeConfig::default(), Arc::new(Interpreter))
}

fn instantiate(rt: &Runtime, wat: &str) -> Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates")
}

fn call(m: &Module, name: &str, args: &[Val]) -> Result<Vec<Val>, keel_runtime::Error> {
    m.func(name).expect("export").call(args)
}

fn i32s(v: &[Val]) -> Vec<i32> {
    v.iter()
        .map(|v| match v {
            Val::I32(x) => *x,
            other => panic!("not i32: {other:?}"),
        })
        .collect()
}

fn trap_code(e: &keel_runtime::Error) -> TrapCode {
    e.as_trap().and_then(|t| t.code()).unwrap_or_else(|| panic!("not a trap: {e}"))
}

#[test]
fn arithmetic() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
          (func (export "sub1") (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
          (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
          (func (export "mix") (param i64 f64) (result f64)
            (f64.add (f64.convert_i64_s (local.get 0)) (local.get 1)))
          (func (export "min") (param f32 f32) (result f32) (f32.min (local.get 0) (local.get 1))))"#,
    );
    assert_eq!(i32s(&call(&m, "add", &[Val::I32(2), Val::I32(40)]).unwrap()), [42]);
    assert_eq!(i32s(&call(&m, "sub1", &[Val::I32(i32::MIN)]).unwrap()), [i32::MAX]);
    assert_eq!(i32s(&call(&m, "div", &[Val::I32(-7), Val::I32(2)]).unwrap()), [-3]);
    let e = call(&m, "div", &[Val::I32(1), Val::I32(0)]).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::IntegerDivisionByZero);
    let e = call(&m, "div", &[Val::I32(i32::MIN), Val::I32(-1)]).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::IntegerOverflow);
    match call(&m, "mix", &[Val::I64(-3), Val::F64(0.5f64.to_bits())]).unwrap()[0] {
        Val::F64(b) => assert_eq!(f64::from_bits(b), -2.5),
        ref v => panic!("{v:?}"),
    }
    match call(&m, "min", &[Val::F32(0.0f32.to_bits()), Val::F32((-0.0f32).to_bits())]).unwrap()[0]
    {
        Val::F32(b) => assert_eq!(b, (-0.0f32).to_bits()),
        ref v => panic!("{v:?}"),
    }
}

#[test]
fn control_flow_and_recursion() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
          (func $fib (export "fib") (param i32) (result i32)
            (if (result i32) (i32.lt_s (local.get 0) (i32.const 2))
              (then (local.get 0))
              (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                             (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
          (func (export "sum") (param i32) (result i32) (local i32)
            (block $done
              (loop $top
                (br_if $done (i32.eqz (local.get 0)))
                (local.set 1 (i32.add (local.get 1) (local.get 0)))
                (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                (br $top)))
            (local.get 1))
          (func (export "swap") (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
          (func (export "table") (param i32) (result i32)
            (block $c (block $b (block $a
              (br_table $a $b $c (local.get 0)))
              (return (i32.const 10)))
              (return (i32.const 20)))
            (i32.const 30))
          (func (export "brvalue") (param i32) (result i32)
            (block (result i32)
              (br_table 0 0 (i32.const 7) (local.get 0)))
            (i32.const 1) (i32.add))
          (func (export "multi") (result i32)
            (block (result i32 i32) (i32.const 3) (i32.const 4))
            (i32.mul)))"#,
    );
    assert_eq!(i32s(&call(&m, "fib", &[Val::I32(20)]).unwrap()), [6765]);
    assert_eq!(i32s(&call(&m, "sum", &[Val::I32(100)]).unwrap()), [5050]);
    assert_eq!(i32s(&call(&m, "swap", &[Val::I32(1), Val::I32(2)]).unwrap()), [2, 1]);
    for (i, want) in [(0, 10), (1, 20), (2, 30), (99, 30)] {
        assert_eq!(i32s(&call(&m, "table", &[Val::I32(i)]).unwrap()), [want]);
    }
    assert_eq!(i32s(&call(&m, "brvalue", &[Val::I32(1)]).unwrap()), [8]);
    assert_eq!(i32s(&call(&m, "multi", &[]).unwrap()), [12]);
}

#[test]
fn deep_recursion_is_a_trap() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
          (func $down (export "down") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#,
    );
    assert_eq!(i32s(&call(&m, "down", &[Val::I32(5000)]).unwrap()), [5000]);
    let e = call(&m, "down", &[Val::I32(1_000_000)]).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::StackOverflow);
}

#[test]
fn memory_and_bounds() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module (memory 1)
          (func (export "store") (param i32 i32) (i32.store offset=4 (local.get 0) (local.get 1)))
          (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "size") (result i32) (memory.size)))"#,
    );
    call(&m, "store", &[Val::I32(8), Val::I32(77)]).unwrap();
    assert_eq!(i32s(&call(&m, "load", &[Val::I32(8)]).unwrap()), [77]);
    let e = call(&m, "load", &[Val::I32(65532)]).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::MemoryOutOfBounds);
    assert_eq!(i32s(&call(&m, "grow", &[Val::I32(1)]).unwrap()), [1]);
    assert_eq!(i32s(&call(&m, "size", &[]).unwrap()), [2]);
    assert_eq!(i32s(&call(&m, "load", &[Val::I32(65532)]).unwrap()), [0]);
}

#[test]
fn call_indirect_traps() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
          (type $i (func (result i32)))
          (type $ii (func (param i32) (result i32)))
          (table 3 funcref)
          (elem (i32.const 0) $a $b)
          (func $a (result i32) (i32.const 1))
          (func $b (param i32) (result i32) (local.get 0))
          (func (export "call") (param i32) (result i32) (call_indirect (type $i) (local.get 0))))"#,
    );
    assert_eq!(i32s(&call(&m, "call", &[Val::I32(0)]).unwrap()), [1]);
    assert_eq!(trap_code(&call(&m, "call", &[Val::I32(1)]).unwrap_err()), TrapCode::BadSignature);
    assert_eq!(
        trap_code(&call(&m, "call", &[Val::I32(2)]).unwrap_err()),
        TrapCode::IndirectCallToNull
    );
    assert_eq!(
        trap_code(&call(&m, "call", &[Val::I32(3)]).unwrap_err()),
        TrapCode::TableOutOfBounds
    );
}

#[test]
fn host_function_reads_caller_memory() {
    let rt = runtime();
    rt.host_module("env")
        .func("sum_bytes", |caller: &mut Caller<'_>, ptr: i32, len: i32| -> i32 {
            let mut buf = vec![0u8; len as usize];
            assert!(caller.memory().expect("memory").read(ptr as u64, &mut buf));
            buf.iter().map(|b| *b as i32).sum()
        })
        .instantiate()
        .unwrap();
    let m = instantiate(
        &rt,
        r#"(module
          (import "env" "sum_bytes" (func $sum (param i32 i32) (result i32)))
          (memory 1)
          (data (i32.const 16) "\01\02\03\04")
          (func (export "go") (result i32) (i32.add (i32.const 100) (call $sum (i32.const 16) (i32.const 4)))))"#,
    );
    assert_eq!(i32s(&call(&m, "go", &[]).unwrap()), [110]);
}

#[test]
fn trap_trace_names_functions() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
          (func $inner (unreachable))
          (func $outer (export "outer") (call $inner)))"#,
    );
    let e = call(&m, "outer", &[]).unwrap_err();
    let trap = e.as_trap().unwrap();
    assert_eq!(trap.code(), Some(TrapCode::Unreachable));
    let names: Vec<_> =
        trap.trace().iter().map(|f| f.func_name.as_deref().unwrap_or("?").to_string()).collect();
    assert_eq!(names, ["inner", "outer"]);
}

#[test]
fn v128_values_cross_calls_globals_and_host_functions() {
    let rt = runtime();
    // A host function sees a v128 in two slots, low half first, like every engine.
    rt.host_module("env")
        .func("swap", |_: &mut Caller<'_>, v: u128| v.rotate_left(64))
        .instantiate()
        .unwrap();
    let m = instantiate(
        &rt,
        r#"(module
          (import "env" "swap" (func $swap (param v128) (result v128)))
          (global $g (mut v128) (v128.const i64x2 1 2))
          (func $add (param i32 v128 v128) (result v128 i32)
            (i32x4.add (local.get 1) (local.get 2)) (local.get 0))
          (func (export "run") (param v128) (result v128 i32)
            (global.set $g (call $swap (global.get $g)))
            (call $add (i32.const 7) (local.get 0) (global.get $g)))
          (func (export "g") (result v128) (global.get $g)))"#,
    );
    let x = 10u128 | 20 << 64;
    let r = call(&m, "run", &[Val::V128(x)]).unwrap();
    assert!(matches!(r[..], [Val::V128(v), Val::I32(7)] if v == 12 | 21 << 64), "{r:?}");
    let r = call(&m, "g", &[]).unwrap();
    assert!(matches!(r[..], [Val::V128(v)] if v == 2 | 1 << 64), "{r:?}");
}
