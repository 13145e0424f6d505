#![warn(missing_docs)]
//! keel's compiler engine: Wasm -> Cranelift IR -> machine code for x86_64 and aarch64.
//!
//! [`Compiler`] implements the runtime's `Engine`: it translates every defined function of a
//! validated module with our own translator (on `cranelift-frontend`), compiles them in parallel
//! with `cranelift-codegen` for the host, and places the code in executable memory. Compiled code
//! runs through the same runtime as the interpreter. See `docs/compiler.md`.

mod artifact;
mod layout;
mod libcalls;
mod signals;
mod tier;
mod translate;
mod vmctx;

use std::any::Any;
use std::cell::Cell;
use std::sync::Arc;

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use keel_runtime::vm::{Instance, listen};
use keel_runtime::{CompileError, CompileOptions, CompiledCode, Engine, Error, Trap, TrapCode};

pub use artifact::{Artifact, LibcallTarget, Relocation};
pub use tier::{Published, TierCode};

use crate::vmctx::InstanceState;

/// Most native stack one entry from the host may use for Wasm (and the host functions it calls),
/// measured from the stack pointer at the outermost entry on the thread. The budget is
/// [`BYTES_PER_FRAME`]` * max_call_depth` bytes within [32 KiB, this], and never more than the
/// thread's stack has left below that entry, less [`HOST_RESERVE`].
pub const STACK_BUDGET: usize = 4 * 1024 * 1024;

/// Native stack per frame of `max_call_depth`: so that the compiler runs as deep a recursion as
/// the interpreter does (`max_call_depth` frames) of functions with large frames too — Go's
/// `js/wasm` functions take 90 to 140 bytes each, and Go's own tests (encoding/json's
/// nesting limit of 10 000, io/fs's Glob limit) recurse close to 10 000 Wasm frames deep.
pub const BYTES_PER_FRAME: usize = 160;

/// Native stack left free below the budget for the host functions the deepest Wasm frame calls.
pub const HOST_RESERVE: usize = 256 * 1024;

/// Native stack the tiered engine wants left above the budget's end before it enters compiled
/// code from the interpreter (`TierCode::has_room`): each such crossing is a native activation,
/// which frames of one tier are not, so a recursion through both tiers would run out of native
/// stack long before `max_call_depth` frames. Below this the interpreter keeps the recursion
/// (its frames are on the heap, and count against `max_call_depth` as ever).
pub const CROSSING_ROOM: usize = 64 * 1024;

/// Where the budget goes when the thread's stack cannot be asked for its bounds.
const FALLBACK_BUDGET: usize = 512 * 1024;

/// The Cranelift compiler engine.
pub struct Compiler {
    isa: Result<OwnedTargetIsa, String>,
    /// Compile for guarded memories: accesses below the guard are not bounds-checked.
    guarded: bool,
}

impl std::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler").field("supported", &self.isa.is_ok()).finish()
    }
}

impl Default for Compiler {
    fn default() -> Self {
        Compiler::new()
    }
}

/// The Cranelift settings keel compiles with.
fn flags() -> settings::Flags {
    let mut b = settings::builder();
    // These names and values are Cranelift's own, so setting them cannot fail.
    b.set("opt_level", "speed").expect("opt_level");
    b.set("enable_multi_ret_implicit_sret", "true").expect("multi-ret");
    // Cranelift verifies its IR by default, which costs about a third of compile time; the
    // translator's tests and the spec suites run in debug builds with the verifier on, release
    // builds skip it (as wasmtime does).
    let verify = if cfg!(debug_assertions) { "true" } else { "false" };
    b.set("enable_verifier", verify).expect("enable_verifier");
    // A trap on a guard page records the Wasm frames by walking the frame pointers.
    b.set("preserve_frame_pointers", "true").expect("preserve_frame_pointers");
    // Block offsets and edges, for placing functions with dispatch loops (layout.rs).
    b.set("machine_code_cfg_info", "true").expect("machine_code_cfg_info");
    settings::Flags::new(b)
}

impl Compiler {
    /// A compiler for the host, for memories reserved whole (the runtime's default
    /// [`Reservation::Maximum`](keel_runtime::Reservation::Maximum)), which are guarded where the
    /// platform allows. If the host is not supported, compiling fails with `Error::Compile`.
    pub fn new() -> Compiler {
        Compiler::for_reservation(keel_runtime::Reservation::Maximum)
    }

