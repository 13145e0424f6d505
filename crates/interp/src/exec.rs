//! The dispatch loop.
//!
//! One call from the host runs in one loop: Wasm-to-Wasm calls push a [`Frame`] on a frame stack
//! and continue in the same loop, so guest recursion never recurses natively. The value stack is
//! one `Vec<u64>`; each function's frame is a window of it starting at `base`, and a call's frame
//! starts where the caller laid out the arguments.

use std::ptr;

use keel_ir::instr::Reg;
use keel_ir::{CompiledFunc, Instr};
use keel_runtime::vm::{FuncData, FuncKind, Instance, LockGuard, MemoryData, PAGE_SIZE};
use keel_runtime::{Trap, TrapCode};

use crate::InterpCode;
use crate::ops::*;

/// A suspended caller.
struct Frame<'a> {
    func: &'a CompiledFunc,
    /// Where the caller continues.
    ret: *const Instr,
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
struct Regs(*mut u64);

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

    /// The address of `[addr + offset, addr + offset + N)`, if inside the memory.
    #[inline(always)]
    fn at<const N: usize>(&self, addr: u64, offset: u32) -> Option<*mut u8> {
        let ea = (addr as u32 as u64) + offset as u64;
        if ea + N as u64 <= self.len as u64 {
            // SAFETY: `ea + N <= len <= ` the committed size of the reservation starting at
            // `base` (memories never shrink), so the pointer stays inside it.
            Some(unsafe { self.base.add(ea as usize) })
        } else {
            None
        }
    }

    #[inline(always)]
    fn load<const N: usize>(&self, addr: u64, offset: u32) -> Option<[u8; N]> {
        let p = self.at::<N>(addr, offset)?;
        // SAFETY: `at` checked that N bytes at `p` are inside the memory; unaligned is allowed.
        Some(unsafe { ptr::read_unaligned(p as *const [u8; N]) })
    }

    #[inline(always)]
    fn store<const N: usize>(&self, addr: u64, offset: u32, bytes: [u8; N]) -> bool {
        match self.at::<N>(addr, offset) {
            Some(p) => {
                // SAFETY: as in `load`; the exec lock gives this thread sole access to the memory.
                unsafe { ptr::write_unaligned(p as *mut [u8; N], bytes) };
                true
            }
            None => false,
        }
    }
}

/// Adds the Wasm stack trace (innermost first) to a trap.
fn with_trace(
    mut trap: Trap,
    instance: &Instance,
    func: &CompiledFunc,
    frames: &[Frame<'_>],
) -> Trap {
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
    let func = &code.funcs[def_index as usize];
    let limits = instance.store().limits;
    let frame = func.frame_size as usize;
    if frame > limits.max_stack_slots {
        return Err(with_trace(TrapCode::StackOverflow.into(), instance, func, &[]));
    }
    let mut stack = vec![0u64; frame.max(1024).min(limits.max_stack_slots.max(frame))];
    let np = func.num_params as usize;
    stack[..np].copy_from_slice(&values[..np]);
    stack[np..np + func.init.len()].copy_from_slice(&func.init);
    let mut ex = Exec {
        stack,
        frames: Vec::new(),
        guards: Vec::new(),
        max_depth: limits.max_call_depth.max(1) as usize,
        max_slots: limits.max_stack_slots,
    };
    ex.execute(instance, code, func)?;
    let nr = func.num_results as usize;
    values[..nr].copy_from_slice(&ex.stack[..nr]);
    Ok(())
}

struct Exec<'a> {
    stack: Vec<u64>,
    frames: Vec<Frame<'a>>,
    /// Locks of other instance groups taken by cross-instance calls, with the frame depth of
    /// the callee.
    guards: Vec<(usize, LockGuard<'a>)>,
    max_depth: usize,
    max_slots: usize,
}

/// A Wasm function of an interpreter instance, to enter in the same loop.
type Target<'a> = (&'a CompiledFunc, &'a Instance, &'a InterpCode);

