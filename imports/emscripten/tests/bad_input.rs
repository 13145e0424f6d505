//! Hostile or broken guests: `invoke_` of an index outside the table, of an empty slot or of
//! the wrong type traps; a trap inside an invoked function goes on unchanged (only exceptions
//! and longjmps are caught); pointers out of memory trap; imports keel-emscripten does not
//! know are refused, naming them. Each on both engines.

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode};
use keel_emscripten::{Aborted, MissingImport, Unwind};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

/// A guest with what `invoke_` needs (a table, stackSave/stackRestore over a global stack
/// pointer, a setThrew that adds to `__THREW__` in a global) and `run(case)` exercising one
/// case.
const GUEST: &str = r#"
(module
  (import "env" "invoke_vi" (func $invoke_vi (param i32 i32)))
  (import "env" "invoke_ii" (func $invoke_ii (param i32 i32) (result i32)))
  (import "env" "invoke_v" (func $invoke_v (param i32)))
  (import "env" "_emscripten_throw_longjmp" (func $throw_longjmp))
  (import "env" "__assert_fail" (func $assert_fail (param i32 i32 i32 i32)))
  (import "env" "emscripten_memcpy_big" (func $memcpy_big (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global $sp (mut i32) (i32.const 4096))
  (global $threw (export "threw") (mut i32) (i32.const 0))
  (table (export "__indirect_function_table") 4 funcref)
  (elem (i32.const 0) $trap $longjmp $throw_longjmp)
  (data (i32.const 100) "x > 0\00file.c\00f\00")
  (func $trap (param i32) unreachable)
  (func $longjmp (param i32) call $throw_longjmp)
  (func (export "stackSave") (result i32) global.get $sp)
  (func (export "stackRestore") (param i32) local.get 0 global.set $sp)
  (func (export "setThrew") (param i32 i32)
    (global.set $threw (i32.add (global.get $threw) (local.get 0))))
  (func (export "run") (param $case i32) (result i32)
    (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
      local.get $case
      br_table $b0 $b1 $b2 $b3 $b4 $b5)
      ;; 0: an index past the table
      (call $invoke_vi (i32.const 1000) (i32.const 0)) (return (i32.const 0)))
      ;; 1: an empty slot
      (call $invoke_vi (i32.const 3) (i32.const 0)) (return (i32.const 0)))
      ;; 2: the wrong type (entry 0 is (i32) -> ())
      (drop (call $invoke_ii (i32.const 0) (i32.const 0))) (return (i32.const 0)))
      ;; 3: unreachable inside the invoked function: not swallowed
      (call $invoke_vi (i32.const 0) (i32.const 0)) (return (i32.const 0)))
      ;; 4: a longjmp through a Wasm function, and one through an imported function in the
      ;; table (entry 2): both caught, __THREW__ set
      (call $invoke_vi (i32.const 1) (i32.const 0))
      (global.set $threw (i32.mul (global.get $threw) (i32.const 10)))
      (call $invoke_v (i32.const 2))
      (return (global.get $threw)))
    ;; 5: pointers out of memory
    (drop (call $memcpy_big (i32.const 0) (i32.const 65530) (i32.const 100)))
    (i32.const 0))
  (func (export "assert") (call $assert_fail (i32.const 100) (i32.const 106) (i32.const 7) (i32.const 113)))
  (func (export "assert_wild") (call $assert_fail (i32.const 70000) (i32.const 0) (i32.const 0) (i32.const 0)))
)
"#;

fn instance(engine: EngineKind, wat: &str) -> (keel::Module, keel_sys::MemoryWriter) {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    let compiled = runtime.compile(&wat::parse_str(wat).unwrap()).unwrap();
    keel_emscripten::instantiate_for(&runtime, &compiled).unwrap();
    let stderr = keel_sys::MemoryWriter::default();
    let config = ModuleConfig::new().with_stderr(stderr.clone());
    (runtime.instantiate(&compiled, config).unwrap(), stderr)
}

