//! What a guest may see of the system, as the embedder configures it.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::fs::Fs;
use crate::random::RandomSource;
use crate::readonly::ReadOnlyFs;
use crate::stdio::Stdin;

/// A shared standard input.
pub type SharedStdin = Arc<Mutex<Box<dyn Stdin>>>;
/// A shared output.
pub type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;
/// A clock: nanoseconds (since the Unix epoch for a wall clock, since an arbitrary start for a
/// monotonic one).
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;
/// A sleep of some nanoseconds.
pub type SleepFn = Arc<dyn Fn(u64) + Send + Sync>;

/// A file system mounted at a guest path; each mount is one preopened directory.
#[derive(Clone)]
pub struct Mount {
    /// Where the guest sees it, e.g. `/`, `/tmp` or `/data`.
    pub guest_path: String,
    /// The file system.
    pub fs: Arc<dyn Fs>,
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mount({:?}, {:?})", self.guest_path, self.fs)
    }
}

/// A clock source.
#[derive(Clone, Default)]
pub enum Clock {
    /// Deterministic: starts at a fixed time and advances by 1 ms at each read (wazero's
    /// default), so guests see the same times on every run.
    #[default]
    Fake,
    /// The host's clock.
    Sys,
    /// The embedder's own.
    Custom(ClockFn),
}

/// A sleep implementation.
#[derive(Clone, Default)]
pub enum Sleep {
    /// Returns at once (the default, matching fake clocks).
    #[default]
    Fake,
    /// Really sleeps.
    Sys,
    /// The embedder's own.
    Custom(SleepFn),
}

/// A random source.
#[derive(Clone, Default)]
pub enum Random {
    /// A fixed-seed generator, fresh per instance (the default).
    #[default]
    Deterministic,
    /// The OS's random source.
    Os,
    /// The embedder's own, shared by every instance configured with it.
    Custom(Arc<Mutex<Box<dyn RandomSource>>>),
}

/// What one instance sees of the system. Nothing by default: no arguments, no environment,
/// empty stdin, discarded stdout and stderr, no file system, fake clocks, deterministic random.
#[derive(Clone, Default)]
pub struct SysConfig {
    /// Arguments (`argv`, including `argv[0]`).
    pub args: Vec<String>,
    /// Environment variables in order.
    pub env: Vec<(String, String)>,
    /// Standard input; `None` is empty.
    pub stdin: Option<SharedStdin>,
    /// Standard output; `None` discards.
    pub stdout: Option<SharedWriter>,
    /// Standard error; `None` discards.
    pub stderr: Option<SharedWriter>,
    /// Mounts, preopened in order from fd 3.
    pub mounts: Vec<Mount>,
    /// The wall clock.
    pub walltime: Clock,
    /// The monotonic clock.
    pub nanotime: Clock,
    /// Sleep.
    pub sleep: Sleep,
    /// Random source.
    pub random: Random,
    /// Preopened TCP listeners, after the mounts in descriptor order.
    pub listeners: Vec<Arc<std::net::TcpListener>>,
}

impl SysConfig {
    /// Adds a mount of `fs` at `guest_path`, read-only when `read_only`.
    pub fn mount(&mut self, guest_path: &str, fs: Arc<dyn Fs>, read_only: bool) {
        let fs: Arc<dyn Fs> = if read_only { Arc::new(ReadOnlyFs(fs)) } else { fs };
        let mut guest_path = guest_path.trim_end_matches('/').to_string();
        if guest_path.is_empty() {
            guest_path.push('/');
        }
        self.mounts.push(Mount { guest_path, fs });
    }
}

impl fmt::Debug for SysConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysConfig")
            .field("args", &self.args)
            .field("env", &self.env)
            .field("mounts", &self.mounts)
            .finish_non_exhaustive()
    }
}
