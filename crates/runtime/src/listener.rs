//! Function listeners (wazero's experimental `FunctionListener`): hooks called before and after
//! each call of a function, and when a call ends with a trap.
//!
//! A [`FunctionListenerFactory`] set on the runtime
//! ([`RuntimeConfig::with_function_listener_factory`](crate::RuntimeConfig::with_function_listener_factory))
//! is asked once per function definition, when the module defining it is instantiated, for a
//! listener; functions it returns `None` for run exactly as without a factory. Without a factory
//! the cost is one well-predicted test of a null pointer per call through
//! [`FuncData::call_raw`](crate::vm::FuncData::call_raw).
//!
//! Where listeners fire: on every call of a host function (from either engine, or from the host)
//! and on every call of a Wasm function that goes through `FuncData::call_raw` — calls from the
//! host, calls across instances and imports. Calls between functions of one compiled module
//! that stay in machine code do not fire listeners yet (see docs/listeners.md).
//!
//! [`HostLogging`](crate::logging::HostLogging) is a factory built on this.

use std::cell::RefCell;
use std::sync::Arc;

use keel_decode::FuncType;

use crate::trap::{FrameInfo, Trap};
use crate::vm::Caller;

/// A function, as a listener factory sees it.
#[derive(Debug, Clone)]
pub struct FunctionDefinition {
    /// Name of the module (instance) that defines it.
    pub module: Arc<str>,
    /// Its name: the export name of a host function, the name section's (or the export name)
    /// for a Wasm function.
    pub name: Option<Arc<str>>,
    /// Index in the module's function index space.
    pub index: u32,
    /// Its signature.
    pub ty: Arc<FuncType>,
    /// Whether it is a host function.
    pub is_host: bool,
}

impl FunctionDefinition {
    /// `module.name`, or `module.$index` without a name.
    pub fn debug_name(&self) -> String {
        match &self.name {
            Some(n) => format!("{}.{}", self.module, n),
            None => format!("{}.${}", self.module, self.index),
        }
    }

    /// The stack-trace frame for this function.
    pub fn frame(&self) -> FrameInfo {
        FrameInfo {
            module: self.module.clone(),
            func_index: self.index,
            func_name: self.name.clone(),
        }
    }
}

/// Hooks around the calls of one function. Called on the calling thread, with the instance's
/// exec lock held; a listener must not call back into the same instance group from `before`.
pub trait FunctionListener: Send + Sync {
    /// Before the call: its parameters (raw slots, see [`crate::value`]) and the call stack of
    /// listened functions on this thread, outermost first, this call last.
    fn before(
        &self,
        caller: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        stack: &[FrameInfo],
    );

    /// After a call that returned: its parameters (as they were on entry) and results.
    fn after(&self, caller: &Caller<'_>, def: &FunctionDefinition, params: &[u64], results: &[u64]);

    /// After a call that trapped or exited (`error` says which).
    fn abort(&self, caller: &Caller<'_>, def: &FunctionDefinition, params: &[u64], error: &Trap) {
        let _ = (caller, def, params, error);
    }
}

/// Asked once per function definition for its listener.
pub trait FunctionListenerFactory: Send + Sync {
    /// The listener of `def`, or `None` to leave it unlistened (no cost).
    fn new_listener(&self, def: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>>;
}

/// A function's listener and its definition, kept in its [`FuncData`](crate::vm::FuncData).
pub struct Listening {
    /// The listener.
    pub listener: Arc<dyn FunctionListener>,
    /// What it listens to.
    pub def: FunctionDefinition,
}

thread_local! {
    /// Frames of the listened calls running on this thread, outermost first.
    static STACK: RefCell<Vec<FrameInfo>> = const { RefCell::new(Vec::new()) };
}

/// Runs `call` between the listener's hooks. Cold: only listened functions come here.
#[cold]
#[inline(never)]
pub(crate) fn listened_call(
    l: &Listening,
    caller: &Caller<'_>,
    values: &mut [u64],
    n_params: usize,
    call: impl FnOnce(&mut [u64]) -> Result<(), Trap>,
) -> Result<(), Trap> {
    let params: Vec<u64> = values[..n_params.min(values.len())].to_vec();
    STACK.with(|s| s.borrow_mut().push(l.def.frame()));
    // A copy, so that a listener may itself call listened functions.
    let stack = current_stack();
    l.listener.before(caller, &l.def, &params, &stack);
    let result = call(values);
    STACK.with(|s| s.borrow_mut().pop());
    match &result {
        Ok(()) => {
            let n: usize = l.def.ty.results.iter().map(|t| t.slots()).sum();
            l.listener.after(caller, &l.def, &params, &values[..n.min(values.len())]);
        }
        Err(trap) => l.listener.abort(caller, &l.def, &params, trap),
    }
    result
}

/// The listened calls running on this thread, outermost first (what `before` receives).
pub fn current_stack() -> Vec<FrameInfo> {
    STACK.with(|s| s.borrow().clone())
}

/// A listener factory as [`RuntimeConfig`](crate::RuntimeConfig) holds it.
#[derive(Clone)]
pub struct SharedListenerFactory(pub Arc<dyn FunctionListenerFactory>);

impl std::fmt::Debug for SharedListenerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FunctionListenerFactory")
    }
}
