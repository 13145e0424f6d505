//! End-to-end tests of the compiler engine through the facade.

use keel::{Caller, EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode, Val};

fn runtime() -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler)
}

fn instantiate(rt: &Runtime, wat: &str) -> keel::Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates")
}

#[test]
fn arithmetic() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
            (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
            (func (export "fdiv") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
            (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
            (func (export "rem") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
            (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
            (func (export "clz") (param i64) (result i64) (i64.clz (local.get 0))))"#,
    );
    assert_eq!(m.typed_func::<(i32, i32), i32>("add").unwrap().call((40, 2)).unwrap(), 42);
    assert_eq!(
        m.typed_func::<(i64, i64), i64>("mul64").unwrap().call((1 << 40, 3)).unwrap(),
        3 << 40
    );
    assert_eq!(m.typed_func::<(f64, f64), f64>("fdiv").unwrap().call((1.0, 4.0)).unwrap(), 0.25);
    assert_eq!(m.typed_func::<(i32, i32), i32>("div").unwrap().call((-7, 2)).unwrap(), -3);
    assert_eq!(m.typed_func::<(i32, i32), i32>("rem").unwrap().call((i32::MIN, -1)).unwrap(), 0);
    assert_eq!(m.typed_func::<i64, i64>("clz").unwrap().call(1).unwrap(), 63);
    let div = m.typed_func::<(i32, i32), i32>("div").unwrap();
    assert_eq!(
        div.call((1, 0)).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::IntegerDivisionByZero)
    );
    assert_eq!(
        div.call((i32::MIN, -1)).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::IntegerOverflow)
    );
    let trunc = m.typed_func::<f32, i32>("trunc").unwrap();
    assert_eq!(trunc.call(-3.9).unwrap(), -3);
    assert_eq!(
        trunc.call(f32::NAN).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::BadConversionToInteger)
    );
    assert_eq!(
        trunc.call(3e9).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::IntegerOverflow)
    );
}

#[test]
fn control_flow() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (func $fac (export "fac") (param i64) (result i64)
              (if (result i64) (i64.eqz (local.get 0))
                (then (i64.const 1))
                (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
            (func (export "sum") (param i32) (result i32) (local i32)
              (block $out
                (loop $l
                  (br_if $out (i32.eqz (local.get 0)))
                  (local.set 1 (i32.add (local.get 1) (local.get 0)))
                  (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                  (br $l)))
              (local.get 1))
            (func (export "table") (param i32) (result i32)
              (block (block (block (block (br_table 0 1 2 3 (local.get 0)))
                (return (i32.const 10))) (return (i32.const 11))) (return (i32.const 12)))
              (i32.const 13)))"#,
    );
    assert_eq!(m.typed_func::<i64, i64>("fac").unwrap().call(20).unwrap(), 2432902008176640000);
    assert_eq!(m.typed_func::<i32, i32>("sum").unwrap().call(100).unwrap(), 5050);
    let t = m.typed_func::<i32, i32>("table").unwrap();
    assert_eq!((0..6).map(|i| t.call(i).unwrap()).collect::<Vec<_>>(), [10, 11, 12, 13, 13, 13]);
}

#[test]
fn multi_value() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (func $swap (param i32 i64 f32 f64 i32) (result i32 f64 f32 i64 i32 i32)
              (local.get 4) (local.get 3) (local.get 2) (local.get 1) (local.get 0) (i32.const 7))
            (func (export "f") (result i32 f64 f32 i64 i32 i32)
              (call $swap (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5)))
            (func (export "blk") (param i32) (result i32)
              (i32.const 1) (i32.const 2)
              (block (param i32 i32) (result i32) (i32.add))
              (local.get 0)
              (if (param i32) (result i32) (then (i32.const 10) (i32.add)) (else)))
            )"#,
    );
    let r = m.func("f").unwrap().call(&[]).unwrap();
    assert_eq!(
        format!("{r:?}"),
        format!(
            "{:?}",
            [
                Val::I32(5),
                Val::F64(4f64.to_bits()),
                Val::F32(3f32.to_bits()),
                Val::I64(2),
                Val::I32(1),
                Val::I32(7)
            ]
        )
    );
    let blk = m.typed_func::<i32, i32>("blk").unwrap();
    assert_eq!(blk.call(1).unwrap(), 13);
    assert_eq!(blk.call(0).unwrap(), 3);
}

