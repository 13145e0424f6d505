//! Hostile or broken guests: an out-of-range stack pointer, a pointer past the memory, a
//! reference that names nothing, too many arguments for wasm_exec.js's layout — each a trap or
//! an error, never a host crash. Guests in WAT, importing module `gojs` as Go 1.21+ does.

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode};

/// A guest whose `run` stores `words` (8 bytes each) at 1024 and calls `import` with `sp`.
fn guest(import: &str, sp: i64, words: &[u64]) -> Vec<u8> {
    let mut stores = String::new();
    for (i, w) in words.iter().enumerate() {
        stores += &format!("(i64.store (i32.const {}) (i64.const {}))\n", 1024 + 8 * i, *w as i64);
    }
    let wat = format!(
        r#"(module
  (import "gojs" "{import}" (func $f (param i32)))
  (memory (export "mem") 1)
  (func (export "run") (param i32 i32) {stores} (call $f (i32.const {sp})))
  (func (export "resume"))
  (func (export "getsp") (result i32) (i32.const 1016)))"#
    );
    wat::parse_str(wat).unwrap()
}

fn run(engine: EngineKind, wasm: &[u8]) -> keel::Error {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    keel_gojs::instantiate(&runtime).unwrap();
    let compiled = runtime.compile(wasm).unwrap();
    keel_gojs::run(&runtime, &compiled, ModuleConfig::new()).unwrap_err()
}

#[test]
fn out_of_range_stack_pointers_and_pointers_trap() {
    for engine in [EngineKind::Interpreter, EngineKind::Compiler] {
        // sp past the memory.
        let e = run(engine, &guest("runtime.nanotime1", 0xffff_fff0u32 as i32 as i64, &[]));
        assert_eq!(
            e.as_trap().and_then(|t| t.code()),
            Some(TrapCode::MemoryOutOfBounds),
            "{engine:?}: {e}"
        );
        // wasmWrite(fd 1, p past the memory, n 16): sp = 1016, so the words are at sp + 8...
        let e = run(engine, &guest("runtime.wasmWrite", 1016, &[1, 1 << 20, 16]));
        assert_eq!(
            e.as_trap().and_then(|t| t.code()),
            Some(TrapCode::MemoryOutOfBounds),
            "{engine:?}: {e}"
        );
        // getRandomData of a slice longer than the memory.
        let e = run(engine, &guest("runtime.getRandomData", 1016, &[0, 1 << 40]));
        assert_eq!(
            e.as_trap().and_then(|t| t.code()),
            Some(TrapCode::MemoryOutOfBounds),
            "{engine:?}: {e}"
        );
    }
}

#[test]
fn a_reference_that_names_nothing_is_a_trap() {
    for engine in [EngineKind::Interpreter, EngineKind::Compiler] {
        // valueGet(v = a NaN-boxed id never handed out, p = "x").
        let bogus = (0x7ff8_0001u64 << 32) | 999_999;
        let wasm = guest("syscall/js.valueGet", 1016, &[bogus, 2000, 1]);
        let e = run(engine, &wasm);
        assert!(
            e.as_trap().is_some_and(|t| t.code().is_none() && t.exit_code().is_none()),
            "{engine:?}: {e}"
        );
        assert!(e.to_string().contains("invalid reference"), "{e}");
    }
}

#[test]
fn arguments_past_wasm_exec_js_limit_are_refused() {
    let runtime = Runtime::with_config(RuntimeConfig::default(), EngineKind::Interpreter);
    keel_gojs::instantiate(&runtime).unwrap();
    let compiled = runtime.compile(&guest("runtime.nanotime1", 1016, &[])).unwrap();
    let long = "x".repeat(9000);
    let e = keel_gojs::run(&runtime, &compiled, ModuleConfig::new().with_args(["a", &long]))
        .unwrap_err();
    assert!(e.to_string().contains("exceeds limit"), "{e}");
}
