//! The dispatch loop.
//!
//! One call from the host runs in one loop: Wasm-to-Wasm calls push a [`Frame`] on a frame stack
//! and continue in the same loop, so guest recursion never recurses natively. The value stack is
//! one `Vec<u64>`; each function's frame is a window of it starting at `base`, and a call's frame
//! starts where the caller laid out the arguments.

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use keel_ir::Instr;
use keel_ir::instr::Reg;
use keel_runtime::vm::{FuncData, FuncKind, Instance, LockGuard, MemoryData, PAGE_SIZE, listen};
use keel_runtime::{Trap, TrapCode};

use crate::ops::*;
use crate::tier::TierStep;
use crate::{Func, InterpCode, ListeningCode};

/// The instruction pointer.
type Ip = *const Op;

/// An instruction as the interpreter runs it: with its handler's address, so that dispatching
/// is one load and an indirect jump (direct threading) rather than a load of the tag, a load
/// from the handler table and the jump.
#[derive(Clone, Copy)]
pub(crate) struct Op {
    handler: Handler,
    instr: Instr,
}

impl Op {
    pub(crate) fn new(instr: Instr) -> Op {
        Op { handler: HANDLERS[instr.tag() as usize], instr }
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instr.fmt(f)
    }
}

/// A suspended caller.
struct Frame<'a> {
    func: &'a Func,
    /// Where the caller continues.
    ret: Ip,
    /// The caller's frame base.
    base: usize,
    instance: &'a Instance,
    code: &'a InterpCode,
}

/// The slots of the running function's frame.
///
/// Invariant: `Regs` points at the first slot of a frame of at least `frame_size` slots of the
/// value stack, for the function whose instructions are running, and is re-derived whenever the
/// value stack may have moved (after a call or a return).
#[derive(Clone, Copy)]
pub(crate) struct Regs(*mut u64);

impl Regs {
    /// # Safety
    /// `base` must point at `frame_size` live slots of the running function (see the type docs).
    #[inline(always)]
    unsafe fn new(base: *mut u64) -> Regs {
        Regs(base)
    }

    #[inline(always)]
    fn get(self, r: Reg) -> u64 {
        // SAFETY: the translator guarantees every slot an instruction names is below the
        // function's frame size, and the frame was reserved before entry (type invariant).
        unsafe { *self.0.add(r as usize) }
    }

    #[inline(always)]
    fn set(self, r: Reg, v: u64) {
        // SAFETY: as in `get`.
        unsafe { *self.0.add(r as usize) = v }
    }

    /// The v128 in slots `r` (low half) and `r + 1`.
    #[inline(always)]
    fn get128(self, r: Reg) -> u128 {
        // SAFETY: as in `get`: the translator names a v128 by its first slot and keeps both
        // below the frame size.
        let [lo, hi] = unsafe { *(self.0.add(r as usize) as *const [u64; 2]) };
        lo as u128 | (hi as u128) << 64
    }

    #[inline(always)]
    fn set128(self, r: Reg, v: u128) {
        // SAFETY: as in `get128`.
        unsafe { *(self.0.add(r as usize) as *mut [u64; 2]) = [v as u64, (v >> 64) as u64] }
    }

    /// The lanes of the v128 in slots `r` and `r + 1`.
    #[inline(always)]
    fn lanes<T: crate::v128::Lane, const N: usize>(self, r: Reg) -> [T; N] {
        const { assert!(N * T::BITS == 128) };
        #[cfg(target_endian = "little")]
        // SAFETY: as in `get128` for the bounds; on a little-endian host the two slots' bytes
        // are the v128's bytes in Wasm's lane order; `[T; N]` is 16 bytes, its alignment at most
        // the slots' 8, and `Lane` types take any bit pattern.
        return unsafe { *(self.0.add(r as usize) as *const [T; N]) };
        #[cfg(not(target_endian = "little"))]
        return crate::v128::lanes(self.get128(r));
    }

    /// Writes `lanes` as the v128 in slots `r` and `r + 1`.
    #[inline(always)]
    fn set_lanes<T: crate::v128::Lane, const N: usize>(self, r: Reg, lanes: [T; N]) {
        const { assert!(N * T::BITS == 128) };
        #[cfg(target_endian = "little")]
        // SAFETY: as in `lanes`.
        unsafe {
            *(self.0.add(r as usize) as *mut [T; N]) = lanes
        };
        #[cfg(not(target_endian = "little"))]
        self.set128(r, crate::v128::join(lanes));
    }
}

/// Linear memory 0 as the loop sees it: the base never moves; `len` is reloaded after anything
/// that can grow the memory. The only bounds check of the interpreter is here.
#[derive(Clone, Copy)]
struct Mem<'a> {
    base: *mut u8,
    len: usize,
    data: Option<&'a MemoryData>,
}

