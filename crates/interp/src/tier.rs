//! The interpreter as the lower tier of a tiered engine: counters of calls and loop iterations
//! kept beside the lazily translated bytecode, and the hooks through which hot functions reach
//! the tier above (compiled code) and come back. See `docs/tiering.md`.
//!
//! Counting is done by two instructions that only tiered bytecode has
//! ([`keel_ir::Instr::TierEnter`] and [`keel_ir::Instr::TierLoop`]), so the interpreter alone
//! pays nothing for it. Counters are plain relaxed loads and stores, not read-modify-writes: a
//! count lost to a race between threads only delays a tier-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use keel_runtime::Trap;
use keel_runtime::vm::Instance;

/// The thresholds of tier-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierConfig {
    /// Calls of a function after which it is compiled.
    pub call_threshold: u32,
    /// Loop iterations (of all loops of a function together) after which it is compiled and
    /// the loop that passed the threshold is entered in compiled code where it runs.
    pub loop_threshold: u32,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig { call_threshold: 1_000, loop_threshold: 10_000 }
    }
}

/// What the tier above the interpreter does for it.
pub trait UpperTier: Send + Sync {
    /// Defined function `def` is hot: compile it, soon (`osr_loop`: and an entry at the head of
    /// the loop of that id, which is running now). Called once per function and loop, on the
    /// interpreting thread: it must not block.
    fn request(&self, def: u32, osr_loop: Option<u32>);

    /// Runs defined function `def` in compiled code (which [`TierState::set_compiled`] said it
    /// has), with its parameters in `values`, leaving its results there. `values` holds at
    /// least as many slots as the larger of its parameters and results. The caller holds the
    /// instance's lock.
    fn call(&self, instance: &Instance, def: u32, values: &mut [u64]) -> Result<(), Trap>;

    /// Whether the calling thread has native stack enough to enter compiled code now. Each
    /// entry from the interpreter is a native activation; when this says no, the interpreter
    /// runs the function itself (its frames are on the heap), so that a deep recursion through
    /// both tiers does not run out of native stack before `max_call_depth`.
    fn has_room(&self) -> bool;

    /// Continues defined function `def` in compiled code from the head of loop `loop_id`
    /// (which [`TierState::set_osr`] said it has), with its locals in the first slots of
    /// `frame` (the interpreter's frame of the call), leaving its results in the first slots.
    fn call_osr(
        &self,
        instance: &Instance,
        def: u32,
        loop_id: u32,
        frame: &mut [u64],
    ) -> Result<(), Trap>;
}

/// Per function: its counters and what the upper tier has for it.
#[derive(Debug, Default)]
struct FuncTier {
    calls: AtomicU32,
    iterations: AtomicU32,
    /// The function has compiled code.
    compiled: AtomicBool,
    /// The loop id plus one whose on-stack-replacement entry is compiled (0: none).
    osr_ready: AtomicU32,
}

/// The counters of a module's functions and what the upper tier has compiled, shared by the
/// interpreter's code (which counts and reads) and the upper tier (which publishes).
#[derive(Debug)]
pub struct TierState {
    funcs: Box<[FuncTier]>,
    config: TierConfig,
}

impl TierState {
    /// Counters for `functions` defined functions.
    pub fn new(functions: usize, config: TierConfig) -> TierState {
        let funcs = (0..functions).map(|_| FuncTier::default()).collect();
        TierState { funcs, config: sanitize(config) }
    }

    /// The thresholds.
    pub fn config(&self) -> TierConfig {
        self.config
    }

    /// Publishes that `def` has compiled code: its next call runs it.
    pub fn set_compiled(&self, def: u32) {
        self.funcs[def as usize].compiled.store(true, Ordering::Release);
    }

    /// Whether `def` has compiled code.
    #[inline(always)]
    pub fn is_compiled(&self, def: u32) -> bool {
        self.funcs[def as usize].compiled.load(Ordering::Acquire)
    }

    /// Publishes that `def` has an entry at the head of loop `loop_id`: the running loop
    /// continues there at its next iteration.
    pub fn set_osr(&self, def: u32, loop_id: u32) {
        self.funcs[def as usize].osr_ready.store(loop_id.wrapping_add(1), Ordering::Release);
    }

    /// How many calls of `def` were counted (for tests and docs; racy by design).
    pub fn calls(&self, def: u32) -> u32 {
        self.funcs[def as usize].calls.load(Ordering::Relaxed)
    }
}

/// Thresholds of 0 would never fire (counts start at 1): the lowest is 1.
fn sanitize(c: TierConfig) -> TierConfig {
    TierConfig { call_threshold: c.call_threshold.max(1), loop_threshold: c.loop_threshold.max(1) }
}

/// What tiered bytecode carries: the counters and the tier above.
pub struct Tier {
    /// The counters, shared with the upper tier.
    pub state: Arc<TierState>,
    /// The tier above.
    pub upper: Arc<dyn UpperTier>,
}

/// What a tier instruction tells its handler.
pub(crate) enum TierStep {
    /// Go on interpreting.
    Interpret,
    /// The function ran to its end in compiled code; its results are in the frame's first
    /// slots: return.
    Returned,
    /// Compiled code trapped (the trap is recorded).
    Trapped,
}

impl Tier {
    /// A call of `def` (at [`keel_ir::Instr::TierEnter`]): `true` when it has compiled code.
    #[inline(always)]
    pub(crate) fn enter(&self, def: u32) -> bool {
        let f = &self.state.funcs[def as usize];
        if f.compiled.load(Ordering::Acquire) {
            return true;
        }
        let n = f.calls.load(Ordering::Relaxed).saturating_add(1);
        f.calls.store(n, Ordering::Relaxed);
        if n == self.state.config.call_threshold {
            self.upper.request(def, None);
        }
        false
    }

    /// An iteration of loop `loop_id` of `def` (at [`keel_ir::Instr::TierLoop`]): `true` when
    /// the loop has an entry in compiled code to continue at.
    #[inline(always)]
    pub(crate) fn iterate(&self, def: u32, loop_id: u32) -> bool {
        let f = &self.state.funcs[def as usize];
        let n = f.iterations.load(Ordering::Relaxed).saturating_add(1);
        f.iterations.store(n, Ordering::Relaxed);
        if n < self.state.config.loop_threshold {
            return false;
        }
        self.hot_loop(def, loop_id, n)
    }

    #[cold]
    #[inline(never)]
    fn hot_loop(&self, def: u32, loop_id: u32, n: u32) -> bool {
        let f = &self.state.funcs[def as usize];
        if n == self.state.config.loop_threshold {
            self.upper.request(def, Some(loop_id));
        }
        f.osr_ready.load(Ordering::Acquire) == loop_id.wrapping_add(1)
    }
}
