#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel-emscripten: the host functions that C and C++ programs built by Emscripten import from
//! module `env`, with the semantics of Emscripten's JavaScript library, on the guest's keel-sys
//! view (arguments, environment, stdio, mounts, clocks) — beside keel-wasi, through which
//! Emscripten guests write, read and exit.
//!
//! ```no_run
//! use keel::{ModuleConfig, Runtime};
//!
//! let runtime = Runtime::new();
//! let compiled = runtime.compile(&std::fs::read("app.wasm")?)?;
//! keel_emscripten::instantiate_wasi(&runtime, &compiled)?; // keel-wasi, fd_seek as emcc imports it
//! keel_emscripten::instantiate_for(&runtime, &compiled)?;
//! let config = ModuleConfig::new().with_args(["app"]).with_stdout(std::io::stdout());
//! match keel_emscripten::run(&runtime, &compiled, config) {
//!     Ok(code) => std::process::exit(code as i32),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What emcc imports depends on the program, so the module is made for one guest (wazero's
//! `emscripten.InstantiateForModule`): [`instantiate_for`] provides exactly the `env` functions
//! the guest imports — `invoke_<sig>` trampolines generated from their names and types,
//! `__cxa_find_matching_catch_<n>` for any `n`, and the fixed functions of [`function_names`] —
//! and fails naming the first one it does not know.
//!
//! - `invoke_<sig>(index, args...)` calls entry `index` of the guest's table (an imported
//!   function too), after saving the guest's stack pointer; when a C++ exception or a longjmp
//!   unwinds through it, it restores the stack pointer, calls the guest's `setThrew(1, 0)` and
//!   returns zeros, as Emscripten's JS does. Every other trap goes on unchanged.
//! - C++ exceptions in Emscripten's JavaScript ABI (`em++ -fexceptions`): `__cxa_throw` and its
//!   family keep the exception header that Emscripten's library_exceptions.js keeps, in guest
//!   memory, and ask the guest's `__cxa_can_catch` which clause catches.
//! - setjmp/longjmp: `_emscripten_throw_longjmp` (and `emscripten_longjmp` of older emcc)
//!   unwind to the nearest `invoke_`.
//! - Memory, time, `abort` and the `__syscall_*` functions: see docs/emscripten.md.
//!
//! Guests built without `-sSTANDALONE_WASM` (what `emcc -o app.js` makes, the `.wasm` beside the
//! JS glue) export `main` rather than `_start`: [`run`] calls their constructors and `main(argc,
//! argv)` as the glue's `callMain` does. Standalone guests export `_start` and run as WASI
//! programs do, with this module beside keel-wasi.

mod exceptions;
mod invoke;
mod logging;
mod mem;
mod memory;
mod state;
mod syscalls;
mod time;
mod wasi;

use std::sync::Arc;

use keel::{Caller, CompiledModule, FuncType, HostModuleBuilder, Module, ModuleConfig, Runtime};
use keel::{Trap, Val, ValType};

pub use exceptions::CppException;
pub use invoke::{InvokeSignature, Unwind};
pub use logging::LOGGED_FUNCTIONS;
pub use memory::Aborted;
pub use wasi::{export_wasi_functions, instantiate_wasi};

/// The module Emscripten's imports come from.
pub const MODULE_NAME: &str = "env";

