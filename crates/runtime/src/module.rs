//! Compiled modules and module instances as the API sees them.

use std::sync::Arc;

use keel_decode::{ExternKind, FuncType, ImportType};

use crate::engine::{CompileOptions, CompiledCode};
use crate::error::{Error, UsageError};
use crate::externs::{Extern, Global, Memory, Table};
use crate::func::{Func, TypedFunc};
use crate::interrupt::InterruptHandle;
use crate::listener::SharedListenerFactory;
use crate::owner::InstanceOwner;
use crate::trap::Result;
use crate::typed::{WasmParams, WasmResults};
use crate::vm::{Instance, Store};

/// A validated, compiled binary: cheap to clone and share between threads, instantiated any number
/// of times by the runtime that compiled it.
#[derive(Clone)]
pub struct CompiledModule {
    pub(crate) module: Arc<keel_decode::Module>,
    pub(crate) code: Arc<dyn CompiledCode>,
    pub(crate) runtime_id: usize,
    /// The factory in effect when it was compiled: its code listens exactly when this is some.
    pub(crate) listener_factory: Option<SharedListenerFactory>,
}

impl CompiledModule {
    /// The module description.
    pub fn description(&self) -> &Arc<keel_decode::Module> {
        &self.module
    }

    /// The module's name from its name section, if any.
    pub fn name(&self) -> Option<&str> {
        self.module.names.module.as_deref()
    }

    /// Imports as (module, name, type).
    pub fn imports(&self) -> impl Iterator<Item = (&str, &str, &ImportType)> {
        self.module.imports.iter().map(|i| (i.module.as_str(), i.name.as_str(), &i.ty))
    }

    /// Exports as (name, kind).
    pub fn exports(&self) -> impl Iterator<Item = (&str, ExternKind)> {
        self.module.exports.iter().map(|e| (e.name.as_str(), e.kind))
    }

    /// Signatures of exported functions by name.
    pub fn exported_functions(&self) -> impl Iterator<Item = (&str, &FuncType)> {
        self.module
            .exports
            .iter()
            .filter(|e| e.kind == ExternKind::Func)
            .map(|e| (e.name.as_str(), self.module.func_type(e.index)))
    }

    /// The engine's compiled code.
    pub fn code(&self) -> &Arc<dyn CompiledCode> {
        &self.code
    }

    /// How it was compiled: as listening code when a listener factory was in effect.
    pub fn compile_options(&self) -> CompileOptions {
        CompileOptions { listening: self.listener_factory.is_some() }
    }
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledModule({:?})", self.name())
    }
}

/// A module instance with a name: its exported functions, memories, globals and tables.
/// Cheap to clone; usable from any thread (calls into one instance group are serialised).
#[derive(Clone)]
pub struct Module {
    pub(crate) owner: InstanceOwner,
}

impl Module {
    pub(crate) fn new(store: Arc<Store>, instance: Arc<Instance>) -> Module {
        Module { owner: InstanceOwner::new(store, instance) }
    }

    /// The instance's name in the runtime's namespace ("" when anonymous).
    pub fn name(&self) -> &str {
        self.instance().name()
    }

    /// The instance's view of the system (what its `ModuleConfig` granted: descriptors, stdio,
    /// clocks, random), for import sets that drive a guest between calls — Go's event loop
    /// waits on the guest's clocks between two resumes. It is behind its own lock
    /// ([`keel_sys::SysContext::lock`]), so reading it needs no call in progress.
    pub fn sys(&self) -> Option<&keel_sys::SysContext> {
        self.instance().sys()
    }

    /// The export `name`.
    pub fn export(&self, name: &str) -> Option<Extern> {
        let (kind, index) = self.instance().export(name)?;
        let i = index as usize;
        let owner = self.owner.clone();
        Some(match kind {
            ExternKind::Func => {
                let data = self.instance().func(index) as *const _;
                Extern::Func(Func::new(owner, data))
            }
            ExternKind::Memory => {
                let data = self.instance().memories()[i].clone();
                Extern::Memory(Memory { owner, data })
            }
            ExternKind::Table => {
                let data = self.instance().tables()[i].clone();
                Extern::Table(Table { owner, data })
            }
            ExternKind::Global => {
                let data = self.instance().globals()[i].clone();
                Extern::Global(Global { owner, data })
            }
        })
    }

    /// Names and kinds of every export.
    pub fn exports(&self) -> Vec<(String, ExternKind)> {
        self.instance().export_names()
    }

    /// The exported function `name`.
    pub fn func(&self, name: &str) -> Option<Func> {
        match self.export(name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The exported function `name`, typed as `P -> R`.
    ///
    /// An error if there is no such function or its signature differs.
    pub fn typed_func<P: WasmParams, R: WasmResults>(&self, name: &str) -> Result<TypedFunc<P, R>> {
        self.func(name)
            .ok_or_else(|| {
                Error::from(UsageError::NoSuchExport {
                    module: self.name().to_string(),
                    kind: ExternKind::Func,
                    name: name.to_string(),
                })
            })?
            .typed()
    }

    /// The exported memory `name`.
    pub fn memory(&self, name: &str) -> Option<Memory> {
        match self.export(name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The instance's first memory, exported or not (what host functions usually want).
    pub fn default_memory(&self) -> Option<Memory> {
        let data = self.instance().memories().first()?.clone();
        Some(Memory { owner: self.owner.clone(), data })
    }

    /// The exported global `name`.
    pub fn global(&self, name: &str) -> Option<Global> {
        match self.export(name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The exported table `name`.
    pub fn table(&self, name: &str) -> Option<Table> {
        match self.export(name)? {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Closes the instance: later calls into it fail. Its name is released from the runtime's
    /// namespace by [`crate::Runtime::close_module`].
    pub fn close(&self) {
        self.instance().close();
    }

    /// The handle that interrupts this module's calls from any thread (see [`InterruptHandle`]).
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.instance().interrupt_handle().clone()
    }

    /// Whether the instance was closed.
    pub fn is_closed(&self) -> bool {
        self.instance().is_closed()
    }

    /// The engine-facing instance. Its state may only be touched while holding its lock set
    /// (see [`crate::vm`]), which is why this is not public.
    pub(crate) fn instance(&self) -> &Arc<Instance> {
        self.owner.instance()
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Module({:?})", self.name())
    }
}