    /// A compiler for the memories a runtime with this reservation policy creates: guarded
    /// (no bounds checks below the guard) when they are.
    pub fn for_reservation(reservation: keel_runtime::Reservation) -> Compiler {
        let isa = cranelift_native::builder()
            .map_err(|e| e.to_string())
            .and_then(|b| b.finish(flags()).map_err(|e| e.to_string()));
        let guarded =
            keel_runtime::vm::GUARDS_SUPPORTED && reservation == keel_runtime::Reservation::Maximum;
        if guarded {
            signals::install();
        }
        Compiler { isa, guarded }
    }

    /// Whether the host is supported (x86_64 or aarch64).
    pub fn is_supported() -> bool {
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
            && cfg!(target_pointer_width = "64")
    }

    /// Compiles `module` for `triple` without loading it: the artefact (code, relocations,
    /// offsets) that a cache would store. Used to check other targets (aarch64) on any host.
    pub fn compile_for_target(
        module: &keel_decode::Module,
        triple: target_lexicon::Triple,
        options: CompileOptions,
    ) -> Result<Artifact, String> {
        let isa = cranelift_codegen::isa::lookup(triple)
            .map_err(|e| e.to_string())?
            .finish(flags())
            .map_err(|e| e.to_string())?;
        artifact::compile(module, &*isa, false, options.listening).map_err(|e| e.to_string())
    }
}

impl Engine for Compiler {
    fn name(&self) -> &'static str {
        "compiler"
    }

    fn compile(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        let isa = self.host_isa()?;
        let art = artifact::compile(module, &**isa, self.guarded, options.listening)?;
        let code = artifact::Loaded::load(art).map_err(CompileError::Engine)?;
        Ok(Arc::new(Code::new(code, self.guarded)))
    }

    /// The target triple, the CPU features Cranelift detected on the host and every setting
    /// that affects code generation.
    fn cache_id(&self) -> Option<String> {
        let isa = self.isa.as_ref().ok()?;
        let mut id = format!("{} {}", isa.triple(), isa.name());
        for v in isa.isa_flags() {
            id.push_str(&format!(" {v}"));
        }
        id.push_str(&format!(" | {}", isa.flags()));
        if self.guarded {
            id.push_str(" | guarded memories");
        }
        Some(id)
    }

    fn serialize(&self, code: &dyn CompiledCode) -> Option<Vec<u8>> {
        let code = code.as_any().downcast_ref::<Code>()?;
        Some(code.code.to_artifact().to_bytes())
    }

    fn deserialize(
        &self,
        module: &Arc<keel_decode::Module>,
        bytes: &[u8],
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        self.host_isa()?;
        let art = Artifact::from_bytes(bytes, module).map_err(CompileError::Cache)?;
        if art.listening != options.listening {
            return Err(CompileError::Cache("another variant (listening or not)".into()).into());
        }
        let code = artifact::Loaded::load(art).map_err(CompileError::Engine)?;
        Ok(Arc::new(Code::new(code, self.guarded)))
    }
}

/// A module's compiled code, loaded into executable memory.
struct Code {
    code: artifact::Loaded,
    /// Compiled for guarded memories.
    guarded: bool,
    /// The code, for the signal handler.
    regions: signals::Regions,
}

impl Code {
    fn new(code: artifact::Loaded, guarded: bool) -> Code {
        let regions = signals::Regions::new();
        // SAFETY: the code and its trap sites live in `code`, beside `regions` in this struct,
        // and are never written after loading.
        unsafe { regions.push(code.code(), code.trap_sites()) };
        Code { code, guarded, regions }
    }
}

/// This thread's native stack as entries into compiled code see it: one thread-local, read once
/// per entry (the entry from the host is the hot path of a host-to-Wasm call).
struct ThreadStack {
    /// The stack limit of the outermost entry into compiled code on this thread (0: none).
    limit: Cell<usize>,
    /// The lowest address a limit may have: the thread's stack bottom plus [`HOST_RESERVE`]
    /// (0: not asked yet; 1: the bounds are unknown).
    floor: Cell<usize>,
}

thread_local! {
    static STACK: ThreadStack = const { ThreadStack { limit: Cell::new(0), floor: Cell::new(0) } };
}

/// Native stack left above the limit of the entry into compiled code running on this thread;
/// `None` when there is none.
fn stack_room() -> Option<usize> {
    let limit = STACK.with(|s| s.limit.get());
    (limit != 0).then(|| stack_pointer().saturating_sub(limit))
}