#[test]
fn call_indirect_traps() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (type $ii (func (param i32) (result i32)))
            (table 4 funcref)
            (elem (i32.const 0) $inc $f64)
            (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
            (func $f64 (result f64) (f64.const 1))
            (func (export "call") (param i32 i32) (result i32)
              (call_indirect (type $ii) (local.get 1) (local.get 0))))"#,
    );
    let call = m.typed_func::<(i32, i32), i32>("call").unwrap();
    assert_eq!(call.call((0, 41)).unwrap(), 42);
    assert_eq!(
        call.call((1, 0)).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::BadSignature)
    );
    assert_eq!(
        call.call((2, 0)).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::IndirectCallToNull)
    );
    assert_eq!(
        call.call((9, 0)).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::TableOutOfBounds)
    );
}

#[test]
fn memory_traps_and_grow() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (memory (export "mem") 1 4)
            (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
            (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "size") (result i32) (memory.size)))"#,
    );
    let load = m.typed_func::<i32, i32>("load").unwrap();
    let store = m.typed_func::<(i32, i32), ()>("store").unwrap();
    store.call((8, 1234)).unwrap();
    assert_eq!(load.call(4).unwrap(), 1234);
    assert_eq!(
        load.call(65532).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        load.call(-1).unwrap_err().as_trap().unwrap().code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(m.typed_func::<i32, i32>("grow").unwrap().call(1).unwrap(), 1);
    assert_eq!(m.typed_func::<(), i32>("size").unwrap().call(()).unwrap(), 2);
    assert_eq!(load.call(65532).unwrap(), 0);
    assert_eq!(m.typed_func::<i32, i32>("grow").unwrap().call(5).unwrap(), -1);
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        r#"(module
            (func $f (export "f") (param i32) (result i32)
              (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))"#,
    );
    let err = m.typed_func::<i32, i32>("f").unwrap().call(0).unwrap_err();
    assert_eq!(err.as_trap().unwrap().code(), Some(TrapCode::StackOverflow));
    assert!(err.as_trap().unwrap().trace().len() > 100);
    // Still usable afterwards.
    let err = m.typed_func::<i32, i32>("f").unwrap().call(0).unwrap_err();
    assert_eq!(err.as_trap().unwrap().code(), Some(TrapCode::StackOverflow));
}

#[test]
fn host_calls_with_caller() {
    let rt = runtime();
    rt.host_module("env")
        .func("read", |caller: &mut Caller<'_>, at: i32| -> i32 {
            let mut buf = [0u8; 4];
            assert!(caller.memory().unwrap().read(at as u64, &mut buf));
            i32::from_le_bytes(buf)
        })
        .func("twice", |_: &mut Caller<'_>, x: i64| x * 2)
        .instantiate()
        .unwrap();
    let m = instantiate(
        &rt,
        r#"(module
            (import "env" "read" (func $read (param i32) (result i32)))
            (import "env" "twice" (func $twice (param i64) (result i64)))
            (memory 1)
            (data (i32.const 16) "\2a\00\00\00")
            (func $boom (unreachable))
            (func (export "go") (result i64)
              (i64.add (i64.extend_i32_u (call $read (i32.const 16))) (call $twice (i64.const 100))))
            (func (export "trap") (call $boom)))"#,
    );
    assert_eq!(m.typed_func::<(), i64>("go").unwrap().call(()).unwrap(), 242);
    let err = m.typed_func::<(), ()>("trap").unwrap().call(()).unwrap_err();
    assert_eq!(err.as_trap().unwrap().code(), Some(TrapCode::Unreachable));
    assert_eq!(err.as_trap().unwrap().trace().len(), 2);
}

#[test]
fn grow_is_visible_to_importers_and_host() {
    let rt = runtime();
    let wasm = wat::parse_str(
        r#"(module (memory (export "mem") 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    )
    .unwrap();
    let a = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("a")).unwrap();
    let b = instantiate(
        &rt,
        r#"(module
            (import "a" "mem" (memory 1))
            (import "a" "grow" (func $grow (param i32) (result i32)))
            (func (export "grow_then_load") (result i32)
              (drop (call $grow (i32.const 1)))
              (i32.store (i32.const 70000) (i32.const 7))
              (i32.add (memory.size) (i32.load (i32.const 70000)))))"#,
    );
    assert_eq!(b.typed_func::<(), i32>("grow_then_load").unwrap().call(()).unwrap(), 9);
    assert_eq!(a.memory("mem").unwrap().pages(), 2);
}

