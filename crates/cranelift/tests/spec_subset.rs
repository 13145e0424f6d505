//! A subset of the Wasm 2.0 spec tests, run on the compiler by `cargo test` (the whole suites run
//! with `cargo xtask spectest --engine compiler`).

use keel_spec_tests::{Engine, ScriptOptions, Suite, assert_files_pass, assert_files_pass_with};

#[test]
fn v2_subset_passes_on_the_compiler() {
    let engine = Engine::by_name("compiler").unwrap();
    assert_files_pass(
        engine,
        Suite::V2,
        &[
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
        ],
    );
}

/// The same calls as listening code (every function listened to, each report checked).
#[test]
fn call_scripts_pass_as_listening_code_on_the_compiler() {
    let engine = Engine::by_name("compiler").unwrap();
    let options = ScriptOptions { listening: true, ..ScriptOptions::default() };
    let files = ["call.wast", "call_indirect.wast", "fac.wast", "func.wast", "linking.wast"];
    assert_files_pass_with(engine, Suite::V2, &files, &options);
}
