#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel-wasi: WASI preview1 (`wasi_snapshot_preview1`) for keel, so that C, Rust, Zig and other
//! guests built for `wasm32-wasi` run.
//!
//! ```no_run
//! use keel::{ModuleConfig, Runtime};
//!
//! let runtime = Runtime::new();
//! keel_wasi::instantiate(&runtime)?;
//! let wasm = std::fs::read("hello.wasm")?;
//! let config = ModuleConfig::new()
//!     .with_args(["hello", "world"])
//!     .with_stdout(std::io::stdout())
//!     .with_mount("/", keel_sys::DirFs::open(".")?);
//! match runtime.instantiate_bytes(&wasm, config) {
//!     Ok(_) => {}
//!     Err(e) if e.exit_code() == Some(0) => {}
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every function returns the errno that the WASI spec and wasi-libc expect; every pointer a
//! guest passes is range-checked (out of range is `EFAULT`). The guest sees only what its
//! `ModuleConfig` grants (see `keel_sys`). `proc_exit(n)` closes the instance and the call
//! returns an exit error carrying `n` (`Error::exit_code`).

mod funcs;
mod logging;
mod mem;
mod poll;
mod rights;

pub use logging::{LOGGED_FUNCTIONS, host_logging};

use keel::{Caller, FuncType, HostModuleBuilder, Module, Runtime, Trap, TrapCode, ValType};
use keel_sys::{Errno, SysState};

use mem::Mem;

/// The module name WASI functions are exported under.
pub const MODULE_NAME: &str = "wasi_snapshot_preview1";

/// The legacy module name older toolchains import (the same functions).
pub const LEGACY_MODULE_NAME: &str = "wasi_unstable";

/// Instantiates WASI into `runtime` under [`MODULE_NAME`].
pub fn instantiate(runtime: &Runtime) -> keel::Result<Module> {
    instantiate_as(runtime, MODULE_NAME)
}

/// Instantiates WASI into `runtime` under `name` (e.g. [`LEGACY_MODULE_NAME`]).
pub fn instantiate_as(runtime: &Runtime, name: &str) -> keel::Result<Module> {
    FunctionExporter::new().export_functions(runtime.host_module(name)).instantiate()
}

/// Exports the WASI functions into a host module builder, so that an embedder may override some
/// of them (a later `func`/`func_raw` of the same name replaces the built-in one) or export them
/// under another name — wazero's `NewFunctionExporter`.
///
/// ```no_run
/// use keel::{Caller, Runtime, Trap};
///
/// let runtime = Runtime::new();
/// let builder = runtime.host_module(keel_wasi::MODULE_NAME);
/// keel_wasi::FunctionExporter::new()
///     .export_functions(builder)
///     .func("proc_exit", |_: &mut Caller<'_>, code: i32| -> Result<(), Trap> {
///         eprintln!("guest exits with {code}");
///         Err(Trap::exit(code as u32))
///     })
///     .instantiate()?;
/// # Ok::<(), keel::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct FunctionExporter(());

