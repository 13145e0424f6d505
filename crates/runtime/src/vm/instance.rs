//! Module instances and instantiation with the spec's exact semantics.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use keel_decode::{
    ConstExpr, ConstOp, DataMode, ElementItems, ElementMode, ExternKind, ImportType, Module,
    ValType,
};

use super::func::{FuncData, FuncKind, HostCallback};
use super::lock::LockSet;
use super::store::{Limits, SigId, Store};
use super::{GlobalData, MemoryData, TableData};
use crate::engine::CompiledCode;
use crate::error::{Error, LinkError};
use crate::interrupt::{
    EXIT_CODE_DEADLINE_EXCEEDED, EXIT_CODE_INTERRUPTED, FLAG_CLEAR, FLAG_DEADLINE, InterruptHandle,
};
use crate::listener::{FunctionDefinition, Listening, SharedListenerFactory};
use crate::trap::{FrameInfo, Trap, TrapCode, TrapKind};

/// An import, resolved: what the importing instance will use.
#[derive(Clone)]
pub enum Resolved {
    /// A function: its data, and the instance that keeps it alive.
    Func(Arc<Instance>, *const FuncData),
    /// A table.
    Table(Arc<Instance>, Arc<TableData>),
    /// A memory.
    Memory(Arc<Instance>, Arc<MemoryData>),
    /// A global.
    Global(Arc<Instance>, Arc<GlobalData>),
}

impl Resolved {
    fn owner(&self) -> &Arc<Instance> {
        match self {
            Resolved::Func(i, _)
            | Resolved::Table(i, _)
            | Resolved::Memory(i, _)
            | Resolved::Global(i, _) => i,
        }
    }

    /// The kind of extern.
    pub fn kind(&self) -> ExternKind {
        match self {
            Resolved::Func(..) => ExternKind::Func,
            Resolved::Table(..) => ExternKind::Table,
            Resolved::Memory(..) => ExternKind::Memory,
            Resolved::Global(..) => ExternKind::Global,
        }
    }
}

/// A module instance: a Wasm module's, or a host module's.
pub struct Instance {
    name: Arc<str>,
    /// Not owning: the store owns the instances Wasm may reach through raw references, and every
    /// handle that reaches this instance owns the store, so it is alive whenever this is used.
    store: Weak<Store>,
    /// The store's limits, copied so that engines read them without reaching the store.
    limits: Limits,
    /// This instance's own `Arc`, so that a host function it calls can get a handle to it
    /// ([`Caller::module`](super::Caller::module)).
    me: Weak<Instance>,
    module: Option<Arc<Module>>,
    code: Option<Arc<dyn CompiledCode>>,
    /// Functions this instance defines (Wasm bodies or host callbacks); `func_refs` points here.
    _functions: Box<[FuncData]>,
    func_refs: Box<[*const FuncData]>,
    memories: Box<[Arc<MemoryData>]>,
    tables: Box<[Arc<TableData>]>,
    globals: Box<[Arc<GlobalData>]>,
    sig_ids: Box<[SigId]>,
    elements: Box<[UnsafeCell<Box<[u64]>>]>,
    data_dropped: Box<[Cell<bool>]>,
    /// Exports of a host module (a Wasm module's come from its description).
    host_exports: Vec<(String, ExternKind, u32)>,
    locks: LockSet,
    _deps: Vec<Arc<Instance>>,
    closed: AtomicBool,
    engine_data: OnceLock<Box<dyn Any + Send + Sync>>,
    sys: Option<keel_sys::SysContext>,
    interrupt: InterruptHandle,
    close_on_interrupt: bool,
}

/// What an instance gets besides its module and imports: its view of the system, how it is
/// interrupted and who listens to its functions.
#[derive(Default)]
pub struct InstanceOptions {
    /// The instance's view of the system (`None` for none).
    pub sys: Option<keel_sys::SysContext>,
    /// The interrupt handle to share (default: a new one).
    pub interrupt: Option<InterruptHandle>,
    /// Whether an interrupt closes the instance and turns into an exit error.
    pub close_on_interrupt: bool,
    /// Asked for a listener per defined function (default: none). Only code compiled with
    /// [`CompileOptions::listening`](crate::CompileOptions::listening) reports its calls.
    pub listener_factory: Option<SharedListenerFactory>,
}

