//! The exec lock: what makes instances safe to share between threads.
//!
//! Instances that share state (one imports another's memory, table, global or function) form a
//! group with one lock set. Every entry into Wasm and every host-side access to an instance's
//! state holds all locks of its set; the lock is reentrant, so a host function called from Wasm
//! may call back into the same group on the same thread. Different groups run in parallel.
//! Engines take the callee's set when a call crosses into an instance of another group (a
//! function reference handed over by the host), which costs one owner check when already held.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

thread_local! {
    static THREAD_TOKEN: u8 = const { 0 };
}

/// A non-zero number unique to the running thread while it lives.
fn this_thread() -> usize {
    THREAD_TOKEN.with(|t| t as *const u8 as usize)
}

/// A reentrant lock owned by one thread at a time. Taking it when free or already owned is one
/// atomic operation; only contended acquisition touches the mutex and condition variable.
#[derive(Default)]
pub struct ExecLock {
    /// `this_thread()` of the owner, 0 when free.
    owner: AtomicUsize,
    /// How many times the owner holds it; only the owner reads or writes it.
    depth: UnsafeCell<usize>,
    /// Threads blocked in `acquire`.
    waiters: AtomicUsize,
    /// A host function of the owning thread holds a view of the group's memory
    /// (`Caller::memory`): nothing may enter the group's Wasm or touch its memory through
    /// another handle until the view is dropped.
    borrowed: AtomicBool,
    mutex: Mutex<()>,
    released: Condvar,
}

// SAFETY: `depth` is only accessed by the thread whose token is in `owner`, which no other thread
// can hold at the same time (it is set by compare-exchange from 0 and reset to 0 by its owner).
unsafe impl Sync for ExecLock {}
// SAFETY: all fields are Send; `depth` is plain data.
unsafe impl Send for ExecLock {}

impl ExecLock {
    /// Takes the lock; whether a host function of this thread holds a view of the group's
    /// memory, which can only be when this thread held the lock already.
    #[inline]
    fn acquire(&self) -> bool {
        let me = this_thread();
        if self.owner.load(Ordering::Relaxed) == me {
            // SAFETY: this thread owns the lock (see the `Sync` impl).
            unsafe { *self.depth.get() += 1 };
            return self.borrowed.load(Ordering::Relaxed);
        }
        if self.owner.compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            self.wait_for(me);
        }
        // SAFETY: this thread now owns the lock.
        unsafe { *self.depth.get() = 1 };
        // No view outlives the host call that made it, and so the lock: a mark still set is
        // one a forgotten view (`mem::forget`) left behind.
        self.borrowed.store(false, Ordering::Relaxed);
        false
    }

    /// Blocks until this thread (`me`) takes the lock from another. Out of line: an entry into
    /// Wasm takes a free lock, and the code for waiting would slow that path down.
    #[cold]
    #[inline(never)]
    fn wait_for(&self, me: usize) {
        // The release side stores `owner = 0` then reads `waiters`, and this side increments
        // `waiters` then retries under the mutex, all SeqCst: either the releaser sees this
        // waiter and notifies (under the mutex, so not before this thread waits), or this
        // thread's compare-exchange sees the lock free.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        while self.owner.compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            guard = self.released.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    #[inline]
    fn release(&self) {
        debug_assert_eq!(self.owner.load(Ordering::Relaxed), this_thread());
        // SAFETY: only the owner releases (guards are not Send), so this thread owns the lock.
        let depth = unsafe { &mut *self.depth.get() };
        *depth -= 1;
        if *depth == 0 {
            self.owner.store(0, Ordering::SeqCst);
            if self.waiters.load(Ordering::SeqCst) > 0 {
                self.wake_one();
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        let _guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        self.released.notify_one();
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
    #[inline]
    pub fn lock(&self) -> LockGuard<'_> {
        self.acquire();
        LockGuard(self, std::marker::PhantomData)
    }

    /// Takes the set, as [`LockSet::lock`], to run the group's Wasm or touch its memory: refused
    /// (and released again) while a host function of this thread holds a view of the memory
    /// ([`LockSet::borrow_memory`]). The check rides on taking the lock: only a reentrant take
    /// reads the mark.
    #[inline]
    pub fn lock_unborrowed(&self) -> Result<LockGuard<'_>, crate::UsageError> {
        let borrowed = self.acquire();
        let guard = LockGuard(self, std::marker::PhantomData);
        if borrowed { Err(crate::UsageError::MemoryBorrowed) } else { Ok(guard) }
    }

    /// Acquires every lock; whether any is marked borrowed.
    #[inline]
    fn acquire(&self) -> bool {
        match &*self.0 {
            [one] => one.acquire(),
            all => all.iter().fold(false, |borrowed, l| l.acquire() | borrowed),
        }
    }
}

impl LockSet {
    /// Marks the group's memory as borrowed by a host function's view until the guard drops.
    /// The caller holds the lock on this thread.
    pub fn borrow_memory(&self) -> MemoryBorrow<'_> {
        for l in self.0.iter() {
            l.borrowed.store(true, Ordering::Relaxed);
        }
        MemoryBorrow(self, std::marker::PhantomData)
    }
}

/// A view of guest memory is out (see [`LockSet::borrow_memory`]); clears the mark on drop.
/// Not `Send`: it belongs to the thread holding the lock.
#[derive(Debug)]
pub struct MemoryBorrow<'a>(&'a LockSet, std::marker::PhantomData<*const ()>);

impl Drop for MemoryBorrow<'_> {
    fn drop(&mut self) {
        for l in self.0.0.iter() {
            l.borrowed.store(false, Ordering::Relaxed);
        }
    }
}

impl Default for LockSet {
    fn default() -> Self {
        LockSet::new()
    }
}

/// Holds a [`LockSet`] until dropped, on the thread that took it (it is not `Send`).
#[derive(Debug)]
pub struct LockGuard<'a>(&'a LockSet, std::marker::PhantomData<*const ()>);

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        match &*self.0.0 {
            [one] => one.release(),
            all => all.iter().rev().for_each(|l| l.release()),
        }
    }
}
