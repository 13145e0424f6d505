//! keel-ir: validated Wasm function bodies to register-based bytecode for keel-interp.
