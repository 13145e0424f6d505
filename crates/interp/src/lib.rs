//! keel-interp: runs keel-ir bytecode; an [`Engine`](keel_runtime::Engine).

use std::sync::Arc;

use keel_runtime::{CompiledCode, Engine, Error};

/// The register-based interpreter engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Interpreter;

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn compile(&self, _module: &Arc<keel_decode::Module>) -> Result<Arc<dyn CompiledCode>, Error> {
        Err(Error::Compile("the interpreter is not built yet".into()))
    }
}
