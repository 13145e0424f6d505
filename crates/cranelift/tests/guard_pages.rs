//! Out-of-bounds accesses that land on the compiler's guard pages trap like checked ones: on the
//! edges of the guard region and past it, inside nested host calls, on many threads at once. What
//! both engines share is tested in crates/keel/tests/engines.rs.

use keel::{Caller, EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode};

fn runtime() -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler)
}

fn instantiate(rt: &Runtime, wat: &str) -> keel::Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates")
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
                let load = caller.module().expect("called from Wasm").func("load").expect("load");
                let mut inner = [values[0]];
                values[0] = match load.call_raw(&mut inner) {
                    Ok(()) => inner[0],
                    Err(e) => {
                        assert_eq!(
                            e.as_trap().and_then(|t| t.code()),
                            Some(TrapCode::MemoryOutOfBounds)
                        );
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
