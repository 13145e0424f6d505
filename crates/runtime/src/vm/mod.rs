//! The engine-facing side of the runtime: the data engines read and write while running Wasm.
//! Users of keel never need this module; engines (keel-interp, keel-cranelift) do.

mod func;
mod global;
mod instance;
mod lock;
mod memory;
mod store;
mod table;

pub use func::{Caller, FuncData, FuncKind, HostCallback};
pub use global::GlobalData;
pub use instance::{
    HostFuncDef, HostModuleDef, Instance, MAX_NATIVE_DEPTH, NativeDepth, Resolved, eval_const,
};
pub use lock::{LockGuard, LockSet};
pub use memory::{MAX_PAGES, MemoryData, PAGE_SIZE};
pub use store::{Limits, SigId, Store};
pub use table::{MAX_TABLE_ELEMENTS, TableData};