impl<'a> Mem<'a> {
    fn of(instance: &'a Instance) -> Mem<'a> {
        match instance.memories().first() {
            Some(m) => Mem { base: m.base(), len: m.len(), data: Some(m) },
            None => Mem { base: ptr::null_mut(), len: 0, data: None },
        }
    }

    #[inline(always)]
    fn reload(&mut self) {
        if let Some(m) = self.data {
            self.len = m.len();
        }
    }

    /// The effective address of an access: `addr + offset` without wrapping.
    #[inline(always)]
    fn ea(addr: u64, offset: u32) -> u64 {
        (addr as u32 as u64) + offset as u64
    }

    /// The effective address of an access through a folded `i32.shl`: `packed` is the shift
    /// in its top 8 bits and the static offset in the rest.
    #[inline(always)]
    fn ea_shl(addr: u64, packed: u32) -> u64 {
        (((addr as u32) << (packed >> 24)) as u64) + (packed & 0xFF_FFFF) as u64
    }

    /// The effective address of an access through a folded `i32.shl` and `i32.add`: wrapping.
    #[inline(always)]
    fn ea_shl_add(addr: u64, packed: u32) -> u64 {
        ((addr as u32) << (packed >> 24)).wrapping_add(packed & 0xFF_FFFF) as u64
    }

    /// The effective address of an access through a folded `i32.add`: wrapping.
    #[inline(always)]
    fn ea_add(addr: u64, imm: u32) -> u64 {
        (addr as u32).wrapping_add(imm) as u64
    }

    /// The address of `[ea, ea + N)`, if inside the memory. The one bounds check.
    #[inline(always)]
    fn at<const N: usize>(&self, ea: u64) -> Option<*mut u8> {
        if ea + N as u64 <= self.len as u64 {
            // SAFETY: `ea + N <= len <= ` the committed size of the reservation starting at
            // `base` (memories never shrink), so the pointer stays inside it.
            Some(unsafe { self.base.add(ea as usize) })
        } else {
            None
        }
    }

    #[inline(always)]
    fn load<const N: usize>(&self, ea: u64) -> Option<[u8; N]> {
        let p = self.at::<N>(ea)?;
        // SAFETY: `at` checked that N bytes at `p` are inside the memory; a byte array needs no
        // alignment. (Not `read_unaligned`: with debug assertions, its overlap check takes the
        // address of a stack temporary, which stops the handler's dispatch from being a tail call.)
        Some(unsafe { *(p as *const [u8; N]) })
    }

    #[inline(always)]
    fn store<const N: usize>(&self, ea: u64, bytes: [u8; N]) -> bool {
        match self.at::<N>(ea) {
            Some(p) => {
                // SAFETY: as in `load`; the exec lock gives this thread sole access to the memory.
                unsafe { *(p as *mut [u8; N]) = bytes };
                true
            }
            None => false,
        }
    }
}

/// Adds the Wasm stack trace (innermost first) to a trap.
fn with_trace(mut trap: Trap, instance: &Instance, func: &Func, frames: &[Frame<'_>]) -> Trap {
    trap.push_frame(instance.frame_info(func.func_index));
    for f in frames.iter().rev() {
        trap.push_frame(f.instance.frame_info(f.func.func_index));
    }
    trap
}

/// Grows the value stack to at least `need` slots; `false` past `max`.
#[cold]
fn grow(stack: &mut Vec<u64>, need: usize, max: usize) -> bool {
    if need > max {
        return false;
    }
    let new = (stack.len() * 2).max(need).min(max);
    stack.resize(new, 0);
    true
}

/// Runs defined function `def_index` of `instance` with `values` as parameters and results.
pub(crate) fn run(
    code: &InterpCode,
    instance: &Instance,
    def_index: u32,
    values: &mut [u64],
) -> Result<(), Trap> {
    if code.listening {
        return run_listening(code, instance, def_index, values);
    }
    run_code(code, instance, def_index, values)
}

/// An entry into listening bytecode: a trap ends the listened calls it leaves unfinished. Out
/// of line, so that the entry into plain bytecode is what it was before listeners.
#[cold]
#[inline(never)]
fn run_listening(
    code: &InterpCode,
    instance: &Instance,
    def_index: u32,
    values: &mut [u64],
) -> Result<(), Trap> {
    let scope = listen::Scope::begin();
    let result = run_code(code, instance, def_index, values);
    scope.finish(&result);
    result
}

/// What an entry runs, plain or listening.
#[inline(always)]
fn run_code(
    code: &InterpCode,
    instance: &Instance,
    def_index: u32,
    values: &mut [u64],
) -> Result<(), Trap> {
    let func = code.func(def_index)?;
    let limits = *instance.limits();
    let frame = func.frame_size as usize;
    if frame > limits.max_stack_slots {
        return Err(with_trace(TrapCode::StackOverflow.into(), instance, func, &[]));
    }
    // A value stack left by an earlier call on this thread, if any: allocating and zeroing
    // 8 KiB was most of the cost of a call from the host. Its old contents are never read:
    // every slot is written before it is read (parameters and `init` on entry, temporaries by
    // their instructions, results by the callee).
    let mut stack = SPARE_STACK.take();
    let want = frame.max(1024).min(limits.max_stack_slots);
    if stack.len() < want {
        stack.resize(want, 0);
    } else if stack.len() > limits.max_stack_slots {
        stack.truncate(limits.max_stack_slots);
    }
    let np = func.num_params as usize;
    stack[..np].copy_from_slice(&values[..np]);
    stack[np..np + func.init.len()].copy_from_slice(&func.init);
    let mut done = false;
    let mut ctx = Ctx {
        stack,
        frames: Vec::new(),
        guards: Vec::new(),
        max_depth: limits.max_call_depth.max(1) as usize,
        max_slots: limits.max_stack_slots,
        instance,
        code,
        func,
        base: 0,
        mem: Mem::of(instance),
        trap: None,
        next: (ptr::null(), Regs(ptr::null_mut())),
        stack_limit: 0,
        interrupt: instance.interrupt_flag(),
    };
    // A pending interrupt stops the call before its first instruction.
    if ctx.interrupt.load(Ordering::Relaxed) != 0 {
        ctx.interrupted();
    } else {
        // SAFETY: the stack was sized for the entry function's frame at 0.
        let regs = unsafe { Regs::new(ctx.stack.as_mut_ptr()) };
        if let Flow::Done = execute(func.ops.as_ptr(), regs, &mut ctx) {
            let nr = func.num_results as usize;
            values[..nr].copy_from_slice(&ctx.stack[..nr]);
            done = true;
        }
    }
    let result = if done {
        Ok(())
    } else {
        Err(ctx.trap.take().unwrap_or_else(|| TrapCode::Unreachable.into()))
    };
    if ctx.stack.len() <= SPARE_STACK_MAX {
        SPARE_STACK.set(std::mem::take(&mut ctx.stack));
    }
    result
}

thread_local! {
    /// The value stack of the last call from the host on this thread that returned, for the
    /// next one. (A call from a host function called by Wasm finds it taken and allocates.)
    static SPARE_STACK: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Value stacks larger than this (slots) are freed rather than kept for the next call.
const SPARE_STACK_MAX: usize = 1 << 16;

/// What a handler tells the dispatcher.
pub(crate) enum Flow {
    /// Go on at `Ctx::next` (loop dispatch only).
    #[allow(dead_code)]
    Continue,
    /// The entry function returned.
    Done,
    /// A trap, in `Ctx::trap`.
    Trap,
}

/// The execution state besides the instruction pointer and the frame, which handlers pass
/// along as arguments.
pub(crate) struct Ctx<'a> {
    stack: Vec<u64>,
    frames: Vec<Frame<'a>>,
    /// Locks of other instance groups taken by cross-instance calls, with the frame depth of
    /// the callee.
    guards: Vec<(usize, LockGuard<'a>)>,
    max_depth: usize,
    max_slots: usize,
    instance: &'a Instance,
    code: &'a InterpCode,
    func: &'a Func,
    base: usize,
    mem: Mem<'a>,
    trap: Option<Trap>,
    /// Where to continue, for the loop dispatcher.
    #[allow(dead_code)]
    next: (Ip, Regs),
    /// The lowest native stack position handlers may run at: [`NATIVE_STACK_BUDGET`] below
    /// where `execute` started (see [`stack_guard`]).
    stack_limit: usize,
    /// The running instance's interrupt flag (`Instance::interrupt_flag`, 0: run on), switched
    /// with the instance; checked on function entry and taken jumps (see [`interrupt_check`]).
    interrupt: &'a AtomicU32,
}

/// How far below `execute`'s own frame the handlers of one execution may push the native stack.
/// With threaded dispatch, handlers jump to each other and the stack stays where `execute` put
/// it (plus one handler's frame); the guard only ever fires if a handler was compiled to a real
/// call instead of a jump, where every executed instruction would leave a frame behind.
const NATIVE_STACK_BUDGET: usize = 256 * 1024;

/// The current native stack position, approximately (the stack pointer, or the address of a
/// local where reading the register is not implemented).
#[inline(always)]
fn stack_position() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: copies the stack pointer to a register; reads and writes nothing else.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp: usize;
        // SAFETY: copies the stack pointer to a register; reads and writes nothing else.
        unsafe {
            std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let marker = 0u8;
        std::hint::black_box(&marker) as *const u8 as usize
    }
}

/// The native stack overflow guard, run where every unbounded execution passes (taken jumps,
/// calls, returns): a trap instead of a crash if the dispatch ever grows the native stack per
/// instruction (a handler compiled to a call instead of a jump, by a future compiler, on another
/// target, or because a new handler keeps a value with a destructor alive across its dispatch).
macro_rules! stack_guard {
    ($ctx:ident) => {
        if stack_position() < $ctx.stack_limit {
            return $ctx.native_stack_exhausted();
        }
    };
}

/// The interrupt check, run at function entry (after the callee's frame is pushed) and on every
/// taken jump and `br_table` (which every loop's back edge is): an `Interrupted` trap, with the
/// stack trace, once another thread has set the running instance's flag.
macro_rules! interrupt_check {
    ($ctx:ident) => {
        if $ctx.interrupt.load(Ordering::Relaxed) != 0 {
            return $ctx.interrupted();
        }
    };
}

/// A Wasm function of an interpreter instance, to enter in the same loop.
type Target<'a> = (&'a Func, &'a Instance, &'a InterpCode);

/// One instruction's implementation.
///
/// Memory 0's base and length travel in registers too (they are copies of `Ctx::mem`, which
/// handlers that can change them re-read).
type Handler = for<'a, 'c> fn(Ip, Regs, &'c mut Ctx<'a>, *mut u8, usize) -> Flow;

impl<'a> Ctx<'a> {
    /// The trap of [`stack_guard`]: an internal error, not a guest's fault.
    #[cold]
    #[inline(never)]
    fn native_stack_exhausted(&mut self) -> Flow {
        self.trap(Trap::host(
            "internal error: the interpreter's dispatch grew the native stack past its budget \
             (an instruction handler was not compiled to a tail call)",
        ))
    }

    /// The trap of [`interrupt_check`]: the flag stays set; `FuncData::call_raw` consumes it
    /// when the trap leaves the instance.
    #[cold]
    #[inline(never)]
    fn interrupted(&mut self) -> Flow {
        self.trap(TrapCode::Interrupted)
    }

