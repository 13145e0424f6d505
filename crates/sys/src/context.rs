//! One instance's system state: its file-descriptor table, stdio, clocks and random source,
//! built from a [`SysConfig`] at instantiation.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Clock, Random, SharedStdin, SharedWriter, Sleep, SysConfig};
use crate::errno::{Errno, Result};
use crate::fs::{DirEntry, File};
use crate::random::{DeterministicRandom, OsRandom, RandomSource};

pub use crate::config::Mount;

/// The fake wall clock's start: 2022-01-01T00:00:00Z, as wazero's.
pub const FAKE_EPOCH_NANOS: u64 = 1_640_995_200_000_000_000;
/// How far a fake clock advances at each read.
pub const FAKE_TICK_NANOS: u64 = 1_000_000;

/// An open file.
#[derive(Debug)]
pub struct OpenFile {
    /// Index of its mount.
    pub mount: usize,
    /// Its path inside the mount.
    pub path: String,
    /// The file.
    pub file: Box<dyn File>,
    /// Opened for reading.
    pub read: bool,
    /// Opened for writing.
    pub write: bool,
    /// WASI fdflags the guest set (append, nonblock, sync...).
    pub flags: u16,
}

/// An open directory.
#[derive(Debug, Clone)]
pub struct OpenDir {
    /// Index of its mount.
    pub mount: usize,
    /// Its path inside the mount ("" is the mount's root).
    pub path: String,
    /// For a preopen, the guest path it is mounted at.
    pub preopen: Option<String>,
    /// The listing being read by `fd_readdir`, kept so that cookies resume where they left off;
    /// read again when a listing restarts at cookie 0.
    pub listing: Option<Vec<DirEntry>>,
}

/// What a file descriptor refers to.
#[derive(Debug)]
pub enum FdEntry {
    /// Standard input.
    Stdin,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file.
    File(OpenFile),
    /// A directory.
    Dir(OpenDir),
    /// A preopened TCP listener.
    Listener(std::sync::Arc<std::net::TcpListener>),
    /// An accepted TCP connection.
    Stream(std::net::TcpStream),
}

/// Capability rights of a descriptor, in WASI preview1's numbering (`rights`): what operations
/// it may be used for (`base`) and what descriptors opened through it may get (`inheriting`).
/// keel-sys only keeps them, as a mask that an import set narrows and checks; [`Rights::ALL`]
/// restricts nothing, and is what every descriptor starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// Rights of operations on this descriptor.
    pub base: u64,
    /// Rights that descriptors opened through this one may have.
    pub inheriting: u64,
}

impl Rights {
    /// No restriction.
    pub const ALL: Rights = Rights { base: u64::MAX, inheriting: u64::MAX };
}

/// File descriptors: 0-2 are stdio, preopens follow from 3.
#[derive(Debug, Default)]
pub struct FdTable {
    entries: Vec<Option<(FdEntry, Rights)>>,
}

/// Most open descriptors.
pub const MAX_FDS: usize = 1 << 16;

impl FdTable {
    /// The entry of `fd`, or `EBADF`.
    pub fn get(&mut self, fd: u32) -> Result<&mut FdEntry> {
        self.entries
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .map(|(e, _)| e)
            .ok_or(Errno::EBADF)
    }

    /// The rights mask of `fd`, or `EBADF`.
    pub fn rights(&mut self, fd: u32) -> Result<&mut Rights> {
        self.entries
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .map(|(_, r)| r)
            .ok_or(Errno::EBADF)
    }

    /// Adds `entry` at the lowest free descriptor, restricted by nothing.
    pub fn insert(&mut self, entry: FdEntry) -> Result<u32> {
        self.insert_with_rights(entry, Rights::ALL)
    }

    /// Adds `entry` with the rights mask `rights` at the lowest free descriptor.
    pub fn insert_with_rights(&mut self, entry: FdEntry, rights: Rights) -> Result<u32> {
        if let Some(i) = self.entries.iter().position(Option::is_none) {
            self.entries[i] = Some((entry, rights));
            return Ok(i as u32);
        }
        if self.entries.len() >= MAX_FDS {
            return Err(Errno::EMFILE);
        }
        self.entries.push(Some((entry, rights)));
        Ok(self.entries.len() as u32 - 1)
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: u32) -> Result<FdEntry> {
        self.entries.get_mut(fd as usize).and_then(Option::take).map(|(e, _)| e).ok_or(Errno::EBADF)
    }

    /// Moves `from` to `to`, closing what `to` was (both must be open); the rights move along.
    pub fn renumber(&mut self, from: u32, to: u32) -> Result<()> {
        self.get(from)?;
        self.get(to)?;
        if from != to {
            let e = self.entries[from as usize].take();
            self.entries[to as usize] = e;
        }
        Ok(())
    }
}

