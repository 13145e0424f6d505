//! Host modules: functions (and memories, tables, globals) written in Rust, instantiated into the
//! runtime's namespace like any module.

use std::sync::Arc;

use keel_decode::{FuncType, GlobalType, MemoryType, TableType};

use crate::error::Error;
use crate::func::write_val;
use crate::listener::{FunctionListenerFactory, Listeners, SharedListenerFactory};
use crate::module::Module;
use crate::runtime::Runtime;
use crate::trap::{Result, Trap};
use crate::typed::{WasmParams, WasmResults, WasmTy};
use crate::value::Val;
use crate::vm::{Caller, GlobalData, HostFuncDef, HostModuleDef, Instance, MemoryData, TableData};

/// Builds a host module.
///
/// ```ignore
/// runtime.host_module("env")
///     .func("add", |_caller: &mut Caller<'_>, a: i32, b: i32| a + b)
///     .instantiate()?;
/// ```
pub struct HostModuleBuilder {
    runtime: Runtime,
    name: String,
    def: HostModuleDef,
    listeners: Listeners,
    error: Option<Error>,
}

impl HostModuleBuilder {
    pub(crate) fn new(runtime: Runtime, name: String) -> Self {
        HostModuleBuilder {
            runtime,
            name,
            def: HostModuleDef::default(),
            listeners: Listeners::Inherit,
            error: None,
        }
    }

    /// Adds a function in raw form: `callback` reads parameters from the slots and writes results
    /// there (see [`crate::value`] for the slot layout). A function added under a name already
    /// used replaces the earlier one.
    pub fn func_raw(
        mut self,
        name: impl Into<String>,
        ty: FuncType,
        callback: impl Fn(&mut Caller<'_>, &mut [u64]) -> Result<(), Trap> + Send + Sync + 'static,
    ) -> Self {
        self.push_func(HostFuncDef { name: name.into(), ty, callback: Arc::new(callback) });
        self
    }

    /// Adds a function, replacing an earlier one of the same name (so that a set of functions
    /// exported into a builder can be overridden one by one).
    fn push_func(&mut self, def: HostFuncDef) {
        match self.def.funcs.iter_mut().find(|f| f.name == def.name) {
            Some(existing) => *existing = def,
            None => self.def.funcs.push(def),
        }
    }

    /// Adds a typed function: a closure taking `&mut Caller` and up to ten Wasm values, returning
    /// `()`, a value, a tuple of values, or a `Result` of those with a [`Trap`].
    pub fn func<Params, Results>(
        mut self,
        name: impl Into<String>,
        f: impl IntoHostFunc<Params, Results>,
    ) -> Self {
        let (ty, callback) = f.into_host_func();
        self.push_func(HostFuncDef { name: name.into(), ty, callback });
        self
    }

    /// Adds a memory.
    pub fn memory(mut self, name: impl Into<String>, ty: MemoryType) -> Self {
        let limits = &self.runtime.store().limits;
        match MemoryData::with_reservation(ty, limits.memory_pages, limits.memory_reservation) {
            Ok(m) => self.def.memories.push((name.into(), Arc::new(m))),
            Err(e) => self.error = Some(e.into()),
        }
        self
    }

    /// Adds a table with every element set to `init`.
    pub fn table(mut self, name: impl Into<String>, ty: TableType, init: Val) -> Self {
        let mut raw = [0u64; 2];
        if let Err(e) = write_val(self.runtime.store(), &init, &mut raw) {
            self.error = Some(e);
            return self;
        }
        match TableData::new(ty, raw[0]) {
            Ok(t) => self.def.tables.push((name.into(), Arc::new(t))),
            Err(e) => self.error = Some(e.into()),
        }
        self
    }

    /// Adds a global holding `value`.
    pub fn global(mut self, name: impl Into<String>, value: Val, mutable: bool) -> Self {
        let mut raw = [0u64; 2];
        if let Err(e) = write_val(self.runtime.store(), &value, &mut raw) {
            self.error = Some(e);
            return self;
        }
        let ty = GlobalType { content: value.ty(), mutable };
        self.def.globals.push((name.into(), Arc::new(GlobalData::new(ty, raw))));
        self
    }

    /// Asks `factory`, instead of the runtime's factory, for the listeners of this module's
    /// functions. Host functions report their calls themselves, so any factory works, with or
    /// without one on the runtime.
    pub fn with_function_listener_factory(
        mut self,
        factory: impl FunctionListenerFactory + 'static,
    ) -> Self {
        self.listeners = Listeners::Factory(SharedListenerFactory::new(factory));
        self
    }

    /// Gives this module's functions no listener, even when the runtime has a factory.
    pub fn without_function_listeners(mut self) -> Self {
        self.listeners = Listeners::Off;
        self
    }

    /// Instantiates the host module into the runtime's namespace.
    pub fn instantiate(self) -> Result<Module> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let inherited = self.runtime.config().function_listener_factory.as_ref();
        let factory = self.listeners.resolve(inherited);
        let instance =
            Instance::new_host(&self.name, self.runtime.store(), self.def, factory.as_ref());
        self.runtime.add_instance(instance)
    }
}

/// What a typed host function may return: results, or results and a trap.
pub trait HostResult: Send {
    /// The results' types.
    type Results: WasmResults;
    /// The results, or the trap.
    fn into_result(self) -> Result<Self::Results, Trap>;
}

impl<R: WasmResults> HostResult for R {
    type Results = R;
    fn into_result(self) -> Result<R, Trap> {
        Ok(self)
    }
}

impl<R: WasmResults> HostResult for Result<R, Trap> {
    type Results = R;
    fn into_result(self) -> Result<R, Trap> {
        self
    }
}

/// A closure usable as a typed host function.
pub trait IntoHostFunc<Params, Results>: Send + Sync + 'static {
    /// Its signature and raw callback.
    fn into_host_func(self) -> (FuncType, Arc<crate::vm::HostCallback>);
}

macro_rules! into_host_func {
    ($($p:ident),*) => {
        impl<F, $($p: WasmTy,)* R> IntoHostFunc<($($p,)*), R> for F
        where
            F: Fn(&mut Caller<'_>, $($p),*) -> R + Send + Sync + 'static,
            R: HostResult,
        {
            #[allow(non_snake_case, unused_assignments, unused_mut, unused_variables)]
            fn into_host_func(self) -> (FuncType, Arc<crate::vm::HostCallback>) {
                let ty = FuncType::new(<($($p,)*) as WasmParams>::types(), R::Results::types());
                let callback = move |caller: &mut Caller<'_>, values: &mut [u64]| {
                    let ($($p,)*) = <($($p,)*) as WasmParams>::load(values);
                    let results = (self)(caller, $($p),*).into_result()?;
                    results.store(values);
                    Ok(())
                };
                (ty, Arc::new(callback))
            }
        }
    };
}

into_host_func!();
into_host_func!(A);
into_host_func!(A, B);
into_host_func!(A, B, C);
into_host_func!(A, B, C, D);
into_host_func!(A, B, C, D, E);
into_host_func!(A, B, C, D, E, F2);
into_host_func!(A, B, C, D, E, F2, G);
into_host_func!(A, B, C, D, E, F2, G, H);
