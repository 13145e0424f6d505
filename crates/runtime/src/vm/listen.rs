//! The calls of listened functions running on this thread: what a listener's `before` sees as
//! the call stack, and what `after` and `abort` need of each call (its parameters, its caller).
//!
//! Listening code ([`CompileOptions::listening`](crate::CompileOptions::listening)) calls
//! [`enter`] when a listened function starts and [`leave`] when it returns, and its engine wraps
//! each entry from the runtime in a [`Scope`]: a trap that leaves the entry aborts every listened
//! call it started and did not finish, innermost first. The runtime uses the same stack for the
//! host functions it listens to itself, so one stack holds them all in order.
//!
//! Only listened calls touch this: without a listener factory nothing here runs.

use std::cell::RefCell;

use super::func::Caller;
use super::instance::Instance;
use crate::listener::Listening;
use crate::trap::{FrameInfo, Trap};

/// One listened call that has started and not finished.
struct Call {
    /// The function's listener, in its `FuncData` (which outlives the call).
    listening: *const Listening,
    /// The instance the listener's `Caller` shows.
    caller: Option<*const Instance>,
    /// Where its parameters start in [`Calls::params`].
    params_at: usize,
}

/// The listened calls running on this thread, outermost first.
struct Calls {
    frames: Vec<FrameInfo>,
    calls: Vec<Call>,
    /// The parameters of every call, one after another (one buffer: no allocation per call).
    params: Vec<u64>,
}

thread_local! {
    static CALLS: RefCell<Calls> = const {
        RefCell::new(Calls { frames: Vec::new(), calls: Vec::new(), params: Vec::new() })
    };
}

// Every `Call` is popped before the entry that pushed it returns (by `leave`, by `abort_to` for a
// trap, or by `Scope`'s drop while a panic unwinds), and that entry holds the function and the
// instance it names: so while a `Call` is on the stack, its pointers are valid.

/// How many listened calls are running on this thread.
pub fn depth() -> usize {
    CALLS.with(|c| c.borrow().calls.len())
}

/// The frames of the listened calls running on this thread, outermost first.
pub fn frames() -> Vec<FrameInfo> {
    CALLS.with(|c| c.borrow().frames.clone())
}

fn slots(tys: &[keel_decode::ValType]) -> usize {
    tys.iter().map(|t| t.slots()).sum()
}

/// A listened function starts with `params` (at least its parameter slots): records the call
/// and calls the listener's `before` with the call stack. `caller` is the instance its `Caller`
/// shows: the function's own for a Wasm function, the calling one for a host function.
#[cold]
#[inline(never)]
pub fn enter(listening: &Listening, caller: Option<&Instance>, params: &[u64]) {
    let params = &params[..slots(&listening.def.ty.params).min(params.len())];
    // A copy of the frames, so that `before` may itself call listened functions.
    let stack = CALLS.with(|c| {
        let mut c = c.borrow_mut();
        let params_at = c.params.len();
        c.params.extend_from_slice(params);
        c.frames.push(listening.def.frame());
        c.calls.push(Call { listening, caller: caller.map(|i| i as *const Instance), params_at });
        c.frames.clone()
    });
    let caller = Caller { instance: caller };
    listening.listener.before(&caller, &listening.def, params, &stack);
}

/// Pops the innermost call: its listener, its caller and its parameters.
fn pop<'a>() -> Option<(&'a Listening, Caller<'a>, Vec<u64>)> {
    let (call, params) = CALLS.with(|c| {
        let mut c = c.borrow_mut();
        let call = c.calls.pop()?;
        c.frames.pop();
        let params = c.params.split_off(call.params_at);
        Some((call, params))
    })?;
    // SAFETY: the call was on the stack until now, so its function and instance are alive (see
    // above), and the engine popping it is still inside the entry that holds them.
    let (listening, caller) =
        unsafe { (&*call.listening, Caller { instance: call.caller.map(|i| &*i) }) };
    Some((listening, caller, params))
}

/// The innermost listened call returned `results` (at least its result slots): pops it and
/// calls its listener's `after`.
#[cold]
#[inline(never)]
pub fn leave(results: &[u64]) {
    let Some((l, caller, params)) = pop() else {
        return;
    };
    let results = &results[..slots(&l.def.ty.results).min(results.len())];
    l.listener.after(&caller, &l.def, &params, results);
}

/// `trap` leaves the entry whose listened calls start at `mark` (the [`depth`] when it began):
/// pops every call above it, innermost first, calling its listener's `abort`.
#[cold]
#[inline(never)]
pub fn abort_to(mark: usize, trap: &Trap) {
    while depth() > mark {
        let Some((l, caller, params)) = pop() else {
            return;
        };
        l.listener.abort(&caller, &l.def, &params, trap);
    }
}

/// Forgets the calls above `mark` without calling any listener (a panic is unwinding them).
fn truncate(mark: usize) {
    CALLS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(call) = c.calls.get(mark) {
            let at = call.params_at;
            c.params.truncate(at);
            c.calls.truncate(mark);
            c.frames.truncate(mark);
        }
    });
}

/// One entry into listening code (a call from the runtime into an engine, or of a listened
/// function by the runtime): remembers where its listened calls start, so that [`Scope::finish`]
/// aborts the ones a trap leaves unfinished, and a panic unwinding through it forgets them.
pub struct Scope {
    mark: usize,
}

impl Scope {
    /// Begins an entry.
    #[cold]
    #[inline(never)]
    pub fn begin() -> Scope {
        Scope { mark: depth() }
    }

    /// Ends the entry with `result`: a trap aborts every listened call it started that did not
    /// return, innermost first.
    pub fn finish(self, result: &Result<(), Trap>) {
        if let Err(trap) = result {
            abort_to(self.mark, trap);
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        truncate(self.mark);
    }
}