/// The mutable system state of one instance.
pub struct SysState {
    /// Arguments.
    pub args: Vec<String>,
    /// Environment as `KEY=VALUE`.
    pub env: Vec<String>,
    /// Descriptors.
    pub fds: FdTable,
    /// Mounts, by index (an [`OpenDir`]'s `mount`).
    pub mounts: Vec<Mount>,
    stdin: Option<SharedStdin>,
    stdout: Option<SharedWriter>,
    stderr: Option<SharedWriter>,
    walltime: Clock,
    nanotime: Clock,
    sleep: Sleep,
    fake_wall: u64,
    fake_mono: u64,
    start: Instant,
    random: Box<dyn RandomSource>,
    shared_random: Option<std::sync::Arc<Mutex<Box<dyn RandomSource>>>>,
    interrupt: Option<std::sync::Arc<AtomicU32>>,
    extensions: Vec<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

/// How long a blocking wait lasts before it checks the interrupt flag again.
pub const INTERRUPT_SLICE: Duration = Duration::from_millis(10);

impl std::fmt::Debug for SysState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysState").field("args", &self.args).field("fds", &self.fds).finish()
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SysState {
    /// `fchmod`: the permission bits of the file or directory open as `fd` (see [`crate::Fs::chmod`]);
    /// stdio's are fixed, and it changes nothing.
    pub fn fd_chmod(&mut self, fd: u32, mode: u32) -> Result<(), Errno> {
        match self.fds.get(fd)? {
            FdEntry::File(f) => f.file.chmod(mode),
            FdEntry::Dir(d) => {
                let (mount, path) = (d.mount, d.path.clone());
                self.mounts[mount].fs.chmod(&path, mode)
            }
            _ => Ok(()),
        }
    }

    /// `fchown`: the owners of the file or directory open as `fd` (see [`crate::Fs::chown`]). stdio
    /// is the guest's own: giving it to the guest (uid and gid 0) changes nothing, to anyone
    /// else is `EPERM`.
    pub fn fd_chown(&mut self, fd: u32, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        match self.fds.get(fd)? {
            FdEntry::File(f) => f.file.chown(uid, gid),
            FdEntry::Dir(d) => {
                let (mount, path) = (d.mount, d.path.clone());
                self.mounts[mount].fs.chown(&path, uid, gid, true)
            }
            _ if uid.unwrap_or(0) == 0 && gid.unwrap_or(0) == 0 => Ok(()),
            _ => Err(Errno::EPERM),
        }
    }

    /// Whether the instance's interrupt flag is set (see [`SysContext::with_interrupt`]): a host
    /// function that waited should then return at once, and its import set turn the call into
    /// an interruption.
    pub fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::Relaxed) != 0)
    }

    /// Reads standard input. With an interrupt flag, first waits in slices until stdin is ready
    /// or the flag is set; interrupted, it reads nothing and fails with `ErrorKind::Interrupted`.
    pub fn read_stdin(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt.is_some() {
            loop {
                if self.interrupted() {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                if self.stdin_ready_once(Some(INTERRUPT_SLICE))? {
                    break;
                }
            }
        }
        match &self.stdin {
            Some(s) => lock(s).read(buf),
            None => Ok(0),
        }
    }

    /// Whether standard input is ready, waiting up to `timeout` (in slices, returning early with
    /// `false` once the interrupt flag is set).
    pub fn stdin_ready(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.interrupt.is_none() || timeout.is_some_and(|t| t <= INTERRUPT_SLICE) {
            return self.stdin_ready_once(timeout);
        }
        let start = Instant::now();
        loop {
            if self.interrupted() {
                return Ok(false);
            }
            let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
            let slice = left.map_or(INTERRUPT_SLICE, |l| l.min(INTERRUPT_SLICE));
            if self.stdin_ready_once(Some(slice))? {
                return Ok(true);
            }
            if left.is_some_and(|l| l <= slice) {
                return Ok(false);
            }
        }
    }

    fn stdin_ready_once(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        match &self.stdin {
            Some(s) => lock(s).ready(timeout),
            None => Ok(true),
        }
    }

    /// Writes to standard output (`err == false`) or standard error; all of `buf` is written.
    pub fn write_out(&mut self, err: bool, buf: &[u8]) -> io::Result<usize> {
        let w = if err { &self.stderr } else { &self.stdout };
        match w {
            Some(w) => {
                let mut w = lock(w);
                w.write_all(buf)?;
                w.flush()?;
                Ok(buf.len())
            }
            None => Ok(buf.len()),
        }
    }

    /// The wall clock in nanoseconds since the Unix epoch.
    pub fn walltime(&mut self) -> u64 {
        match &self.walltime {
            Clock::Fake => {
                self.fake_wall += FAKE_TICK_NANOS;
                self.fake_wall
            }
            Clock::Sys => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            Clock::Custom(f) => f(),
        }
    }

    /// The monotonic clock in nanoseconds.
    pub fn nanotime(&mut self) -> u64 {
        match &self.nanotime {
            Clock::Fake => {
                self.fake_mono += FAKE_TICK_NANOS;
                self.fake_mono
            }
            Clock::Sys => self.start.elapsed().as_nanos() as u64,
            Clock::Custom(f) => f(),
        }
    }

    /// Resolution of the wall clock (ns).
    pub fn walltime_resolution(&self) -> u64 {
        match self.walltime {
            Clock::Fake => FAKE_TICK_NANOS,
            _ => 1_000,
        }
    }

    /// Resolution of the monotonic clock (ns).
    pub fn nanotime_resolution(&self) -> u64 {
        match self.nanotime {
            Clock::Fake => FAKE_TICK_NANOS,
            _ => 1,
        }
    }

    /// Sleeps `ns` nanoseconds (or not, with the fake sleep).
    pub fn sleep(&self, ns: u64) {
        match &self.sleep {
            Sleep::Fake => {}
            Sleep::Sys => {
                // In slices, so that an interrupt ends the sleep.
                let end = Instant::now() + Duration::from_nanos(ns);
                loop {
                    if self.interrupted() {
                        return;
                    }
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    std::thread::sleep(left.min(INTERRUPT_SLICE));
                }
            }
            Sleep::Custom(f) => f(ns),
        }
    }

    /// Whether sleeping really waits (so a blocking wait on stdin may use a timeout).
    pub fn sleep_is_real(&self) -> bool {
        !matches!(self.sleep, Sleep::Fake)
    }

    /// The instance's `T`, made by `make` at the first ask: where an import set keeps state of
    /// its own per instance (Go's JavaScript world, say). It is an `Arc` so that the import set
    /// can let go of this lock while it uses it (and calls back into the guest).
    pub fn extension<T: std::any::Any + Send + Sync>(
        &mut self,
        make: impl FnOnce(&mut SysState) -> T,
    ) -> std::sync::Arc<T> {
        for e in &self.extensions {
            if let Ok(t) = e.clone().downcast::<T>() {
                return t;
            }
        }
        let t = std::sync::Arc::new(make(self));
        self.extensions.push(t.clone());
        t
    }

    /// Advances the fake clocks by `ns` (a fake sleep that a guest waits out: Go's timers), so
    /// that a guest waiting for a deadline on fake clocks reaches it. Real clocks are untouched.
    pub fn skip_fake_time(&mut self, ns: u64) {
        if matches!(self.walltime, Clock::Fake) {
            self.fake_wall = self.fake_wall.saturating_add(ns);
        }
        if matches!(self.nanotime, Clock::Fake) {
            self.fake_mono = self.fake_mono.saturating_add(ns);
        }
    }

    /// Fills `buf` from the random source.
    pub fn random(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match &self.shared_random {
            Some(r) => lock(r).fill(buf),
            None => self.random.fill(buf),
        }
    }
}

