//! A small subset of the Wasm 2.0 spec tests must pass on the interpreter.

use keel_spec_tests::{Engine, ScriptOptions, Suite, run_file};

#[test]
fn v2_subset_passes_on_the_interpreter() {
    let engine = Engine::by_name("interpreter").unwrap();
    let mut failures = Vec::new();
    for file in ["i32.wast", "br_table.wast", "memory.wast", "call_indirect.wast"] {
        let outcome = run_file(engine, Suite::V2, file, &ScriptOptions::default()).unwrap();
        assert!(outcome.passed > 0, "no check of {file} ran");
        failures.extend(outcome.failures);
    }
    assert!(
        failures.is_empty(),
        "{} checks failed; the first ones:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