/// The native stack budget of an outermost entry with `max_call_depth`, before the thread's own
/// bound: [`BYTES_PER_FRAME`] per frame within [32 KiB, [`STACK_BUDGET`]]. Computed once per
/// instance.
pub(crate) fn stack_budget(max_call_depth: u32) -> usize {
    (max_call_depth as usize).saturating_mul(BYTES_PER_FRAME).clamp(32 * 1024, STACK_BUDGET)
}

/// The limit of an outermost entry at stack pointer `sp`: `budget` bytes below it, and never
/// below the thread's stack bottom plus [`HOST_RESERVE`] (a small thread gets a small budget,
/// and an overflow is a trap rather than a fault of the host).
#[inline]
fn outer_limit(stack: &ThreadStack, sp: usize, budget: usize) -> usize {
    let floor = match stack.floor.get() {
        0 => stack_floor(stack),
        floor => floor,
    };
    if floor == 1 {
        return sp.saturating_sub(budget.min(FALLBACK_BUDGET));
    }
    sp.saturating_sub(budget).max(floor.min(sp))
}

/// Asks the system for this thread's stack bounds, once per thread.
#[cold]
#[inline(never)]
fn stack_floor(stack: &ThreadStack) -> usize {
    let floor = thread_stack_low().map_or(1, |low| low.saturating_add(HOST_RESERVE));
    stack.floor.set(floor);
    floor
}

/// The lowest address of the calling thread's stack, where the platform says.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn thread_stack_low() -> Option<usize> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed once;
    // the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        // The lowest page is the guard page of a spawned thread's stack: stay clear of it.
        (ok && !addr.is_null()).then(|| addr as usize + 64 * 1024)
    }
}

/// The lowest address of the calling thread's stack, where the platform says.
#[cfg(target_os = "macos")]
fn thread_stack_low() -> Option<usize> {
    // SAFETY: both calls only read the calling thread's own attributes.
    unsafe {
        let this = libc::pthread_self();
        let top = libc::pthread_get_stackaddr_np(this) as usize;
        let size = libc::pthread_get_stacksize_np(this);
        (top > size).then(|| top - size + 64 * 1024)
    }
}

/// The lowest address of the calling thread's stack, where the platform says.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn thread_stack_low() -> Option<usize> {
    None
}

struct LimitGuard(bool);

impl Drop for LimitGuard {
    fn drop(&mut self) {
        if self.0 {
            STACK.with(|s| s.limit.set(0));
        }
    }
}

#[inline(never)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

