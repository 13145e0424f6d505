#![warn(missing_docs)]
//! keel-runtime: the store, instances, memories, tables, globals, functions, host functions,
//! linking by module name, traps and the [`Engine`] trait that the interpreter and the compiler
//! implement. Most users depend on the `keel` facade, which re-exports this crate's API and picks
//! an engine.

pub mod cache;
pub mod engine;
mod error;
mod externs;
mod func;
mod host;
pub mod interrupt;
pub mod listener;
pub mod logging;
mod module;
mod owner;
mod runtime;
mod trap;
mod typed;
pub mod value;
pub mod vm;

pub use cache::CacheStats;
pub use engine::{CompileOptions, CompiledCode, Engine};
pub use error::{CompileError, Error, InstantiateError, LinkError, UsageError};
pub use externs::{Extern, Global, Memory, Table};
pub use func::{Func, TypedFunc};
pub use host::{HostModuleBuilder, HostResult, IntoHostFunc};
pub use interrupt::{
    DeadlineGuard, EXIT_CODE_DEADLINE_EXCEEDED, EXIT_CODE_INTERRUPTED, InterruptHandle,
};
pub use keel_decode::{
    DecodeError, ExternKind, Features, FuncType, GlobalType, Limits, MemoryType, TableType,
};
/// The guest's view of the system: file systems, stdio, clocks, random (keel-sys).
pub use keel_sys as sys;
pub use module::{CompiledModule, Module};
pub use runtime::{CompileConfig, ModuleConfig, Runtime, RuntimeConfig, Tiering};
pub use trap::{FrameInfo, Result, Trap, TrapCode, TrapKind};
pub use typed::{WasmParams, WasmResults, WasmTy};
pub use value::{ExternRef, Val, ValType};
pub use vm::{Caller, MemoryView, Reservation};
