//! What keel-emscripten keeps per guest instance, in the instance's system context
//! (`SysState::extension`): what Emscripten's JS glue keeps in JavaScript variables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use keel::{Caller, Trap};

/// The per-instance state.
#[derive(Debug, Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
}

/// The fields, behind the state's lock.
#[derive(Debug)]
pub(crate) struct Inner {
    /// `setTempRet0`/`getTempRet0`: the high half of an i64 result legalised for JavaScript.
    pub temp_ret0: i32,
    /// C++ exceptions: library_exceptions.js's `exceptionLast`, `exceptionCaught` (the
    /// `CatchInfo` pointers of the catch blocks entered, innermost last) and
    /// `uncaughtExceptionCount`.
    pub exception_last: u32,
    pub exception_caught: Vec<u32>,
    pub uncaught_exceptions: i32,
    /// The current directory of the `__syscall_*` functions, a clean absolute guest path.
    pub cwd: String,
    /// `__syscall_getdents64`: the listing being read through each directory descriptor and how
    /// far (the JS keeps it in the stream's position).
    pub dirs: HashMap<u32, DirCursor>,
    /// `clock()`: the wall time of its first call, in milliseconds (the JS's `_clock.start`).
    pub clock_start: Option<u64>,
    /// `_tzset_js`: the time zone's name, once allocated in guest memory (the JS runs once).
    pub tzname: Option<u32>,
}

/// A directory listing being read by `__syscall_getdents64`.
#[derive(Debug)]
pub(crate) struct DirCursor {
    /// The directory it lists: its mount and path inside it, so that a descriptor number
    /// reused for another directory starts afresh.
    pub mount: usize,
    pub path: String,
    /// Name, inode number and `d_type` of each entry, `.` and `..` first.
    pub entries: Vec<(String, u64, u8)>,
    /// The next entry to return.
    pub next: usize,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            temp_ret0: 0,
            exception_last: 0,
            exception_caught: Vec::new(),
            uncaught_exceptions: 0,
            cwd: "/".to_string(),
            dirs: HashMap::new(),
            clock_start: None,
            tzname: None,
        }
    }
}

impl State {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The calling instance's state; a trap when the call did not come from an instance.
pub(crate) fn of(caller: &Caller<'_>, function: &str) -> Result<Arc<State>, Trap> {
    let sys = caller
        .sys()
        .ok_or_else(|| Trap::host(format!("env.{function} called from outside a guest")))?;
    Ok(sys.lock().extension(|_| State::default()))
}