// SAFETY: compiled code and the libcalls touch the instance only inside `call`, on the calling
// thread; the instance state kept in its engine data holds raw pointers that only an entry,
// under the lock, uses.
unsafe impl CompiledCode for Code {
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        if self.code.listening() {
            return self.call_listening(instance, def_index, values);
        }
        self.enter(instance, def_index, values)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Code {
    /// An entry into listening code: a trap ends the listened calls it leaves unfinished.
    /// Out of line, so that the entry into plain code is what it was before listeners.
    #[cold]
    #[inline(never)]
    fn call_listening(
        &self,
        instance: &Instance,
        def_index: u32,
        values: &mut [u64],
    ) -> Result<(), Trap> {
        let scope = listen::Scope::begin();
        let result = self.enter(instance, def_index, values);
        scope.finish(&result);
        result
    }

    /// Runs defined function `def_index` through its entry trampoline.
    #[inline(always)]
    fn enter(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap> {
        let entry = Entry {
            code_table: self.code.function_ptrs().as_ptr(),
            regions: &self.regions,
            guarded: self.guarded,
        };
        let code = self.code.function_ptrs()[def_index as usize];
        let trampoline = self.code.trampoline(def_index);
        let base = self.code.code().as_ptr() as usize;
        // SAFETY: `trampoline` was compiled for the signature of function `def_index`, whose
        // code is at `code`; `values` holds at least as many slots as the function's
        // parameters and results (the `CompiledCode::call` contract).
        unsafe {
            entry.run(instance, trampoline, code, values, |pc| {
                self.code.function_at(pc.checked_sub(base)? as u32)
            })
        }
    }
}

/// What an entry into compiled code needs besides the function: the instance's code array, the
/// code the signal handler may see fault, and whether that code is for guarded memories.
pub(crate) struct Entry<'a> {
    pub(crate) code_table: *const *const u8,
    pub(crate) regions: &'a signals::Regions,
    pub(crate) guarded: bool,
}

impl Entry<'_> {
    /// Calls `trampoline(vmctx, code, values)` for `instance`, with the stack limit set and
    /// traps collected; `function_at` names the defined function whose code holds an address
    /// (for the frames of a fault on a guard page).
    ///
    /// # Safety
    /// `trampoline` is an entry trampoline (or an on-stack-replacement entry) compiled for
    /// this module, of the signature of the function at `code`, and `values` is as long as it
    /// reads and writes. The caller holds the instance's exec lock.
    #[inline(always)]
    pub(crate) unsafe fn run(
        &self,
        instance: &Instance,
        trampoline: *const u8,
        code: *const u8,
        values: &mut [u64],
        function_at: impl Fn(usize) -> Option<u32>,
    ) -> Result<(), Trap> {
        let st = instance
            .engine_data(|| InstanceState::new(instance, self.code_table, libcalls::table()));
        let vmctx = st.vmctx.get();
        // SAFETY: the caller holds the instance's exec lock, so this thread alone uses the
        // context; `st` lives as long as the instance (boxed in its engine data).
        unsafe { (*vmctx).state = st };
        let sp = stack_pointer();
        let (limit, outer) = STACK.with(|s| match s.limit.get() {
            0 => {
                let limit = outer_limit(s, sp, st.stack_budget);
                s.limit.set(limit);
                (limit, true)
            }
            limit => (limit, false),
        });
        let _guard = LimitGuard(outer);
        if sp < limit + 16 * 1024 {
            return Err(Trap::from(TrapCode::StackOverflow));
        }
        // SAFETY: the caller holds the instance's exec lock, so this thread alone uses the
        // context.
        unsafe { (*vmctx).stack_limit = limit };
        // Code without bounds checks must never run on a memory without a guard region (one
        // made by a runtime with another reservation policy and imported here).
        if self.guarded && st.unguarded_memory {
            return Err(Trap::host(
                "this module was compiled for guarded memories, but its memory is not guarded",
            ));
        }
        let mut activation = signals::Activation::new(self.regions);
        // SAFETY: the caller's contract; `vmctx` is this instance's live context; the
        // activation describes the code that may run. Compiled code never unwinds: traps come
        // back through the trap word, or, on a guard page, through the signal handler, which
        // only skips frames of this code.
        let faulted = unsafe {
            signals::enter(trampoline, vmctx.cast(), code, values.as_mut_ptr(), &mut activation)
        };
        if faulted {
            st.take();
            let mut trap = Trap::from(TrapCode::MemoryOutOfBounds);
            for pc in activation.frames() {
                if let Some(def) = function_at(pc) {
                    let index = instance.module().map_or(0, |m| m.num_imported_functions) + def;
                    trap.push_frame(instance.frame_info(index));
                }
            }
            return Err(trap);
        }
        let Some(trap) = st.take() else { return Ok(()) };
        // A caught panic always stops the guest with a trap, so only a trapped call looks.
        if let Some(payload) = libcalls::PANIC.with(|p| p.borrow_mut().take()) {
            std::panic::resume_unwind(payload);
        }
        Err(trap)
    }
}

impl Compiler {
    /// The host's code generator, or why there is none.
    pub(crate) fn host_isa(&self) -> Result<&OwnedTargetIsa, Error> {
        let unsupported = |detail: &str| {
            let detail = detail.to_string();
            Err(CompileError::UnsupportedHost { engine: "compiler", detail }.into())
        };
        match &self.isa {
            Err(e) => unsupported(e),
            Ok(_) if !Compiler::is_supported() => unsupported(""),
            Ok(isa) if isa.pointer_bits() != 64 => unsupported("it needs a 64-bit target"),
            Ok(isa) => Ok(isa),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host Cranelift has no backend for: what `cranelift_native` answers on riscv32, say.
    fn compiler_without_isa() -> Compiler {
        Compiler { isa: Err("no backend for this host".into()), guarded: false }
    }

    #[test]
    fn a_host_without_a_backend_is_an_unsupported_host_error() {
        let wasm = wat::parse_str("(module (func (export \"f\")))").unwrap();
        let module = Arc::new(keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap());
        let options = CompileOptions::default();
        let compiler = compiler_without_isa();
        let refused = [
            compiler.compile(&module, options).err(),
            compiler.deserialize(&module, &[], options).err(),
            compiler.tier(&module, options).err(),
        ];
        for err in refused {
            match err {
                Some(Error::Compile(CompileError::UnsupportedHost { engine, detail })) => {
                    assert_eq!((engine, detail.as_str()), ("compiler", "no backend for this host"));
                }
                other => panic!("expected an unsupported host, got {other:?}"),
            }
        }
    }
}
