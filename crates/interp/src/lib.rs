//! keel-interp: runs keel-ir bytecode; a [`keel_runtime::Engine`].
//!
//! [`Interpreter::compile`] translates every defined function of a module with keel-ir (in
//! parallel for large modules); [`InterpCode`] runs them in a register-machine loop with a value
//! stack of 64-bit slots and a separate frame stack, so guest recursion is bounded by
//! [`Limits::max_call_depth`](keel_runtime::vm::Limits) and never overflows the host's stack.
//! See `docs/interpreter.md`.

use std::any::Any;
use std::sync::Arc;

use keel_ir::{CompiledFunc, TranslateOptions};
use keel_runtime::vm::Instance;
use keel_runtime::{CompileOptions, CompiledCode, Engine, Error, Trap};

mod exec;
mod ops;
#[cfg(test)]
mod tests;
mod v128;

/// The register-based interpreter engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Interpreter;

/// Defined functions at or above which a module is translated on several threads.
const PARALLEL_THRESHOLD: usize = 64;

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn compile(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        let n = module.num_defined_functions() as usize;
        // Asked only for large modules, and cached: the query reads cgroup files on Linux,
        // which took most of the time of compiling a small module.
        let threads = if n >= PARALLEL_THRESHOLD {
            keel_runtime::engine::compile_threads().min(8)
        } else {
            1
        };
        let ir_options = TranslateOptions { listening: options.listening };
        let translate = |i: usize| {
            keel_ir::translate_function_with(module, i as u32, ir_options).map(Func::new).map_err(
                |e| {
                    Error::from(keel_runtime::CompileError::Function {
                        func_index: module.num_imported_functions + i as u32,
                        offset: module.bodies[i].code.start,
                        message: e.to_string(),
                    })
                },
            )
        };
        let funcs: Vec<Func> = if n >= PARALLEL_THRESHOLD && threads > 1 {
            let chunk = n.div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..n)
                    .step_by(chunk)
                    .map(|start| {
                        let translate = &translate;
                        s.spawn(move || {
                            (start..(start + chunk).min(n))
                                .map(translate)
                                .collect::<Result<Vec<_>, _>>()
                        })
                    })
                    .collect();
                let mut funcs = Vec::with_capacity(n);
                for h in handles {
                    funcs.extend(h.join().expect("translation does not panic")?);
                }
                Ok::<_, Error>(funcs)
            })?
        } else {
            (0..n).map(translate).collect::<Result<_, _>>()?
        };
        let code = InterpCode { funcs: funcs.into(), listening: options.listening };
        if options.listening {
            return Ok(Arc::new(ListeningCode(code)));
        }
        Ok(Arc::new(code))
    }
}

/// A module's functions, translated; the interpreter's [`CompiledCode`].
#[derive(Debug)]
pub struct InterpCode {
    funcs: Box<[Func]>,
    /// Translated as listening bytecode (`CompileOptions::listening`).
    listening: bool,
}

impl InterpCode {
    /// The translated defined function `def_index` (its `code` is moved into the
    /// interpreter's own instruction array and left empty).
    pub fn function(&self, def_index: u32) -> &CompiledFunc {
        &self.funcs[def_index as usize].ir
    }
}

/// A translated function as the interpreter runs it: its instructions with their handlers.
#[derive(Debug)]
pub(crate) struct Func {
    ir: CompiledFunc,
    ops: Box<[exec::Op]>,
}

impl Func {
    fn new(mut ir: CompiledFunc) -> Func {
        let ops = ir.code.iter().map(|&i| exec::Op::new(i)).collect();
        ir.code = Box::new([]);
        Func { ir, ops }
    }
}

impl std::ops::Deref for Func {
    type Target = CompiledFunc;
    fn deref(&self) -> &CompiledFunc {
        &self.ir
    }
}

impl CompiledCode for InterpCode {
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        exec::run(self, instance, def_index, values)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Listening bytecode (`CompileOptions::listening`), the interpreter's [`CompiledCode`] for it.
///
/// A type of its own so that plain bytecode does not recognise it: plain bytecode enters another
/// instance's [`InterpCode`] in its own loop, and would run listening functions there without
/// the `listen::Scope` that ends the listened calls a trap leaves. Plain bytecode calls listening
/// code through the runtime instead, whose entry opens that scope; listening bytecode enters it
/// in its loop, under the scope of its own entry.
#[derive(Debug)]
pub struct ListeningCode(InterpCode);

impl ListeningCode {
    /// The listening bytecode, as [`InterpCode`].
    pub fn code(&self) -> &InterpCode {
        &self.0
    }
}

impl CompiledCode for ListeningCode {
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        exec::run(&self.0, instance, def_index, values)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
