//! The instance context (`vmctx`): the one block of raw pointers compiled code reads. Every
//! compiled Wasm function takes its instance's `vmctx` as its first parameter.
//!
//! Layout (`#[repr(C)]`, every field 8 bytes, offsets in [`VmCtx`]'s constants):
//!
//! | offset | field          | what                                                            |
//! |--------|----------------|-----------------------------------------------------------------|
//! | 0      | `memory_base`  | address of byte 0 of memory 0 (never moves; null without memory)|
//! | 8      | `memory_len`   | pointer to memory 0's length in bytes (reloaded at each access) |
//! | 16     | `globals`      | array: per global index, pointer to its value slot(s)           |
//! | 24     | `func_refs`    | array: per function index, `*const FuncData`                    |
//! | 32     | `code`         | array: per defined function, its machine code address           |
//! | 40     | `trap`         | trap word: non-zero once a trap is pending (see `Pending`)      |
//! | 48     | `stack_limit`  | lowest native stack pointer Wasm may use on this entry          |
//! | 56     | `interrupt`    | pointer to the instance's interrupt flag (`AtomicU32`), checked |
//! |        |                | at function entries and loop headers                            |
//! | 64     | `own_funcs`    | address of this instance's first defined `FuncData`             |
//! | 72     | `own_funcs_len`| size in bytes of the defined `FuncData` array                   |
//! | 80     | `libcalls`     | array of runtime entry points (see `libcalls::Libcall`)         |
//! | 88     | `instance`     | `*const Instance`, for the libcalls                             |
//! | 96     | `state`        | `*const InstanceState` (this context's owner), for the libcalls |
//! | 104    | `callee`       | tiered code: the defined function it is calling, for the lower  |
//! |        |                | tier's stub that stands in for it until it is compiled          |

use std::sync::Mutex;

use keel_runtime::vm::{FuncData, Instance};
use keel_runtime::{FrameInfo, Trap};

/// The instance context. See the module docs for the layout.
#[repr(C)]
pub struct VmCtx {
    pub(crate) memory_base: *mut u8,
    pub(crate) memory_len: *const usize,
    pub(crate) globals: *const *mut u64,
    pub(crate) func_refs: *const *const FuncData,
    pub(crate) code: *const *const u8,
    pub(crate) trap: u64,
    pub(crate) stack_limit: usize,
    pub(crate) interrupt: *const std::sync::atomic::AtomicU32,
    pub(crate) own_funcs: usize,
    pub(crate) own_funcs_len: usize,
    pub(crate) libcalls: *const usize,
    pub(crate) instance: *const Instance,
    /// Set by every entry (the state is boxed in the instance's engine data, so it stays put):
    /// libcalls find it here instead of downcasting the engine data on each call.
    pub(crate) state: *const InstanceState,
    /// Written by tiered code before each call of one of the instance's own functions, read by
    /// the stub that a code-array entry holds until its function is compiled (`tier.rs`).
    pub(crate) callee: u64,
}

impl VmCtx {
    pub(crate) const MEMORY_BASE: i32 = 0;
    pub(crate) const MEMORY_LEN: i32 = 8;
    pub(crate) const GLOBALS: i32 = 16;
    pub(crate) const FUNC_REFS: i32 = 24;
    pub(crate) const CODE: i32 = 32;
    pub(crate) const TRAP: i32 = 40;
    pub(crate) const STACK_LIMIT: i32 = 48;
    pub(crate) const INTERRUPT: i32 = 56;
    pub(crate) const OWN_FUNCS: i32 = 64;
    pub(crate) const OWN_FUNCS_LEN: i32 = 72;
    pub(crate) const LIBCALLS: i32 = 80;
    pub(crate) const CALLEE: i32 = 104;
}

// The offsets above are what the translator emits; keep them in step with the struct.
const _: () = {
    assert!(std::mem::offset_of!(VmCtx, memory_base) == VmCtx::MEMORY_BASE as usize);
    assert!(std::mem::offset_of!(VmCtx, memory_len) == VmCtx::MEMORY_LEN as usize);
    assert!(std::mem::offset_of!(VmCtx, globals) == VmCtx::GLOBALS as usize);
    assert!(std::mem::offset_of!(VmCtx, func_refs) == VmCtx::FUNC_REFS as usize);
    assert!(std::mem::offset_of!(VmCtx, code) == VmCtx::CODE as usize);
    assert!(std::mem::offset_of!(VmCtx, trap) == VmCtx::TRAP as usize);
    assert!(std::mem::offset_of!(VmCtx, stack_limit) == VmCtx::STACK_LIMIT as usize);
    assert!(std::mem::offset_of!(VmCtx, interrupt) == VmCtx::INTERRUPT as usize);
    assert!(std::mem::offset_of!(VmCtx, own_funcs) == VmCtx::OWN_FUNCS as usize);
    assert!(std::mem::offset_of!(VmCtx, own_funcs_len) == VmCtx::OWN_FUNCS_LEN as usize);
    assert!(std::mem::offset_of!(VmCtx, libcalls) == VmCtx::LIBCALLS as usize);
    assert!(std::mem::offset_of!(VmCtx, callee) == VmCtx::CALLEE as usize);
};

