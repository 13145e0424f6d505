//! Interruption: stopping a running call from any thread.
//!
//! Every instance has an interrupt flag, a word shared through an [`InterruptHandle`]. Setting it
//! makes the call running in the instance stop at its next check: compiled code checks it at every
//! function entry and loop header, the interpreter at the same points, and the blocking host
//! functions (WASI `poll_oneoff`, `fd_read` on stdin, sleeps) wait in short slices and check it
//! between them. The call then returns a trap with [`TrapCode::Interrupted`](crate::TrapCode), or,
//! when the module was instantiated with
//! [`ModuleConfig::with_close_on_interrupt`](crate::ModuleConfig::with_close_on_interrupt), the
//! module is closed and the call returns an exit error with [`EXIT_CODE_INTERRUPTED`] or
//! [`EXIT_CODE_DEADLINE_EXCEEDED`] (wazero's `WithCloseOnContextDone`).
//!
//! An interrupt that arrives while no call runs stops the next call into the instance: the flag
//! stays set until a call observes it. See docs/interruption.md.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Exit code of a call stopped by [`InterruptHandle::interrupt`] in a module that closes on
/// interrupt (wazero's `sys.ExitCodeContextCanceled`).
pub const EXIT_CODE_INTERRUPTED: u32 = 0xffff_ffff;

/// Exit code of a call stopped by a deadline in a module that closes on interrupt (wazero's
/// `sys.ExitCodeDeadlineExceeded`).
pub const EXIT_CODE_DEADLINE_EXCEEDED: u32 = 0xefff_ffff;

/// Flag value: not interrupted.
pub const FLAG_CLEAR: u32 = 0;
/// Flag value: interrupted by [`InterruptHandle::interrupt`].
pub const FLAG_INTERRUPTED: u32 = 1;
/// Flag value: a deadline passed.
pub const FLAG_DEADLINE: u32 = 2;

/// A cloneable, `Send + Sync` handle that interrupts the calls of the instances that share it
/// (one instance by default: [`Module::interrupt_handle`](crate::Module::interrupt_handle); or
/// any number, with [`ModuleConfig::with_interrupt_handle`](crate::ModuleConfig::with_interrupt_handle)).
#[derive(Clone, Debug, Default)]
pub struct InterruptHandle {
    flag: Arc<AtomicU32>,
}

impl InterruptHandle {
    /// A handle with its flag clear, not yet attached to any instance.
    pub fn new() -> InterruptHandle {
        InterruptHandle::default()
    }

    /// Interrupts the running call (or the next one, if none runs). Callable from any thread.
    pub fn interrupt(&self) {
        self.set(FLAG_INTERRUPTED);
    }

    /// Interrupts as if a deadline had passed (the exit code differs when closing on interrupt).
    pub fn interrupt_deadline(&self) {
        self.set(FLAG_DEADLINE);
    }

    fn set(&self, reason: u32) {
        // The first reason wins.
        let _ = self.flag.compare_exchange(FLAG_CLEAR, reason, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether an interrupt is pending.
    pub fn is_interrupted(&self) -> bool {
        self.flag.load(Ordering::Relaxed) != FLAG_CLEAR
    }

    /// Clears a pending interrupt.
    pub fn clear(&self) {
        self.flag.store(FLAG_CLEAR, Ordering::SeqCst);
    }

    /// The flag word itself (0: clear; [`FLAG_INTERRUPTED`] or [`FLAG_DEADLINE`]), for engines and
    /// import sets that check it in their own loops.
    pub fn flag(&self) -> &Arc<AtomicU32> {
        &self.flag
    }

    /// Interrupts (as a deadline) at `deadline`, unless the returned guard is dropped first.
    pub fn interrupt_at(&self, deadline: Instant) -> DeadlineGuard {
        DeadlineGuard { id: schedule(deadline, self.flag.clone()), flag: self.flag.clone() }
    }

    /// Interrupts (as a deadline) after `timeout`, unless the returned guard is dropped first.
    pub fn interrupt_after(&self, timeout: Duration) -> DeadlineGuard {
        self.interrupt_at(Instant::now() + timeout)
    }
}

/// A scheduled deadline ([`InterruptHandle::interrupt_at`]); dropping it cancels the deadline.
#[derive(Debug)]
#[must_use = "dropping the guard cancels the deadline"]
pub struct DeadlineGuard {
    id: u64,
    flag: Arc<AtomicU32>,
}

impl DeadlineGuard {
    /// Cancels the deadline; returns whether it had already fired.
    pub fn cancel(self) -> bool {
        let fired = !unschedule(self.id);
        std::mem::forget(self);
        fired
    }

    /// Cancels the deadline after a call that finished: a deadline that fired too late for the
    /// call to see it is cleared, so that it does not stop the next call.
    pub(crate) fn finish(self) {
        let flag = self.flag.clone();
        if self.cancel() {
            let _ = flag.compare_exchange(
                FLAG_DEADLINE,
                FLAG_CLEAR,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        unschedule(self.id);
    }
}

/// The deadlines of the process, served by one timer thread started on first use.
struct Timers {
    next_id: u64,
    entries: Vec<(Instant, u64, Arc<AtomicU32>)>,
}

fn timers() -> &'static (Mutex<Timers>, Condvar) {
    static TIMERS: OnceLock<(Mutex<Timers>, Condvar)> = OnceLock::new();
    TIMERS.get_or_init(|| {
        std::thread::Builder::new()
            .name("keel-deadlines".into())
            .spawn(timer_thread)
            .expect("spawning the deadline thread");
        (Mutex::new(Timers { next_id: 1, entries: Vec::new() }), Condvar::new())
    })
}

fn schedule(deadline: Instant, flag: Arc<AtomicU32>) -> u64 {
    let (lock, cv) = timers();
    let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
    let id = t.next_id;
    t.next_id += 1;
    t.entries.push((deadline, id, flag));
    cv.notify_one();
    id
}

/// Removes deadline `id`; false if it was not there (it fired).
fn unschedule(id: u64) -> bool {
    let (lock, _) = timers();
    let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
    match t.entries.iter().position(|e| e.1 == id) {
        Some(i) => {
            t.entries.swap_remove(i);
            true
        }
        None => false,
    }
}

fn timer_thread() {
    let (lock, cv) = timers();
    let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let mut i = 0;
        while i < t.entries.len() {
            if t.entries[i].0 <= now {
                let (_, _, flag) = t.entries.swap_remove(i);
                let _ = flag.compare_exchange(
                    FLAG_CLEAR,
                    FLAG_DEADLINE,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            } else {
                i += 1;
            }
        }
        t = match t.entries.iter().map(|e| e.0).min() {
            None => cv.wait(t).unwrap_or_else(|e| e.into_inner()),
            Some(next) => {
                let wait = next.saturating_duration_since(Instant::now());
                cv.wait_timeout(t, wait).unwrap_or_else(|e| e.into_inner()).0
            }
        };
    }
}
