//! Out-of-bounds accesses to guarded memories: a fault becomes a `MemoryOutOfBounds` trap.
//!
//! Code compiled for guarded memories (see `keel_runtime::vm::MemoryData::is_guarded`) accesses
//! linear memory without a bounds check when the static offset is below the guard: an access
//! past the memory's length touches an inaccessible page and the CPU raises SIGSEGV (or SIGBUS).
//! Cranelift records the offset of every such access (a *trap site*, `HEAP_OUT_OF_BOUNDS`).
//!
//! Every entry from Rust into compiled code goes through [`enter`], which saves the registers
//! the System V ABI says a callee preserves and the stack pointer in an [`Activation`] on the
//! Rust stack, and makes it the thread's current one. The signal handler looks at the current
//! activation: if the faulting instruction is one of its code's trap sites, it walks the frame
//! pointers to record the Wasm frames, then resumes the thread at `keel_unwind`, which restores
//! the saved registers and returns 1 from `enter`, as if the trampoline had returned. Anything
//! else (no activation, a fault elsewhere: in Rust, in a host function) goes to the handler that
//! was installed before ours, so a real crash still crashes and Rust's stack-overflow report
//! still works.
//!
//! Why one activation per entry is enough: compiled code calls only its own instance's
//! functions natively; calls to imports and to other instances' functions go through the runtime
//! and so enter again with an activation of their own. The frames between a fault and its
//! activation are therefore all this instance's compiled functions, which never hold Rust state
//! that unwinding would skip (no destructor runs in compiled code).
//!
//! Linux on x86_64 only (the registers' places in `ucontext_t` and the assembly are per target);
//! elsewhere memories are not guarded and compiled code checks every access.

use std::cell::{Cell, UnsafeCell};
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Most frames of a trap's trace recorded from the stack (more are left out).
pub(crate) const MAX_FRAMES: usize = 512;

/// The state of one entry into compiled code; lives on the Rust stack for the call.
#[repr(C)]
pub(crate) struct Activation {
    /// rbx, rbp, r12, r13, r14, r15, rsp after return, return address: read by the assembly,
    /// so first and in this order.
    saved: [usize; 8],
    /// The code this entry may run: a fault is ours only at one of its trap sites.
    regions: *const Regions,
    /// The activation this one runs inside of (a host function called from Wasm that calls
    /// Wasm again), current again when this one ends.
    previous: *const Activation,
    /// Set by the signal handler: how many frames it wrote to the thread's [`FRAMES`].
    num_frames: usize,
}

/// One piece of loaded code, as the signal handler sees it.
#[repr(C)]
struct Region {
    start: usize,
    len: usize,
    /// Offsets of its trap sites from `start`, sorted.
    trap_sites: *const u32,
    trap_sites_len: usize,
    next: *const Region,
}

/// The code an entry may run: one region for a module compiled whole, one more per batch of
/// functions a tiered module compiles in the background. A list that only grows, pushed to
/// under the owner's lock and read without one (by the signal handler too), so it never
/// allocates or blocks where it is read.
#[repr(C)]
pub(crate) struct Regions {
    head: AtomicPtr<Region>,
}

// SAFETY: the regions' pointers point to code and trap sites that the owner keeps alive and
// never writes after pushing; the list itself is read and appended atomically.
unsafe impl Send for Regions {}
// SAFETY: as above.
unsafe impl Sync for Regions {}