    /// Records a trap with the stack trace.
    #[cold]
    #[inline(never)]
    fn trap(&mut self, t: impl Into<Trap>) -> Flow {
        self.trap = Some(with_trace(t.into(), self.instance, self.func, &self.frames));
        Flow::Trap
    }

    /// Pushes a frame for `callee` (of `inst`) starting at slot `at` of the current frame;
    /// `ret` is where the caller continues. The callee's first instruction and frame, or
    /// `None` past the limits.
    #[inline(always)]
    fn enter(
        &mut self,
        ret: Ip,
        at: Reg,
        callee: &'a Func,
        inst: &'a Instance,
        code: &'a InterpCode,
    ) -> Option<(Ip, Regs)> {
        if self.frames.len() + 1 >= self.max_depth {
            return None;
        }
        let new_base = self.base + at as usize;
        let end = new_base + callee.frame_size as usize;
        if end > self.stack.len() && !grow(&mut self.stack, end, self.max_slots) {
            return None;
        }
        self.frames.push(Frame {
            func: self.func,
            ret,
            base: self.base,
            instance: self.instance,
            code: self.code,
        });
        self.base = new_base;
        self.func = callee;
        // SAFETY: the stack holds at least `end` slots: the callee's frame.
        let regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(new_base)) };
        let init = &callee.init;
        // SAFETY: `num_params + init.len() <= frame_size` by construction of the translated
        // function, so the writes stay inside the callee's frame; `init` is not on the stack.
        unsafe {
            ptr::copy_nonoverlapping(
                init.as_ptr(),
                regs.0.add(callee.num_params as usize),
                init.len(),
            )
        };
        if !ptr::eq(inst, self.instance) {
            self.instance = inst;
            self.code = code;
            self.mem = Mem::of(inst);
            self.interrupt = inst.interrupt_flag();
        }
        Some((callee.ops.as_ptr(), regs))
    }

    /// Releases the lock taken for the returning frame. Out of line: dropping the guard in a
    /// handler would keep a stack temporary alive across its dispatch, which then could not be a
    /// tail call.
    #[cold]
    #[inline(never)]
    fn release_guard(&mut self) {
        self.guards.pop();
    }

    /// Pops the caller's frame on return (releasing locks taken for the callee): where it
    /// continues, or `None` when the entry function returns.
    #[inline(always)]
    fn leave(&mut self) -> Option<(Ip, Regs)> {
        let depth = self.frames.len();
        if let Some((d, _)) = self.guards.last()
            && *d == depth
        {
            self.release_guard();
        }
        let f = self.frames.pop()?;
        if !ptr::eq(f.instance, self.instance) {
            self.instance = f.instance;
            self.code = f.code;
            self.mem = Mem::of(f.instance);
            self.interrupt = f.instance.interrupt_flag();
        }
        self.mem.reload();
        self.func = f.func;
        self.base = f.base;
        // SAFETY: the caller's frame is still reserved below the callee's.
        let regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(f.base)) };
        Some((f.ret, regs))
    }

    /// Listening bytecode, at a function's start: reports the call to the function's listener,
    /// if it has one. Out of line, as every call a handler makes before its dispatch.
    #[inline(never)]
    fn listen_enter(&mut self) {
        let f = self.instance.func(self.func.func_index);
        if let Some(l) = f.listening.as_deref() {
            let n: usize = f.ty.params.iter().map(|t| t.slots()).sum();
            listen::enter(l, Some(self.instance), self.frame_slots(n));
        }
    }

    /// Listening bytecode, at a return: reports the results (in the frame's first slots) to the
    /// function's listener, if it has one.
    #[inline(never)]
    fn listen_return(&mut self) {
        let f = self.instance.func(self.func.func_index);
        if f.listening.is_some() {
            let n: usize = f.ty.results.iter().map(|t| t.slots()).sum();
            listen::leave(self.frame_slots(n));
        }
    }

    /// Defined function `def` of the running code, translated (on its first call: lazily
    /// translated code), or `None` with the trap recorded. The trap stays out of line: a
    /// `Trap` value alive in a handler keeps it from tail-calling the next one.
    #[inline(always)]
    fn own_func(&mut self, def: u32) -> Option<&'a Func> {
        match self.code.translated(def) {
            Some(f) => Some(f),
            None => self.translate_now(self.code, def),
        }
    }

    /// Translates `def` of `code` now, or records why it cannot be.
    #[cold]
    #[inline(never)]
    fn translate_now(&mut self, code: &'a InterpCode, def: u32) -> Option<&'a Func> {
        match code.func(def) {
            Ok(f) => Some(f),
            Err(t) => {
                self.trap(t);
                None
            }
        }
    }

    /// Tiered bytecode, at a function's start: counts the call; once the function has compiled
    /// code, runs it there instead. Out of line, as every call a handler makes before its
    /// dispatch (inlined, it kept the handler from tail-calling the next one).
    #[inline(never)]
    fn tier_enter(&mut self) -> TierStep {
        let def = self.func.func_index - self.code.num_imported();
        let tier = self.code.tier.as_ref().expect("tiered bytecode has a tier");
        if !tier.enter(def) || !tier.upper.has_room() {
            return TierStep::Interpret;
        }
        self.run_compiled(def, None)
    }

    /// Tiered bytecode, at a loop's head: counts the iteration; once the loop has an entry in
    /// compiled code, continues there. Out of line, as `tier_enter`.
    #[inline(never)]
    fn tier_loop(&mut self, loop_id: u32) -> TierStep {
        let def = self.func.func_index - self.code.num_imported();
        let tier = self.code.tier.as_ref().expect("tiered bytecode has a tier");
        if !tier.iterate(def, loop_id) || !tier.upper.has_room() {
            return TierStep::Interpret;
        }
        self.run_compiled(def, Some(loop_id))
    }

    /// Runs the current function in compiled code, from its start or from the head of loop
    /// `osr`, on this frame's slots: parameters (or locals) in, results out. A trap's trace
    /// then has the compiled frames, and the interpreted callers after them (not this frame
    /// again).
    #[cold]
    #[inline(never)]
    fn run_compiled(&mut self, def: u32, osr: Option<u32>) -> TierStep {
        let tier = self.code.tier.as_ref().expect("tiered bytecode has a tier");
        let f = self.instance.func(self.func.func_index);
        let slots = f.value_slots().max(self.func.frame_size as usize).max(1);
        let (start, end) = (self.base, self.base + slots);
        if end > self.stack.len() && !grow(&mut self.stack, end, self.max_slots) {
            self.trap(TrapCode::StackOverflow);
            return TierStep::Trapped;
        }
        let values = &mut self.stack[start..end];
        let result = match osr {
            None => tier.upper.call(self.instance, def, values),
            Some(l) => tier.upper.call_osr(self.instance, def, l, values),
        };
        match result {
            Ok(()) => {
                self.mem.reload();
                TierStep::Returned
            }
            Err(mut t) => {
                for f in self.frames.iter().rev() {
                    t.push_frame(f.instance.frame_info(f.func.func_index));
                }
                self.trap = Some(t);
                TierStep::Trapped
            }
        }
    }

    /// The first `n` slots of the running function's frame (at most the whole frame).
    fn frame_slots(&self, n: usize) -> &[u64] {
        &self.stack[self.base..self.base + n.min(self.func.frame_size as usize)]
    }

    /// Calls `f` (an import or a table entry that is not a function of this instance) with its
    /// frame at slot `at` of the current frame. A Wasm function of an interpreter instance is
    /// returned to be entered in the same loop (its locks taken if its group differs); anything
    /// else is called through [`FuncData::call_raw`] right here. Listening code is entered in
    /// the loop from listening code only (see [`ListeningCode`]).
    #[inline(never)]
    fn call_func_data(&mut self, f: &'a FuncData, at: Reg) -> Result<Option<Target<'a>>, Flow> {
        if let FuncKind::Wasm { def_index } = f.kind {
            let callee: &'a Instance = f.instance();
            if let Some(code) = callee.code().and_then(|c| c.as_any().downcast_ref::<InterpCode>())
            {
                return self.enter_in_loop(callee, code, def_index);
            }
            if self.code.listening
                && let Some(code) = listening_code(callee)
            {
                return self.enter_in_loop(callee, code, def_index);
            }
        }
        let start = self.base + at as usize;
        let end = start + f.value_slots();
        if end > self.stack.len() && !grow(&mut self.stack, end, self.max_slots) {
            return Err(self.trap(TrapCode::StackOverflow));
        }
        let instance = self.instance;
        // SAFETY: `value_slots` slots of this frame, whose parameters validated code wrote with
        // the callee's types (a call site's type is checked against the callee's signature).
        match unsafe { f.call_raw(Some(instance), &mut self.stack[start..end]) } {
            Ok(()) => {
                self.mem.reload();
                Ok(None)
            }
            Err(t) => Err(self.trap(t)),
        }
    }

    /// `def_index` of `callee`, of interpreter code, to be entered in this loop.
    #[inline(always)]
    fn enter_in_loop(
        &mut self,
        callee: &'a Instance,
        code: &'a InterpCode,
        def_index: u32,
    ) -> Result<Option<Target<'a>>, Flow> {
        if callee.is_closed() {
            let t = Trap::host(format!("module \"{}\" is closed", callee.name()));
            return Err(self.trap(t));
        }
        if !callee.locks().same(self.instance.locks()) {
            match callee.locks().lock_unborrowed() {
                Ok(guard) => self.guards.push((self.frames.len() + 1, guard)),
                Err(e) => return Err(self.trap(Trap::host(e))),
            }
        }
        match code.translated(def_index) {
            Some(f) => Ok(Some((f, callee, code))),
            None => match self.translate_now(code, def_index) {
                Some(f) => Ok(Some((f, callee, code))),
                None => Err(Flow::Trap),
            },
        }
    }

    /// The current frame, re-derived after the value stack may have been touched.
    #[inline(always)]
    fn regs(&mut self) -> Regs {
        // SAFETY: the current frame is reserved at `base`.
        unsafe { Regs::new(self.stack.as_mut_ptr().add(self.base)) }
    }
}