/// A host function in raw form.
pub(crate) type HostFn = fn(&mut Caller<'_>, &mut [u64]) -> Result<(), Trap>;

/// A host function made for one import (an `invoke_<sig>` of that import's type).
pub(crate) type Callback =
    Arc<dyn Fn(&mut Caller<'_>, &mut [u64]) -> Result<(), Trap> + Send + Sync>;

/// A function of fixed name and type: one row of the tables each family of functions keeps
/// (`memory::FUNCTIONS`, `time::FUNCTIONS`, ...).
pub(crate) struct Def {
    pub name: &'static str,
    pub params: &'static [ValType],
    pub results: &'static [ValType],
    pub func: HostFn,
}

impl Def {
    fn ty(&self) -> FuncType {
        FuncType::new(self.params.iter().copied(), self.results.iter().copied())
    }
}

pub(crate) const I32: ValType = ValType::I32;
#[allow(dead_code)] // for the syscall and time tables
pub(crate) const I64: ValType = ValType::I64;
#[allow(dead_code)] // for the syscall and time tables
pub(crate) const F64: ValType = ValType::F64;

/// Every function of fixed name, family by family.
fn fixed() -> impl Iterator<Item = &'static Def> {
    [exceptions::FUNCTIONS, memory::FUNCTIONS, time::FUNCTIONS, syscalls::FUNCTIONS]
        .into_iter()
        .flatten()
}

/// The names of the functions of fixed name keel-emscripten provides (beside the families
/// `invoke_<sig>` and `__cxa_find_matching_catch_<n>`).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    fixed().map(|d| d.name)
}

/// How keel-emscripten provides the import `name` of type `ty`, if it does.
fn provider(name: &str, ty: &FuncType) -> Option<Callback> {
    if let Some(def) = fixed().find(|d| d.name == name && d.ty() == *ty) {
        let f = def.func;
        return Some(Arc::new(f));
    }
    if let Some(sig) = name.strip_prefix("invoke_") {
        let sig = InvokeSignature::parse(sig, ty)?;
        return Some(Arc::new(move |c: &mut Caller<'_>, v: &mut [u64]| invoke::invoke(c, v, &sig)));
    }
    exceptions::find_matching_catch(name, ty)
}

/// Whether keel-emscripten provides the import `name` of type `ty` from [`MODULE_NAME`]: what a
/// loader (keel's CLI) asks to tell an Emscripten guest's `env` from another toolchain's.
pub fn provides(name: &str, ty: &FuncType) -> bool {
    provider(name, ty).is_some()
}

/// Whether `compiled` looks like an Emscripten guest: it imports from [`MODULE_NAME`] and every
/// function it imports from there is one keel-emscripten provides.
pub fn is_emscripten(compiled: &CompiledModule) -> bool {
    let types = &compiled.description().types;
    let mut any = false;
    for (module, name, ty) in compiled.imports() {
        if module != MODULE_NAME {
            continue;
        }
        let keel::decode::ImportType::Func(i) = ty else { return false };
        match types.get(*i as usize) {
            Some(ty) if provides(name, ty) => any = true,
            _ => return false,
        }
    }
    any
}

/// An import of the guest's `env` that keel-emscripten does not provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingImport {
    /// The import's name.
    pub name: String,
    /// Its type, when it is a function.
    pub ty: Option<FuncType>,
}

impl std::fmt::Display for MissingImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ty {
            Some(ty) => {
                write!(f, "keel-emscripten does not provide env.{} of type {ty}", self.name)
            }
            None => write!(f, "keel-emscripten provides only functions, not env.{}", self.name),
        }
    }
}

impl std::error::Error for MissingImport {}

/// Adds to `builder` every `env` function `compiled` imports (wazero's
/// `FunctionExporter.ExportFunctions` made for one module). A later `func`/`func_raw` of the
/// same name on the builder replaces the built-in one.
pub fn export_functions(
    builder: HostModuleBuilder,
    compiled: &CompiledModule,
) -> Result<HostModuleBuilder, MissingImport> {
    let types = &compiled.description().types;
    let mut builder = builder;
    for (module, name, ty) in compiled.imports() {
        if module != MODULE_NAME {
            continue;
        }
        let ty = match ty {
            keel::decode::ImportType::Func(i) => types.get(*i as usize),
            _ => None,
        };
        let missing = || MissingImport { name: name.to_string(), ty: ty.cloned() };
        let ty = ty.ok_or_else(missing)?;
        let callback = provider(name, ty).ok_or_else(missing)?;
        builder = builder.func_raw(name, ty.clone(), move |c, v| callback(c, v));
    }
    Ok(builder)
}

