//! Function listeners (wazero's experimental `FunctionListener`): hooks called before and after
//! each call of a function, and when a call ends with a trap.
//!
//! A [`FunctionListenerFactory`] set on the runtime
//! ([`RuntimeConfig::with_function_listener_factory`](crate::RuntimeConfig::with_function_listener_factory))
//! is asked once per function definition, when the module defining it is instantiated, for a
//! listener; functions it returns `None` for are not reported. One compile
//! ([`CompileConfig`](crate::CompileConfig)), one instantiation
//! ([`ModuleConfig`](crate::ModuleConfig)) or one host module
//! ([`HostModuleBuilder`](crate::HostModuleBuilder)) can override it ([`Listeners`]).
//!
//! Where listeners fire: on every call of every function — host functions (called from either
//! engine, or from the host) and Wasm functions, whether called from the host, across instances
//! or from a function of the same module inside an engine. A module compiled with a factory in
//! effect is a *listening* variant whose functions report their entries and returns (see
//! [`CompileOptions`](crate::engine::CompileOptions) and docs/listeners.md). Without a factory the
//! code has no listener hook at all: the only cost left is one test of a null pointer per
//! host-function call, in [`FuncData::call_raw`](crate::vm::FuncData::call_raw).
//!
//! Whether a module's code can report is decided when it is compiled, and which of its functions
//! have a listener when it is instantiated; there is no override per call. A listener that should
//! only report some calls decides in its hooks (a flag it reads, a thread-local it checks).
//!
//! [`HostLogging`](crate::logging::HostLogging) is a factory built on this.

use std::sync::Arc;

use keel_decode::FuncType;

use crate::trap::{FrameInfo, Trap};
use crate::vm::{Caller, Instance, listen};

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

impl Listening {
    /// The listening of a function about to be defined: `factory`'s listener for it, if there is
    /// a factory and it gives one. `def` is only built when there is a factory.
    pub fn for_definition(
        factory: Option<&SharedListenerFactory>,
        def: impl FnOnce() -> FunctionDefinition,
    ) -> Option<Box<Listening>> {
        let factory = factory?;
        let def = def();
        let listener = factory.0.new_listener(&def)?;
        Some(Box::new(Listening { listener, def }))
    }
}

/// Runs `call` (of a host function; Wasm functions report their calls from their own code)
/// between its listener's hooks. Cold: only listened functions come here.
#[cold]
#[inline(never)]
pub(crate) fn listened_call(
    l: &Listening,
    caller: Option<&Instance>,
    values: &mut [u64],
    call: impl FnOnce(&mut [u64]) -> Result<(), Trap>,
) -> Result<(), Trap> {
    let scope = listen::Scope::begin();
    listen::enter(l, caller, values);
    let result = call(values);
    match &result {
        Ok(()) => listen::leave(values),
        Err(_) => scope.finish(&result),
    }
    result
}

/// The listened calls running on this thread, outermost first (what `before` receives).
pub fn current_stack() -> Vec<FrameInfo> {
    listen::frames()
}

/// A listener factory as [`RuntimeConfig`](crate::RuntimeConfig) holds it.
#[derive(Clone)]
pub struct SharedListenerFactory(pub Arc<dyn FunctionListenerFactory>);

impl SharedListenerFactory {
    /// Shares `factory`.
    pub fn new(factory: impl FunctionListenerFactory + 'static) -> Self {
        SharedListenerFactory(Arc::new(factory))
    }
}

/// Which listener factory one compile, instantiation or host module uses, in place of the one it
/// would inherit: the runtime's for a compile or a host module, the compiled module's for an
/// instantiation.
#[derive(Debug, Clone, Default)]
pub enum Listeners {
    /// The inherited factory, if any (the default).
    #[default]
    Inherit,
    /// This factory.
    Factory(SharedListenerFactory),
    /// No factory: nothing is reported (and a module compiled so is plain code).
    Off,
}

impl Listeners {
    /// The factory in effect, given the one that would be inherited.
    pub fn resolve(
        &self,
        inherited: Option<&SharedListenerFactory>,
    ) -> Option<SharedListenerFactory> {
        match self {
            Listeners::Inherit => inherited.cloned(),
            Listeners::Factory(f) => Some(f.clone()),
            Listeners::Off => None,
        }
    }
}

impl std::fmt::Debug for SharedListenerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FunctionListenerFactory")
    }
}
