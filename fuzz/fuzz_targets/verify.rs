//! The interpreter's bytecode verifier (`keel_ir::verify`), called explicitly on every module a
//! target compiles on the interpreter: whatever the fuzz build's debug assertions (under which
//! keel-ir also verifies after every translation), bytecode breaking the interpreter's
//! invariants is a crash found, not a silent out-of-bounds read.

/// Decodes `wasm` as the runtime does (Wasm 2.0, the default features) and verifies every
/// function's bytecode, plain and listening; panics on the first invalid one.
pub fn verify_bytecode(wasm: &[u8]) {
    let Ok(module) = keel_decode::decode(wasm, keel_decode::Features::V2) else { return };
    if let Err(e) = keel_interp::verify_module(&module) {
        panic!("the interpreter's bytecode fails verification: {e}");
    }
}