impl Regions {
    /// An empty list.
    pub(crate) fn new() -> Regions {
        Regions { head: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// Adds `code` with its trap sites (offsets from its start, sorted). Pushes must not race
    /// each other (the owner serialises them); reads may run at any time.
    ///
    /// # Safety
    /// Both slices must stay alive and unchanged as long as `self`.
    pub(crate) unsafe fn push(&self, code: &[u8], trap_sites: &[u32]) {
        let region = Box::new(Region {
            start: code.as_ptr() as usize,
            len: code.len(),
            trap_sites: trap_sites.as_ptr(),
            trap_sites_len: trap_sites.len(),
            next: self.head.load(Ordering::Acquire),
        });
        self.head.store(Box::into_raw(region), Ordering::Release);
    }

    fn iter(&self) -> impl Iterator<Item = &Region> {
        let mut at = self.head.load(Ordering::Acquire) as *const Region;
        std::iter::from_fn(move || {
            // SAFETY: every pointer in the list is a leaked `Box<Region>`, freed only when the
            // list is dropped (and `&self` keeps it alive).
            let r = unsafe { at.as_ref()? };
            at = r.next;
            Some(r)
        })
    }

    /// Whether `pc` is in one of the regions.
    pub(crate) fn contains(&self, pc: usize) -> bool {
        self.iter().any(|r| pc.wrapping_sub(r.start) < r.len)
    }

    fn is_trap_site(&self, pc: usize) -> bool {
        self.iter().any(|r| {
            let offset = pc.wrapping_sub(r.start);
            if offset >= r.len {
                return false;
            }
            // SAFETY: the push contract keeps the trap sites alive as long as the list.
            let sites = unsafe { std::slice::from_raw_parts(r.trap_sites, r.trap_sites_len) };
            sites.binary_search(&(offset as u32)).is_ok()
        })
    }
}

impl Drop for Regions {
    fn drop(&mut self) {
        let mut at = *self.head.get_mut();
        while !at.is_null() {
            // SAFETY: each region was leaked from a box by `push` and is freed once, here.
            let r = unsafe { Box::from_raw(at) };
            at = r.next as *mut Region;
        }
    }
}

thread_local! {
    /// The innermost activation of this thread (null outside compiled code). A plain pointer in
    /// a `const`-initialised cell: reading it in a signal handler allocates nothing.
    static CURRENT: Cell<*const Activation> = const { Cell::new(std::ptr::null()) };

    /// The frames of the thread's last trap on a guard page: return addresses (the faulting pc
    /// first) of the compiled frames between the fault and the entry. Kept out of
    /// [`Activation`] so that an entry does not pay for initialising them; read right after
    /// the fault, before anything can trap again on this thread.
    static FRAMES: UnsafeCell<[usize; MAX_FRAMES]> = const { UnsafeCell::new([0; MAX_FRAMES]) };
}

impl Activation {
    /// An activation for entering the code of `regions`.
    pub(crate) fn new(regions: &Regions) -> Activation {
        Activation { saved: [0; 8], regions, previous: std::ptr::null(), num_frames: 0 }
    }

    /// The recorded frames (code addresses), innermost first.
    pub(crate) fn frames(&self) -> Vec<usize> {
        // SAFETY: only the signal handler writes the buffer, on this thread, and it has
        // returned; no other reference to it exists.
        FRAMES.with(|f| unsafe { (&(*f.get()))[..self.num_frames].to_vec() })
    }

    fn regions(&self) -> &Regions {
        // SAFETY: the caller of `enter` keeps the regions alive for the whole entry.
        unsafe { &*self.regions }
    }

    fn is_trap_site(&self, pc: usize) -> bool {
        self.regions().is_trap_site(pc)
    }
}

/// Calls `trampoline(vmctx, code, values)` with `activation` current; returns whether compiled
/// code faulted on a guard page (then the activation holds the frames).
///
/// # Safety
/// The same as calling the trampoline directly, and `activation` must describe the code that
/// the trampoline enters. [`install`] must have been called.
pub(crate) unsafe fn enter(
    trampoline: *const u8,
    vmctx: *mut u8,
    code: *const u8,
    values: *mut u64,
    activation: &mut Activation,
) -> bool {
    activation.previous = CURRENT.with(|c| c.replace(activation as *const Activation));
    // SAFETY: the caller's contract; `keel_enter` saves what `keel_unwind` restores, in
    // `activation`, which lives until it returns.
    let faulted = unsafe { imp::keel_enter(trampoline, vmctx, code, values, activation) };
    CURRENT.with(|c| c.set(activation.previous));
    faulted != 0
}

/// Installs the signal handler, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(imp::install);
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp {
    use super::{Activation, CURRENT, FRAMES, MAX_FRAMES};
    use std::mem::MaybeUninit;
    use std::sync::OnceLock;

    unsafe extern "C" {
        /// `(trampoline, vmctx, code, values, activation) -> 0`, or 1 when resumed by the
        /// signal handler through `keel_unwind`.
        pub(super) fn keel_enter(
            trampoline: *const u8,
            vmctx: *mut u8,
            code: *const u8,
            values: *mut u64,
            activation: *mut Activation,
        ) -> u64;
        fn keel_unwind();
    }

    // keel_enter: saves the callee-saved registers, the stack pointer the caller will have after
    // the return, and the return address in activation.saved (r8), then calls the trampoline.
    // keel_unwind (rdi = activation): restores them and returns 1 to keel_enter's caller.
    std::arch::global_asm!(
        ".pushsection .text.keel_enter,\"ax\",@progbits",
        ".globl keel_enter",
        ".type keel_enter,@function",
        ".p2align 4",
        "keel_enter:",
        "mov [r8 + 0], rbx",
        "mov [r8 + 8], rbp",
        "mov [r8 + 16], r12",
        "mov [r8 + 24], r13",
        "mov [r8 + 32], r14",
        "mov [r8 + 40], r15",
        "lea rax, [rsp + 8]",
        "mov [r8 + 48], rax",
        "mov rax, [rsp]",
        "mov [r8 + 56], rax",
        "mov rax, rdi",
        "mov rdi, rsi",
        "mov rsi, rdx",
        "mov rdx, rcx",
        "sub rsp, 8",
        "call rax",
        "add rsp, 8",
        "xor eax, eax",
        "ret",
        ".size keel_enter, . - keel_enter",
        ".globl keel_unwind",
        ".type keel_unwind,@function",
        ".p2align 4",
        "keel_unwind:",
        "mov rbx, [rdi + 0]",
        "mov rbp, [rdi + 8]",
        "mov r12, [rdi + 16]",
        "mov r13, [rdi + 24]",
        "mov r14, [rdi + 32]",
        "mov r15, [rdi + 40]",
        "mov rsp, [rdi + 48]",
        "mov eax, 1",
        "jmp qword ptr [rdi + 56]",
        ".size keel_unwind, . - keel_unwind",
        ".popsection",
    );

    /// The handlers that were installed before ours, for SIGSEGV and SIGBUS.
    static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

    pub(super) fn install() {
        let mut previous = [MaybeUninit::<libc::sigaction>::zeroed(); 2];
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: a zeroed sigaction is valid; the handler has the SA_SIGINFO signature;
            // `sigaction` writes the previous action into `previous[i]`.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, previous[i].as_mut_ptr());
            }
        }
        // SAFETY: both were written by `sigaction` (or stay zeroed, i.e. SIG_DFL, if it failed).
        let previous = previous.map(|p| unsafe { p.assume_init() });
        let _ = PREVIOUS.set(previous);
    }

