//! A subset of the Wasm 2.0 spec tests, run on the compiler by `cargo test` (the whole suites run
//! with `cargo xtask spectest --engine compiler`).

use keel_spec_tests::{Engine, ScriptOptions, Suite, run_file};

#[test]
fn v2_subset_passes_on_the_compiler() {
    let engine = Engine::by_name("compiler").unwrap();
    let mut failures = Vec::new();
    for file in [
        "i32.wast",
        "f64.wast",
        "conversions.wast",
        "br_table.wast",
        "call.wast",
        "call_indirect.wast",
        "memory_grow.wast",
        "bulk.wast",
        "table_copy.wast",
        "ref_func.wast",
        "func.wast",
        "linking.wast",
        "skip-stack-guard-page.wast",
    ] {
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
