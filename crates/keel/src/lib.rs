#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel: run WebAssembly modules compiled from any language inside a Rust program, sandboxed.
//!
//! A [`Runtime`] compiles binaries into [`CompiledModule`]s and instantiates them into
//! [`Module`]s, which live in the runtime's namespace by name; imports resolve by module name from
//! that namespace, so host modules built with [`HostModuleBuilder`] are instantiated first.
//!
//! ```
//! use keel::{Caller, ModuleConfig, Runtime};
//!
//! let runtime = Runtime::new();
//! runtime
//!     .host_module("env")
//!     .func("double", |_: &mut Caller<'_>, x: i32| x * 2)
//!     .instantiate()?;
//!
//! let wasm = wat::parse_str(r#"
//!     (module
//!       (import "env" "double" (func $double (param i32) (result i32)))
//!       (func (export "add_doubled") (param i32 i32) (result i32)
//!         (i32.add (call $double (local.get 0)) (local.get 1))))
//! "#)?;
//! let module = runtime.instantiate_bytes(&wasm, ModuleConfig::new())?;
//! let add = module.typed_func::<(i32, i32), i32>("add_doubled")?;
//! assert_eq!(add.call((20, 2))?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Listening to some modules only
//!
//! A function listener factory on [`RuntimeConfig`] listens to every module; one compile
//! ([`CompileConfig`]), one instantiation ([`ModuleConfig`]) or one host module
//! ([`HostModuleBuilder`]) can use its own, or none. Whether code can report is decided when it
//! is compiled, so a factory for an instance of plain code is an [`Error::Usage`]. See
//! [`listener`] and docs/listeners.md.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use keel::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
//! use keel::{Caller, CompileConfig, Error, FrameInfo, ModuleConfig, Runtime};
//!
//! #[derive(Clone, Default)]
//! struct Count(Arc<AtomicUsize>);
//! impl FunctionListener for Count {
//!     fn before(&self, _: &Caller<'_>, _: &FunctionDefinition, _: &[u64], _: &[FrameInfo]) {
//!         self.0.fetch_add(1, Ordering::Relaxed);
//!     }
//!     fn after(&self, _: &Caller<'_>, _: &FunctionDefinition, _: &[u64], _: &[u64]) {}
//! }
//! impl FunctionListenerFactory for Count {
//!     fn new_listener(&self, _: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
//!         Some(Arc::new(self.clone()))
//!     }
//! }
//! let count = |c: &Count| c.0.load(Ordering::Relaxed);
//!
//! let runtime = Runtime::new(); // no factory: modules compile as plain code
//! let wasm = wat::parse_str(r#"(module
//!   (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
//!   (func (export "run") (param i32) (result i32) (call $sq (local.get 0))))"#)?;
//! let calls = Count::default();
//! let config = CompileConfig::new().with_function_listener_factory(calls.clone());
//! let traced = runtime.compile_with(&wasm, &config)?;
//! let a = runtime.instantiate(&traced, ModuleConfig::new().with_name("a"))?;
//! assert_eq!(a.typed_func::<i32, i32>("run")?.call(3)?, 9);
//! assert_eq!(count(&calls), 2); // run, and sq called inside the engine
//!
//! // Another instance of the same code reports to its own factory.
//! let other = Count::default();
//! let b = ModuleConfig::new().with_name("b").with_function_listener_factory(other.clone());
//! runtime.instantiate(&traced, b)?.typed_func::<i32, i32>("run")?.call(3)?;
//! assert_eq!((count(&calls), count(&other)), (2, 2));
//!
//! // Plain code has no hook to report from.
//! let plain = runtime.compile(&wasm)?;
//! let c = ModuleConfig::new().with_name("c").with_function_listener_factory(Count::default());
//! assert!(matches!(runtime.instantiate(&plain, c), Err(Error::Usage(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

/// The decoder and validator, for those who only validate or write an engine.
pub use keel_decode as decode;