    /// The signal handler. Async-signal-safe: it reads a thread-local pointer, the activation
    /// and the faulting thread's stack, and writes the activation and the context.
    unsafe extern "C" fn handler(
        sig: libc::c_int,
        info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        let activation = CURRENT.with(|c| c.get()) as *mut Activation;
        let uc = ctx as *mut libc::ucontext_t;
        if !activation.is_null() && !uc.is_null() {
            // SAFETY: the kernel passes a valid context; a non-null current activation lives on
            // this thread's stack for as long as compiled code runs (`enter`).
            unsafe {
                let regs = &mut (*uc).uc_mcontext.gregs;
                let pc = regs[libc::REG_RIP as usize] as usize;
                let act = &mut *activation;
                if act.is_trap_site(pc) {
                    record_frames(act, pc, regs[libc::REG_RBP as usize] as usize);
                    regs[libc::REG_RIP as usize] = keel_unwind as *const () as usize as i64;
                    regs[libc::REG_RDI as usize] = activation as usize as i64;
                    return;
                }
            }
        }
        // SAFETY: forwarding the signal with the arguments we were given.
        unsafe { forward(sig, info, ctx) };
    }

    /// Walks the frame-pointer chain from the faulting function (compiled code keeps frame
    /// pointers) while the return addresses stay inside the activation's code.
    ///
    /// # Safety
    /// `fp` is the frame pointer of compiled code running under `act`.
    unsafe fn record_frames(act: &mut Activation, pc: usize, mut fp: usize) {
        // SAFETY: the buffer belongs to this thread, and nothing else uses it while compiled
        // code runs.
        let frames = FRAMES.with(|f| unsafe { &mut *f.get() });
        let mut n = 0;
        let mut at = pc;
        // The stack ends at the entry's stack pointer: no frame of this activation is above it.
        let top = act.saved[6];
        while act.regions().contains(at) {
            if n == MAX_FRAMES {
                break;
            }
            frames[n] = at;
            n += 1;
            if fp == 0 || !fp.is_multiple_of(8) || fp >= top {
                break;
            }
            // SAFETY: `fp` is a frame pointer of compiled code below the entry's stack pointer,
            // so [fp, fp + 16) is on this thread's stack: the saved frame pointer and the
            // return address.
            let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            // A return address points after its call: the call itself is one byte back.
            at = ret.wrapping_sub(1);
            if next_fp <= fp {
                break;
            }
            fp = next_fp;
        }
        act.num_frames = n;
    }

    /// Hands the signal to the handler installed before ours; with none, restores the default
    /// action and returns, so that the faulting instruction runs again and the process dies of
    /// the signal as it would have without keel.
    unsafe fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let Some(previous) = PREVIOUS.get() else { return };
        let prev = &previous[if sig == libc::SIGBUS { 1 } else { 0 }];
        let handler = prev.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // SAFETY: restoring a previously valid action.
            unsafe { libc::sigaction(sig, prev, std::ptr::null_mut()) };
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with this signature.
            unsafe {
                let f: unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(handler);
                f(sig, info, ctx);
            }
        } else {
            // SAFETY: the previous handler was installed with this signature.
            unsafe {
                let f: unsafe extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                f(sig);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod imp {
    use super::Activation;

    /// Without guard support compiled code never faults: a plain call.
    pub(super) unsafe fn keel_enter(
        trampoline: *const u8,
        vmctx: *mut u8,
        code: *const u8,
        values: *mut u64,
        _: *mut Activation,
    ) -> u64 {
        type Trampoline = unsafe extern "C" fn(*mut u8, *const u8, *mut u64);
        // SAFETY: the contract of `super::enter`.
        unsafe {
            let f: Trampoline = std::mem::transmute::<*const u8, Trampoline>(trampoline);
            f(vmctx, code, values);
        }
        0
    }

    pub(super) fn install() {}
}
