//! The exec lock: what makes instances safe to share between threads.
//!
//! Instances that share state (one imports another's memory, table, global or function) form a
//! group with one lock set. Every entry into Wasm and every host-side access to an instance's
//! state holds all locks of its set; the lock is reentrant, so a host function called from Wasm
//! may call back into the same group on the same thread. Different groups run in parallel.
//! Engines take the callee's set when a call crosses into an instance of another group (a
//! function reference handed over by the host), which costs one owner check when already held.

use std::sync::{Arc, Condvar, Mutex};

thread_local! {
    static THREAD_TOKEN: u8 = const { 0 };
}

fn this_thread() -> usize {
    THREAD_TOKEN.with(|t| t as *const u8 as usize)
}

#[derive(Default)]
struct State {
    owner: usize,
    depth: usize,
}

/// A reentrant lock owned by one thread at a time.
#[derive(Default)]
pub struct ExecLock {
    state: Mutex<State>,
    released: Condvar,
}

impl ExecLock {
    fn acquire(&self) {
        let me = this_thread();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.depth > 0 && state.owner != me {
            state = self.released.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.owner = me;
        state.depth += 1;
    }

    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.depth -= 1;
        if state.depth == 0 {
            state.owner = 0;
            drop(state);
            self.released.notify_one();
        }
    }
}

impl std::fmt::Debug for ExecLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExecLock")
    }
}

/// The locks of one instance group, sorted by address so that every thread takes them in the same
/// order.
#[derive(Debug, Clone)]
pub struct LockSet(Arc<[Arc<ExecLock>]>);

impl LockSet {
    /// A set with one new lock.
    pub fn new() -> Self {
        LockSet(Arc::from([Arc::new(ExecLock::default())]))
    }

    /// The union of several sets; a new lock when `sets` is empty.
    pub fn union<'a>(sets: impl IntoIterator<Item = &'a LockSet>) -> Self {
        let mut all: Vec<Arc<ExecLock>> = Vec::new();
        for set in sets {
            for lock in set.0.iter() {
                if !all.iter().any(|l| Arc::ptr_eq(l, lock)) {
                    all.push(lock.clone());
                }
            }
        }
        if all.is_empty() {
            return LockSet::new();
        }
        all.sort_by_key(|l| Arc::as_ptr(l) as usize);
        LockSet(all.into())
    }

    /// Whether both are the same set.
    pub fn same(&self, other: &LockSet) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Takes every lock of the set, blocking while another thread holds one.
    pub fn lock(&self) -> LockGuard<'_> {
        for l in self.0.iter() {
            l.acquire();
        }
        LockGuard(self)
    }
}

impl Default for LockSet {
    fn default() -> Self {
        LockSet::new()
    }
}

/// Holds a [`LockSet`] until dropped.
#[derive(Debug)]
pub struct LockGuard<'a>(&'a LockSet);

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        for l in self.0.0.iter().rev() {
            l.release();
        }
    }
}