/// A WASI function: reads its parameters, works on the caller's system state and memory, and
/// returns its errno.
pub(crate) type Handler = fn(&Mem<'_>, &mut SysState, &[u64]) -> Result<(), Errno>;

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// Every function but `proc_exit`: name, parameter types, handler.
const FUNCS: &[(&str, &[ValType], Handler)] = &[
    ("args_get", &[I32, I32], funcs::args_get),
    ("args_sizes_get", &[I32, I32], funcs::args_sizes_get),
    ("environ_get", &[I32, I32], funcs::environ_get),
    ("environ_sizes_get", &[I32, I32], funcs::environ_sizes_get),
    ("clock_res_get", &[I32, I32], funcs::clock_res_get),
    ("clock_time_get", &[I32, I64, I32], funcs::clock_time_get),
    ("fd_advise", &[I32, I64, I64, I32], funcs::fd_advise),
    ("fd_allocate", &[I32, I64, I64], funcs::fd_allocate),
    ("fd_close", &[I32], funcs::fd_close),
    ("fd_datasync", &[I32], funcs::fd_datasync),
    ("fd_fdstat_get", &[I32, I32], funcs::fd_fdstat_get),
    ("fd_fdstat_set_flags", &[I32, I32], funcs::fd_fdstat_set_flags),
    ("fd_fdstat_set_rights", &[I32, I64, I64], funcs::fd_fdstat_set_rights),
    ("fd_filestat_get", &[I32, I32], funcs::fd_filestat_get),
    ("fd_filestat_set_size", &[I32, I64], funcs::fd_filestat_set_size),
    ("fd_filestat_set_times", &[I32, I64, I64, I32], funcs::fd_filestat_set_times),
    ("fd_pread", &[I32, I32, I32, I64, I32], funcs::fd_pread),
    ("fd_prestat_get", &[I32, I32], funcs::fd_prestat_get),
    ("fd_prestat_dir_name", &[I32, I32, I32], funcs::fd_prestat_dir_name),
    ("fd_pwrite", &[I32, I32, I32, I64, I32], funcs::fd_pwrite),
    ("fd_read", &[I32, I32, I32, I32], funcs::fd_read),
    ("fd_readdir", &[I32, I32, I32, I64, I32], funcs::fd_readdir),
    ("fd_renumber", &[I32, I32], funcs::fd_renumber),
    ("fd_seek", &[I32, I64, I32, I32], funcs::fd_seek),
    ("fd_sync", &[I32], funcs::fd_sync),
    ("fd_tell", &[I32, I32], funcs::fd_tell),
    ("fd_write", &[I32, I32, I32, I32], funcs::fd_write),
    ("path_create_directory", &[I32, I32, I32], funcs::path_create_directory),
    ("path_filestat_get", &[I32, I32, I32, I32, I32], funcs::path_filestat_get),
    (
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        funcs::path_filestat_set_times,
    ),
    ("path_link", &[I32, I32, I32, I32, I32, I32, I32], funcs::path_link),
    ("path_open", &[I32, I32, I32, I32, I32, I64, I64, I32, I32], funcs::path_open),
    ("path_readlink", &[I32, I32, I32, I32, I32, I32], funcs::path_readlink),
    ("path_remove_directory", &[I32, I32, I32], funcs::path_remove_directory),
    ("path_rename", &[I32, I32, I32, I32, I32, I32], funcs::path_rename),
    ("path_symlink", &[I32, I32, I32, I32, I32], funcs::path_symlink),
    ("path_unlink_file", &[I32, I32, I32], funcs::path_unlink_file),
    ("poll_oneoff", &[I32, I32, I32, I32], poll::poll_oneoff),
    ("proc_raise", &[I32], funcs::proc_raise),
    ("random_get", &[I32, I32], funcs::random_get),
    ("sched_yield", &[], funcs::sched_yield),
    ("sock_accept", &[I32, I32, I32], funcs::sock_accept),
    ("sock_recv", &[I32, I32, I32, I32, I32, I32], funcs::sock_recv),
    ("sock_send", &[I32, I32, I32, I32, I32], funcs::sock_send),
    ("sock_shutdown", &[I32, I32], funcs::sock_shutdown),
];

impl FunctionExporter {
    /// An exporter of every WASI preview1 function.
    pub fn new() -> Self {
        FunctionExporter(())
    }

    /// Names of the exported functions.
    pub fn function_names() -> impl Iterator<Item = &'static str> {
        FUNCS.iter().map(|(n, _, _)| *n).chain(["proc_exit"])
    }

    /// Adds every WASI function to `builder`.
    pub fn export_functions(self, mut builder: HostModuleBuilder) -> HostModuleBuilder {
        for &(name, params, handler) in FUNCS {
            let ty = FuncType::new(params.iter().copied(), [ValType::I32]);
            builder = builder.func_raw(name, ty, move |caller, values| {
                let errno = call(caller, handler, values)?;
                values[0] = errno.0 as u64;
                Ok(())
            });
        }
        builder.func_raw("proc_exit", FuncType::new([I32], []), proc_exit)
    }
}

/// Runs `handler` on the caller's system state. A call that returns while the instance's
/// interrupt flag is set (a blocking wait cut short) is an interruption, not an errno.
fn call(caller: &mut Caller<'_>, handler: Handler, values: &[u64]) -> Result<Errno, Trap> {
    let Some(sys) = caller.sys() else { return Ok(Errno::ENOSYS) };
    let mut state = sys.lock();
    let errno = match handler(&Mem::new(caller), &mut state, values) {
        Ok(()) => Errno::SUCCESS,
        Err(e) => e,
    };
    if state.interrupted() {
        return Err(Trap::from(TrapCode::Interrupted));
    }
    Ok(errno)
}

/// `proc_exit(code)`: closes the instance; the call returns an exit error carrying `code`.
fn proc_exit(caller: &mut Caller<'_>, values: &mut [u64]) -> Result<(), Trap> {
    let code = values[0] as u32;
    caller.close_module();
    Err(Trap::exit(code))
}
