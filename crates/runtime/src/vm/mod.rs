//! The engine-facing side of the runtime: the data engines read and write while running Wasm.
//! Users of keel never need this module; engines (keel-interp, keel-cranelift) and host functions
//! (through [`Caller`]) do.
//!
//! Contract: guest state (memory bytes, table elements, globals, segments) is only touched by the
//! thread that holds the owning instance group's [`LockSet`]. Engines are handed an instance only
//! inside [`CompiledCode::call`](crate::CompiledCode::call), and host functions only through a
//! [`Caller`], both with the lock held; the public API (`Module`, `Memory`, `Global`, `Table`,
//! `Func`) takes the lock itself.

mod func;
mod global;
mod instance;
pub mod listen;
mod lock;
mod memory;
mod store;
mod table;

pub use func::{Caller, FuncData, FuncKind, HostCallback, MemoryView};
pub use global::GlobalData;
pub use instance::{
    HostFuncDef, HostModuleDef, Instance, InstanceOptions, MAX_NATIVE_DEPTH, NativeDepth, Resolved,
    eval_const,
};
pub use lock::{LockGuard, LockSet, MemoryBorrow};
pub use memory::{GUARD_BYTES, GUARDS_SUPPORTED, MAX_PAGES, MemoryData, PAGE_SIZE, Reservation};
pub use store::{Limits, SigId, Store};
pub use table::{MAX_TABLE_ELEMENTS, TableData};
