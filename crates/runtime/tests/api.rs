//! The runtime's API without an engine: linking, host modules, segment initialisation, handles.
//! Functions with bodies are never called here; the engines' own tests call them.

use std::any::Any;
use std::sync::Arc;

use keel_runtime::vm::Instance;
use keel_runtime::{
    Caller, CompileOptions, CompiledCode, Engine, Error, ExternKind, Features, FuncType,
    GlobalType, InstantiateError, Limits, LinkError, MemoryType, ModuleConfig, Runtime,
    RuntimeConfig, TableType, Trap, TrapCode, UsageError, Val, ValType,
};

/// An engine that compiles nothing and refuses to run anything.
struct NoCode;

impl Engine for NoCode {
    fn name(&self) -> &'static str {
        "none"
    }
    fn compile(
        &self,
        _: &Arc<keel_decode::Module>,
        _: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        Ok(Arc::new(NoCode))
    }
}

// SAFETY: it never touches the instance.
unsafe impl CompiledCode for NoCode {
    fn call(&self, _: &Instance, _: u32, _: &mut [u64]) -> Result<(), Trap> {
        Err(Trap::host("this engine runs nothing"))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn runtime() -> Runtime {
    Runtime::with_engine(RuntimeConfig::default(), Arc::new(NoCode))
}

fn wasm(src: &str) -> Vec<u8> {
    wat::parse_str(src).unwrap()
}

fn anon() -> ModuleConfig {
    ModuleConfig::new().with_name("").with_start_functions(Vec::<String>::new())
}

fn env(rt: &Runtime) {
    rt.host_module("env")
        .func("add", |_: &mut Caller<'_>, a: i32, b: i32| a.wrapping_add(b))
        .func("fail", |_: &mut Caller<'_>| -> Result<(), Trap> { Err(Trap::exit(3)) })
        .func_raw(
            "swap",
            FuncType::new([ValType::I64, ValType::F64], [ValType::F64, ValType::I64]),
            |_, v| {
                v.swap(0, 1);
                Ok(())
            },
        )
        .memory(
            "mem",
            MemoryType { limits: Limits { min: 1, max: Some(2) }, shared: false, memory64: false },
        )
        .table(
            "tab",
            TableType { element: ValType::FuncRef, limits: Limits { min: 4, max: None } },
            Val::FuncRef(None),
        )
        .global("g", Val::I32(7), false)
        .global("mg", Val::I64(1), true)
        .instantiate()
        .unwrap();
}

#[test]
fn host_functions_are_callable_typed_and_untyped() {
    let rt = runtime();
    env(&rt);
    let env = rt.module("env").unwrap();
    let add = env.typed_func::<(i32, i32), i32>("add").unwrap();
    assert_eq!(add.call((40, 2)).unwrap(), 42);
    assert_eq!(add.call((i32::MAX, 1)).unwrap(), i32::MIN);
    let swapped =
        env.func("swap").unwrap().call(&[Val::I64(5), Val::F64(2.5f64.to_bits())]).unwrap();
    assert_eq!(swapped[0].f64(), Some(2.5));
    assert_eq!(swapped[1].i64(), Some(5));
    let err = env.func("fail").unwrap().call(&[]).unwrap_err();
    assert_eq!(err.exit_code(), Some(3));
}

#[test]
fn wrong_argument_types_and_signatures_are_errors() {
    let rt = runtime();
    env(&rt);
    let env = rt.module("env").unwrap();
    let add = env.func("add").unwrap();
    let i32_pair = FuncType::new([ValType::I32, ValType::I32], [ValType::I32]);
    for (args, given) in [
        (&[Val::I32(1)][..], &[ValType::I32][..]),
        (&[Val::I64(1), Val::I32(1)], &[ValType::I64, ValType::I32]),
    ] {
        match add.call(args) {
            Err(Error::Usage(UsageError::ArgumentTypes { ty, given: g })) => {
                assert_eq!((ty, g.as_slice()), (i32_pair.clone(), given));
            }
            other => panic!("expected an argument-type error, got {other:?}"),
        }
    }
    match env.typed_func::<(i64, i32), i32>("add") {
        Err(Error::Usage(UsageError::SignatureMismatch { ty, params, results })) => {
            assert_eq!(ty, i32_pair);
            assert_eq!((params, results), (vec![ValType::I64, ValType::I32], vec![ValType::I32]));
        }
        Err(other) => panic!("expected a signature mismatch, got {other:?}"),
        Ok(_) => panic!("expected a signature mismatch"),
    }
    match env.typed_func::<(i32, i32), i32>("nope") {
        Err(Error::Usage(UsageError::NoSuchExport { module, kind, name })) => {
            assert_eq!((module.as_str(), kind, name.as_str()), ("env", ExternKind::Func, "nope"));
        }
        Err(other) => panic!("expected a missing export, got {other:?}"),
        Ok(_) => panic!("expected a missing export"),
    }
}

#[test]
fn imports_link_by_module_name_and_type() {
    let rt = runtime();
    env(&rt);
    let ok = wasm(
        r#"(module
            (import "env" "add" (func (param i32 i32) (result i32)))
            (import "env" "mem" (memory 1))
            (import "env" "tab" (table 2 funcref))
            (import "env" "g" (global i32))
            (import "env" "mg" (global (mut i64))))"#,
    );
    rt.instantiate_bytes(&ok, anon()).unwrap();

    let unknown = |module: &str, field: &str| LinkError::UnknownModule {
        module: module.into(),
        field: field.into(),
    };
    let no_export =
        |field: &str| LinkError::UnknownExport { module: "env".into(), field: field.into() };
    let mismatch = |field: &str, expected: &str, found: &str| LinkError::IncompatibleType {
        module: "env".into(),
        field: field.into(),
        expected: expected.into(),
        found: found.into(),
    };
    let cases = [
        (r#"(module (import "nope" "f" (func)))"#, unknown("nope", "f")),
        (r#"(module (import "env" "nope" (func)))"#, no_export("nope")),
        (
            r#"(module (import "env" "add" (func (param i32))))"#,
            mismatch("add", "function (i32) -> ()", "function (i32, i32) -> (i32)"),
        ),
        (r#"(module (import "env" "mem" (func)))"#, mismatch("mem", "function", "memory")),
        (
            r#"(module (import "env" "mem" (memory 2)))"#,
            mismatch("mem", "memory 2..", "memory 1..2"),
        ),
        (
            r#"(module (import "env" "mem" (memory 1 1)))"#,
            mismatch("mem", "memory 1..1", "memory 1..2"),
        ),
        (
            r#"(module (import "env" "tab" (table 5 funcref)))"#,
            mismatch("tab", "table of funcref 5..", "table of funcref 4.."),
        ),
        (
            r#"(module (import "env" "g" (global (mut i32))))"#,
            mismatch("g", "global (mut i32)", "global i32"),
        ),
        (
            r#"(module (import "env" "mg" (global i64)))"#,
            mismatch("mg", "global i64", "global (mut i64)"),
        ),
    ];
    for (src, want) in cases {
        match rt.instantiate_bytes(&wasm(src), anon()) {
            Err(Error::Link(got)) => assert_eq!(got, want, "{src}"),
            other => panic!("{src}: expected a link error, got {other:?}"),
        }
    }
}

#[test]
fn segments_initialise_memory_tables_and_globals() {
    let rt = runtime();
    env(&rt);
    let m = rt
        .instantiate_bytes(
            &wasm(
                r#"(module
                (import "env" "g" (global $base i32))
                (memory (export "mem") 1)
                (data (global.get $base) "\01\02\03")
                (data (i32.const 100) "xyz")
                (table (export "tab") 3 funcref)
                (elem (i32.const 1) $f $f)
                (func $f)
                (global (export "g") (mut f32) (f32.const 1.5)))"#,
            ),
            anon(),
        )
        .unwrap();
    let mem = m.memory("mem").unwrap();
    let mut buf = [0; 4];
    mem.read(6, &mut buf).unwrap();
    assert_eq!(buf, [0, 1, 2, 3]);
    mem.read(100, &mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"xyz");
    let tab = m.table("tab").unwrap();
    assert!(matches!(tab.get(0), Some(Val::FuncRef(None))));
    assert!(matches!(tab.get(1), Some(Val::FuncRef(Some(_)))));
    assert!(tab.get(3).is_none());
    let g = m.global("g").unwrap();
    assert_eq!(g.get().f32(), Some(1.5));
    g.set(Val::F32(2.5f32.to_bits())).unwrap();
    assert_eq!(g.get().f32(), Some(2.5));
    assert!(g.set(Val::I32(1)).is_err());
}

#[test]
fn out_of_bounds_segments_fail_instantiation_but_keep_earlier_writes() {
    let rt = runtime();
    env(&rt);
    let src = r#"(module
        (import "env" "mem" (memory 1))
        (data (i32.const 0) "ok")
        (data (i32.const 65535) "too long"))"#;
    match rt.instantiate_bytes(&wasm(src), anon()) {
        Err(Error::Trap(t)) => assert_eq!(t.code(), Some(TrapCode::MemoryOutOfBounds)),
        other => panic!("expected a trap, got {other:?}"),
    }
    let mut buf = [0; 2];
    rt.module("env").unwrap().memory("mem").unwrap().read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

#[test]
fn memory_handles_grow_and_check_bounds() {
    let rt = runtime();
    env(&rt);
    let mem = rt.module("env").unwrap().memory("mem").unwrap();
    assert_eq!(mem.pages(), 1);
    assert!(mem.write(65534, &[1, 2, 3]).is_err());
    assert_eq!(mem.grow(1), Some(1));
    assert_eq!(mem.grow(1), None, "max is 2 pages");
    mem.write_u64_le(65534, 0x0102_0304_0506_0708).unwrap();
    assert_eq!(mem.read_u64_le(65534).unwrap(), 0x0102_0304_0506_0708);
}

#[test]
fn memory_limit_bounds_instantiation() {
    let rt =
        Runtime::with_engine(RuntimeConfig::default().with_memory_limit_pages(4), Arc::new(NoCode));
    match rt.instantiate_bytes(&wasm("(module (memory 5))"), anon()) {
        Err(Error::Instantiate(e)) => {
            assert_eq!(e, InstantiateError::MemoryLimit { minimum: 5, limit: 4 })
        }
        other => panic!("expected an instantiation error, got {other:?}"),
    }
    rt.instantiate_bytes(&wasm("(module (memory 4))"), anon()).unwrap();
}

#[test]
fn names_are_unique_and_anonymous_modules_are_many() {
    let rt = runtime();
    let bin = wasm("(module)");
    rt.instantiate_bytes(&bin, ModuleConfig::new().with_name("a")).unwrap();
    assert!(rt.instantiate_bytes(&bin, ModuleConfig::new().with_name("a")).is_err());
    rt.instantiate_bytes(&bin, anon()).unwrap();
    rt.instantiate_bytes(&bin, anon()).unwrap();
    rt.close_module("a");
    rt.instantiate_bytes(&bin, ModuleConfig::new().with_name("a")).unwrap();
}

#[test]
fn features_are_enforced() {
    let rt = Runtime::with_engine(
        RuntimeConfig::default().with_features(Features::V1),
        Arc::new(NoCode),
    );
    let bulk =
        wasm("(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))");
    match rt.compile(&bulk) {
        Err(Error::Decode(e)) => assert!(e.offset() > 0),
        other => panic!("expected a decode error, got {other:?}"),
    }
    runtime().compile(&bulk).unwrap();
}

#[test]
fn funcrefs_round_trip_through_tables() {
    let rt = runtime();
    env(&rt);
    let env = rt.module("env").unwrap();
    let tab = env.table("tab").unwrap();
    let add = env.func("add").unwrap();
    tab.set(2, Val::FuncRef(Some(add.clone()))).unwrap();
    match tab.get(2) {
        Some(Val::FuncRef(Some(f))) => {
            assert!(f.ptr_eq(&add));
            assert_eq!(f.typed::<(i32, i32), i32>().unwrap().call((1, 2)).unwrap(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(tab.set(2, Val::I32(0)).is_err());
    assert_eq!(tab.grow(2, Val::FuncRef(None)).unwrap(), Some(4));
    assert_eq!(tab.size(), 6);
    let _ = GlobalType { content: ValType::I32, mutable: false };
}

#[test]
fn reused_memory_reservations_read_as_zero() {
    let rt = runtime();
    let bin = wasm(r#"(module (memory (export "m") 2))"#);
    for round in 0..8u8 {
        let m = rt.instantiate_bytes(&bin, anon()).unwrap();
        let mem = m.memory("m").unwrap();
        let mut buf = vec![0xAAu8; 2 * 65536];
        mem.read(0, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0), "round {round}: a fresh memory must be zero");
        assert!(mem.write(65536 * 2, &[1]).is_err(), "round {round}: past the size");
        mem.write(0, &[round + 1; 4096]).unwrap();
        mem.write(65536 + 100, &[round + 1; 10]).unwrap();
        assert_eq!(mem.grow(1), Some(2));
        mem.write(65536 * 2, &[7; 8]).unwrap();
    }
}
