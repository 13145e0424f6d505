//! A small subset of the Wasm 2.0 spec tests must pass on the interpreter.

use keel_spec_tests::{Engine, ScriptOptions, Suite, assert_files_pass, assert_files_pass_with};

#[test]
fn v2_subset_passes_on_the_interpreter() {
    let engine = Engine::by_name("interpreter").unwrap();
    assert_files_pass(
        engine,
        Suite::V2,
        &["i32.wast", "br_table.wast", "memory.wast", "call_indirect.wast"],
    );
}

/// Calls as listening bytecode (every function listened to, each report checked).
#[test]
fn call_scripts_pass_as_listening_code_on_the_interpreter() {
    let engine = Engine::by_name("interpreter").unwrap();
    let options = ScriptOptions { listening: true, ..ScriptOptions::default() };
    let files = ["call.wast", "call_indirect.wast", "fac.wast", "func.wast", "linking.wast"];
    assert_files_pass_with(engine, Suite::V2, &files, &options);
}

/// The same on the tiered engine (thresholds 2 and 3, compiled on the calling thread): listened
/// calls cross from bytecode to compiled code and back, every report still checked.
#[test]
fn call_scripts_pass_as_listening_code_on_the_tiered_engine() {
    let engine = Engine::by_name("tiered").unwrap();
    let options = ScriptOptions { listening: true, ..ScriptOptions::default() };
    let files = ["call.wast", "call_indirect.wast", "fac.wast", "func.wast", "linking.wast"];
    assert_files_pass_with(engine, Suite::V2, &files, &options);
}