/// The compiler keeps a memory's length loaded across guest stores (they cannot change it) but
/// must load it again after any call and after memory.grow: each iteration stores below the
/// current end, grows (through another instance, or in place), then stores into the new page.
#[test]
fn memory_length_is_reloaded_after_calls_and_grow_in_loops() {
    let rt = runtime();
    let wasm = wat::parse_str(
        r#"(module (memory (export "mem") 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    )
    .unwrap();
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("a")).unwrap();
    let b = instantiate(
        &rt,
        r#"(module
            (import "a" "mem" (memory 1))
            (import "a" "grow" (func $grow (param i32) (result i32)))
            (func (export "by_call") (param $n i32) (result i32) (local $end i32)
              (loop $l
                (local.set $end (i32.mul (memory.size) (i32.const 65536)))
                (i32.store (i32.sub (local.get $end) (i32.const 4)) (i32.const 1))
                (drop (call $grow (i32.const 1)))
                (i32.store (i32.add (local.get $end) (i32.const 65532)) (i32.const 2))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
              (memory.size))
            (func (export "in_place") (param $n i32) (result i32) (local $end i32)
              (loop $l
                (local.set $end (i32.mul (memory.size) (i32.const 65536)))
                (i32.store (i32.sub (local.get $end) (i32.const 4)) (i32.const 1))
                (drop (memory.grow (i32.const 1)))
                (i32.store (i32.add (local.get $end) (i32.const 65532)) (i32.const 2))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
              (memory.size)))"#,
    );
    assert_eq!(b.typed_func::<i32, i32>("by_call").unwrap().call(3).unwrap(), 4);
    assert_eq!(b.typed_func::<i32, i32>("in_place").unwrap().call(3).unwrap(), 7);
}

#[test]
fn host_wasm_host_nesting_is_bounded() {
    let rt = runtime();
    rt.host_module("env")
        .func_raw(
            "reenter",
            keel::FuncType::new([keel::ValType::I32], [keel::ValType::I32]),
            |caller: &mut Caller<'_>, values: &mut [u64]| {
                let instance = caller.instance().expect("called from Wasm");
                let (_, index) = instance.export("f").expect("f is exported");
                values[0] += 1;
                // SAFETY: `f` takes and returns one i32, in `values`.
                unsafe { instance.func(index).call_raw(Some(instance), values) }
            },
        )
        .instantiate()
        .unwrap();
    let m = instantiate(
        &rt,
        r#"(module
            (import "env" "reenter" (func $reenter (param i32) (result i32)))
            (func (export "f") (param i32) (result i32)
              (i32.add (call $reenter (local.get 0)) (i32.const 1))))"#,
    );
    let err = m.typed_func::<i32, i32>("f").unwrap().call(0).unwrap_err();
    assert_eq!(err.as_trap().unwrap().code(), Some(TrapCode::StackOverflow));
}

