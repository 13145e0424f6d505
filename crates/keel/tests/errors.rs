//! Every kind of `keel::Error`, produced through the public API and matched by kind and fields
//! (never by message text), on both engines where the engine matters.

use keel::{
    CompileError, EngineKind, Error, ExternKind, Features, InstantiateError, LinkError,
    ModuleConfig, Reservation, Runtime, RuntimeConfig, TrapCode, UsageError, Val, ValType,
};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn runtime(engine: EngineKind) -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), engine)
}

fn anon() -> ModuleConfig {
    ModuleConfig::new().with_name("")
}

#[test]
fn decode_errors_carry_the_byte_offset() {
    let mut bytes = wat::parse_str("(module (func (result i32) i32.const 1))").unwrap();
    // The body ends `41 01 0b` (i32.const 1, end): make its opcode one that does not exist.
    let last = bytes.len() - 3;
    assert_eq!(bytes[last], 0x41);
    bytes[last] = 0xff;
    match runtime(EngineKind::Interpreter).compile(&bytes) {
        Err(Error::Decode(e)) => assert_eq!(e.offset(), last),
        other => panic!("expected a decode error, got {:?}", other.err()),
    }
}

#[test]
fn cache_entries_that_do_not_fit_are_compile_errors() {
    let wasm = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let rt = runtime(EngineKind::Compiler);
    let compiled = rt.compile(&wasm).unwrap();
    let mut entry = rt.cache_entry(&wasm, &compiled).unwrap();
    let n = entry.len();
    entry[n - 1] ^= 0xff;
    match rt.load_cache_entry(&wasm, &entry) {
        Err(Error::Compile(CompileError::Cache(_))) => {}
        other => panic!("expected a cache error, got {:?}", other.err()),
    }
    // The interpreter keeps no cache at all.
    let interp = runtime(EngineKind::Interpreter);
    match interp.load_cache_entry(&wasm, &entry) {
        Err(Error::Usage(UsageError::NotCacheable { engine })) => assert_eq!(engine, "interpreter"),
        other => panic!("expected a usage error, got {:?}", other.err()),
    }
}

#[test]
fn link_errors_name_module_field_and_types() {
    for &engine in ENGINES {
        let rt = runtime(engine);
        rt.host_module("env")
            .func("f", |_: &mut keel::Caller<'_>, x: i32| x)
            .instantiate()
            .unwrap();
        let wat = r#"(module (import "env" "f" (func (param i64))))"#;
        match rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anon()) {
            Err(Error::Link(LinkError::IncompatibleType { module, field, expected, found })) => {
                assert_eq!((module.as_str(), field.as_str()), ("env", "f"));
                assert_eq!(expected, "function (i64) -> ()");
                assert_eq!(found, "function (i32) -> (i32)");
            }
            other => panic!("{engine:?}: expected a link error, got {:?}", other.err()),
        }
        let wat = r#"(module (import "env" "missing" (func)))"#;
        match rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anon()) {
            Err(Error::Link(LinkError::UnknownExport { module, field })) => {
                assert_eq!((module.as_str(), field.as_str()), ("env", "missing"));
            }
            other => panic!("{engine:?}: expected a link error, got {:?}", other.err()),
        }
        let wat = r#"(module (import "nowhere" "g" (global i32)))"#;
        match rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anon()) {
            Err(Error::Link(LinkError::UnknownModule { module, field })) => {
                assert_eq!((module.as_str(), field.as_str()), ("nowhere", "g"));
            }
            other => panic!("{engine:?}: expected a link error, got {:?}", other.err()),
        }
    }
}

#[test]
fn instantiate_errors_give_the_limits_as_numbers() {
    for &engine in ENGINES {
        let config = RuntimeConfig::default().with_memory_limit_pages(10);
        let rt = Runtime::with_config(config, engine);
        let wasm = wat::parse_str("(module (memory 11))").unwrap();
        match rt.instantiate_bytes(&wasm, anon()) {
            Err(Error::Instantiate(InstantiateError::MemoryLimit { minimum, limit })) => {
                assert_eq!((minimum, limit), (11, 10));
            }
            other => panic!("{engine:?}: expected an instantiation error, got {:?}", other.err()),
        }
    }
}

#[test]
fn tables_and_reservations_give_their_limits_as_numbers() {
    for &engine in ENGINES {
        let wasm = wat::parse_str("(module (table 20000000 funcref))").unwrap();
        match runtime(engine).instantiate_bytes(&wasm, anon()) {
            Err(Error::Instantiate(InstantiateError::TableLimit { minimum, limit })) => {
                assert_eq!(minimum, 20_000_000);
                assert!(limit < minimum, "{limit}");
            }
            other => panic!("{engine:?}: expected a table limit, got {:?}", other.err()),
        }
        let config = RuntimeConfig::default().with_memory_reservation(Reservation::Bytes(65_536));
        let rt = Runtime::with_config(config, engine);
        let wasm = wat::parse_str("(module (memory 2))").unwrap();
        match rt.instantiate_bytes(&wasm, anon()) {
            Err(Error::Instantiate(InstantiateError::MemoryReservation { minimum, reserved })) => {
                assert_eq!((minimum, reserved), (2, 1));
            }
            other => panic!("{engine:?}: expected a reservation error, got {:?}", other.err()),
        }
    }
}

