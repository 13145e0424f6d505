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
                let _guard = instance.locks().lock_unborrowed().map_err(Trap::host)?;
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

/// What a host function sees of its caller: the calling instance's memory (through a view that
/// proves the instance's lock is held), its system context, its name, and a handle to call back
/// into it.
pub struct Caller<'a> {
    pub(crate) instance: Option<&'a Instance>,
}

impl<'a> Caller<'a> {
    /// A caller for a host function invoked outside any Wasm instance.
    pub fn none() -> Self {
        Caller { instance: None }
    }

    /// The calling instance, if the call came from Wasm: for the runtime itself only, since an
    /// instance's state may be touched only under its lock.
    pub(crate) fn instance(&self) -> Option<&'a Instance> {
        self.instance
    }

    /// A view of the calling instance's memory 0 (`None` when it has none, or when the call did
    /// not come from Wasm): its bytes as `&[u8]`/`&mut [u8]`, with no copy, for as long as the
    /// view lives. The instance's lock is held for the whole call, and while the view lives
    /// nothing else reaches that memory: calls back into the instance's group and accesses
    /// through `Memory` handles fail with `UsageError::MemoryBorrowed`. The view borrows the
    /// `Caller`, so it cannot outlive the host call, and it is not `Send`.
    pub fn memory(&mut self) -> Option<MemoryView<'_>> {
        let instance = self.instance?;
        let memory = instance.memories().first()?;
        let borrow = instance.locks().borrow_memory();
        Some(MemoryView { memory, _borrow: borrow })
    }

    /// Copies bytes of the calling instance's memory 0 at `offset` into `buf`; `false` when out
    /// of range or there is no memory (for listeners, which see the caller shared).
    pub fn read_memory(&self, offset: u64, buf: &mut [u8]) -> bool {
        self.instance.and_then(|i| i.memories().first()).is_some_and(|m| m.read(offset, buf))
    }

    /// Closes the calling module (WASI's `proc_exit`, an `abort`): later calls into it fail.
    pub fn close_module(&self) {
        if let Some(instance) = self.instance {
            instance.close();
        }
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

/// The calling instance's memory, borrowed by a host function ([`Caller::memory`]). Reads and
/// writes are range-checked (`false` out of range); [`MemoryView::as_slice`] and
/// [`MemoryView::as_mut_slice`] give the bytes themselves.
pub struct MemoryView<'c> {
    memory: &'c std::sync::Arc<super::MemoryData>,
    _borrow: super::MemoryBorrow<'c>,
}

impl MemoryView<'_> {
    /// The memory's size in bytes.
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// Whether the memory has no pages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `[offset, offset + len)` lies inside the memory.
    pub fn check(&self, offset: u64, len: u64) -> bool {
        self.memory.check(offset, len)
    }

    /// The memory's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the calling thread holds the instance's lock for the whole host call, and the
        // borrow mark keeps every other access out while the view lives (Wasm of the group,
        // `Memory` handles): no one writes these bytes while this shared borrow of the view
        // exists. The base never moves and the length cannot change while the mark is set
        // (growth needs Wasm or a `Memory` handle), so `len` bytes stay valid.
        unsafe { std::slice::from_raw_parts(self.memory.base(), self.memory.len()) }
    }

    /// The memory's bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; the exclusive borrow of the view makes this the only
        // reference to the bytes.
        unsafe { std::slice::from_raw_parts_mut(self.memory.base(), self.memory.len()) }
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`; `false` when out of range.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> bool {
        let Some(src) = range(offset, buf.len(), self.len()) else { return false };
        buf.copy_from_slice(&self.as_slice()[src]);
        true
    }

    /// Copies `data` into the memory at `offset`; `false` when out of range.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> bool {
        let Some(dst) = range(offset, data.len(), self.len()) else { return false };
        self.as_mut_slice()[dst].copy_from_slice(data);
        true
    }
}

fn range(offset: u64, len: usize, size: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(len)?;
    (end <= size).then_some(start..end)
}