/// Accesses, at the edges of the guard region and past it, on a guarded memory (the default
/// reservation) and on one whose reservation is not guarded (every access checked): the same
/// traps either way, and the same traces as the interpreter's.
#[test]
fn out_of_bounds_traps_with_and_without_guard_pages() {
    let wat = r#"(module
        (memory 1)
        (func $inner (param i32) (result i32) (i32.load (local.get 0)))
        (func $middle (param i32) (result i32) (i32.add (call $inner (local.get 0)) (i32.const 1)))
        (func (export "nested") (param i32) (result i32) (call $middle (local.get 0)))
        (func (export "edge") (param i32) (result i32) (i32.load offset=2147483644 (local.get 0)))
        (func (export "past_guard") (param i32) (result i32)
          (i32.load offset=2147483645 (local.get 0)))
        (func (export "huge") (param i32) (result i64) (i64.load offset=4294967295 (local.get 0)))
        (func (export "store8") (param i32) (i32.store8 (local.get 0) (i32.const 1))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let configs = [
        (EngineKind::Compiler, keel::Reservation::Maximum),
        (EngineKind::Compiler, keel::Reservation::Bytes(1 << 20)),
        (EngineKind::Interpreter, keel::Reservation::Maximum),
    ];
    let mut traces = Vec::new();
    for (engine, reservation) in configs {
        let config = RuntimeConfig::default().with_memory_reservation(reservation);
        let rt = Runtime::with_config(config, engine);
        let m = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("m")).unwrap();
        let what = format!("{engine:?} {reservation:?}");
        let oob = |name: &str, arg: i32| {
            let f = m.func(name).unwrap();
            let mut values = [arg as u32 as u64];
            let err = f.call_raw(&mut values).expect_err(&what);
            let trap = err.as_trap().unwrap_or_else(|| panic!("{what}: {err}"));
            assert_eq!(trap.code(), Some(TrapCode::MemoryOutOfBounds), "{what} {name}({arg})");
            trap.trace().iter().map(|f| f.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(m.typed_func::<i32, i32>("nested").unwrap().call(65532).unwrap(), 1, "{what}");
        traces.push(oob("nested", 65533));
        oob("nested", -1);
        oob("edge", 0);
        oob("edge", -1);
        oob("past_guard", 0);
        oob("past_guard", -1);
        oob("huge", 0);
        oob("store8", 65536);
        // Nothing was written by the failed store, and the instance still runs.
        m.typed_func::<i32, ()>("store8").unwrap().call(65535).unwrap();
        assert_eq!(m.typed_func::<i32, i32>("nested").unwrap().call(65532).unwrap(), 1 << 24 | 1);
    }
    assert_eq!(traces[0], ["m.inner", "m.middle", "m.$2"]);
    assert!(traces.iter().all(|t| *t == traces[0]), "{traces:?}");
}

/// A trap on a guard page inside Wasm called by a host function called by Wasm ends only the
/// inner call: the host function sees the error and the outer call goes on.
#[test]
fn guard_page_trap_in_a_nested_call_ends_only_that_call() {
    let rt = runtime();
    rt.host_module("env")
        .func_raw(
            "probe",
            keel::FuncType::new([keel::ValType::I32], [keel::ValType::I32]),
            |caller: &mut Caller<'_>, values: &mut [u64]| {
                let instance = caller.instance().expect("called from Wasm");
                let (_, index) = instance.export("load").expect("load is exported");
                let mut inner = [values[0]];
                // SAFETY: `load` takes and returns one i32.
                values[0] =
                    match unsafe { instance.func(index).call_raw(Some(instance), &mut inner) } {
                        Ok(()) => inner[0],
                        Err(t) => {
                            assert_eq!(t.code(), Some(TrapCode::MemoryOutOfBounds));
                            u32::MAX as u64
                        }
                    };
                Ok(())
            },
        )
        .instantiate()
        .unwrap();
    let m = instantiate(
        &rt,
        r#"(module
            (import "env" "probe" (func $probe (param i32) (result i32)))
            (memory 1)
            (data (i32.const 16) "\2a")
            (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
            (func (export "sum") (param $at i32) (result i32) (local $acc i32)
              (loop $l
                (local.set $acc (i32.add (local.get $acc) (call $probe (local.get $at))))
                (local.set $at (i32.add (local.get $at) (i32.const 65520)))
                (br_if $l (i32.lt_u (local.get $at) (i32.const 200000))))
              (local.get $acc)))"#,
    );
    // probe(16) = 42, then 65536 and 131056 trap (-1 each), 196592 traps too: 42 - 3.
    assert_eq!(m.typed_func::<i32, i32>("sum").unwrap().call(16).unwrap(), 39);
}

/// Traps on guard pages on several threads at once, each in its own instance.
#[test]
fn guard_page_traps_on_many_threads() {
    let rt = runtime();
    let wasm = wat::parse_str(
        r#"(module (memory 1)
            (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#,
    )
    .unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (rt, wasm) = (rt.clone(), wasm.clone());
            s.spawn(move || {
                let name = format!("t{t}");
                let m = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name(&name)).unwrap();
                let load = m.typed_func::<i32, i32>("load").unwrap();
                for i in 0..2000 {
                    let err = load.call(65536 + i).unwrap_err();
                    assert_eq!(err.as_trap().unwrap().code(), Some(TrapCode::MemoryOutOfBounds));
                    assert_eq!(load.call(i % 65532).unwrap(), 0);
                }
            });
        }
    });
}