/// Instantiates, as [`MODULE_NAME`], the `env` functions `compiled` imports.
pub fn instantiate_for(runtime: &Runtime, compiled: &CompiledModule) -> keel::Result<Module> {
    instantiate_as(runtime, MODULE_NAME, compiled)
}

/// [`instantiate_for`] under another module name.
pub fn instantiate_as(
    runtime: &Runtime,
    name: &str,
    compiled: &CompiledModule,
) -> keel::Result<Module> {
    export_functions(runtime.host_module(name), compiled)
        .map_err(|e| keel::Error::Trap(Trap::host(e)))?
        .instantiate()
}

/// Runs an Emscripten guest as its JS glue does and returns its exit code: instantiates it with
/// `config`; a standalone guest (it exports `_start`) then runs `_start`; any other calls
/// `__wasm_call_ctors` and `main(argc, argv)` with the arguments laid out on the guest's stack
/// (`stackAlloc`), as the glue's `callMain`. `main`'s return value is the exit code; `exit(n)`
/// (WASI's `proc_exit`) ends it with `n`. A trap — an uncaught C++ exception or longjmp, an
/// `abort()` — is an error.
pub fn run(
    runtime: &Runtime,
    compiled: &CompiledModule,
    config: ModuleConfig,
) -> keel::Result<u32> {
    let standalone = compiled.exports().any(|(n, _)| n == "_start");
    let args = config.sys.args.clone();
    let config = if standalone {
        config.with_start_functions(["_start"])
    } else {
        config.with_start_functions::<&str>([])
    };
    let result = runtime.instantiate(compiled, config).and_then(|module| {
        if standalone {
            return Ok(0);
        }
        call_main(&module, &args)
    });
    match result {
        Err(e) => match e.exit_code() {
            Some(code) => Ok(code),
            None => Err(e),
        },
        ok => ok,
    }
}

fn usage(msg: impl Into<String>) -> keel::Error {
    keel::Error::Trap(Trap::host(msg.into()))
}

/// `__wasm_call_ctors()`, then `main(argc, argv)` with argv on the guest's stack: each argument
/// a NUL-terminated string from `stackAlloc`, then the pointers and a null pointer, as the glue's
/// `callMain` lays them out.
fn call_main(module: &Module, args: &[String]) -> keel::Result<u32> {
    if let Some(ctors) = module.func("__wasm_call_ctors") {
        ctors.call(&[])?;
    }
    let main =
        module.func("main").ok_or_else(|| usage("the guest exports neither _start nor main"))?;
    let params = main.ty().params.len();
    let results = if params == 0 {
        main.call(&[])?
    } else {
        let alloc =
            module.func("stackAlloc").ok_or_else(|| usage("the guest exports no stackAlloc"))?;
        let memory = module.default_memory().ok_or_else(|| usage("the guest has no memory"))?;
        let alloc_on_stack = |len: usize| -> keel::Result<u32> {
            match alloc.call(&[Val::I32(len as i32)])?.first() {
                Some(Val::I32(p)) => Ok(*p as u32),
                _ => Err(usage("stackAlloc returned no i32")),
            }
        };
        let argv = alloc_on_stack((args.len() + 1) * 4)?;
        for (i, a) in args.iter().enumerate() {
            let mut s = a.clone().into_bytes();
            s.push(0);
            let p = alloc_on_stack(s.len())?;
            memory.write(p as u64, &s)?;
            memory.write_u32_le(argv as u64 + 4 * i as u64, p)?;
        }
        memory.write_u32_le(argv as u64 + 4 * args.len() as u64, 0)?;
        main.call(&[Val::I32(args.len() as i32), Val::I32(argv as i32)])?
    };
    Ok(match results.first() {
        Some(Val::I32(code)) => *code as u32,
        _ => 0,
    })
}
