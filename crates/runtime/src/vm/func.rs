//! The uniform function reference (DESIGN decision 3): every function, Wasm or host, of either
//! engine, is a [`FuncData`]; tables, exports and imports all hold its address.

use std::sync::Arc;

use keel_decode::FuncType;

use super::instance::Instance;
use super::store::SigId;
use crate::listener::{Listening, listened_call};
use crate::trap::Trap;

/// The raw form of a host function: reads its parameters from `values` and writes its results
/// there (the slice is as long as the larger of the two). See [`Caller`].
pub type HostCallback = dyn Fn(&mut Caller<'_>, &mut [u64]) -> Result<(), Trap> + Send + Sync;

/// What a function runs.
pub enum FuncKind {
    /// Defined function `def_index` of its instance's module, run by the instance's engine code.
    Wasm {
        /// Index among the module's defined functions.
        def_index: u32,
    },
    /// A host function.
    Host(Arc<HostCallback>),
}

/// A function, as engines see it.
pub struct FuncData {
    /// Interned signature, compared by `call_indirect`.
    pub sig: SigId,
    /// The signature itself.
    pub ty: Arc<FuncType>,
    /// What it runs.
    pub kind: FuncKind,
    /// Index in its instance's function index space (for stack traces).
    pub index: u32,
    pub(crate) instance: *const Instance,
    /// Its listener, if its instance's listener factory gave it one (`None` costs nothing).
    pub listening: Option<Box<Listening>>,
    /// [`FuncData::value_slots`], counted once: every call from compiled code needs it.
    slots: u32,
}

// SAFETY: `instance` points to the `Instance` that owns this `FuncData` (it lives inside the
// instance's `Arc` allocation), so it is valid for as long as the `FuncData` is; `Instance` is
// itself `Send + Sync`.
unsafe impl Send for FuncData {}
// SAFETY: as above.
unsafe impl Sync for FuncData {}

// Compiled code tests `listening` as one pointer-sized word: `Option<Box<T>>` is guaranteed to
// have the layout of a pointer, with `None` as null.
const _: () =
    assert!(std::mem::size_of::<Option<Box<Listening>>>() == std::mem::size_of::<usize>());

impl FuncData {
    /// Byte offset of [`FuncData::listening`] (a pointer, null for `None`), for compiled code
    /// that tests it.
    pub const LISTENING_OFFSET: usize = std::mem::offset_of!(FuncData, listening);

    /// The instance that defines this function.
    #[inline(always)]
    pub fn instance(&self) -> &Instance {
        // SAFETY: see the `Send` impl: the owner outlives its `FuncData`.
        unsafe { &*self.instance }
    }

    /// The raw slot value of a reference to this function.
    #[inline(always)]
    pub fn to_raw(&self) -> u64 {
        self as *const FuncData as u64
    }

    /// The function a non-null raw funcref slot refers to.
    ///
    /// # Safety
    /// `raw` must be a value produced by [`FuncData::to_raw`] for a function that is still alive
    /// (every funcref a Wasm value slot holds is: its instance is kept alive by the runtime).
    #[inline(always)]
    pub unsafe fn from_raw<'a>(raw: u64) -> &'a FuncData {
        // SAFETY: the caller guarantees the address is a live FuncData.
        unsafe { &*(raw as usize as *const FuncData) }
    }

    pub(crate) fn new(
        sig: SigId,
        ty: Arc<FuncType>,
        kind: FuncKind,
        index: u32,
        instance: *const Instance,
        listening: Option<Box<Listening>>,
    ) -> FuncData {
        let p: usize = ty.params.iter().map(|t| t.slots()).sum();
        let r: usize = ty.results.iter().map(|t| t.slots()).sum();
        let slots = p.max(r) as u32;
        FuncData { sig, ty, kind, index, instance, listening, slots }
    }

    /// Number of value slots a call needs: the larger of the parameters' and the results'.
    #[inline]
    pub fn value_slots(&self) -> usize {
        self.slots as usize
    }

    /// Whether a parameter is a reference, whose raw slot the callee takes for a pointer.
    pub fn has_reference_params(&self) -> bool {
        self.ty.params.iter().any(|t| t.is_ref())
    }

    /// Calls the function with parameters in `values`, leaving its results there. `caller` is the
    /// instance the call comes from (what a host function's [`Caller`] sees), if any.
    ///
    /// # Safety
    /// `values` holds at least [`FuncData::value_slots`] slots, and its parameter slots hold values
    /// of the parameter types: a reference slot is 0 or the raw form of a reference that this
    /// function's store keeps alive (compiled or interpreted Wasm passes only such values; the
    /// host writes them with `Val`s, which registers them with the store). Callees take a raw
    /// funcref for a `FuncData` pointer, so any other number is undefined behaviour.
    pub unsafe fn call_raw(
        &self,
        caller: Option<&Instance>,
        values: &mut [u64],
    ) -> Result<(), Trap> {
        match &self.kind {
            FuncKind::Host(callback) => {
                let mut c = Caller { instance: caller };
                match &self.listening {
                    None => callback(&mut c, values),
                    Some(l) => listened_call(l, caller, values, |v| callback(&mut c, v)),
                }
            }
            FuncKind::Wasm { def_index } => {
                let instance = self.instance();
                let _depth = super::instance::NativeDepth::enter()?;
                let _guard = instance.locks().lock();
                instance.check_open()?;
                let code = instance.code().expect("Wasm functions have code");
                // No listener test: a function with a listener is listening code, which
                // reports its calls itself (`CompileOptions::listening`).
                match code.call(instance, *def_index, values) {
                    Ok(()) => Ok(()),
                    Err(trap) => Err(instance.settle_trap(trap)),
                }
            }
        }
    }
}

impl std::fmt::Debug for FuncData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncData").field("index", &self.index).field("ty", &self.ty).finish()
    }
}

/// What a host function sees of its caller: the calling instance, its memory and its name.
pub struct Caller<'a> {
    pub(crate) instance: Option<&'a Instance>,
}

impl<'a> Caller<'a> {
    /// A caller for a host function invoked outside any Wasm instance.
    pub fn none() -> Self {
        Caller { instance: None }
    }

    /// A caller for `instance`.
    pub fn new(instance: &'a Instance) -> Self {
        Caller { instance: Some(instance) }
    }

    /// The calling instance, if the call came from Wasm.
    pub fn instance(&self) -> Option<&'a Instance> {
        self.instance
    }

    /// The calling instance's memory 0, if it has one.
    pub fn memory(&self) -> Option<&'a super::MemoryData> {
        self.instance.and_then(|i| i.memories().first().map(|m| &**m))
    }

    /// The calling instance's view of the system (file descriptors, stdio, clocks, random), what
    /// import sets such as WASI work on. Lock it for each use; the instance's exec lock is held
    /// for the whole call, so no other thread waits on it.
    pub fn sys(&self) -> Option<&'a keel_sys::SysContext> {
        self.instance.and_then(|i| i.sys())
    }

    /// The calling module instance's name.
    pub fn module_name(&self) -> &str {
        self.instance.map(|i| i.name()).unwrap_or("")
    }

    /// A handle to the calling instance (wazero's `api.Module` of a host function), through
    /// which the host function may call its exports, Wasm to host to Wasm on the same thread
    /// (the instance's lock is reentrant). `None` when the call did not come from Wasm.
    pub fn module(&self) -> Option<crate::Module> {
        let instance = self.instance?;
        // Both are alive: the caller's handle keeps the store, and the instance is running.
        Some(crate::Module::new(instance.store()?, instance.arc()?))
    }
}
