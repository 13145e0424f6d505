//! wasm-smith modules, made to terminate (a fuel global decremented in every loop and function),
//! instantiated and run on the interpreter: traps are fine, panics and hangs are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (wasm_smith::Config, &[u8])| {
    let (mut config, bytes) = input;
    config.simd_enabled = false;
    config.relaxed_simd_enabled = false;
    config.threads_enabled = false;
    config.gc_enabled = false;
    config.exceptions_enabled = false;
    config.tail_call_enabled = false;
    config.memory64_enabled = false;
    config.multi_value_enabled = true;
    config.max_memories = 1;
    config.max_memory32_bytes = 1 << 24;
    config.max_imports = 0;
    let mut u = arbitrary::Unstructured::new(bytes);
    let Ok(mut module) = wasm_smith::Module::new(config, &mut u) else { return };
    if module.ensure_termination(1_000).is_err() {
        return;
    }
    keel_fuzz_support::run_exports(&module.to_bytes());
});

#[path = "support.rs"]
mod keel_fuzz_support;
#[path = "verify.rs"]
mod verify;
