//! keel-interp: runs keel-ir bytecode; a [`keel_runtime::Engine`].
//!
//! [`Interpreter::compile`] translates every defined function of a module with keel-ir (in
//! parallel for large modules); [`InterpCode`] runs them in a register-machine loop with a value
//! stack of 64-bit slots and a separate frame stack, so guest recursion is bounded by
//! [`Limits::max_call_depth`](keel_runtime::vm::Limits) and never overflows the host's stack.
//! See `docs/interpreter.md`.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use keel_ir::{CompiledFunc, TranslateOptions};
use keel_runtime::vm::Instance;
use keel_runtime::{CompileOptions, CompiledCode, Engine, Error, Trap};

pub use tier::{Tier, TierConfig, TierState, UpperTier};

mod exec;
mod ops;
#[cfg(test)]
mod tests;
mod tier;
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
        let ir_options = TranslateOptions { listening: options.listening, tiered: false };
        let code = InterpCode::new(module, ir_options, None);
        let translate = |i: usize| code.translate(i as u32).map_err(Error::from);
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
        for (slot, f) in code.funcs.iter().zip(funcs) {
            let _ = slot.set(f);
        }
        if options.listening {
            return Ok(Arc::new(ListeningCode(code)));
        }
        Ok(Arc::new(code))
    }
}

impl Interpreter {
    /// A module's code translated lazily, each function on its first call (what a tiered
    /// engine starts with: nothing is translated that never runs). With `tier`, the bytecode is
    /// the tiered variant ([`TranslateOptions::tiered`]): it counts calls and loop iterations in
    /// the [`TierState`] and hands hot functions to the [`UpperTier`].
    pub fn compile_lazy(
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
        tier: Option<Tier>,
    ) -> InterpCode {
        let tiered = tier.is_some();
        let ir_options = TranslateOptions { listening: options.listening, tiered };
        InterpCode::new(module, ir_options, tier)
    }
}

/// Translates every defined function of `module` as [`Interpreter::compile`] does, as plain and
/// as listening bytecode, and checks each with [`keel_ir::verify`]: the invariants the
/// interpreter's unchecked reads rely on (slots inside the frame, jumps inside the code, call
/// windows inside the caller's frame; see `docs/interpreter.md`, "Verifying bytecode").
/// Functions that fail to translate are skipped: compiling the module reports them.
///
/// The engine itself verifies only in builds with debug assertions (after every translation);
/// this is for fuzz targets and tests, whatever the build.
pub fn verify_module(module: &keel_decode::Module) -> Result<(), keel_ir::VerifyError> {
    for i in 0..module.num_defined_functions() {
        for listening in [false, true] {
            for tiered in [false, true] {
                let options = TranslateOptions { listening, tiered };
                if let Ok(f) = keel_ir::translate_function_with(module, i, options) {
                    keel_ir::verify(&f, module)?;
                }
            }
        }
    }
    Ok(())
}

/// A module's functions, translated (all at compile time, or each on its first call); the
/// interpreter's [`CompiledCode`].
pub struct InterpCode {
    module: Arc<keel_decode::Module>,
    options: TranslateOptions,
    funcs: Box<[OnceLock<Func>]>,
    /// Translated as listening bytecode (`CompileOptions::listening`).
    listening: bool,
    /// The counters and the upper tier of tiered bytecode.
    pub(crate) tier: Option<Tier>,
}

impl std::fmt::Debug for InterpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterpCode")
            .field("functions", &self.funcs.len())
            .field("options", &self.options)
            .finish()
    }
}

impl InterpCode {
    fn new(
        module: &Arc<keel_decode::Module>,
        options: TranslateOptions,
        tier: Option<Tier>,
    ) -> InterpCode {
        let n = module.num_defined_functions() as usize;
        InterpCode {
            module: module.clone(),
            options,
            funcs: (0..n).map(|_| OnceLock::new()).collect(),
            listening: options.listening,
            tier,
        }
    }

    /// The translated defined function `def_index` (its `code` is moved into the
    /// interpreter's own instruction array and left empty), translating it now if it was not.
    pub fn function(&self, def_index: u32) -> Result<&CompiledFunc, Error> {
        Ok(&self.func(def_index).map_err(Error::from)?.ir)
    }

    /// Defined function `def`, translated.
    #[inline(always)]
    pub(crate) fn func(&self, def: u32) -> Result<&Func, Trap> {
        match self.funcs[def as usize].get() {
            Some(f) => Ok(f),
            None => self.translate_now(def),
        }
    }

    /// Defined function `def` if it is translated already.
    #[inline(always)]
    pub(crate) fn translated(&self, def: u32) -> Option<&Func> {
        self.funcs[def as usize].get()
    }

    /// The first call of a lazily translated function. Two threads may both translate it; one
    /// result is kept.
    #[cold]
    #[inline(never)]
    fn translate_now(&self, def: u32) -> Result<&Func, Trap> {
        let f = self.translate(def).map_err(|e| Trap::host(Error::from(e)))?;
        let _ = self.funcs[def as usize].set(f);
        Ok(self.funcs[def as usize].get().expect("just set"))
    }

    fn translate(&self, def: u32) -> Result<Func, keel_runtime::CompileError> {
        let module = &self.module;
        let f = keel_ir::translate_function_with(module, def, self.options).map_err(|e| {
            keel_runtime::CompileError::Function {
                func_index: module.num_imported_functions + def,
                offset: module.bodies[def as usize].code.start,
                message: e.to_string(),
            }
        })?;
        Ok(Func::new(f))
    }

    /// Defined functions of the module before this one in the function index space.
    #[inline(always)]
    pub(crate) fn num_imported(&self) -> u32 {
        self.module.num_imported_functions
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

// SAFETY: the interpreter touches the instance only inside `call`, on the calling thread, and
// keeps nothing of it afterwards.
unsafe impl CompiledCode for InterpCode {
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

// SAFETY: as for `InterpCode`.
unsafe impl CompiledCode for ListeningCode {
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        exec::run(&self.0, instance, def_index, values)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