// SAFETY: `func_refs` point into `_functions` or into instances held in `_deps` (both live as long
// as `self`); `elements` and `data_dropped` are only touched under the exec lock of `locks`.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

thread_local! {
    static NATIVE_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Guards native recursion: host -> Wasm -> host -> Wasm ... nests native frames, so it is
/// bounded too, and deep nesting is a stack-overflow trap rather than a host crash.
pub struct NativeDepth(());

/// Most nested entries into Wasm on one thread.
pub const MAX_NATIVE_DEPTH: u32 = 200;

impl NativeDepth {
    /// Enters one level; a StackOverflow trap past [`MAX_NATIVE_DEPTH`].
    pub fn enter() -> Result<NativeDepth, Trap> {
        NATIVE_DEPTH.with(|d| {
            if d.get() >= MAX_NATIVE_DEPTH {
                return Err(Trap::from(TrapCode::StackOverflow));
            }
            d.set(d.get() + 1);
            Ok(NativeDepth(()))
        })
    }
}

impl Drop for NativeDepth {
    fn drop(&mut self) {
        NATIVE_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// A host function to define in a host module.
pub struct HostFuncDef {
    /// Export name.
    pub name: String,
    /// Signature.
    pub ty: keel_decode::FuncType,
    /// Callback.
    pub callback: Arc<HostCallback>,
}

/// Everything a host module defines.
#[derive(Default)]
pub struct HostModuleDef {
    /// Functions.
    pub funcs: Vec<HostFuncDef>,
    /// Memories by export name.
    pub memories: Vec<(String, Arc<MemoryData>)>,
    /// Tables by export name.
    pub tables: Vec<(String, Arc<TableData>)>,
    /// Globals by export name.
    pub globals: Vec<(String, Arc<GlobalData>)>,
}

impl Instance {
    /// The instance's name in the runtime's namespace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store the instance belongs to; `None` once every handle to it is gone (nothing can
    /// reach the instance then but its store's own teardown).
    pub fn store(&self) -> Option<Arc<Store>> {
        self.store.upgrade()
    }

    /// This instance's own `Arc`, while it lives (for the runtime's handles, which lock).
    pub(crate) fn arc(&self) -> Option<Arc<Instance>> {
        self.me.upgrade()
    }

    /// Whether the instance was instantiated in `store`.
    pub fn belongs_to(&self, store: &Arc<Store>) -> bool {
        std::ptr::eq(self.store.as_ptr(), Arc::as_ptr(store))
    }

    /// The limits engines enforce (the store's).
    #[inline(always)]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The module description, for a Wasm instance.
    pub fn module(&self) -> Option<&Arc<Module>> {
        self.module.as_ref()
    }

    /// The compiled code, for a Wasm instance.
    pub fn code(&self) -> Option<&Arc<dyn CompiledCode>> {
        self.code.as_ref()
    }

    /// Locks that guard this instance's state.
    pub fn locks(&self) -> &LockSet {
        &self.locks
    }

    /// Function `index` of the function index space.
    #[inline(always)]
    pub fn func(&self, index: u32) -> &FuncData {
        // SAFETY: see the `Send` impl: every pointer is to a live FuncData.
        unsafe { &*self.func_refs[index as usize] }
    }

    /// Number of functions in the index space.
    pub fn num_funcs(&self) -> u32 {
        self.func_refs.len() as u32
    }

    /// Memories of the memory index space.
    #[inline(always)]
    pub fn memories(&self) -> &[Arc<MemoryData>] {
        &self.memories
    }

    /// Memory `index`.
    #[inline(always)]
    pub fn memory(&self, index: u32) -> &MemoryData {
        &self.memories[index as usize]
    }

    /// Tables of the table index space.
    #[inline(always)]
    pub fn tables(&self) -> &[Arc<TableData>] {
        &self.tables
    }

    /// Table `index`.
    #[inline(always)]
    pub fn table(&self, index: u32) -> &TableData {
        &self.tables[index as usize]
    }

    /// Globals of the global index space.
    #[inline(always)]
    pub fn globals(&self) -> &[Arc<GlobalData>] {
        &self.globals
    }

    /// Global `index`.
    #[inline(always)]
    pub fn global(&self, index: u32) -> &GlobalData {
        &self.globals[index as usize]
    }

    /// The interned id of type `type_index` of the module's type section.
    #[inline(always)]
    pub fn sig_id(&self, type_index: u32) -> SigId {
        self.sig_ids[type_index as usize]
    }

    /// Per-instance state of the engine that runs this instance's code (e.g. the compiler's
    /// context block with raw pointers to memories and globals), built on first use.
    pub fn engine_data<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> &T {
        self.engine_data
            .get_or_init(|| Box::new(init()))
            .downcast_ref()
            .expect("one engine per instance")
    }

    /// The instance's view of the system (file descriptors, stdio, clocks, random), built from
    /// its `ModuleConfig` at instantiation; `None` for host modules.
    pub fn sys(&self) -> Option<&keel_sys::SysContext> {
        self.sys.as_ref()
    }

    /// Whether [`Instance::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Marks the instance closed: later calls into it fail.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// The instance's interrupt handle.
    pub fn interrupt_handle(&self) -> &InterruptHandle {
        &self.interrupt
    }

    /// The interrupt flag word engines check (0: run on); it lives as long as the instance.
    #[inline(always)]
    pub fn interrupt_flag(&self) -> &std::sync::atomic::AtomicU32 {
        self.interrupt.flag()
    }

    /// Turns a trap that left this instance into what the caller sees: an `Interrupted` trap
    /// caused by this instance's flag clears the flag, and, if the instance closes on interrupt,
    /// closes it and becomes an exit error with [`EXIT_CODE_INTERRUPTED`] or
    /// [`EXIT_CODE_DEADLINE_EXCEEDED`]. Engines need not call this: `FuncData::call_raw` does.
    #[cold]
    pub fn settle_trap(&self, trap: Trap) -> Trap {
        if trap.code() != Some(TrapCode::Interrupted) {
            return trap;
        }
        let reason = self.interrupt.flag().swap(FLAG_CLEAR, Ordering::SeqCst);
        if reason == FLAG_CLEAR || !self.close_on_interrupt {
            return trap;
        }
        self.close();
        let code = if reason == FLAG_DEADLINE {
            EXIT_CODE_DEADLINE_EXCEEDED
        } else {
            EXIT_CODE_INTERRUPTED
        };
        let mut exit = Trap::new(TrapKind::Exit(code));
        for f in trap.trace() {
            exit.push_frame(f.clone());
        }
        exit
    }

    pub(crate) fn check_open(&self) -> Result<(), Trap> {
        if self.is_closed() {
            return Err(Trap::host(format!("module \"{}\" is closed", self.name)));
        }
        Ok(())
    }

    /// A stack-trace frame for function `func_index` of this instance.
    pub fn frame_info(&self, func_index: u32) -> FrameInfo {
        let func_name =
            self.module.as_ref().and_then(|m| m.names.function(func_index)).map(Arc::from);
        FrameInfo { module: self.name.clone(), func_index, func_name }
    }

    /// memory.init: copies `len` bytes at `src` of data segment `segment` to `dst` of memory
    /// `memory`.
    pub fn memory_init(
        &self,
        memory: u32,
        segment: u32,
        dst: u64,
        src: u32,
        len: u32,
    ) -> Result<(), TrapCode> {
        let bytes = self.data_bytes(segment);
        let end = src as u64 + len as u64;
        if end > bytes.len() as u64 || !self.memory(memory).check(dst, len as u64) {
            return Err(TrapCode::MemoryOutOfBounds);
        }
        self.memory(memory).write(dst, &bytes[src as usize..end as usize]);
        Ok(())
    }

    fn data_bytes(&self, segment: u32) -> &[u8] {
        if self.data_dropped[segment as usize].get() {
            return &[];
        }
        let module = self.module.as_ref().expect("data segments belong to Wasm modules");
        module.slice(&module.data[segment as usize].range)
    }

    /// data.drop.
    pub fn data_drop(&self, segment: u32) {
        self.data_dropped[segment as usize].set(true);
    }

    /// table.init: copies `len` references at `src` of element segment `segment` to `dst` of
    /// table `table`.
    pub fn table_init(
        &self,
        table: u32,
        segment: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Result<(), TrapCode> {
        // SAFETY: the exec lock gives this thread sole access to `elements`.
        let items = unsafe { &*self.elements[segment as usize].get() };
        let end = src as u64 + len as u64;
        if end > items.len() as u64 {
            return Err(TrapCode::TableOutOfBounds);
        }
        if !self.table(table).init(dst, &items[src as usize..end as usize]) {
            return Err(TrapCode::TableOutOfBounds);
        }
        Ok(())
    }

    /// elem.drop.
    pub fn elem_drop(&self, segment: u32) {
        // SAFETY: the exec lock gives this thread sole access to `elements`.
        unsafe { *self.elements[segment as usize].get() = Box::new([]) };
    }

    /// Index and kind of export `name`.
    pub fn export(&self, name: &str) -> Option<(ExternKind, u32)> {
        match &self.module {
            Some(m) => m.export(name).map(|e| (e.kind, e.index)),
            None => self.host_exports.iter().find(|(n, _, _)| n == name).map(|(_, k, i)| (*k, *i)),
        }
    }

    /// Names of every export, in order.
    pub fn export_names(&self) -> Vec<(String, ExternKind)> {
        match &self.module {
            Some(m) => m.exports.iter().map(|e| (e.name.clone(), e.kind)).collect(),
            None => self.host_exports.iter().map(|(n, k, _)| (n.clone(), *k)).collect(),
        }
    }

    /// The export `name` as a resolved import for another instance.
    pub fn resolve_export(self: &Arc<Self>, name: &str) -> Option<Resolved> {
        let (kind, index) = self.export(name)?;
        Some(match kind {
            ExternKind::Func => Resolved::Func(self.clone(), self.func_refs[index as usize]),
            ExternKind::Table => Resolved::Table(self.clone(), self.tables[index as usize].clone()),
            ExternKind::Memory => {
                Resolved::Memory(self.clone(), self.memories[index as usize].clone())
            }
            ExternKind::Global => {
                Resolved::Global(self.clone(), self.globals[index as usize].clone())
            }
        })
    }

    /// Builds a host module instance whose functions `listener_factory` is asked to listen to.
    pub fn new_host(
        name: &str,
        store: &Arc<Store>,
        def: HostModuleDef,
        listener_factory: Option<&SharedListenerFactory>,
    ) -> Arc<Instance> {
        Arc::new_cyclic(|weak| {
            let me = weak.as_ptr();
            let functions: Box<[FuncData]> = def
                .funcs
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let (sig, ty) = store.intern(&f.ty);
                    let listening =
                        Listening::for_definition(listener_factory, || FunctionDefinition {
                            module: Arc::from(name),
                            name: Some(Arc::from(f.name.as_str())),
                            index: i as u32,
                            ty: ty.clone(),
                            is_host: true,
                        });
                    FuncData::new(
                        sig,
                        ty,
                        FuncKind::Host(f.callback.clone()),
                        i as u32,
                        me,
                        listening,
                    )
                })
                .collect();
            let func_refs = functions.iter().map(|f| f as *const FuncData).collect();
            let mut host_exports = Vec::new();
            for (i, f) in def.funcs.iter().enumerate() {
                host_exports.push((f.name.clone(), ExternKind::Func, i as u32));
            }
            for (i, (n, _)) in def.memories.iter().enumerate() {
                host_exports.push((n.clone(), ExternKind::Memory, i as u32));
            }
            for (i, (n, _)) in def.tables.iter().enumerate() {
                host_exports.push((n.clone(), ExternKind::Table, i as u32));
            }
            for (i, (n, _)) in def.globals.iter().enumerate() {
                host_exports.push((n.clone(), ExternKind::Global, i as u32));
            }
            Instance {
                name: Arc::from(name),
                store: Arc::downgrade(store),
                limits: store.limits,
                me: weak.clone(),
                module: None,
                code: None,
                _functions: functions,
                func_refs,
                memories: def.memories.into_iter().map(|(_, m)| m).collect(),
                tables: def.tables.into_iter().map(|(_, t)| t).collect(),
                globals: def.globals.into_iter().map(|(_, g)| g).collect(),
                sig_ids: Box::new([]),
                elements: Box::new([]),
                data_dropped: Box::new([]),
                host_exports,
                locks: LockSet::new(),
                _deps: Vec::new(),
                closed: AtomicBool::new(false),
                engine_data: OnceLock::new(),
                sys: None,
                interrupt: InterruptHandle::new(),
                close_on_interrupt: false,
            }
        })
    }

    /// Instantiates `module` with its imports resolved (in import order): checks their types,
    /// creates its memories, tables and globals, initialises segments and runs the start function.
    /// Like the spec, segment initialisation that traps leaves earlier writes in imported memories
    /// and tables in place.
    pub fn instantiate(
        name: &str,
        store: &Arc<Store>,
        module: &Arc<Module>,
        code: Arc<dyn CompiledCode>,
        imports: Vec<Resolved>,
        options: InstanceOptions,
    ) -> Result<Arc<Instance>, Error> {
        let InstanceOptions { sys, interrupt, close_on_interrupt, listener_factory } = options;
        let interrupt = interrupt.unwrap_or_default();
        let sys = sys.map(|s| s.with_interrupt(interrupt.flag().clone()));
        check_imports(store, module, &imports)?;
        let sigs: Vec<(SigId, Arc<keel_decode::FuncType>)> =
            module.types.iter().map(|t| store.intern(t)).collect();
        let sig_ids: Box<[SigId]> = sigs.iter().map(|(id, _)| *id).collect();

        let mut imported_funcs = Vec::new();
        let mut memories = Vec::new();
        let mut tables = Vec::new();
        let mut globals = Vec::new();
        for r in &imports {
            match r {
                Resolved::Func(_, f) => imported_funcs.push(*f),
                Resolved::Table(_, t) => tables.push(t.clone()),
                Resolved::Memory(_, m) => memories.push(m.clone()),
                Resolved::Global(_, g) => globals.push(g.clone()),
            }
        }
        let wasm_deps: Vec<&LockSet> = imports
            .iter()
            .filter(|r| r.owner().module.is_some())
            .map(|r| &r.owner().locks)
            .collect();
        let locks = LockSet::union(wasm_deps);
        let mut deps: Vec<Arc<Instance>> = Vec::new();
        for r in &imports {
            if !deps.iter().any(|d| Arc::ptr_eq(d, r.owner())) {
                deps.push(r.owner().clone());
            }
        }

        for ty in &module.memories[memories.len()..] {
            memories.push(Arc::new(
                MemoryData::with_reservation(
                    *ty,
                    store.limits.memory_pages,
                    store.limits.memory_reservation,
                )
                .map_err(Error::from)?,
            ));
        }

        let mut failure: Option<Error> = None;
        let instance = Arc::new_cyclic(|weak| {
            let me = weak.as_ptr();
            let functions: Box<[FuncData]> = (0..module.num_defined_functions())
                .map(|def| {
                    let index = module.num_imported_functions + def;
                    let (sig, ty) = sigs[module.functions[index as usize] as usize].clone();
                    let listening = Listening::for_definition(listener_factory.as_ref(), || {
                        FunctionDefinition {
                            module: Arc::from(name),
                            name: module.names.function(index).map(Arc::from).or_else(|| {
                                module
                                    .exports
                                    .iter()
                                    .find(|e| e.kind == ExternKind::Func && e.index == index)
                                    .map(|e| Arc::from(e.name.as_str()))
                            }),
                            index,
                            ty: ty.clone(),
                            is_host: false,
                        }
                    });
                    FuncData::new(sig, ty, FuncKind::Wasm { def_index: def }, index, me, listening)
                })
                .collect();
            let func_refs: Box<[*const FuncData]> = imported_funcs
                .iter()
                .copied()
                .chain(functions.iter().map(|f| f as *const FuncData))
                .collect();

            let eval = |expr: &ConstExpr, globals: &[Arc<GlobalData>]| {
                eval_const(expr, globals, &func_refs)
            };
            for g in &module.defined_globals {
                let value = eval(&g.init, &globals);
                globals.push(Arc::new(GlobalData::new(g.ty, value)));
            }
            for t in &module.defined_tables {
                let init = t.init.as_ref().map(|e| eval(e, &globals)[0]).unwrap_or(0);
                match TableData::new(t.ty, init) {
                    Ok(table) => tables.push(Arc::new(table)),
                    Err(e) => {
                        failure.get_or_insert(e.into());
                        tables.push(Arc::new(
                            TableData::new(
                                keel_decode::TableType {
                                    limits: keel_decode::Limits { min: 0, max: Some(0) },
                                    ..t.ty
                                },
                                0,
                            )
                            .expect("empty table"),
                        ));
                    }
                }
            }
            let elements = module
                .elements
                .iter()
                .map(|seg| {
                    let items: Box<[u64]> = match &seg.items {
                        ElementItems::Functions(fs) => {
                            fs.iter().map(|&f| func_refs[f as usize] as u64).collect()
                        }
                        ElementItems::Exprs(es) => {
                            es.iter().map(|e| eval(e, &globals)[0]).collect()
                        }
                    };
                    UnsafeCell::new(items)
                })
                .collect();
            Instance {
                name: Arc::from(name),
                store: Arc::downgrade(store),
                limits: store.limits,
                me: weak.clone(),
                module: Some(module.clone()),
                code: Some(code),
                _functions: functions,
                func_refs,
                memories: std::mem::take(&mut memories).into(),
                tables: std::mem::take(&mut tables).into(),
                globals: std::mem::take(&mut globals).into(),
                sig_ids,
                elements,
                data_dropped: module.data.iter().map(|_| Cell::new(false)).collect(),
                host_exports: Vec::new(),
                locks,
                _deps: deps,
                closed: AtomicBool::new(false),
                engine_data: OnceLock::new(),
                sys,
                interrupt,
                close_on_interrupt,
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }

        // Segments may write an imported memory: not while a host function holds a view of it.
        let _guard = instance.locks.lock_unborrowed()?;
        let init = || -> Result<(), Error> {
            let trap = |code: TrapCode| Error::Trap(Trap::from(code));
            for (i, seg) in module.elements.iter().enumerate() {
                match &seg.mode {
                    ElementMode::Active { table, offset } => {
                        let dst =
                            eval_const(offset, &instance.globals, &instance.func_refs)[0] as u32;
                        let len = seg.items.len() as u32;
                        instance.table_init(*table, i as u32, dst, 0, len).map_err(trap)?;
                        instance.elem_drop(i as u32);
                    }
                    ElementMode::Declared => instance.elem_drop(i as u32),
                    ElementMode::Passive => {}
                }
            }
            for (i, seg) in module.data.iter().enumerate() {
                if let DataMode::Active { memory, offset } = &seg.mode {
                    let raw = eval_const(offset, &instance.globals, &instance.func_refs)[0];
                    let dst = if module.memories[*memory as usize].memory64 {
                        raw
                    } else {
                        raw as u32 as u64
                    };
                    let len = seg.range.len() as u32;
                    instance.memory_init(*memory, i as u32, dst, 0, len).map_err(trap)?;
                    instance.data_drop(i as u32);
                }
            }
            if let Some(start) = module.start {
                // SAFETY: a start function has no parameters and no results.
                unsafe { instance.func(start).call_raw(None, &mut []) }?;
            }
            Ok(())
        };
        let result = init();
        // Segments written before a failure stay in imported tables, and a start function may
        // have stored references elsewhere: the functions they name must stay alive, whether or
        // not instantiation succeeded and whatever the host does with the handle it gets.
        if can_hand_out_own_funcs(module) {
            store.keep_alive(Arc::as_ptr(&instance) as u64, || Box::new(instance.clone()));
        }
        drop(_guard);
        result.map(|()| instance)
    }
}

/// Whether the module's code can put references to its own functions where they outlive its
/// instance: in an imported table or mutable global of funcrefs, or as an argument of a call to
/// another instance's function (an import, or one in a table), whose callee may store it. Every
/// such call has a type with a funcref parameter in the module's type section. An instance that
/// can lives as long as its store; any other is freed with its last handle, since then only its
/// own state and handles to it can name its functions.
fn can_hand_out_own_funcs(module: &Module) -> bool {
    // Externrefs are not among them: only the host makes those, and the store keeps them.
    let funcref = ValType::FuncRef;
    module.types.iter().any(|t| t.params.contains(&funcref))
        || module.imports.iter().any(|i| match &i.ty {
            ImportType::Table(t) => t.element == funcref,
            ImportType::Global(g) => g.mutable && g.content == funcref,
            ImportType::Func(_) | ImportType::Memory(_) => false,
        })
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("name", &self.name).finish()
    }
}

/// Evaluates a constant expression to its (one) value's slots.
pub fn eval_const(
    expr: &ConstExpr,
    globals: &[Arc<GlobalData>],
    funcs: &[*const FuncData],
) -> [u64; 2] {
    let mut stack: Vec<[u64; 2]> = Vec::with_capacity(2);
    for op in expr.ops.iter() {
        let v = match *op {
            ConstOp::I32Const(v) => [v as u32 as u64, 0],
            ConstOp::I64Const(v) => [v as u64, 0],
            ConstOp::F32Const(v) => [v as u64, 0],
            ConstOp::F64Const(v) => [v, 0],
            ConstOp::V128Const(v) => [v as u64, (v >> 64) as u64],
            ConstOp::RefNull(_) => [0, 0],
            ConstOp::RefFunc(f) => [funcs[f as usize] as u64, 0],
            ConstOp::GlobalGet(g) => globals[g as usize].get_wide(),
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().expect("validated")[0] as u32;
                let a = stack.pop().expect("validated")[0] as u32;
                let r = match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                [r as u64, 0]
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().expect("validated")[0];
                let a = stack.pop().expect("validated")[0];
                let r = match *op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                [r, 0]
            }
        };
        stack.push(v);
    }
    stack.pop().unwrap_or([0, 0])
}

fn check_imports(store: &Arc<Store>, module: &Module, imports: &[Resolved]) -> Result<(), Error> {
    // The runtime resolves each import by name, one for one: a different count is its own bug.
    assert_eq!(imports.len(), module.imports.len(), "one resolved extern per import");
    for (import, resolved) in module.imports.iter().zip(imports) {
        let mismatch = |expected: String, found: String| -> Error {
            let (module, field) = (import.module.clone(), import.name.clone());
            LinkError::IncompatibleType { module, field, expected, found }.into()
        };
        match (&import.ty, resolved) {
            (ImportType::Func(t), Resolved::Func(_, f)) => {
                // SAFETY: resolved function pointers come from live instances held by `resolved`.
                let f = unsafe { &**f };
                let want = &module.types[*t as usize];
                if f.sig != store.intern(want).0 {
                    return Err(mismatch(format!("function {want}"), format!("function {}", f.ty)));
                }
            }
            (ImportType::Table(t), Resolved::Table(_, have)) => {
                let h = have.ty();
                let actual = keel_decode::Limits { min: have.size() as u64, max: h.limits.max };
                if h.element != t.element || !actual.matches(&t.limits) {
                    let expected = format!("table of {} {}", t.element, limits(&t.limits));
                    return Err(mismatch(
                        expected,
                        format!("table of {} {}", h.element, limits(&actual)),
                    ));
                }
            }
            (ImportType::Memory(t), Resolved::Memory(_, have)) => {
                let h = have.ty();
                let actual = keel_decode::Limits { min: have.pages(), max: h.limits.max };
                if h.shared != t.shared || h.memory64 != t.memory64 || !actual.matches(&t.limits) {
                    let memory = |ty: &keel_decode::MemoryType, l: &keel_decode::Limits| {
                        let shared = if ty.shared { " shared" } else { "" };
                        let bits = if ty.memory64 { " i64" } else { "" };
                        format!("memory{bits} {}{shared}", limits(l))
                    };
                    return Err(mismatch(memory(t, &t.limits), memory(&h, &actual)));
                }
            }
            (ImportType::Global(t), Resolved::Global(_, have)) => {
                let h = have.ty();
                if h != *t {
                    return Err(mismatch(global(t), global(&h)));
                }
            }
            _ => {
                return Err(mismatch(import.ty.kind().to_string(), resolved.kind().to_string()));
            }
        }
    }
    Ok(())
}

/// Limits as the text format writes them: `1..2` pages or elements, `1..` with no maximum.
fn limits(l: &keel_decode::Limits) -> String {
    match l.max {
        Some(max) => format!("{}..{max}", l.min),
        None => format!("{}..", l.min),
    }
}

fn global(ty: &keel_decode::GlobalType) -> String {
    if ty.mutable {
        format!("global (mut {})", ty.content)
    } else {
        format!("global {}", ty.content)
    }
}