/// The listening bytecode of `instance`, if it runs on the interpreter's listening code.
#[cold]
#[inline(never)]
fn listening_code(instance: &Instance) -> Option<&InterpCode> {
    let code = instance.code()?.as_any().downcast_ref::<ListeningCode>()?;
    Some(&code.0)
}

/// The handler of the instruction at `ip`.
#[inline(always)]
fn handler(ip: Ip) -> Handler {
    // SAFETY: `ip` points at a valid instruction (see `fetch`).
    unsafe { (*ip).handler }
}

/// The lowest native stack position the handlers of an execution starting here may reach.
#[inline(always)]
fn native_stack_limit() -> usize {
    #[cfg(test)]
    if let Some(limit) = crate::tests::NATIVE_STACK_LIMIT.get() {
        return limit;
    }
    stack_position().saturating_sub(NATIVE_STACK_BUDGET)
}

/// Runs from `ip` until the entry function returns or a trap.
#[cfg(keel_tail_dispatch)]
fn execute(ip: Ip, regs: Regs, ctx: &mut Ctx<'_>) -> Flow {
    ctx.stack_limit = native_stack_limit();
    let (base, len) = (ctx.mem.base, ctx.mem.len);
    handler(ip)(ip, regs, ctx, base, len)
}

/// Runs from `ip` until the entry function returns or a trap.
#[cfg(not(keel_tail_dispatch))]
fn execute(mut ip: Ip, mut regs: Regs, ctx: &mut Ctx<'_>) -> Flow {
    ctx.stack_limit = native_stack_limit();
    loop {
        let (base, len) = (ctx.mem.base, ctx.mem.len);
        match handler(ip)(ip, regs, ctx, base, len) {
            Flow::Continue => (ip, regs) = ctx.next,
            other => return other,
        }
    }
}

/// Continues with the instruction at `ip`: a tail call to its handler (optimised builds on
/// targets where LLVM makes sibling calls), or back to the loop in `execute`.
#[cfg(keel_tail_dispatch)]
macro_rules! dispatch {
    ($ip:expr, $regs:expr, $ctx:expr, $mem:expr) => {
        return handler($ip)($ip, $regs, $ctx, $mem.base, $mem.len)
    };
}
#[cfg(not(keel_tail_dispatch))]
macro_rules! dispatch {
    ($ip:expr, $regs:expr, $ctx:expr, $mem:expr) => {{
        $ctx.next = ($ip, $regs);
        return Flow::Continue;
    }};
}

/// The instruction at `ip`.
#[inline(always)]
fn fetch(ip: Ip) -> Instr {
    // SAFETY: `ip` is inside the running function's code: execution starts at its first
    // instruction, jumps land inside it, and every path ends in a return, a trap or a jump.
    unsafe { (*ip).instr }
}

/// The instruction after `ip` (at worst one past the last, never read).
#[inline(always)]
fn next(ip: Ip) -> Ip {
    ip.wrapping_add(1)
}

macro_rules! un {
    ($regs:ident, $p:expr, $ta:ty, |$x:ident| $e:expr) => {{
        let p = $p;
        let $x = <$ta>::from_slot($regs.get(p.src));
        $regs.set(p.dst, Slot::to_slot($e));
    }};
}
macro_rules! un_trap {
    ($ctx:ident, $regs:ident, $p:expr, $ta:ty, |$x:ident| $e:expr) => {{
        let p = $p;
        let $x = <$ta>::from_slot($regs.get(p.src));
        match $e {
            Ok(v) => $regs.set(p.dst, Slot::to_slot(v)),
            Err(c) => return $ctx.trap(c),
        }
    }};
}
macro_rules! bin {
    ($regs:ident, $p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let $a = <$ta>::from_slot($regs.get(p.a));
        let $b = <$ta>::from_slot($regs.get(p.b));
        $regs.set(p.dst, Slot::to_slot($e));
    }};
}
macro_rules! bin_trap {
    ($ctx:ident, $regs:ident, $p:expr, $ta:ty, $f:expr) => {{
        let p = $p;
        let a = <$ta>::from_slot($regs.get(p.a));
        let b = <$ta>::from_slot($regs.get(p.b));
        match $f(a, b) {
            Ok(v) => $regs.set(p.dst, Slot::to_slot(v)),
            Err(c) => return $ctx.trap(c),
        }
    }};
}
macro_rules! imm {
    ($regs:ident, $p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let $a = <$ta>::from_slot($regs.get(p.a));
        let $b = p.imm as $ta;
        $regs.set(p.dst, Slot::to_slot($e));
    }};
}
macro_rules! jump {
    ($ip:ident, $ctx:ident, $off:expr) => {{
        stack_guard!($ctx);
        interrupt_check!($ctx);
        // The offset is relative to the jump, `$ip` already points past it. The translator
        // only emits jumps to instructions of the same function.
        $ip = $ip.wrapping_offset($off as isize - 1);
    }};
}
macro_rules! jump_cmp {
    ($ip:ident, $ctx:ident, $regs:ident, $p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let $a = <$ta>::from_slot($regs.get(p.a));
        let $b = <$ta>::from_slot($regs.get(p.b));
        if $e {
            jump!($ip, $ctx, p.offset);
        }
    }};
}
macro_rules! load {
    ($ctx:ident, $mem:ident, $regs:ident, $p:expr, $n:literal, |$bytes:ident| $e:expr) => {
        load!($ctx, $mem, $regs, $p, $n, ea, |$bytes| $e)
    };
    ($ctx:ident, $mem:ident, $regs:ident, $p:expr, $n:literal, $ea:ident, |$bytes:ident| $e:expr) => {{
        let p = $p;
        match $mem.load::<$n>(Mem::$ea($regs.get(p.addr), p.offset)) {
            Some($bytes) => $regs.set(p.dst, $e),
            None => return $ctx.trap(TrapCode::MemoryOutOfBounds),
        }
    }};
}
macro_rules! store {
    ($ctx:ident, $mem:ident, $regs:ident, $p:expr, $t:ty) => {
        store!($ctx, $mem, $regs, $p, $t, ea)
    };
    ($ctx:ident, $mem:ident, $regs:ident, $p:expr, $t:ty, $ea:ident) => {{
        let p = $p;
        let v = ($regs.get(p.val) as $t).to_le_bytes();
        if !$mem.store(Mem::$ea($regs.get(p.addr), p.offset), v) {
            return $ctx.trap(TrapCode::MemoryOutOfBounds);
        }
    }};
}