#[test]
fn engine_limits_are_compile_errors_with_their_place() {
    // More value slots than the interpreter's registers can name (40,000 v128 locals are
    // 80,000 slots): the function's index and body offset.
    let locals = "v128 ".repeat(40_000);
    let wasm = wat::parse_str(format!("(module (func (local {locals})))")).unwrap();
    match runtime(EngineKind::Interpreter).compile(&wasm) {
        Err(Error::Compile(CompileError::Function { func_index, offset, .. })) => {
            assert_eq!(func_index, 0);
            assert!(offset > 0 && offset < wasm.len(), "{offset}");
        }
        other => panic!("expected a function compile error, got {:?}", other.err()),
    }
    // Two memories (multi-memory, asked for): the compiler has one.
    let features = Features::V2.with(Features::MULTI_MEMORY);
    let config = RuntimeConfig::default().with_features(features);
    let wasm = wat::parse_str("(module (memory 1) (memory 1))").unwrap();
    match Runtime::with_config(config, EngineKind::Compiler).compile(&wasm) {
        Err(Error::Compile(CompileError::Unsupported { engine, .. })) => {
            assert_eq!(engine, "compiler");
        }
        other => panic!("expected an unsupported-feature error, got {:?}", other.err()),
    }
}

#[test]
fn traps_keep_their_code_and_frames_and_exits_their_code() {
    for &engine in ENGINES {
        let rt = runtime(engine);
        let wat = r#"(module $m (func $inner unreachable) (func (export "run") call $inner))"#;
        let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anon()).unwrap();
        let err = m.func("run").unwrap().call(&[]).unwrap_err();
        let Error::Trap(trap) = &err else { panic!("{engine:?}: {err:?}") };
        assert_eq!(trap.code(), Some(TrapCode::Unreachable));
        let names: Vec<_> = trap.trace().iter().map(|f| f.func_name.as_deref()).collect();
        assert_eq!(names, [Some("inner"), None], "{engine:?}");
        assert_eq!(err.exit_code(), None);
    }
    let rt = runtime(EngineKind::Interpreter);
    rt.host_module("env")
        .func("exit", |_: &mut keel::Caller<'_>, code: i32| -> Result<(), keel::Trap> {
            Err(keel::Trap::exit(code as u32))
        })
        .instantiate()
        .unwrap();
    let wat = r#"(module (import "env" "exit" (func $exit (param i32)))
                   (func (export "run") (call $exit (i32.const 3))))"#;
    let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), anon()).unwrap();
    let err = m.func("run").unwrap().call(&[]).unwrap_err();
    assert_eq!(err.exit_code(), Some(3));
}

#[test]
fn usage_errors_say_what_was_misused() {
    let rt = runtime(EngineKind::Interpreter);
    let wat = r#"(module (global (export "g") i32 (i32.const 1)) (memory (export "m") 1)
                   (global (export "h") (mut i32) (i32.const 0)) (table (export "t") 1 funcref)
                   (func (export "f") (param i32)))"#;
    let m = rt
        .instantiate_bytes(&wat::parse_str(wat).unwrap(), ModuleConfig::new().with_name("a"))
        .unwrap();
    assert!(matches!(
        m.global("g").unwrap().set(Val::I32(2)),
        Err(Error::Usage(UsageError::ImmutableGlobal))
    ));
    match m.global("h").unwrap().set(Val::I64(2)) {
        Err(Error::Usage(UsageError::ValueType { what, expected, found })) => {
            assert_eq!((what, expected, found), ("global", ValType::I32, ValType::I64));
        }
        other => panic!("expected a value-type error, got {other:?}"),
    }
    let table = m.table("t").unwrap();
    match table.set(0, Val::I32(1)) {
        Err(Error::Usage(UsageError::ValueType { what, expected, found })) => {
            assert_eq!((what, expected, found), ("table", ValType::FuncRef, ValType::I32));
        }
        other => panic!("expected a value-type error, got {other:?}"),
    }
    match table.set(1, Val::FuncRef(None)) {
        Err(Error::Usage(UsageError::TableIndex { index })) => assert_eq!(index, 1),
        other => panic!("expected a table-index error, got {other:?}"),
    }
    match m.memory("m").unwrap().write(65535, &[1, 2]) {
        Err(Error::Usage(UsageError::MemoryRange { offset, len, size })) => {
            assert_eq!((offset, len, size), (65535, 2, 65536));
        }
        other => panic!("expected a memory range error, got {other:?}"),
    }
    match m.func("f").unwrap().call(&[Val::F64(1.0f64.to_bits())]) {
        Err(Error::Usage(UsageError::ArgumentTypes { given, .. })) => {
            assert_eq!(given, [ValType::F64]);
        }
        other => panic!("expected an argument-type error, got {other:?}"),
    }
    match m.func("f").unwrap().call_raw(&mut []) {
        Err(Error::Usage(UsageError::TooFewSlots { needed })) => assert_eq!(needed, 1),
        other => panic!("expected too few slots, got {other:?}"),
    }
    match m.typed_func::<(), ()>("nope") {
        Err(Error::Usage(UsageError::NoSuchExport { module, kind, name })) => {
            assert_eq!((module.as_str(), kind, name.as_str()), ("a", ExternKind::Func, "nope"));
        }
        Err(other) => panic!("expected a missing export, got {other:?}"),
        Ok(_) => panic!("expected a missing export"),
    }
    match rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), ModuleConfig::new().with_name("a")) {
        Err(Error::Usage(UsageError::NameTaken { name })) => assert_eq!(name, "a"),
        other => panic!("expected a taken name, got {:?}", other.err()),
    }
    let other = runtime(EngineKind::Interpreter);
    let compiled = other.compile(&wat::parse_str(wat).unwrap()).unwrap();
    match rt.instantiate(&compiled, anon()) {
        Err(Error::Usage(UsageError::ForeignRuntime { .. })) => {}
        other => panic!("expected a foreign-runtime error, got {:?}", other.err()),
    }
}
