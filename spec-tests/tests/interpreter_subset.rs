//! A small subset of the Wasm 2.0 spec tests must pass on the interpreter.

use keel_spec_tests::{Engine, Suite, assert_files_pass};

#[test]
fn v2_subset_passes_on_the_interpreter() {
    let engine = Engine::by_name("interpreter").unwrap();
    assert_files_pass(
        engine,
        Suite::V2,
        &["i32.wast", "br_table.wast", "memory.wast", "call_indirect.wast"],
    );
}