/// One instance's system context: its [`SysState`] behind a mutex (the instance's exec lock
/// already serialises its calls; the mutex makes that safe in Rust's terms).
#[derive(Debug)]
pub struct SysContext {
    state: Mutex<SysState>,
}

impl SysContext {
    /// Builds the context: preopens every mount from fd 3, after stdin, stdout and stderr.
    pub fn new(config: &SysConfig) -> SysContext {
        let mut fds = FdTable::default();
        for e in [FdEntry::Stdin, FdEntry::Stdout, FdEntry::Stderr] {
            fds.insert(e).expect("room for stdio");
        }
        for (i, m) in config.mounts.iter().enumerate() {
            let dir = OpenDir {
                mount: i,
                path: String::new(),
                preopen: Some(m.guest_path.clone()),
                listing: None,
            };
            fds.insert(FdEntry::Dir(dir)).expect("room for preopens");
        }
        for l in &config.listeners {
            fds.insert(FdEntry::Listener(l.clone())).expect("room for preopens");
        }
        let (random, shared_random): (Box<dyn RandomSource>, _) = match &config.random {
            Random::Deterministic => (Box::new(DeterministicRandom::default()), None),
            Random::Os => (Box::new(OsRandom), None),
            Random::Custom(r) => (Box::new(DeterministicRandom::default()), Some(r.clone())),
        };
        SysContext {
            state: Mutex::new(SysState {
                args: config.args.clone(),
                env: config.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                fds,
                mounts: config.mounts.clone(),
                stdin: config.stdin.clone(),
                stdout: config.stdout.clone(),
                stderr: config.stderr.clone(),
                walltime: config.walltime.clone(),
                nanotime: config.nanotime.clone(),
                sleep: config.sleep.clone(),
                fake_wall: FAKE_EPOCH_NANOS - FAKE_TICK_NANOS,
                fake_mono: 0,
                start: Instant::now(),
                random,
                shared_random,
                interrupt: None,
                extensions: Vec::new(),
            }),
        }
    }

    /// Makes blocking waits (sleeps, stdin) stop early once `flag` is non-zero: they wait in
    /// slices of [`INTERRUPT_SLICE`] and check it in between. The runtime passes the instance's
    /// interrupt flag here.
    pub fn with_interrupt(self, flag: std::sync::Arc<AtomicU32>) -> SysContext {
        lock(&self.state).interrupt = Some(flag);
        self
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, SysState> {
        lock(&self.state)
    }
}