/// The compilation cache's key and entry format, for tools that inspect or fill a cache.
pub use keel_runtime::cache;

/// Function listeners (before/after/abort hooks per function).
pub use keel_runtime::listener;

/// Host logging: a listener factory that logs host-function calls.
pub use keel_runtime::logging;

/// Interruption: handles, deadlines, exit codes.
pub use keel_runtime::interrupt;

pub use keel_runtime::{
    CacheStats, Caller, CompileConfig, CompileError, CompileOptions, CompiledModule, DeadlineGuard,
    DecodeError, EXIT_CODE_DEADLINE_EXCEEDED, EXIT_CODE_INTERRUPTED, Engine, Error, Extern,
    ExternKind, ExternRef, Features, FrameInfo, Func, FuncType, Global, GlobalType,
    HostModuleBuilder, HostResult, InstantiateError, InterruptHandle, IntoHostFunc, Limits,
    LinkError, Memory, MemoryType, MemoryView, Module, ModuleConfig, Reservation, Result,
    RuntimeConfig, Table, TableType, Tiering, Trap, TrapCode, TrapKind, TypedFunc, UsageError, Val,
    ValType, WasmParams, WasmResults, WasmTy,
};

mod soundness;

/// Which engine runs the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Tiered where the host has the compiler (x86_64 and aarch64), else the interpreter.
    #[default]
    Auto,
    /// The register-based interpreter: runs wherever Rust builds.
    Interpreter,
    /// The Cranelift compiler, eagerly: every function compiled before the module runs
    /// (x86_64 and aarch64; compiling fails elsewhere).
    Compiler,
    /// The interpreter first, each function translated on its first call, and Cranelift in the
    /// background for what gets hot ([`RuntimeConfig::tiering`]); see docs/tiering.md
    /// (x86_64 and aarch64; compiling fails elsewhere).
    Tiered,
}

impl EngineKind {
    fn engine(self, config: &RuntimeConfig) -> Arc<dyn Engine> {
        let reservation = config.memory_reservation;
        match self {
            EngineKind::Auto if keel_tiered::Tiered::is_supported() => {
                Arc::new(keel_tiered::Tiered::new(reservation, config.tiering))
            }
            EngineKind::Auto | EngineKind::Interpreter => Arc::new(keel_interp::Interpreter),
            EngineKind::Compiler => {
                Arc::new(keel_cranelift::Compiler::for_reservation(reservation))
            }
            EngineKind::Tiered => Arc::new(keel_tiered::Tiered::new(reservation, config.tiering)),
        }
    }
}

/// Compiles, links and instantiates modules; see the crate docs. Cheap to clone, `Send + Sync`.
/// Dereferences to [`keel_runtime::Runtime`] for the whole API.
#[derive(Clone, Debug)]
pub struct Runtime(keel_runtime::Runtime);

impl Runtime {
    /// A runtime with the default configuration and engine.
    pub fn new() -> Runtime {
        Runtime::with_config(RuntimeConfig::default(), EngineKind::Auto)
    }

    /// A runtime with `config` running on `engine`.
    pub fn with_config(config: RuntimeConfig, engine: EngineKind) -> Runtime {
        Runtime(keel_runtime::Runtime::with_engine(config.clone(), engine.engine(&config)))
    }

    /// A runtime on a custom engine.
    pub fn with_engine(config: RuntimeConfig, engine: Arc<dyn Engine>) -> Runtime {
        Runtime(keel_runtime::Runtime::with_engine(config, engine))
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl std::ops::Deref for Runtime {
    type Target = keel_runtime::Runtime;
    fn deref(&self) -> &keel_runtime::Runtime {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn api_types_are_send_and_sync() {
        assert_send_sync::<Runtime>();
        assert_send_sync::<CompiledModule>();
        assert_send_sync::<Module>();
        assert_send_sync::<Func>();
        assert_send_sync::<Memory>();
    }
}
