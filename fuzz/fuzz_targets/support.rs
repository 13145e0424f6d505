//! Shared by the targets: instantiate on the interpreter and call every exported function with
//! zero arguments, under a small call-depth bound.

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig, Val};

pub fn run_exports(wasm: &[u8]) {
    let config = RuntimeConfig::default().with_max_call_depth(500).with_memory_limit_pages(256);
    let runtime = Runtime::with_config(config, EngineKind::Interpreter);
    let Ok(compiled) = runtime.compile(wasm) else { return };
    crate::verify::verify_bytecode(wasm);
    let Ok(module) = runtime.instantiate(&compiled, ModuleConfig::new().with_name("")) else {
        return;
    };
    for (name, ty) in compiled.exported_functions() {
        let args: Vec<Val> = ty.params.iter().map(|t| Val::default_for(*t)).collect();
        if let Some(f) = module.func(name) {
            let _ = f.call(&args);
        }
    }
}