fn run_case(engine: EngineKind, case: i32) -> keel::Result<i32> {
    let (module, _) = instance(engine, GUEST);
    module.typed_func::<i32, i32>("run")?.call(case)
}

fn trap_code(r: keel::Result<i32>) -> Option<TrapCode> {
    r.unwrap_err().as_trap().and_then(|t| t.code())
}

#[test]
fn invoke_checks_the_table_entry() {
    for &engine in ENGINES {
        assert_eq!(trap_code(run_case(engine, 0)), Some(TrapCode::TableOutOfBounds), "{engine:?}");
        assert_eq!(
            trap_code(run_case(engine, 1)),
            Some(TrapCode::IndirectCallToNull),
            "{engine:?}"
        );
        assert_eq!(trap_code(run_case(engine, 2)), Some(TrapCode::BadSignature), "{engine:?}");
    }
}

#[test]
fn invoke_lets_other_traps_through() {
    for &engine in ENGINES {
        assert_eq!(trap_code(run_case(engine, 3)), Some(TrapCode::Unreachable), "{engine:?}");
    }
}

#[test]
fn invoke_catches_longjmps_through_wasm_and_imports() {
    for &engine in ENGINES {
        assert_eq!(run_case(engine, 4).unwrap(), 11, "{engine:?}");
    }
}

#[test]
fn pointers_out_of_memory_trap() {
    for &engine in ENGINES {
        assert_eq!(trap_code(run_case(engine, 5)), Some(TrapCode::MemoryOutOfBounds), "{engine:?}");
        let (module, _) = instance(engine, GUEST);
        let err = module.typed_func::<(), ()>("assert_wild").unwrap().call(()).unwrap_err();
        assert_eq!(err.as_trap().and_then(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
    }
}

#[test]
fn a_failed_assert_aborts_with_its_message() {
    for &engine in ENGINES {
        let (module, stderr) = instance(engine, GUEST);
        let err = module.typed_func::<(), ()>("assert").unwrap().call(()).unwrap_err();
        let what = "Assertion failed: x > 0, at: file.c,7,f";
        let host = match err.as_trap().map(|t| t.kind()) {
            Some(keel::TrapKind::Host(e)) => e.downcast_ref::<Aborted>().cloned(),
            _ => None,
        };
        assert_eq!(host, Some(Aborted(what.to_string())), "{engine:?}");
        assert_eq!(stderr.text(), format!("Aborted({what})\n"), "{engine:?}");
    }
}

#[test]
fn a_longjmp_with_no_invoke_is_an_error() {
    let wat = r#"(module
        (import "env" "_emscripten_throw_longjmp" (func $j))
        (memory (export "memory") 1)
        (func (export "run") call $j))"#;
    for &engine in ENGINES {
        let (module, _) = instance(engine, wat);
        let err = module.typed_func::<(), ()>("run").unwrap().call(()).unwrap_err();
        assert_eq!(err.as_trap().and_then(Unwind::of), Some(Unwind::Longjmp), "{engine:?}");
    }
}

#[test]
fn unknown_imports_are_refused_by_name() {
    let runtime = Runtime::new();
    for (wat, name) in [
        (r#"(module (import "env" "no_such_function" (func)))"#, "no_such_function"),
        // A known name of another type.
        (r#"(module (import "env" "abort" (func (param i32))))"#, "abort"),
        (r#"(module (import "env" "invoke_xi" (func (param i32) (result i32))))"#, "invoke_xi"),
        (r#"(module (import "env" "memory" (memory 1)))"#, "memory"),
    ] {
        let compiled = runtime.compile(&wat::parse_str(wat).unwrap()).unwrap();
        assert!(!keel_emscripten::is_emscripten(&compiled), "{wat}");
        let builder = runtime.host_module("env");
        match keel_emscripten::export_functions(builder, &compiled) {
            Err(MissingImport { name: missing, .. }) => assert_eq!(missing, name),
            Ok(_) => panic!("{wat} accepted"),
        }
    }
}