impl<'a> Exec<'a> {
    /// Pops the caller's frame on return, releasing the locks taken for the callee.
    #[inline(always)]
    fn leave(&mut self) -> Option<Frame<'a>> {
        let depth = self.frames.len();
        if let Some((d, _)) = self.guards.last() {
            if *d == depth {
                self.guards.pop();
            }
        }
        self.frames.pop()
    }

    /// Calls `f` (an import or a table entry that is not a function of this instance) with its
    /// frame at slot `at` of the current frame. A Wasm function of an interpreter instance is
    /// returned to be entered in the same loop (its locks taken if its group differs); anything
    /// else is called through [`FuncData::call_raw`] right here.
    #[inline(never)]
    fn call_func_data(
        &mut self,
        f: &'a FuncData,
        at: Reg,
        base: usize,
        instance: &'a Instance,
        func: &'a CompiledFunc,
    ) -> Result<Option<Target<'a>>, Trap> {
        if let FuncKind::Wasm { def_index } = f.kind {
            let callee: &'a Instance = f.instance();
            if let Some(code) = callee.code().and_then(|c| c.as_any().downcast_ref::<InterpCode>())
            {
                if callee.is_closed() {
                    let t = Trap::host(format!("module \"{}\" is closed", callee.name()));
                    return Err(with_trace(t, instance, func, &self.frames));
                }
                if !callee.locks().same(instance.locks()) {
                    self.guards.push((self.frames.len() + 1, callee.locks().lock()));
                }
                return Ok(Some((&code.funcs[def_index as usize], callee, code)));
            }
        }
        let start = base + at as usize;
        let end = start + f.value_slots();
        if end > self.stack.len() && !grow(&mut self.stack, end, self.max_slots) {
            return Err(with_trace(TrapCode::StackOverflow.into(), instance, func, &self.frames));
        }
        match f.call_raw(Some(instance), &mut self.stack[start..end]) {
            Ok(()) => Ok(None),
            Err(t) => Err(with_trace(t, instance, func, &self.frames)),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn execute(
        &mut self,
        mut instance: &'a Instance,
        mut code: &'a InterpCode,
        mut func: &'a CompiledFunc,
    ) -> Result<(), Trap> {
        let mut base = 0usize;
        // SAFETY: `run` sized the stack for the entry function's frame at 0.
        let mut regs = unsafe { Regs::new(self.stack.as_mut_ptr()) };
        let mut ip: *const Instr = func.code.as_ptr();
        let mut mem = Mem::of(instance);

        macro_rules! trap {
            ($t:expr) => {
                return Err(with_trace(Trap::from($t), instance, func, &self.frames))
            };
        }
        macro_rules! un {
            ($p:expr, $ta:ty, |$x:ident| $e:expr) => {{
                let p = $p;
                let $x = <$ta>::from_slot(regs.get(p.src));
                regs.set(p.dst, Slot::to_slot($e));
            }};
        }
        macro_rules! un_trap {
            ($p:expr, $ta:ty, |$x:ident| $e:expr) => {{
                let p = $p;
                let $x = <$ta>::from_slot(regs.get(p.src));
                match $e {
                    Ok(v) => regs.set(p.dst, Slot::to_slot(v)),
                    Err(c) => trap!(c),
                }
            }};
        }
        macro_rules! bin {
            ($p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
                let p = $p;
                let $a = <$ta>::from_slot(regs.get(p.a));
                let $b = <$ta>::from_slot(regs.get(p.b));
                regs.set(p.dst, Slot::to_slot($e));
            }};
        }
        macro_rules! bin_trap {
            ($p:expr, $ta:ty, $f:expr) => {{
                let p = $p;
                let a = <$ta>::from_slot(regs.get(p.a));
                let b = <$ta>::from_slot(regs.get(p.b));
                match $f(a, b) {
                    Ok(v) => regs.set(p.dst, Slot::to_slot(v)),
                    Err(c) => trap!(c),
                }
            }};
        }
        macro_rules! imm {
            ($p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
                let p = $p;
                let $a = <$ta>::from_slot(regs.get(p.a));
                let $b = p.imm as $ta;
                regs.set(p.dst, Slot::to_slot($e));
            }};
        }
        macro_rules! jump {
            ($off:expr) => {{
                // SAFETY: the translator only emits jumps to instructions of the same function.
                ip = unsafe { ip.offset($off as isize - 1) };
            }};
        }
        macro_rules! jump_cmp {
            ($p:expr, $ta:ty, |$a:ident, $b:ident| $e:expr) => {{
                let p = $p;
                let $a = <$ta>::from_slot(regs.get(p.a));
                let $b = <$ta>::from_slot(regs.get(p.b));
                if $e {
                    jump!(p.offset);
                }
            }};
        }
        macro_rules! load {
            ($p:expr, $n:literal, |$bytes:ident| $e:expr) => {{
                let p = $p;
                match mem.load::<$n>(regs.get(p.addr), p.offset) {
                    Some($bytes) => regs.set(p.dst, $e),
                    None => trap!(TrapCode::MemoryOutOfBounds),
                }
            }};
        }
        macro_rules! store {
            ($p:expr, $t:ty) => {{
                let p = $p;
                let v = (regs.get(p.val) as $t).to_le_bytes();
                if !mem.store(regs.get(p.addr), p.offset, v) {
                    trap!(TrapCode::MemoryOutOfBounds);
                }
            }};
        }
        // Enters `callee` of `callee_instance`, whose frame starts at slot `at` of this frame.
        macro_rules! enter {
            ($callee:expr, $at:expr, $inst:expr, $code:expr) => {{
                let callee: &'a CompiledFunc = $callee;
                if self.frames.len() + 1 >= self.max_depth {
                    trap!(TrapCode::StackOverflow);
                }
                let new_base = base + $at as usize;
                let end = new_base + callee.frame_size as usize;
                if end > self.stack.len() && !grow(&mut self.stack, end, self.max_slots) {
                    trap!(TrapCode::StackOverflow);
                }
                self.frames.push(Frame { func, ret: ip, base, instance, code });
                base = new_base;
                func = callee;
                // SAFETY: the stack holds at least `end` slots: the callee's frame.
                regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(base)) };
                let init = &callee.init;
                // SAFETY: `num_params + init.len() <= frame_size` by construction of the
                // translated function, so the writes stay inside the callee's frame; `init`
                // is not part of the value stack.
                unsafe {
                    ptr::copy_nonoverlapping(
                        init.as_ptr(),
                        regs.0.add(callee.num_params as usize),
                        init.len(),
                    )
                };
                ip = callee.code.as_ptr();
                let inst: &'a Instance = $inst;
                if !ptr::eq(inst, instance) {
                    instance = inst;
                    code = $code;
                    mem = Mem::of(instance);
                }
            }};
        }

        loop {
            // SAFETY: `ip` is inside the running function's code: execution starts at its
            // first instruction, jumps land inside it, and every path ends in a return, a trap
            // or a jump, so `ip + 1` is read only after a non-terminal instruction.
            let instr = unsafe { *ip };
            // SAFETY: as above; at worst one past the last instruction, never read.
            ip = unsafe { ip.add(1) };
            match instr {
                Instr::Unreachable(()) => trap!(TrapCode::Unreachable),
                Instr::Return1(s) => {
                    let v = regs.get(s.src);
                    regs.set(0, v);
                    match self.leave() {
                        None => return Ok(()),
                        Some(f) => {
                            if !ptr::eq(f.instance, instance) {
                                instance = f.instance;
                                code = f.code;
                                mem = Mem::of(instance);
                            }
                            mem.reload();
                            func = f.func;
                            ip = f.ret;
                            base = f.base;
                            // SAFETY: the caller's frame is still reserved below the callee's.
                            regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(base)) };
                        }
                    }
                }
                Instr::Return(()) => match self.leave() {
                    None => return Ok(()),
                    Some(f) => {
                        if !ptr::eq(f.instance, instance) {
                            instance = f.instance;
                            code = f.code;
                            mem = Mem::of(instance);
                        }
                        mem.reload();
                        func = f.func;
                        ip = f.ret;
                        base = f.base;
                        // SAFETY: the caller's frame is still reserved below the callee's.
                        regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(base)) };
                    }
                },
                Instr::Copy(p) => regs.set(p.dst, regs.get(p.src)),
                Instr::Jump(j) => jump!(j.offset),
                Instr::JumpIfZ(j) => {
                    if regs.get(j.cond) as u32 == 0 {
                        jump!(j.offset)
                    }
                }
                Instr::JumpIfNz(j) => {
                    if regs.get(j.cond) as u32 != 0 {
                        jump!(j.offset)
                    }
                }
                Instr::JumpIfZ64(j) => {
                    if regs.get(j.cond) == 0 {
                        jump!(j.offset)
                    }
                }
                Instr::JumpIfNz64(j) => {
                    if regs.get(j.cond) != 0 {
                        jump!(j.offset)
                    }
                }
                Instr::JumpI32Eq(p) => jump_cmp!(p, i32, |a, b| a == b),
                Instr::JumpI32Ne(p) => jump_cmp!(p, i32, |a, b| a != b),
                Instr::JumpI32LtS(p) => jump_cmp!(p, i32, |a, b| a < b),
                Instr::JumpI32LtU(p) => jump_cmp!(p, u32, |a, b| a < b),
                Instr::JumpI32GtS(p) => jump_cmp!(p, i32, |a, b| a > b),
                Instr::JumpI32GtU(p) => jump_cmp!(p, u32, |a, b| a > b),
                Instr::JumpI32LeS(p) => jump_cmp!(p, i32, |a, b| a <= b),
                Instr::JumpI32LeU(p) => jump_cmp!(p, u32, |a, b| a <= b),
                Instr::JumpI32GeS(p) => jump_cmp!(p, i32, |a, b| a >= b),
                Instr::JumpI32GeU(p) => jump_cmp!(p, u32, |a, b| a >= b),
                Instr::JumpI64Eq(p) => jump_cmp!(p, i64, |a, b| a == b),
                Instr::JumpI64Ne(p) => jump_cmp!(p, i64, |a, b| a != b),
                Instr::JumpI64LtS(p) => jump_cmp!(p, i64, |a, b| a < b),
                Instr::JumpI64LtU(p) => jump_cmp!(p, u64, |a, b| a < b),
                Instr::JumpI64GtS(p) => jump_cmp!(p, i64, |a, b| a > b),
                Instr::JumpI64GtU(p) => jump_cmp!(p, u64, |a, b| a > b),
                Instr::JumpI64LeS(p) => jump_cmp!(p, i64, |a, b| a <= b),
                Instr::JumpI64LeU(p) => jump_cmp!(p, u64, |a, b| a <= b),
                Instr::JumpI64GeS(p) => jump_cmp!(p, i64, |a, b| a >= b),
                Instr::JumpI64GeU(p) => jump_cmp!(p, u64, |a, b| a >= b),
                Instr::BrTable(t) => {
                    let i = (regs.get(t.index) as u32).min(t.len);
                    // SAFETY: `len + 1` jump entries follow the BrTable instruction.
                    ip = unsafe { ip.add(i as usize) };
                }
                Instr::Call(c) => {
                    let callee = &code.funcs[c.func as usize];
                    enter!(callee, c.base, instance, code);
                }
                Instr::CallImport(c) => {
                    let f: &'a FuncData = instance.func(c.func);
                    let target = self.call_func_data(f, c.base, base, instance, func)?;
                    if let Some(target) = target {
                        enter!(target.0, c.base, target.1, target.2);
                    } else {
                        // SAFETY: the value stack did not move: host calls use their own.
                        regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(base)) };
                        mem.reload();
                    }
                }
                Instr::CallIndirect(c) => {
                    let index = regs.get(c.index) as u32;
                    let raw = match instance.table(c.table as u32).get(index) {
                        None => trap!(TrapCode::TableOutOfBounds),
                        Some(0) => trap!(TrapCode::IndirectCallToNull),
                        Some(raw) => raw,
                    };
                    // SAFETY: non-null funcref slots of tables hold addresses of live FuncData:
                    // their instances are kept alive by the store or by this instance.
                    let f: &'a FuncData = unsafe { FuncData::from_raw(raw) };
                    if f.sig != instance.sig_id(c.ty as u32) {
                        trap!(TrapCode::BadSignature);
                    }
                    match f.kind {
                        FuncKind::Wasm { def_index } if ptr::eq(f.instance(), instance) => {
                            let callee = &code.funcs[def_index as usize];
                            enter!(callee, c.base, instance, code);
                        }
                        _ => {
                            let target = self.call_func_data(f, c.base, base, instance, func)?;
                            if let Some(target) = target {
                                enter!(target.0, c.base, target.1, target.2);
                            } else {
                                // SAFETY: the value stack did not move.
                                regs = unsafe { Regs::new(self.stack.as_mut_ptr().add(base)) };
                                mem.reload();
                            }
                        }
                    }
                }
                Instr::Select(s) => {
                    let v =
                        if regs.get(s.cond) as u32 != 0 { regs.get(s.a) } else { regs.get(s.b) };
                    regs.set(s.dst, v);
                }
                Instr::GlobalGet(g) => regs.set(g.dst, instance.global(g.index).get()),
                Instr::GlobalSet(g) => instance.global(g.index).set(regs.get(g.src)),
                Instr::RefFunc(g) => regs.set(g.dst, instance.func(g.index).to_raw()),

                Instr::I32Load(p) => load!(p, 4, |b| u32::from_le_bytes(b) as u64),
                Instr::I64Load(p) => load!(p, 8, |b| u64::from_le_bytes(b)),
                Instr::F32Load(p) => load!(p, 4, |b| u32::from_le_bytes(b) as u64),
                Instr::F64Load(p) => load!(p, 8, |b| u64::from_le_bytes(b)),
                Instr::I32Load8S(p) => load!(p, 1, |b| b[0] as i8 as i32 as u32 as u64),
                Instr::I32Load8U(p) => load!(p, 1, |b| b[0] as u64),
                Instr::I32Load16S(p) => load!(p, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64),
                Instr::I32Load16U(p) => load!(p, 2, |b| u16::from_le_bytes(b) as u64),
                Instr::I64Load8S(p) => load!(p, 1, |b| b[0] as i8 as i64 as u64),
                Instr::I64Load8U(p) => load!(p, 1, |b| b[0] as u64),
                Instr::I64Load16S(p) => load!(p, 2, |b| i16::from_le_bytes(b) as i64 as u64),
                Instr::I64Load16U(p) => load!(p, 2, |b| u16::from_le_bytes(b) as u64),
                Instr::I64Load32S(p) => load!(p, 4, |b| i32::from_le_bytes(b) as i64 as u64),
                Instr::I64Load32U(p) => load!(p, 4, |b| u32::from_le_bytes(b) as u64),
                Instr::I32Store(p) => store!(p, u32),
                Instr::I64Store(p) => store!(p, u64),
                Instr::I32Store8(p) => store!(p, u8),
                Instr::I32Store16(p) => store!(p, u16),
                Instr::I64Store8(p) => store!(p, u8),
                Instr::I64Store16(p) => store!(p, u16),
                Instr::I64Store32(p) => store!(p, u32),
                Instr::MemorySize(p) => regs.set(p.dst, (mem.len / PAGE_SIZE) as u64),
                Instr::MemoryGrow(p) => {
                    let delta = regs.get(p.src) as u32 as u64;
                    let r = match mem.data {
                        Some(m) => m.grow(delta).map_or(u32::MAX, |old| old as u32),
                        None => u32::MAX,
                    };
                    mem.reload();
                    regs.set(p.dst, r as u64);
                }
                Instr::MemoryFill(p) => {
                    let (d, v, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u8, regs.get(p.c) as u32);
                    if !instance.memory(0).fill(d as u64, v, n as u64) {
                        trap!(TrapCode::MemoryOutOfBounds);
                    }
                }
                Instr::MemoryCopy(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    let m = instance.memory(0);
                    if !m.copy_from(d as u64, m, s as u64, n as u64) {
                        trap!(TrapCode::MemoryOutOfBounds);
                    }
                }
                Instr::MemoryInit(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    if let Err(c) = instance.memory_init(0, p.x as u32, d as u64, s, n) {
                        trap!(c);
                    }
                }
                Instr::DataDrop(p) => instance.data_drop(p.index),
                Instr::TableGet(p) => match instance.table(p.table).get(regs.get(p.b) as u32) {
                    Some(v) => regs.set(p.a, v),
                    None => trap!(TrapCode::TableOutOfBounds),
                },
                Instr::TableSet(p) => {
                    if !instance.table(p.table).set(regs.get(p.a) as u32, regs.get(p.b)) {
                        trap!(TrapCode::TableOutOfBounds);
                    }
                }
                Instr::TableSize(p) => regs.set(p.dst, instance.table(p.index).size() as u64),
                Instr::TableGrow(p) => {
                    let init = regs.get(p.b);
                    let delta = regs.get(p.c) as u32;
                    let r = instance.table(p.x as u32).grow(delta, init).unwrap_or(u32::MAX);
                    regs.set(p.a, r as u64);
                }
                Instr::TableFill(p) => {
                    let (d, v, n) = (regs.get(p.a) as u32, regs.get(p.b), regs.get(p.c) as u32);
                    if !instance.table(p.x as u32).fill(d, v, n) {
                        trap!(TrapCode::TableOutOfBounds);
                    }
                }
                Instr::TableCopy(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    let dst = instance.table(p.x as u32);
                    if !dst.copy_from(d, instance.table(p.y as u32), s, n) {
                        trap!(TrapCode::TableOutOfBounds);
                    }
                }
                Instr::TableInit(p) => {
                    let (d, s, n) =
                        (regs.get(p.a) as u32, regs.get(p.b) as u32, regs.get(p.c) as u32);
                    if let Err(c) = instance.table_init(p.x as u32, p.y as u32, d, s, n) {
                        trap!(c);
                    }
                }
                Instr::ElemDrop(p) => instance.elem_drop(p.index),

                Instr::I32Eqz(p) => un!(p, u32, |x| x == 0),
                Instr::I32Eq(p) => bin!(p, u32, |a, b| a == b),
                Instr::I32Ne(p) => bin!(p, u32, |a, b| a != b),
                Instr::I32LtS(p) => bin!(p, i32, |a, b| a < b),
                Instr::I32LtU(p) => bin!(p, u32, |a, b| a < b),
                Instr::I32GtS(p) => bin!(p, i32, |a, b| a > b),
                Instr::I32GtU(p) => bin!(p, u32, |a, b| a > b),
                Instr::I32LeS(p) => bin!(p, i32, |a, b| a <= b),
                Instr::I32LeU(p) => bin!(p, u32, |a, b| a <= b),
                Instr::I32GeS(p) => bin!(p, i32, |a, b| a >= b),
                Instr::I32GeU(p) => bin!(p, u32, |a, b| a >= b),
                Instr::I64Eqz(p) => un!(p, u64, |x| x == 0),
                Instr::I64Eq(p) => bin!(p, u64, |a, b| a == b),
                Instr::I64Ne(p) => bin!(p, u64, |a, b| a != b),
                Instr::I64LtS(p) => bin!(p, i64, |a, b| a < b),
                Instr::I64LtU(p) => bin!(p, u64, |a, b| a < b),
                Instr::I64GtS(p) => bin!(p, i64, |a, b| a > b),
                Instr::I64GtU(p) => bin!(p, u64, |a, b| a > b),
                Instr::I64LeS(p) => bin!(p, i64, |a, b| a <= b),
                Instr::I64LeU(p) => bin!(p, u64, |a, b| a <= b),
                Instr::I64GeS(p) => bin!(p, i64, |a, b| a >= b),
                Instr::I64GeU(p) => bin!(p, u64, |a, b| a >= b),
                Instr::F32Eq(p) => bin!(p, f32, |a, b| a == b),
                Instr::F32Ne(p) => bin!(p, f32, |a, b| a != b),
                Instr::F32Lt(p) => bin!(p, f32, |a, b| a < b),
                Instr::F32Gt(p) => bin!(p, f32, |a, b| a > b),
                Instr::F32Le(p) => bin!(p, f32, |a, b| a <= b),
                Instr::F32Ge(p) => bin!(p, f32, |a, b| a >= b),
                Instr::F64Eq(p) => bin!(p, f64, |a, b| a == b),
                Instr::F64Ne(p) => bin!(p, f64, |a, b| a != b),
                Instr::F64Lt(p) => bin!(p, f64, |a, b| a < b),
                Instr::F64Gt(p) => bin!(p, f64, |a, b| a > b),
                Instr::F64Le(p) => bin!(p, f64, |a, b| a <= b),
                Instr::F64Ge(p) => bin!(p, f64, |a, b| a >= b),

                Instr::I32Clz(p) => un!(p, u32, |x| x.leading_zeros()),
                Instr::I32Ctz(p) => un!(p, u32, |x| x.trailing_zeros()),
                Instr::I32Popcnt(p) => un!(p, u32, |x| x.count_ones()),
                Instr::I32Add(p) => bin!(p, u32, |a, b| a.wrapping_add(b)),
                Instr::I32Sub(p) => bin!(p, u32, |a, b| a.wrapping_sub(b)),
                Instr::I32Mul(p) => bin!(p, u32, |a, b| a.wrapping_mul(b)),
                Instr::I32DivS(p) => bin_trap!(p, i32, i32_div_s),
                Instr::I32DivU(p) => bin_trap!(p, u32, u32_div),
                Instr::I32RemS(p) => bin_trap!(p, i32, i32_rem_s),
                Instr::I32RemU(p) => bin_trap!(p, u32, u32_rem),
                Instr::I32And(p) => bin!(p, u32, |a, b| a & b),
                Instr::I32Or(p) => bin!(p, u32, |a, b| a | b),
                Instr::I32Xor(p) => bin!(p, u32, |a, b| a ^ b),
                Instr::I32Shl(p) => bin!(p, u32, |a, b| a.wrapping_shl(b)),
                Instr::I32ShrS(p) => bin!(p, i32, |a, b| a.wrapping_shr(b as u32)),
                Instr::I32ShrU(p) => bin!(p, u32, |a, b| a.wrapping_shr(b)),
                Instr::I32Rotl(p) => bin!(p, u32, |a, b| a.rotate_left(b % 32)),
                Instr::I32Rotr(p) => bin!(p, u32, |a, b| a.rotate_right(b % 32)),
                Instr::I32AddImm(p) => imm!(p, u32, |a, b| a.wrapping_add(b)),
                Instr::I32MulImm(p) => imm!(p, u32, |a, b| a.wrapping_mul(b)),
                Instr::I32AndImm(p) => imm!(p, u32, |a, b| a & b),
                Instr::I32OrImm(p) => imm!(p, u32, |a, b| a | b),
                Instr::I32XorImm(p) => imm!(p, u32, |a, b| a ^ b),
                Instr::I32ShlImm(p) => imm!(p, u32, |a, b| a.wrapping_shl(b)),
                Instr::I32ShrSImm(p) => imm!(p, i32, |a, b| a.wrapping_shr(b as u32)),
                Instr::I32ShrUImm(p) => imm!(p, u32, |a, b| a.wrapping_shr(b)),
                Instr::I64Clz(p) => un!(p, u64, |x| x.leading_zeros() as u64),
                Instr::I64Ctz(p) => un!(p, u64, |x| x.trailing_zeros() as u64),
                Instr::I64Popcnt(p) => un!(p, u64, |x| x.count_ones() as u64),
                Instr::I64Add(p) => bin!(p, u64, |a, b| a.wrapping_add(b)),
                Instr::I64Sub(p) => bin!(p, u64, |a, b| a.wrapping_sub(b)),
                Instr::I64Mul(p) => bin!(p, u64, |a, b| a.wrapping_mul(b)),
                Instr::I64DivS(p) => bin_trap!(p, i64, i64_div_s),
                Instr::I64DivU(p) => bin_trap!(p, u64, u64_div),
                Instr::I64RemS(p) => bin_trap!(p, i64, i64_rem_s),
                Instr::I64RemU(p) => bin_trap!(p, u64, u64_rem),
                Instr::I64And(p) => bin!(p, u64, |a, b| a & b),
                Instr::I64Or(p) => bin!(p, u64, |a, b| a | b),
                Instr::I64Xor(p) => bin!(p, u64, |a, b| a ^ b),
                Instr::I64Shl(p) => bin!(p, u64, |a, b| a.wrapping_shl(b as u32)),
                Instr::I64ShrS(p) => bin!(p, i64, |a, b| a.wrapping_shr(b as u32)),
                Instr::I64ShrU(p) => bin!(p, u64, |a, b| a.wrapping_shr(b as u32)),
                Instr::I64Rotl(p) => bin!(p, u64, |a, b| a.rotate_left((b % 64) as u32)),
                Instr::I64Rotr(p) => bin!(p, u64, |a, b| a.rotate_right((b % 64) as u32)),
                Instr::I64AddImm(p) => imm!(p, i64, |a, b| a.wrapping_add(b)),
                Instr::I64MulImm(p) => imm!(p, i64, |a, b| a.wrapping_mul(b)),
                Instr::I64AndImm(p) => imm!(p, i64, |a, b| a & b),
                Instr::I64OrImm(p) => imm!(p, i64, |a, b| a | b),
                Instr::I64XorImm(p) => imm!(p, i64, |a, b| a ^ b),
                Instr::I64ShlImm(p) => imm!(p, i64, |a, b| a.wrapping_shl(b as u32)),
                Instr::I64ShrSImm(p) => imm!(p, i64, |a, b| a.wrapping_shr(b as u32)),
                Instr::I64ShrUImm(p) => imm!(p, u64, |a, b| a.wrapping_shr(b as u32)),

                Instr::F32Abs(p) => un!(p, f32, |x| f32_abs(x)),
                Instr::F32Neg(p) => un!(p, f32, |x| f32_neg(x)),
                Instr::F32Ceil(p) => un!(p, f32, |x| f32_quiet(x.ceil())),
                Instr::F32Floor(p) => un!(p, f32, |x| f32_quiet(x.floor())),
                Instr::F32Trunc(p) => un!(p, f32, |x| f32_quiet(x.trunc())),
                Instr::F32Nearest(p) => un!(p, f32, |x| f32_nearest(x)),
                Instr::F32Sqrt(p) => un!(p, f32, |x| x.sqrt()),
                Instr::F32Add(p) => bin!(p, f32, |a, b| a + b),
                Instr::F32Sub(p) => bin!(p, f32, |a, b| a - b),
                Instr::F32Mul(p) => bin!(p, f32, |a, b| a * b),
                Instr::F32Div(p) => bin!(p, f32, |a, b| a / b),
                Instr::F32Min(p) => bin!(p, f32, |a, b| f32_min(a, b)),
                Instr::F32Max(p) => bin!(p, f32, |a, b| f32_max(a, b)),
                Instr::F32Copysign(p) => bin!(p, f32, |a, b| f32_copysign(a, b)),
                Instr::F64Abs(p) => un!(p, f64, |x| f64_abs(x)),
                Instr::F64Neg(p) => un!(p, f64, |x| f64_neg(x)),
                Instr::F64Ceil(p) => un!(p, f64, |x| f64_quiet(x.ceil())),
                Instr::F64Floor(p) => un!(p, f64, |x| f64_quiet(x.floor())),
                Instr::F64Trunc(p) => un!(p, f64, |x| f64_quiet(x.trunc())),
                Instr::F64Nearest(p) => un!(p, f64, |x| f64_nearest(x)),
                Instr::F64Sqrt(p) => un!(p, f64, |x| x.sqrt()),
                Instr::F64Add(p) => bin!(p, f64, |a, b| a + b),
                Instr::F64Sub(p) => bin!(p, f64, |a, b| a - b),
                Instr::F64Mul(p) => bin!(p, f64, |a, b| a * b),
                Instr::F64Div(p) => bin!(p, f64, |a, b| a / b),
                Instr::F64Min(p) => bin!(p, f64, |a, b| f64_min(a, b)),
                Instr::F64Max(p) => bin!(p, f64, |a, b| f64_max(a, b)),
                Instr::F64Copysign(p) => bin!(p, f64, |a, b| f64_copysign(a, b)),

                Instr::I32WrapI64(p) => un!(p, u64, |x| x as u32),
                Instr::I32TruncF32S(p) => un_trap!(p, f32, |x| i32_trunc_f32(x)),
                Instr::I32TruncF32U(p) => un_trap!(p, f32, |x| u32_trunc_f32(x)),
                Instr::I32TruncF64S(p) => un_trap!(p, f64, |x| i32_trunc_f64(x)),
                Instr::I32TruncF64U(p) => un_trap!(p, f64, |x| u32_trunc_f64(x)),
                Instr::I64ExtendI32S(p) => un!(p, i32, |x| x as i64),
                Instr::I64ExtendI32U(p) => un!(p, u32, |x| x as u64),
                Instr::I64TruncF32S(p) => un_trap!(p, f32, |x| i64_trunc_f32(x)),
                Instr::I64TruncF32U(p) => un_trap!(p, f32, |x| u64_trunc_f32(x)),
                Instr::I64TruncF64S(p) => un_trap!(p, f64, |x| i64_trunc_f64(x)),
                Instr::I64TruncF64U(p) => un_trap!(p, f64, |x| u64_trunc_f64(x)),
                Instr::F32ConvertI32S(p) => un!(p, i32, |x| x as f32),
                Instr::F32ConvertI32U(p) => un!(p, u32, |x| x as f32),
                Instr::F32ConvertI64S(p) => un!(p, i64, |x| x as f32),
                Instr::F32ConvertI64U(p) => un!(p, u64, |x| x as f32),
                Instr::F32DemoteF64(p) => un!(p, f64, |x| x as f32),
                Instr::F64ConvertI32S(p) => un!(p, i32, |x| x as f64),
                Instr::F64ConvertI32U(p) => un!(p, u32, |x| x as f64),
                Instr::F64ConvertI64S(p) => un!(p, i64, |x| x as f64),
                Instr::F64ConvertI64U(p) => un!(p, u64, |x| x as f64),
                Instr::F64PromoteF32(p) => un!(p, f32, |x| x as f64),
                Instr::I32Extend8S(p) => un!(p, u32, |x| x as i8 as i32),
                Instr::I32Extend16S(p) => un!(p, u32, |x| x as i16 as i32),
                Instr::I64Extend8S(p) => un!(p, u64, |x| x as i8 as i64),
                Instr::I64Extend16S(p) => un!(p, u64, |x| x as i16 as i64),
                Instr::I64Extend32S(p) => un!(p, u64, |x| x as i32 as i64),
                Instr::I32TruncSatF32S(p) => un!(p, f32, |x| x as i32),
                Instr::I32TruncSatF32U(p) => un!(p, f32, |x| x as u32),
                Instr::I32TruncSatF64S(p) => un!(p, f64, |x| x as i32),
                Instr::I32TruncSatF64U(p) => un!(p, f64, |x| x as u32),
                Instr::I64TruncSatF32S(p) => un!(p, f32, |x| x as i64),
                Instr::I64TruncSatF32U(p) => un!(p, f32, |x| x as u64),
                Instr::I64TruncSatF64S(p) => un!(p, f64, |x| x as i64),
                Instr::I64TruncSatF64U(p) => un!(p, f64, |x| x as u64),
            }
        }
    }
}