/// What the compiler keeps per instance (in [`Instance::engine_data`]): the context and the
/// arrays it points to, and the trap being unwound, if any.
pub(crate) struct InstanceState {
    pub(crate) vmctx: Box<std::cell::UnsafeCell<VmCtx>>,
    _globals: Box<[*mut u64]>,
    _func_refs: Box<[*const FuncData]>,
    /// The trap being unwound: created by the libcall that raises it, extended by one frame per
    /// compiled function it leaves, taken by the entry trampoline.
    pub(crate) pending: Mutex<Option<Trap>>,
    /// The native stack an outermost entry may use, before the thread's own bound
    /// ([`crate::stack_budget`] of the instance's `max_call_depth`).
    pub(crate) stack_budget: usize,
    /// Its memory 0 has no guard region (a memory of a runtime with another reservation
    /// policy, imported): code compiled for guarded memories must not run on it.
    pub(crate) unguarded_memory: bool,
}

// SAFETY: the raw pointers point into the instance (its memories, globals, functions) or into the
// module's code, all of which outlive the instance's engine data; the context is only read and
// written by the thread that holds the instance's exec lock.
unsafe impl Send for InstanceState {}
// SAFETY: as above.
unsafe impl Sync for InstanceState {}

impl InstanceState {
    pub(crate) fn new(
        instance: &Instance,
        code: *const *const u8,
        libcalls: &'static [usize],
    ) -> Self {
        let module = instance.module().expect("compiled code runs Wasm instances");
        let globals: Box<[*mut u64]> = instance.globals().iter().map(|g| g.value_ptr()).collect();
        let func_refs: Box<[*const FuncData]> =
            (0..instance.num_funcs()).map(|i| instance.func(i) as *const FuncData).collect();
        let (memory_base, memory_len) = match instance.memories().first() {
            Some(m) => (m.base(), m.len_ptr()),
            None => (std::ptr::null_mut(), std::ptr::null()),
        };
        let num_imported = module.num_imported_functions as usize;
        let own_funcs = func_refs.get(num_imported).map(|f| *f as usize).unwrap_or(0);
        let own_funcs_len = module.bodies.len() * std::mem::size_of::<FuncData>();
        let vmctx = VmCtx {
            memory_base,
            memory_len,
            globals: globals.as_ptr(),
            func_refs: func_refs.as_ptr(),
            code,
            trap: 0,
            stack_limit: 0,
            interrupt: instance.interrupt_flag() as *const _,
            own_funcs,
            own_funcs_len,
            libcalls: libcalls.as_ptr(),
            instance: instance as *const Instance,
            state: std::ptr::null(),
            callee: 0,
        };
        InstanceState {
            vmctx: Box::new(std::cell::UnsafeCell::new(vmctx)),
            _globals: globals,
            _func_refs: func_refs,
            pending: Mutex::new(None),
            stack_budget: crate::stack_budget(instance.limits().max_call_depth),
            unguarded_memory: instance.memories().first().is_some_and(|m| !m.is_guarded()),
        }
    }

    /// Records a new trap (raised by a libcall, or returned by a callee across the boundary).
    pub(crate) fn raise(&self, trap: Trap) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(trap);
        // SAFETY: the exec lock is held (we are inside a call), so this thread alone touches the
        // context.
        unsafe { (*self.vmctx.get()).trap = 1 };
    }

    /// Adds the frame of a function the pending trap unwinds through.
    pub(crate) fn push_frame(&self, frame: FrameInfo) {
        if let Some(t) = self.pending.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            t.push_frame(frame);
        }
    }

    /// Takes the pending trap and clears the trap word.
    pub(crate) fn take(&self) -> Option<Trap> {
        // SAFETY: as in `raise`.
        let word = unsafe { std::mem::replace(&mut (*self.vmctx.get()).trap, 0) };
        // `raise` sets the word whenever it stores a trap: with the word clear there is none,
        // and the common return needs no lock.
        if word == 0 {
            return None;
        }
        let trap = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take();
        Some(trap.unwrap_or_else(|| Trap::host("compiled code trapped without a trap")))
    }
}