/// Returns from the running function: continues in its caller, or ends the execution when it
/// was the entry function.
macro_rules! ret {
    ($ip:ident, $regs:ident, $ctx:ident, $mem:ident) => {
        match $ctx.leave() {
            None => return Flow::Done,
            Some((i, r)) => {
                $ip = i;
                $regs = r;
                $mem = $ctx.mem;
            }
        }
    };
}

/// Defines one handler function per instruction: it decodes its payload, runs the body (which
/// may change `ip` and `regs`, or return a trap), then dispatches the next instruction.
macro_rules! handlers {
    ($ip:ident, $regs:ident, $ctx:ident, $mem:ident; $( $name:ident($p:pat) => $body:block )*) => {
        $(
            #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments, unreachable_code)]
            pub(super) fn $name($ip: Ip, $regs: Regs, $ctx: &mut Ctx<'_>, mem_base: *mut u8, mem_len: usize) -> Flow {
                let Instr::$name($p) = fetch($ip) else {
                    // SAFETY: handlers are only dispatched on their own instruction's tag.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                let mut $ip = next($ip);
                let mut $regs = $regs;
                let mut $mem = Mem { base: mem_base, len: mem_len, data: None };
                $body
                dispatch!($ip, $regs, $ctx, $mem)
            }
        )*
    };
}

handlers! { ip, regs, ctx, mem;
    Unreachable(()) => { return ctx.trap(TrapCode::Unreachable); }
    Return(()) => {
        stack_guard!(ctx);
        ret!(ip, regs, ctx, mem);
    }
    Return1(s) => {
        stack_guard!(ctx);
        let v = regs.get(s.src);
        regs.set(0, v);
        ret!(ip, regs, ctx, mem);
    }
    ListenEnter(()) => { ctx.listen_enter(); }
    TierEnter(()) => {
        match ctx.tier_enter() {
            TierStep::Interpret => {}
            TierStep::Trapped => return Flow::Trap,
            TierStep::Returned => {
                stack_guard!(ctx);
                ret!(ip, regs, ctx, mem);
            }
        }
    }
    TierLoop(l) => {
        match ctx.tier_loop(l.index) {
            TierStep::Interpret => {}
            TierStep::Trapped => return Flow::Trap,
            TierStep::Returned => {
                stack_guard!(ctx);
                ret!(ip, regs, ctx, mem);
            }
        }
    }
    ListenReturn(()) => {
        stack_guard!(ctx);
        ctx.listen_return();
        ret!(ip, regs, ctx, mem);
    }
    BrTable(t) => {
        stack_guard!(ctx);
        interrupt_check!(ctx);
        let i = (regs.get(t.index) as u32).min(t.len);
        // `len + 1` jump entries follow the BrTable instruction: take entry `i` directly.
        ip = ip.wrapping_add(i as usize);
        match fetch(ip) {
            Instr::Jump(j) => ip = ip.wrapping_offset(j.offset as isize),
            _ => ip = next(ip),
        }
    }
    BrTableLoad8U(t) => {
        stack_guard!(ctx);
        interrupt_check!(ctx);
        let Some([byte]) = mem.load::<1>(Mem::ea(regs.get(t.addr), t.offset)) else {
            return ctx.trap(TrapCode::MemoryOutOfBounds);
        };
        let i = (byte as u32).min(t.len as u32);
        // As in `BrTable`.
        ip = ip.wrapping_add(i as usize);
        match fetch(ip) {
            Instr::Jump(j) => ip = ip.wrapping_offset(j.offset as isize),
            _ => ip = next(ip),
        }
    }
    Call(c) => {
        stack_guard!(ctx);
        let Some(callee) = ctx.own_func(c.func) else { return Flow::Trap };
        let (inst, code) = (ctx.instance, ctx.code);
        match ctx.enter(ip, c.base, callee, inst, code) {
            Some((i, r)) => {
                interrupt_check!(ctx);
                ip = i;
                regs = r;
                mem = ctx.mem;
            }
            None => return ctx.trap(TrapCode::StackOverflow),
        }
    }
    CallImport(c) => {
        stack_guard!(ctx);
        let f = ctx.instance.func(c.func);
        match ctx.call_func_data(f, c.base) {
            Err(flow) => return flow,
            Ok(Some((callee, inst, code))) => match ctx.enter(ip, c.base, callee, inst, code) {
                Some((i, r)) => {
                    interrupt_check!(ctx);
                    ip = i;
                    regs = r;
                    mem = ctx.mem;
                }
                None => return ctx.trap(TrapCode::StackOverflow),
            },
            Ok(None) => {
                regs = ctx.regs();
                mem = ctx.mem;
            }
        }
    }
    CallIndirect(c) => {
        stack_guard!(ctx);
        let index = regs.get(c.index) as u32;
        let raw = match ctx.instance.table(c.table as u32).get(index) {
            None => return ctx.trap(TrapCode::TableOutOfBounds),
            Some(0) => return ctx.trap(TrapCode::IndirectCallToNull),
            Some(raw) => raw,
        };
        // SAFETY: non-null funcref slots of tables hold addresses of live FuncData: their
        // instances are kept alive by the store or by this instance.
        let f: &FuncData = unsafe { FuncData::from_raw(raw) };
        if f.sig != ctx.instance.sig_id(c.ty as u32) {
            return ctx.trap(TrapCode::BadSignature);
        }
        let target = match f.kind {
            FuncKind::Wasm { def_index } if ptr::eq(f.instance(), ctx.instance) => {
                let Some(callee) = ctx.own_func(def_index) else { return Flow::Trap };
                Some((callee, ctx.instance, ctx.code))
            }
            _ => match ctx.call_func_data(f, c.base) {
                Err(flow) => return flow,
                Ok(t) => t,
            },
        };
        match target {
            Some((callee, inst, code)) => match ctx.enter(ip, c.base, callee, inst, code) {
                Some((i, r)) => {
                    interrupt_check!(ctx);
                    ip = i;
                    regs = r;
                    mem = ctx.mem;
                }
                None => return ctx.trap(TrapCode::StackOverflow),
            },
            None => {
                regs = ctx.regs();
                mem = ctx.mem;
            }
        }
    }
    MemoryGrow(p) => {
        let delta = regs.get(p.src) as u32 as u64;
        let r = match ctx.mem.data {
            Some(m) => m.grow(delta).map_or(u32::MAX, |old| old as u32),
            None => u32::MAX,
        };
        ctx.mem.reload();
        mem = ctx.mem;
        regs.set(p.dst, r as u64);
    }
    Copy(p) => { regs.set(p.dst, regs.get(p.src)); }
    Jump(j) => { jump!(ip, ctx, j.offset); }
    CopyJump(j) => {
        regs.set(j.dst, regs.get(j.src));
        jump!(ip, ctx, j.offset);
    }
    JumpIfZ(j) => {
                    if regs.get(j.cond) as u32 == 0 {
                        jump!(ip, ctx, j.offset)
                    }
                }
    JumpIfNz(j) => {
                    if regs.get(j.cond) as u32 != 0 {
                        jump!(ip, ctx, j.offset)
                    }
                }
    JumpIfZ64(j) => {
                    if regs.get(j.cond) == 0 {
                        jump!(ip, ctx, j.offset)
                    }
                }
    JumpIfNz64(j) => {
                    if regs.get(j.cond) != 0 {
                        jump!(ip, ctx, j.offset)
                    }
                }
    JumpI32NeAddImm(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(p.imm as i32 as u32);
        regs.set(p.reg, v as u64);
        if v != regs.get(p.b) as u32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32LtSAddImm(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(p.imm as i32 as u32);
        regs.set(p.reg, v as u64);
        if (v as i32) < regs.get(p.b) as u32 as i32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32LtUAddImm(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(p.imm as i32 as u32);
        regs.set(p.reg, v as u64);
        if v < regs.get(p.b) as u32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI64NeAddImm(p) => {
        let v = regs.get(p.reg).wrapping_add(p.imm as i64 as u64);
        regs.set(p.reg, v);
        if v != regs.get(p.b) {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32NeAdd(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(regs.get(p.step) as u32);
        regs.set(p.reg, v as u64);
        if v != regs.get(p.b) as u32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32LtSAdd(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(regs.get(p.step) as u32);
        regs.set(p.reg, v as u64);
        if (v as i32) < regs.get(p.b) as u32 as i32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32LtUAdd(p) => {
        let v = (regs.get(p.reg) as u32).wrapping_add(regs.get(p.step) as u32);
        regs.set(p.reg, v as u64);
        if v < regs.get(p.b) as u32 {
            jump!(ip, ctx, p.offset as i32);
        }
    }
    JumpI32Eq(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a == b); }
    JumpI32Ne(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a != b); }
    JumpI32LtS(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a < b); }
    JumpI32LtU(p) => { jump_cmp!(ip, ctx, regs, p, u32, |a, b| a < b); }
    JumpI32GtS(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a > b); }
    JumpI32GtU(p) => { jump_cmp!(ip, ctx, regs, p, u32, |a, b| a > b); }
    JumpI32LeS(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a <= b); }
    JumpI32LeU(p) => { jump_cmp!(ip, ctx, regs, p, u32, |a, b| a <= b); }
    JumpI32GeS(p) => { jump_cmp!(ip, ctx, regs, p, i32, |a, b| a >= b); }
    JumpI32GeU(p) => { jump_cmp!(ip, ctx, regs, p, u32, |a, b| a >= b); }
    JumpI64Eq(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a == b); }
    JumpI64Ne(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a != b); }
    JumpI64LtS(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a < b); }
    JumpI64LtU(p) => { jump_cmp!(ip, ctx, regs, p, u64, |a, b| a < b); }
    JumpI64GtS(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a > b); }
    JumpI64GtU(p) => { jump_cmp!(ip, ctx, regs, p, u64, |a, b| a > b); }
    JumpI64LeS(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a <= b); }
    JumpI64LeU(p) => { jump_cmp!(ip, ctx, regs, p, u64, |a, b| a <= b); }
    JumpI64GeS(p) => { jump_cmp!(ip, ctx, regs, p, i64, |a, b| a >= b); }
    JumpI64GeU(p) => { jump_cmp!(ip, ctx, regs, p, u64, |a, b| a >= b); }
    Select(s) => {
                    let v =
                        if regs.get(s.cond) as u32 != 0 { regs.get(s.a) } else { regs.get(s.b) };
                    regs.set(s.dst, v);
                }
    GlobalGet(g) => { regs.set(g.dst, ctx.instance.global(g.index).get()); }
    GlobalSet(g) => { ctx.instance.global(g.index).set(regs.get(g.src)); }
    RefFunc(g) => { regs.set(g.dst, ctx.instance.func(g.index).to_raw()); }
    I32Load(p) => { load!(ctx, mem, regs, p, 4, |b| u32::from_le_bytes(b) as u64); }
    I64Load(p) => { load!(ctx, mem, regs, p, 8, |b| u64::from_le_bytes(b)); }
    F32Load(p) => { load!(ctx, mem, regs, p, 4, |b| u32::from_le_bytes(b) as u64); }
    F64Load(p) => { load!(ctx, mem, regs, p, 8, |b| u64::from_le_bytes(b)); }
    I32Load8S(p) => { load!(ctx, mem, regs, p, 1, |b| b[0] as i8 as i32 as u32 as u64); }
    I32Load8U(p) => { load!(ctx, mem, regs, p, 1, |b| b[0] as u64); }
    I32Load16S(p) => { load!(ctx, mem, regs, p, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64); }
    I32Load16U(p) => { load!(ctx, mem, regs, p, 2, |b| u16::from_le_bytes(b) as u64); }
    I64Load8S(p) => { load!(ctx, mem, regs, p, 1, |b| b[0] as i8 as i64 as u64); }
    I64Load8U(p) => { load!(ctx, mem, regs, p, 1, |b| b[0] as u64); }
    I64Load16S(p) => { load!(ctx, mem, regs, p, 2, |b| i16::from_le_bytes(b) as i64 as u64); }
    I64Load16U(p) => { load!(ctx, mem, regs, p, 2, |b| u16::from_le_bytes(b) as u64); }
    I64Load32S(p) => { load!(ctx, mem, regs, p, 4, |b| i32::from_le_bytes(b) as i64 as u64); }
    I64Load32U(p) => { load!(ctx, mem, regs, p, 4, |b| u32::from_le_bytes(b) as u64); }
    I32Store(p) => { store!(ctx, mem, regs, p, u32); }
    I64Store(p) => { store!(ctx, mem, regs, p, u64); }
    I32Store8(p) => { store!(ctx, mem, regs, p, u8); }
    I32Store16(p) => { store!(ctx, mem, regs, p, u16); }
    I64Store8(p) => { store!(ctx, mem, regs, p, u8); }
    I64Store16(p) => { store!(ctx, mem, regs, p, u16); }
    I64Store32(p) => { store!(ctx, mem, regs, p, u32); }
    I32LoadAdd(p) => { load!(ctx, mem, regs, p, 4, ea_add, |b| u32::from_le_bytes(b) as u64); }
    I64LoadAdd(p) => { load!(ctx, mem, regs, p, 8, ea_add, |b| u64::from_le_bytes(b)); }
    I32Load8SAdd(p) => { load!(ctx, mem, regs, p, 1, ea_add, |b| b[0] as i8 as i32 as u32 as u64); }
    I32Load8UAdd(p) => { load!(ctx, mem, regs, p, 1, ea_add, |b| b[0] as u64); }
    I32Load16SAdd(p) => {
        load!(ctx, mem, regs, p, 2, ea_add, |b| i16::from_le_bytes(b) as i32 as u32 as u64);
    }
    I32Load16UAdd(p) => { load!(ctx, mem, regs, p, 2, ea_add, |b| u16::from_le_bytes(b) as u64); }
    I32LoadShl(p) => { load!(ctx, mem, regs, p, 4, ea_shl, |b| u32::from_le_bytes(b) as u64); }
    I64LoadShl(p) => { load!(ctx, mem, regs, p, 8, ea_shl, |b| u64::from_le_bytes(b)); }
    I32LoadShlAdd(p) => {
        load!(ctx, mem, regs, p, 4, ea_shl_add, |b| u32::from_le_bytes(b) as u64);
    }
    I64LoadShlAdd(p) => { load!(ctx, mem, regs, p, 8, ea_shl_add, |b| u64::from_le_bytes(b)); }
    I32StoreAdd(p) => { store!(ctx, mem, regs, p, u32, ea_add); }
    I64StoreAdd(p) => { store!(ctx, mem, regs, p, u64, ea_add); }
    I32Store8Add(p) => { store!(ctx, mem, regs, p, u8, ea_add); }
    I32Store16Add(p) => { store!(ctx, mem, regs, p, u16, ea_add); }
    MemorySize(p) => { regs.set(p.dst, (ctx.mem.len / PAGE_SIZE) as u64); }
    MemoryFill(p) => {
                    let (d, v, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u8, regs.get(p.c) as u32);
                    if !ctx.instance.memory(0).fill(d as u64, v, n as u64) {
                        return ctx.trap(TrapCode::MemoryOutOfBounds);
                    }
                }
    MemoryCopy(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    let m = ctx.instance.memory(0);
                    if !m.copy_from(d as u64, m, s as u64, n as u64) {
                        return ctx.trap(TrapCode::MemoryOutOfBounds);
                    }
                }
    MemoryInit(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    if let Err(c) = ctx.instance.memory_init(0, p.x as u32, d as u64, s, n) {
                        return ctx.trap(c);
                    }
                }
    DataDrop(p) => { ctx.instance.data_drop(p.index); }
    TableGet(p) => { match ctx.instance.table(p.table).get(regs.get(p.b) as u32) {
                    Some(v) => regs.set(p.a, v),
                    None => return ctx.trap(TrapCode::TableOutOfBounds),
                }; }
    TableSet(p) => {
                    if !ctx.instance.table(p.table).set(regs.get(p.a) as u32, regs.get(p.b)) {
                        return ctx.trap(TrapCode::TableOutOfBounds);
                    }
                }
    TableSize(p) => { regs.set(p.dst, ctx.instance.table(p.index).size() as u64); }
    TableGrow(p) => {
                    let init = regs.get(p.b);
                    let delta = regs.get(p.c) as u32;
                    let r = ctx.instance.table(p.x as u32).grow(delta, init).unwrap_or(u32::MAX);
                    regs.set(p.a, r as u64);
                }
    TableFill(p) => {
                    let (d, v, n) = (regs.get(p.a) as u32, regs.get(p.b), regs.get(p.c) as u32);
                    if !ctx.instance.table(p.x as u32).fill(d, v, n) {
                        return ctx.trap(TrapCode::TableOutOfBounds);
                    }
                }
    TableCopy(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    let dst = ctx.instance.table(p.x as u32);
                    if !dst.copy_from(d, ctx.instance.table(p.y as u32), s, n) {
                        return ctx.trap(TrapCode::TableOutOfBounds);
                    }
                }
    TableInit(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    if let Err(c) = ctx.instance.table_init(p.x as u32, p.y as u32, d, s, n) {
                        return ctx.trap(c);
                    }
                }
    ElemDrop(p) => { ctx.instance.elem_drop(p.index); }
    I32Eqz(p) => { un!(regs, p, u32, |x| x == 0); }
    I32Eq(p) => { bin!(regs, p, u32, |a, b| a == b); }
    I32Ne(p) => { bin!(regs, p, u32, |a, b| a != b); }
    I32LtS(p) => { bin!(regs, p, i32, |a, b| a < b); }
    I32LtU(p) => { bin!(regs, p, u32, |a, b| a < b); }
    I32GtS(p) => { bin!(regs, p, i32, |a, b| a > b); }
    I32GtU(p) => { bin!(regs, p, u32, |a, b| a > b); }
    I32LeS(p) => { bin!(regs, p, i32, |a, b| a <= b); }
    I32LeU(p) => { bin!(regs, p, u32, |a, b| a <= b); }
    I32GeS(p) => { bin!(regs, p, i32, |a, b| a >= b); }
    I32GeU(p) => { bin!(regs, p, u32, |a, b| a >= b); }
    I64Eqz(p) => { un!(regs, p, u64, |x| x == 0); }
    I64Eq(p) => { bin!(regs, p, u64, |a, b| a == b); }
    I64Ne(p) => { bin!(regs, p, u64, |a, b| a != b); }
    I64LtS(p) => { bin!(regs, p, i64, |a, b| a < b); }
    I64LtU(p) => { bin!(regs, p, u64, |a, b| a < b); }
    I64GtS(p) => { bin!(regs, p, i64, |a, b| a > b); }
    I64GtU(p) => { bin!(regs, p, u64, |a, b| a > b); }
    I64LeS(p) => { bin!(regs, p, i64, |a, b| a <= b); }
    I64LeU(p) => { bin!(regs, p, u64, |a, b| a <= b); }
    I64GeS(p) => { bin!(regs, p, i64, |a, b| a >= b); }
    I64GeU(p) => { bin!(regs, p, u64, |a, b| a >= b); }
    F32Eq(p) => { bin!(regs, p, f32, |a, b| a == b); }
    F32Ne(p) => { bin!(regs, p, f32, |a, b| a != b); }
    F32Lt(p) => { bin!(regs, p, f32, |a, b| a < b); }
    F32Gt(p) => { bin!(regs, p, f32, |a, b| a > b); }
    F32Le(p) => { bin!(regs, p, f32, |a, b| a <= b); }
    F32Ge(p) => { bin!(regs, p, f32, |a, b| a >= b); }
    F64Eq(p) => { bin!(regs, p, f64, |a, b| a == b); }
    F64Ne(p) => { bin!(regs, p, f64, |a, b| a != b); }
    F64Lt(p) => { bin!(regs, p, f64, |a, b| a < b); }
    F64Gt(p) => { bin!(regs, p, f64, |a, b| a > b); }
    F64Le(p) => { bin!(regs, p, f64, |a, b| a <= b); }
    F64Ge(p) => { bin!(regs, p, f64, |a, b| a >= b); }
    I32Clz(p) => { un!(regs, p, u32, |x| x.leading_zeros()); }
    I32Ctz(p) => { un!(regs, p, u32, |x| x.trailing_zeros()); }
    I32Popcnt(p) => { un!(regs, p, u32, |x| x.count_ones()); }
    I32Add(p) => { bin!(regs, p, u32, |a, b| a.wrapping_add(b)); }
    I32Sub(p) => { bin!(regs, p, u32, |a, b| a.wrapping_sub(b)); }
    I32Mul(p) => { bin!(regs, p, u32, |a, b| a.wrapping_mul(b)); }
    I32DivS(p) => { bin_trap!(ctx, regs, p, i32, i32_div_s); }
    I32DivU(p) => { bin_trap!(ctx, regs, p, u32, u32_div); }
    I32RemS(p) => { bin_trap!(ctx, regs, p, i32, i32_rem_s); }
    I32RemU(p) => { bin_trap!(ctx, regs, p, u32, u32_rem); }
    I32And(p) => { bin!(regs, p, u32, |a, b| a & b); }
    I32Or(p) => { bin!(regs, p, u32, |a, b| a | b); }
    I32Xor(p) => { bin!(regs, p, u32, |a, b| a ^ b); }
    I32Shl(p) => { bin!(regs, p, u32, |a, b| a.wrapping_shl(b)); }
    I32ShrS(p) => { bin!(regs, p, i32, |a, b| a.wrapping_shr(b as u32)); }
    I32ShrU(p) => { bin!(regs, p, u32, |a, b| a.wrapping_shr(b)); }
    I32Rotl(p) => { bin!(regs, p, u32, |a, b| a.rotate_left(b % 32)); }
    I32Rotr(p) => { bin!(regs, p, u32, |a, b| a.rotate_right(b % 32)); }
    I32AddShl(p) => {
        let v = (regs.get(p.a) as u32).wrapping_add((regs.get(p.b) as u32) << p.shift);
        regs.set(p.dst, v as u64);
    }
    I32AddImm(p) => { imm!(regs, p, u32, |a, b| a.wrapping_add(b)); }
    I32MulImm(p) => { imm!(regs, p, u32, |a, b| a.wrapping_mul(b)); }
    I32AndImm(p) => { imm!(regs, p, u32, |a, b| a & b); }
    I32OrImm(p) => { imm!(regs, p, u32, |a, b| a | b); }
    I32XorImm(p) => { imm!(regs, p, u32, |a, b| a ^ b); }
    I32ShlImm(p) => { imm!(regs, p, u32, |a, b| a.wrapping_shl(b)); }
    I32ShrSImm(p) => { imm!(regs, p, i32, |a, b| a.wrapping_shr(b as u32)); }
    I32ShrUImm(p) => { imm!(regs, p, u32, |a, b| a.wrapping_shr(b)); }
    I64Clz(p) => { un!(regs, p, u64, |x| x.leading_zeros() as u64); }
    I64Ctz(p) => { un!(regs, p, u64, |x| x.trailing_zeros() as u64); }
    I64Popcnt(p) => { un!(regs, p, u64, |x| x.count_ones() as u64); }
    I64Add(p) => { bin!(regs, p, u64, |a, b| a.wrapping_add(b)); }
    I64Sub(p) => { bin!(regs, p, u64, |a, b| a.wrapping_sub(b)); }
    I64Mul(p) => { bin!(regs, p, u64, |a, b| a.wrapping_mul(b)); }
    I64DivS(p) => { bin_trap!(ctx, regs, p, i64, i64_div_s); }
    I64DivU(p) => { bin_trap!(ctx, regs, p, u64, u64_div); }
    I64RemS(p) => { bin_trap!(ctx, regs, p, i64, i64_rem_s); }
    I64RemU(p) => { bin_trap!(ctx, regs, p, u64, u64_rem); }
    I64And(p) => { bin!(regs, p, u64, |a, b| a & b); }
    I64Or(p) => { bin!(regs, p, u64, |a, b| a | b); }
    I64Xor(p) => { bin!(regs, p, u64, |a, b| a ^ b); }
    I64Shl(p) => { bin!(regs, p, u64, |a, b| a.wrapping_shl(b as u32)); }
    I64ShrS(p) => { bin!(regs, p, i64, |a, b| a.wrapping_shr(b as u32)); }
    I64ShrU(p) => { bin!(regs, p, u64, |a, b| a.wrapping_shr(b as u32)); }
    I64Rotl(p) => { bin!(regs, p, u64, |a, b| a.rotate_left((b % 64) as u32)); }
    I64Rotr(p) => { bin!(regs, p, u64, |a, b| a.rotate_right((b % 64) as u32)); }
    I64AddImm(p) => { imm!(regs, p, i64, |a, b| a.wrapping_add(b)); }
    I64MulImm(p) => { imm!(regs, p, i64, |a, b| a.wrapping_mul(b)); }
    I64AndImm(p) => { imm!(regs, p, i64, |a, b| a & b); }
    I64OrImm(p) => { imm!(regs, p, i64, |a, b| a | b); }
    I64XorImm(p) => { imm!(regs, p, i64, |a, b| a ^ b); }
    I64ShlImm(p) => { imm!(regs, p, i64, |a, b| a.wrapping_shl(b as u32)); }
    I64ShrSImm(p) => { imm!(regs, p, i64, |a, b| a.wrapping_shr(b as u32)); }
    I64ShrUImm(p) => { imm!(regs, p, u64, |a, b| a.wrapping_shr(b as u32)); }
    F32Abs(p) => { un!(regs, p, f32, |x| f32_abs(x)); }
    F32Neg(p) => { un!(regs, p, f32, |x| f32_neg(x)); }
    F32Ceil(p) => { un!(regs, p, f32, |x| f32_quiet(x.ceil())); }
    F32Floor(p) => { un!(regs, p, f32, |x| f32_quiet(x.floor())); }
    F32Trunc(p) => { un!(regs, p, f32, |x| f32_quiet(x.trunc())); }
    F32Nearest(p) => { un!(regs, p, f32, |x| f32_nearest(x)); }
    F32Sqrt(p) => { un!(regs, p, f32, |x| x.sqrt()); }
    F32Add(p) => { bin!(regs, p, f32, |a, b| a + b); }
    F32Sub(p) => { bin!(regs, p, f32, |a, b| a - b); }
    F32Mul(p) => { bin!(regs, p, f32, |a, b| a * b); }
    F32Div(p) => { bin!(regs, p, f32, |a, b| a / b); }
    F32Min(p) => { bin!(regs, p, f32, |a, b| f32_min(a, b)); }
    F32Max(p) => { bin!(regs, p, f32, |a, b| f32_max(a, b)); }
    F32Copysign(p) => { bin!(regs, p, f32, |a, b| f32_copysign(a, b)); }
    F64Abs(p) => { un!(regs, p, f64, |x| f64_abs(x)); }
    F64Neg(p) => { un!(regs, p, f64, |x| f64_neg(x)); }
    F64Ceil(p) => { un!(regs, p, f64, |x| f64_quiet(x.ceil())); }
    F64Floor(p) => { un!(regs, p, f64, |x| f64_quiet(x.floor())); }
    F64Trunc(p) => { un!(regs, p, f64, |x| f64_quiet(x.trunc())); }
    F64Nearest(p) => { un!(regs, p, f64, |x| f64_nearest(x)); }
    F64Sqrt(p) => { un!(regs, p, f64, |x| x.sqrt()); }
    F64Add(p) => { bin!(regs, p, f64, |a, b| a + b); }
    F64Sub(p) => { bin!(regs, p, f64, |a, b| a - b); }
    F64Mul(p) => { bin!(regs, p, f64, |a, b| a * b); }
    F64Div(p) => { bin!(regs, p, f64, |a, b| a / b); }
    F64Min(p) => { bin!(regs, p, f64, |a, b| f64_min(a, b)); }
    F64Max(p) => { bin!(regs, p, f64, |a, b| f64_max(a, b)); }
    F64Copysign(p) => { bin!(regs, p, f64, |a, b| f64_copysign(a, b)); }
    I32TruncF32S(p) => { un_trap!(ctx, regs, p, f32, |x| i32_trunc_f32(x)); }
    I32TruncF32U(p) => { un_trap!(ctx, regs, p, f32, |x| u32_trunc_f32(x)); }
    I32TruncF64S(p) => { un_trap!(ctx, regs, p, f64, |x| i32_trunc_f64(x)); }
    I32TruncF64U(p) => { un_trap!(ctx, regs, p, f64, |x| u32_trunc_f64(x)); }
    I64ExtendI32S(p) => { un!(regs, p, i32, |x| x as i64); }
    I64ExtendI32U(p) => { un!(regs, p, u32, |x| x as u64); }
    I64TruncF32S(p) => { un_trap!(ctx, regs, p, f32, |x| i64_trunc_f32(x)); }
    I64TruncF32U(p) => { un_trap!(ctx, regs, p, f32, |x| u64_trunc_f32(x)); }
    I64TruncF64S(p) => { un_trap!(ctx, regs, p, f64, |x| i64_trunc_f64(x)); }
    I64TruncF64U(p) => { un_trap!(ctx, regs, p, f64, |x| u64_trunc_f64(x)); }
    F32ConvertI32S(p) => { un!(regs, p, i32, |x| x as f32); }
    F32ConvertI32U(p) => { un!(regs, p, u32, |x| x as f32); }
    F32ConvertI64S(p) => { un!(regs, p, i64, |x| x as f32); }
    F32ConvertI64U(p) => { un!(regs, p, u64, |x| x as f32); }
    F32DemoteF64(p) => { un!(regs, p, f64, |x| x as f32); }
    F64ConvertI32S(p) => { un!(regs, p, i32, |x| x as f64); }
    F64ConvertI32U(p) => { un!(regs, p, u32, |x| x as f64); }
    F64ConvertI64S(p) => { un!(regs, p, i64, |x| x as f64); }
    F64ConvertI64U(p) => { un!(regs, p, u64, |x| x as f64); }
    F64PromoteF32(p) => { un!(regs, p, f32, |x| x as f64); }
    I32Extend8S(p) => { un!(regs, p, u32, |x| x as i8 as i32); }
    I32Extend16S(p) => { un!(regs, p, u32, |x| x as i16 as i32); }
    I64Extend8S(p) => { un!(regs, p, u64, |x| x as i8 as i64); }
    I64Extend16S(p) => { un!(regs, p, u64, |x| x as i16 as i64); }
    I64Extend32S(p) => { un!(regs, p, u64, |x| x as i32 as i64); }
    I32TruncSatF32S(p) => { un!(regs, p, f32, |x| x as i32); }
    I32TruncSatF32U(p) => { un!(regs, p, f32, |x| x as u32); }
    I32TruncSatF64S(p) => { un!(regs, p, f64, |x| x as i32); }
    I32TruncSatF64U(p) => { un!(regs, p, f64, |x| x as u32); }
    I64TruncSatF32S(p) => { un!(regs, p, f32, |x| x as i64); }
    I64TruncSatF32U(p) => { un!(regs, p, f32, |x| x as u64); }
    I64TruncSatF64S(p) => { un!(regs, p, f64, |x| x as i64); }
    I64TruncSatF64U(p) => { un!(regs, p, f64, |x| x as u64); }
}

mod simd;
use simd::*;

macro_rules! handler_table {
    ($( $(#[$doc:meta])* $name:ident($payload:ty), )*) => {
        /// Handlers by instruction tag.
        static HANDLERS: &[Handler] = &[$($name),*];
    };
}
keel_ir::for_each_instr!(handler_table);
