#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel-sys: what a guest sees of the system — file systems and mounts, stdio, clocks, random —
//! shared by every import set (WASI, and later Go's and Emscripten's).
//!
//! Nothing is granted by default (DESIGN decision 8): no file system, empty stdin, discarded
//! stdout and stderr, fake clocks, deterministic random. A [`SysConfig`] grants more, and each
//! instance gets its own [`SysContext`] (file-descriptor table, clocks, random) built from it.
//!
//! File systems implement [`Fs`]: [`DirFs`] (a host directory confined with cap-std),
//! [`MemFs`] (in memory) and [`ReadOnlyFs`] (refuses every change). Several are mounted at guest
//! paths (`/`, `/tmp`, `/data`), each one a preopened directory.

mod config;
mod context;
mod dirfs;
pub mod errno;
pub mod fs;
pub mod guest_path;
mod memfs;
pub mod net;
pub mod random;
mod readonly;
pub mod stdio;

pub use config::{
    Clock, ClockFn, Mount, Random, SharedStdin, SharedWriter, Sleep, SleepFn, SysConfig,
};
pub use context::{
    FAKE_EPOCH_NANOS, FAKE_TICK_NANOS, FdEntry, FdTable, MAX_FDS, OpenDir, OpenFile, Rights,
    SysContext, SysState,
};
pub use dirfs::DirFs;
pub use errno::Errno;
pub use fs::{
    Attrs, DirEntry, File, FileType, Fs, OpenOptions, SETTABLE_MODE, SetTime, Stat, default_mode,
};
pub use memfs::MemFs;
pub use readonly::ReadOnlyFs;
pub use stdio::{HostStdin, MemoryWriter, Stdin};
