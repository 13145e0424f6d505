//! One-pass translation of a validated function body to [`Instr`]s.
//!
//! The translator keeps a value stack of [`Entry`]s and a control stack of [`Ctrl`] frames.
//! A value on the stack that had to be computed lives in the temporary slot `temp_base + pos`,
//! where `pos` counts the slots of the values below it (a `v128` takes two); locals and
//! constants are not copied but pushed as providers naming their own slot. Validation makes the
//! types below a given height the same on every path, so block results, branch values and call
//! arguments always meet at fixed slots.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use keel_decode::wasmparser::{
    self as wp, BinaryReader, BlockType, MemArg, Operator, OperatorsReader,
};
use keel_decode::{FuncType, Module, ValType};

use crate::instr::*;
use crate::{CompiledFunc, TranslateError, TranslateOptions};

/// Provisional slot of the temporary at stack height 0 (see `Translator::slot`).
const TEMP_TOP: usize = u16::MAX as usize;

mod simd;

/// A fast hasher for the translator's small integer keys (std's default, SipHash, was a tenth of
/// the translation time): multiply-rotate, as in rustc's FxHash.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// What a value-stack entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    /// The current value of a local.
    Local(Reg),
    /// A constant of the pool.
    Const(Reg),
    /// A computed value in its temporary slot.
    Temp,
}

/// A value-stack entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    op: Operand,
    /// Its temporary's position among the temporaries: the slots of the entries below it.
    pos: u32,
    /// A `v128` (two slots).
    wide: bool,
}

impl Entry {
    fn slots(&self) -> u32 {
        1 + self.wide as u32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop,
    If,
    Else,
    /// The function body.
    Func,
}

struct Ctrl {
    kind: Kind,
    /// Stack height below the block's parameters.
    height: usize,
    /// Temporary position at `height`.
    pos: u32,
    /// The block's type, for its parameters' and results' widths.
    ty: BlockType,
    params: usize,
    results: usize,
    /// Forward jumps to patch to the end of the block.
    fixups: Vec<usize>,
    /// Loop head.
    head: usize,
    /// For `if` without `else` (yet): the jump to patch to the else branch.
    else_fixup: Option<usize>,
}

impl Ctrl {
    fn branch_arity(&self) -> usize {
        if self.kind == Kind::Loop { self.params } else { self.results }
    }
}

fn err(offset: usize, message: impl Into<String>) -> TranslateError {
    TranslateError { offset, message: message.into() }
}

/// Translates defined function `def_index` of `module`.
pub fn translate_function(module: &Module, def_index: u32) -> Result<CompiledFunc, TranslateError> {
    translate_function_with(module, def_index, TranslateOptions::default())
}

/// Translates defined function `def_index` of `module` as `options` ask.
pub fn translate_function_with(
    module: &Module,
    def_index: u32,
    options: TranslateOptions,
) -> Result<CompiledFunc, TranslateError> {
    let body = &module.bodies[def_index as usize];
    let func_index = module.num_imported_functions + def_index;
    let ty = module.func_type(func_index);
    let num_params = slots(&ty.params);
    let num_locals =
        num_params + body.locals.iter().map(|&(n, t)| n as usize * t.slots()).sum::<usize>();
    if num_locals > u16::MAX as usize {
        return Err(err(body.body.start, "function has too many locals for the interpreter"));
    }
    // Local index -> (first slot, wide), needed only when a v128 makes them differ.
    let mut locals = Vec::new();
    if ty.params.contains(&ValType::V128) || body.locals.iter().any(|(_, t)| *t == ValType::V128) {
        let declared = body.locals.iter().flat_map(|&(n, t)| std::iter::repeat_n(t, n as usize));
        let mut at = 0;
        for t in ty.params.iter().copied().chain(declared) {
            locals.push((at as Reg, t == ValType::V128));
            at += t.slots();
        }
    }
    let num_results = slots(&ty.results);
    let locals_end = num_locals.max(num_results);

    let bytes = &module.bytes[body.code.clone()];
    let const_base = locals_end;
    let mut t = Translator {
        module,
        // About one instruction per two bytes of code in practice.
        code: Vec::with_capacity(bytes.len() / 2 + 4),
        offsets: Vec::with_capacity(bytes.len() / 2 + 4),
        offset: body.code.start as u32,
        stack: Vec::with_capacity(32),
        top: 0,
        max_slots: 0,
        const_base,
        pool: Vec::new(),
        pool_map: FastMap::default(),
        pool_map128: FastMap::default(),
        ctrl: Vec::with_capacity(16),
        reachable: true,
        dead_depth: 0,
        fence: 0,
        local_refs: 0,
        locals,
        results: &ty.results,
        listening: options.listening,
        tiered: options.tiered,
        body_start: body.code.start as u32,
    };
    if options.tiered {
        t.emit(Instr::TierEnter(()));
        t.bind_label();
    }
    if options.listening {
        t.emit(Instr::ListenEnter(()));
        t.bind_label();
    }
    t.ctrl.push(Ctrl {
        kind: Kind::Func,
        height: 0,
        pos: 0,
        ty: BlockType::Empty,
        params: 0,
        results: ty.results.len(),
        fixups: Vec::new(),
        head: 0,
        else_fixup: None,
    });
    let mut reader = OperatorsReader::new(BinaryReader::new(bytes, body.code.start as u64));
    while !reader.eof() {
        let (op, offset) =
            reader.read_with_offset().map_err(|e| err(e.offset() as usize, e.message()))?;
        t.offset = offset as u32;
        t.op(op).map_err(|m| err(offset as usize, m))?;
    }
    let temp_base = const_base + t.pool.len();
    let frame_size = temp_base + t.max_slots;
    if frame_size > u16::MAX as usize {
        return Err(err(
            body.body.start,
            "function needs more frame slots than the interpreter allows",
        ));
    }
    if t.code.is_empty() || !t.ctrl.is_empty() {
        return Err(err(body.body.end, "function body did not end"));
    }
    // Temporaries were numbered down from the top of the slot space while the constant pool
    // was still growing (see `Translator::slot`): move them above the constants. The frame
    // check above guarantees the two ranges did not meet.
    let first_temp = (TEMP_TOP + 1 - t.max_slots) as Reg;
    if t.max_slots > 0 {
        let remap = |r: Reg| {
            if r >= first_temp { (temp_base + (TEMP_TOP - r as usize)) as Reg } else { r }
        };
        for i in t.code.iter_mut() {
            i.map_regs(&remap);
        }
    }
    let mut init = Vec::with_capacity(locals_end - num_params + t.pool.len());
    init.resize(locals_end - num_params, 0u64);
    init.extend_from_slice(&t.pool);
    let func = CompiledFunc {
        code: t.code.into(),
        offsets: t.offsets.into(),
        frame_size: frame_size as u16,
        num_params: num_params as u16,
        num_results: num_results as u16,
        init: init.into(),
        func_index,
    };
    // Every test and debug spec run checks every translated function: bytecode that breaks
    // the interpreter's invariants is a translator bug, never to be run (see `verify`).
    #[cfg(debug_assertions)]
    if let Err(e) = crate::verify(&func, module) {
        panic!("keel-ir translated invalid bytecode: {e}");
    }
    Ok(func)
}

/// Slots taken by values of these types.
fn slots(types: &[ValType]) -> usize {
    types.iter().map(|t| t.slots()).sum()
}

struct Translator<'a> {
    module: &'a Module,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    offset: u32,
    stack: Vec<Entry>,
    /// The temporary position above the top of the stack.
    top: u32,
    /// Temporary slots used so far.
    max_slots: usize,
    const_base: usize,
    /// The constant pool, in order of first use, and each constant's index in it (a v128 takes
    /// two consecutive entries, found through `pool_map128`).
    pool: Vec<u64>,
    pool_map: FastMap<u64, usize>,
    pool_map128: FastMap<u128, usize>,
    ctrl: Vec<Ctrl>,
    reachable: bool,
    /// Depth of blocks opened inside unreachable code.
    dead_depth: u32,
    /// Instructions before this index may not be changed (a label was bound here).
    fence: usize,
    /// Number of `Operand::Local`s on the stack.
    local_refs: usize,
    /// Each local's first slot and whether it is a v128; empty when every local takes one slot
    /// (local `i` is slot `i`).
    locals: Vec<(Reg, bool)>,
    /// The function's result types.
    results: &'a [ValType],
    /// Emitting the listening variant (see [`TranslateOptions::listening`]).
    listening: bool,
    /// Emitting the tiered variant (see [`TranslateOptions::tiered`]).
    tiered: bool,
    /// Offset of the function body in the module binary (loop ids are relative to it).
    body_start: u32,
}

type R<T = ()> = Result<T, String>;

macro_rules! un {
    ($self:ident, $v:ident) => {{
        let src = $self.pop();
        let dst = $self.push_temp();
        $self.emit(Instr::$v(R2 { dst, src }));
    }};
}
macro_rules! bin {
    ($self:ident, $v:ident) => {{
        let b = $self.pop();
        let a = $self.pop();
        let dst = $self.push_temp();
        $self.emit(Instr::$v(R3 { dst, a, b }));
    }};
}

impl<'a> Translator<'a> {
    /// The temporary slot of position `pos`, provisionally: the constant pool, which comes first
    /// in the frame, is only known at the end of the function, so temporaries are numbered down
    /// from `TEMP_TOP` and moved above the constants at the end (one pass over the code instead
    /// of a second pass over the operators to find the constants first). A v128 temporary is
    /// named by its first slot, so only its name is remapped.
    fn slot(&self, pos: u32) -> Reg {
        // Wraps only when the frame is too large, which is reported at the end.
        TEMP_TOP.wrapping_sub(pos as usize) as Reg
    }

    /// The temporary slot of stack entry `i`.
    fn temp(&self, i: usize) -> Reg {
        self.slot(self.stack[i].pos)
    }

    /// The temporary position of stack height `height` (at most the stack's height).
    fn pos_at(&self, height: usize) -> u32 {
        self.stack.get(height).map_or(self.top, |e| e.pos)
    }

    fn reg_at(&self, i: usize) -> Reg {
        match self.stack[i].op {
            Operand::Local(r) | Operand::Const(r) => r,
            Operand::Temp => self.temp(i),
        }
    }

    fn is_temp(&self, i: usize) -> bool {
        self.stack[i].op == Operand::Temp
    }

    fn pop(&mut self) -> Reg {
        let i = self.stack.len() - 1;
        let r = self.reg_at(i);
        let e = self.stack.pop().expect("validated");
        if let Operand::Local(_) = e.op {
            self.local_refs -= 1;
        }
        self.top = e.pos;
        r
    }

    #[inline(always)]
    fn push(&mut self, op: Operand, wide: bool) {
        if let Operand::Local(_) = op {
            self.local_refs += 1;
        }
        let e = Entry { op, pos: self.top, wide };
        self.top += e.slots();
        self.reserve(self.top);
        self.stack.push(e);
    }

    /// Makes the frame hold temporary positions below `end`.
    fn reserve(&mut self, end: u32) {
        self.max_slots = self.max_slots.max(end as usize);
    }

    fn push_const(&mut self, bits: u64) {
        let r = self.const_reg(bits);
        self.push(Operand::Const(r), false);
    }

    fn push_temp(&mut self) -> Reg {
        self.push(Operand::Temp, false);
        self.temp(self.stack.len() - 1)
    }

    /// Pushes a v128 temporary; its first slot.
    fn push_temp128(&mut self) -> Reg {
        self.push(Operand::Temp, true);
        self.temp(self.stack.len() - 1)
    }

    /// Pushes the parameters (or results) of a block of type `bt` as temporaries.
    fn push_block_values(&mut self, bt: BlockType, results: bool) {
        match bt {
            BlockType::Empty => {}
            BlockType::Type(t) => {
                if results {
                    self.push(Operand::Temp, t == wp::ValType::V128);
                }
            }
            BlockType::FuncType(i) => {
                let module = self.module;
                let ty = &module.types[i as usize];
                for &t in if results { &ty.results } else { &ty.params } {
                    self.push(Operand::Temp, t == ValType::V128);
                }
            }
        }
    }

    /// Local `index`'s first slot and whether it is a v128.
    fn local(&self, index: u32) -> (Reg, bool) {
        match self.locals.get(index as usize) {
            Some(&l) => l,
            None => (index as Reg, false),
        }
    }

    fn emit(&mut self, i: Instr) -> usize {
        self.code.push(i);
        self.offsets.push(self.offset);
        self.code.len() - 1
    }

    /// A copy of a value of one or two slots.
    fn emit_copy(&mut self, dst: Reg, src: Reg, wide: bool) {
        let r = R2 { dst, src };
        self.emit(if wide { Instr::Copy128(r) } else { Instr::Copy(r) });
    }

    fn bind_label(&mut self) -> usize {
        self.fence = self.code.len();
        self.code.len()
    }

    /// The slot of a constant, added to the pool on first use.
    fn const_reg(&mut self, bits: u64) -> Reg {
        let pool = &mut self.pool;
        let k = *self.pool_map.entry(bits).or_insert_with(|| {
            pool.push(bits);
            pool.len() - 1
        });
        // Wraps only when the frame is too large, which is reported at the end.
        (self.const_base + k) as Reg
    }

    /// The first slot of a v128 constant, added to the pool (low half first) on first use.
    fn const_reg128(&mut self, bits: u128) -> Reg {
        let pool = &mut self.pool;
        let k = *self.pool_map128.entry(bits).or_insert_with(|| {
            pool.extend([bits as u64, (bits >> 64) as u64]);
            pool.len() - 2
        });
        (self.const_base + k) as Reg
    }

    /// The constant value in `r`, if it is a constant slot.
    fn const_value(&self, r: Reg) -> Option<u64> {
        let r = r as usize;
        (r >= self.const_base && r < self.const_base + self.pool.len())
            .then(|| self.pool[r - self.const_base])
    }

    /// Moves stack entry `i` into its temporary slot if it is a provider.
    fn materialize(&mut self, i: usize) {
        match self.stack[i].op {
            Operand::Temp => {}
            Operand::Local(src) | Operand::Const(src) => {
                if let Operand::Local(_) = self.stack[i].op {
                    self.local_refs -= 1;
                }
                let dst = self.temp(i);
                self.emit_copy(dst, src, self.stack[i].wide);
                self.stack[i].op = Operand::Temp;
            }
        }
    }

    fn materialize_top(&mut self, n: usize) {
        let len = self.stack.len();
        for i in len - n..len {
            self.materialize(i);
        }
    }

    /// Copies every entry that reads a local into its temporary slot: done before a block, so
    /// that a `local.set` inside it cannot change what the entry means on some paths only.
    fn materialize_locals(&mut self) {
        if self.local_refs == 0 {
            return;
        }
        for i in 0..self.stack.len() {
            if let Operand::Local(_) = self.stack[i].op {
                self.materialize(i);
            }
        }
    }

    /// The last instruction, if it may still be changed and it wrote `slot`.
    fn last_writer(&self, slot: Reg) -> Option<usize> {
        let last = self.code.len().checked_sub(1)?;
        if last < self.fence {
            return None;
        }
        let mut instr = self.code[last];
        (instr.dst_mut().map(|d| *d) == Some(slot)).then_some(last)
    }

    /// The last instruction, if it may still be changed and it computed stack entry `i` into
    /// its temporary.
    fn last_writer_of(&self, i: usize) -> Option<usize> {
        if !self.is_temp(i) {
            return None;
        }
        self.last_writer(self.temp(i))
    }

    fn set_local(&mut self, index: u32) {
        let (local, wide) = self.local(index);
        let top = self.stack.len() - 1;
        let mut preserved = false;
        if self.local_refs > 0 {
            for i in 0..top {
                if self.stack[i].op == Operand::Local(local) {
                    self.materialize(i);
                    preserved = true;
                }
            }
        }
        match self.stack[top].op {
            Operand::Temp => {
                let slot = self.temp(top);
                match self.last_writer(slot) {
                    Some(at) if !preserved => {
                        *self.code[at].dst_mut().expect("has a dst") = local;
                    }
                    _ => self.emit_copy(local, slot, wide),
                }
            }
            Operand::Local(src) if src == local => {}
            Operand::Local(src) | Operand::Const(src) => self.emit_copy(local, src, wide),
        }
        self.pop();
    }

    fn block_arity(&self, bt: BlockType) -> (usize, usize) {
        match bt {
            BlockType::Empty => (0, 0),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(i) => {
                let ty = &self.module.types[i as usize];
                (ty.params.len(), ty.results.len())
            }
        }
    }

    fn push_ctrl(&mut self, kind: Kind, ty: BlockType) {
        let (params, results) = self.block_arity(ty);
        self.materialize_locals();
        self.materialize_top(params);
        let height = self.stack.len() - params;
        let head = if kind == Kind::Loop { self.bind_label() } else { 0 };
        if kind == Kind::Loop && self.tiered && self.stack.is_empty() {
            // The head of an OSR-able loop: its state is the locals, in their home slots.
            let index = self.offset - self.body_start;
            self.emit(Instr::TierLoop(crate::instr::Idx { index }));
        }
        self.ctrl.push(Ctrl {
            kind,
            height,
            pos: self.pos_at(height),
            ty,
            params,
            results,
            fixups: Vec::new(),
            head,
            else_fixup: None,
        });
    }

    fn patch(&mut self, at: usize, target: usize) {
        let off = target as i64 - at as i64;
        *self.code[at].offset_mut().expect("a jump") = off as i32;
    }

    /// Pops an i32 condition and emits a jump taken when it is non-zero (or zero, if `negate`),
    /// fusing a preceding comparison. Returns the jump's index.
    fn cond_jump(&mut self, negate: bool) -> usize {
        let top = self.stack.len() - 1;
        if let Some(at) = self.last_writer_of(top)
            && let Some(j) = fuse_cmp(self.code[at], negate)
        {
            self.pop();
            self.code.pop();
            self.offsets.pop();
            return self.emit(j);
        }
        let cond = self.pop();
        let j = JumpIf { cond, offset: 0 };
        self.emit(if negate { Instr::JumpIfZ(j) } else { Instr::JumpIfNz(j) })
    }

    /// Whether a branch to relative `depth` is a lone jump (its values already in place).
    fn branch_is_jump(&self, depth: usize) -> bool {
        let c = &self.ctrl[self.ctrl.len() - 1 - depth];
        if c.kind == Kind::Func {
            return false;
        }
        let n = c.branch_arity();
        let len = self.stack.len();
        (0..n).all(|k| {
            let i = len - n + k;
            self.is_temp(i) && i == c.height + k
        })
    }

    /// Registers jump `at` as going to the label of relative `depth`.
    fn link(&mut self, at: usize, depth: usize) {
        let idx = self.ctrl.len() - 1 - depth;
        if self.ctrl[idx].kind == Kind::Loop {
            let head = self.ctrl[idx].head;
            self.patch(at, head);
        } else {
            self.ctrl[idx].fixups.push(at);
        }
    }

    /// Fuses the (backward, already linked) conditional jump `j` with an increment of a counter
    /// just before it that the comparison reads: `i += k; if i != n { continue }` in one.
    fn fuse_counter(&mut self, j: usize) {
        if j == 0 || j + 1 != self.code.len() || j - 1 < self.fence {
            return;
        }
        let (step, is64) = match self.code[j - 1] {
            Instr::I32AddImm(r) => (r, false),
            Instr::I64AddImm(r) => (r, true),
            Instr::I32Add(r) => return self.fuse_counter_reg(j, r),
            _ => return,
        };
        let Ok(imm) = i16::try_from(step.imm) else { return };
        if step.dst != step.a {
            return;
        }
        let i = step.dst;
        type Make = fn(JumpAddImm) -> Instr;
        let fused: (Make, JumpCmp) = match (self.code[j], is64) {
            (Instr::JumpI32Ne(c), false) if c.a == i && c.b != i => (Instr::JumpI32NeAddImm, c),
            (Instr::JumpI32Ne(c), false) if c.b == i && c.a != i => {
                (Instr::JumpI32NeAddImm, JumpCmp { a: c.b, b: c.a, offset: c.offset })
            }
            (Instr::JumpI32LtS(c), false) if c.a == i && c.b != i => (Instr::JumpI32LtSAddImm, c),
            (Instr::JumpI32LtU(c), false) if c.a == i && c.b != i => (Instr::JumpI32LtUAddImm, c),
            (Instr::JumpI64Ne(c), true) if c.a == i && c.b != i => (Instr::JumpI64NeAddImm, c),
            (Instr::JumpI64Ne(c), true) if c.b == i && c.a != i => {
                (Instr::JumpI64NeAddImm, JumpCmp { a: c.b, b: c.a, offset: c.offset })
            }
            _ => return,
        };
        let (make, c) = fused;
        // Relative to the fused instruction, one before the jump; backward only (linked).
        let Ok(offset) = i16::try_from(c.offset + 1) else { return };
        if offset >= 0 {
            return;
        }
        self.code.pop();
        self.offsets.pop();
        self.code[j - 1] = make(JumpAddImm { reg: i, b: c.b, imm, offset });
    }

    /// `fuse_counter` for a step by a slot: `i += s; if i < n { continue }`.
    fn fuse_counter_reg(&mut self, j: usize, step: R3) {
        let (i, s) = if step.dst == step.a {
            (step.a, step.b)
        } else if step.dst == step.b {
            (step.b, step.a)
        } else {
            return;
        };
        type Make = fn(JumpAdd) -> Instr;
        let (make, c): (Make, JumpCmp) = match self.code[j] {
            Instr::JumpI32Ne(c) if c.a == i => (Instr::JumpI32NeAdd, c),
            Instr::JumpI32Ne(c) if c.b == i => {
                (Instr::JumpI32NeAdd, JumpCmp { a: c.b, b: c.a, offset: c.offset })
            }
            Instr::JumpI32LtS(c) if c.a == i => (Instr::JumpI32LtSAdd, c),
            Instr::JumpI32LtU(c) if c.a == i => (Instr::JumpI32LtUAdd, c),
            _ => return,
        };
        if c.b == i || s == i {
            return;
        }
        let Ok(offset) = i16::try_from(c.offset + 1) else { return };
        if offset >= 0 {
            return;
        }
        self.code.pop();
        self.offsets.pop();
        self.code[j - 1] = make(JumpAdd { reg: i, step: s, b: c.b, offset });
    }

    /// Emits an unconditional branch to relative `depth`: value copies, then a jump or return.
    fn branch(&mut self, depth: usize) {
        let idx = self.ctrl.len() - 1 - depth;
        if self.ctrl[idx].kind == Kind::Func {
            self.emit_return();
            return;
        }
        let n = self.ctrl[idx].branch_arity();
        let target = self.ctrl[idx].pos;
        let len = self.stack.len();
        let first = self.pos_at(len - n);
        // The values move down (or stay): no copy overwrites a later one's source.
        for i in len - n..len {
            let src = self.reg_at(i);
            let dst = self.slot(target + self.stack[i].pos - first);
            if src != dst {
                self.emit_copy(dst, src, self.stack[i].wide);
            }
        }
        let j = self.emit_jump();
        self.link(j, depth);
    }

    /// Emits an unconditional jump (to patch), fused with a copy just before it.
    fn emit_jump(&mut self) -> usize {
        if let Some(&Instr::Copy(R2 { dst, src })) = self.code.last()
            && self.code.len() > self.fence
        {
            self.code.pop();
            self.offsets.pop();
            return self.emit(Instr::CopyJump(CopyJump { dst, src, offset: 0 }));
        }
        self.emit(Instr::Jump(Jump { offset: 0 }))
    }

    /// Returns with the results already in slots `0..n`.
    fn emit_ret(&mut self) {
        let ret = if self.listening { Instr::ListenReturn(()) } else { Instr::Return(()) };
        self.emit(ret);
    }

    fn emit_return(&mut self) {
        let n = self.results.len();
        let len = self.stack.len();
        match n {
            0 => self.emit_ret(),
            1 => {
                let src = self.reg_at(len - 1);
                if src == 0 {
                    self.emit_ret();
                } else if self.stack[len - 1].wide {
                    self.emit(Instr::Copy128(R2 { dst: 0, src }));
                    self.emit_ret();
                } else if self.listening {
                    self.emit(Instr::Copy(R2 { dst: 0, src }));
                    self.emit_ret();
                } else {
                    self.emit(Instr::Return1(Src { src }));
                }
            }
            _ => {
                // Locals in the results' slots could be overwritten before they are read: read
                // those through their (free) temporary slot. The stack is left as it is, since a
                // conditional return's fall-through path continues with it.
                let end = slots(self.results) as Reg;
                let first = self.pos_at(len - n);
                let mut srcs = Vec::with_capacity(n);
                for i in len - n..len {
                    let e = self.stack[i];
                    let at = (e.pos - first) as Reg;
                    let mut src = self.reg_at(i);
                    if let Operand::Local(r) = e.op
                        && r < end
                        && r != at
                    {
                        src = self.temp(i);
                        self.emit_copy(src, r, e.wide);
                    }
                    srcs.push((at, src, e.wide));
                }
                for (at, src, wide) in srcs {
                    if src != at {
                        self.emit_copy(at, src, wide);
                    }
                }
                self.emit_ret();
            }
        }
    }

    fn set_unreachable(&mut self) {
        self.reachable = false;
        let height = self.ctrl.last().expect("in a frame").height;
        while self.stack.len() > height {
            self.pop();
        }
    }

    fn end(&mut self) {
        let fallthrough = self.reachable;
        let c = self.ctrl.last().expect("validated");
        if c.kind == Kind::Func {
            if fallthrough {
                self.emit_return();
            }
            self.ctrl.pop();
            return;
        }
        if fallthrough {
            let n = c.results;
            self.materialize_top(n);
        }
        let mut c = self.ctrl.pop().expect("validated");
        if let Some(e) = c.else_fixup.take() {
            c.fixups.push(e);
        }
        let here = self.bind_label();
        for &f in &c.fixups {
            self.patch(f, here);
        }
        self.reachable = fallthrough || !c.fixups.is_empty();
        while self.stack.len() > c.height {
            self.pop();
        }
        self.push_block_values(c.ty, true);
    }

    fn memarg(&self, m: &MemArg) -> R<u32> {
        match m.target {
            wp::MemArgTarget::Memory(0) => {}
            _ => return Err("only memory 0 is supported".into()),
        }
        u32::try_from(m.offset).map_err(|_| "memory offset too large".to_string())
    }

    /// If the address at stack index `i` was just computed by an `i32.add` of a constant and the
    /// access has offset 0, removes that addition: its operand and constant.
    fn fold_address(&mut self, i: usize, offset: u32) -> Option<(Reg, u32)> {
        if offset != 0 {
            return None;
        }
        let at = self.last_writer_of(i)?;
        let Instr::I32AddImm(r) = self.code[at] else { return None };
        self.code.pop();
        self.offsets.pop();
        Some((r.a, r.imm as u32))
    }

    fn load(&mut self, m: &MemArg, f: fn(Load) -> Instr) -> R {
        let offset = self.memarg(m)?;
        let top = self.stack.len() - 1;
        let fused = match f(Load { dst: 0, addr: 0, offset: 0 }) {
            Instr::I32Load(_) | Instr::F32Load(_) => Some(Instr::I32LoadAdd as fn(Load) -> Instr),
            Instr::I64Load(_) | Instr::F64Load(_) => Some(Instr::I64LoadAdd as fn(Load) -> Instr),
            Instr::I32Load8S(_) => Some(Instr::I32Load8SAdd as fn(Load) -> Instr),
            Instr::I32Load8U(_) => Some(Instr::I32Load8UAdd as fn(Load) -> Instr),
            Instr::I32Load16S(_) => Some(Instr::I32Load16SAdd as fn(Load) -> Instr),
            Instr::I32Load16U(_) => Some(Instr::I32Load16UAdd as fn(Load) -> Instr),
            _ => None,
        };
        // An address computed by a shift by a constant (an index scaled by the element size),
        // maybe plus a constant: fold the shift (and the addition) into the load.
        let shl = match f(Load { dst: 0, addr: 0, offset: 0 }) {
            Instr::I32Load(_) | Instr::F32Load(_) => {
                Some((Instr::I32LoadShl as fn(Load) -> Instr, Instr::I32LoadShlAdd as fn(_) -> _))
            }
            Instr::I64Load(_) | Instr::F64Load(_) => {
                Some((Instr::I64LoadShl as fn(Load) -> Instr, Instr::I64LoadShlAdd as fn(_) -> _))
            }
            _ => None,
        };
        if let Some(g) = fused
            && let Some((addr, imm)) = self.fold_address(top, offset)
        {
            self.pop();
            let dst = self.push_temp();
            if let Some((_, g)) = shl
                && imm < 1 << 24
                && addr == self.temp(top)
                && let Some(at) = self.last_writer(addr)
                && let Instr::I32ShlImm(r) = self.code[at]
            {
                self.code.pop();
                self.offsets.pop();
                let packed = ((r.imm as u32 & 31) << 24) | imm;
                self.emit(g(Load { dst, addr: r.a, offset: packed }));
                return Ok(());
            }
            self.emit(g(Load { dst, addr, offset: imm }));
            return Ok(());
        }
        if let Some((g, _)) = shl
            && offset < 1 << 24
            && let Some(at) = self.last_writer_of(top)
            && let Instr::I32ShlImm(r) = self.code[at]
        {
            self.code.pop();
            self.offsets.pop();
            self.pop();
            let dst = self.push_temp();
            let packed = ((r.imm as u32 & 31) << 24) | offset;
            self.emit(g(Load { dst, addr: r.a, offset: packed }));
            return Ok(());
        }
        let addr = self.pop();
        let dst = self.push_temp();
        self.emit(f(Load { dst, addr, offset }));
        Ok(())
    }

    fn store(&mut self, m: &MemArg, f: fn(Store) -> Instr) -> R {
        let offset = self.memarg(m)?;
        let fused = match f(Store { addr: 0, val: 0, offset: 0 }) {
            Instr::I32Store(_) | Instr::I64Store32(_) => {
                Some(Instr::I32StoreAdd as fn(Store) -> Instr)
            }
            Instr::I64Store(_) => Some(Instr::I64StoreAdd as fn(Store) -> Instr),
            Instr::I32Store8(_) | Instr::I64Store8(_) => {
                Some(Instr::I32Store8Add as fn(Store) -> Instr)
            }
            Instr::I32Store16(_) | Instr::I64Store16(_) => {
                Some(Instr::I32Store16Add as fn(Store) -> Instr)
            }
            _ => None,
        };
        let addr_at = self.stack.len() - 2;
        if let Some(g) = fused
            && let Some((addr, imm)) = self.fold_address(addr_at, offset)
        {
            let val = self.pop();
            self.pop();
            self.emit(g(Store { addr, val, offset: imm }));
            return Ok(());
        }
        let val = self.pop();
        let addr = self.pop();
        self.emit(f(Store { addr, val, offset }));
        Ok(())
    }

    /// A binary operation that may take an immediate right operand.
    fn bin_imm(
        &mut self,
        commutative: bool,
        is64: bool,
        reg: fn(R3) -> Instr,
        imm: Option<fn(RImm) -> Instr>,
        negate_imm: bool,
    ) {
        let mut b = self.pop();
        let mut a = self.pop();
        let dst = self.push_temp();
        if let Some(imm_op) = imm {
            if commutative && self.const_value(a).is_some() && self.const_value(b).is_none() {
                std::mem::swap(&mut a, &mut b);
            }
            if let Some(v) = self.const_value(b) {
                let v = if is64 { v as i64 } else { v as u32 as i32 as i64 };
                let v = if negate_imm { v.wrapping_neg() } else { v };
                let fits = if is64 { i32::try_from(v).ok() } else { Some(v as i32) };
                if let Some(imm) = fits {
                    self.emit(imm_op(RImm { dst, a, imm }));
                    return;
                }
            }
        }
        self.emit(reg(R3 { dst, a, b }));
    }

    /// `i32.add` of a value just computed by a shift by a constant into its temporary (either
    /// operand) and another non-constant operand: one `I32AddShl`. Whether it was done.
    fn add_shl(&mut self) -> bool {
        let top = self.stack.len() - 1;
        let shl_at = |t: &Self, i: usize| -> Option<RImm> {
            let at = t.last_writer_of(i)?;
            match t.code[at] {
                Instr::I32ShlImm(r) => Some(r),
                _ => None,
            }
        };
        let (shl, other) = match (shl_at(self, top), shl_at(self, top - 1)) {
            (Some(r), _) => (r, top - 1),
            (None, Some(r)) => (r, top),
            (None, None) => return false,
        };
        let base = self.reg_at(other);
        if self.const_value(base).is_some() {
            return false;
        }
        self.code.pop();
        self.offsets.pop();
        self.pop();
        self.pop();
        let dst = self.push_temp();
        let shift = (shl.imm as u32 & 31) as u16;
        self.emit(Instr::I32AddShl(R3Shift { dst, a: base, b: shl.a, shift }));
        true
    }

    fn small(v: u32, what: &str) -> R<u16> {
        u16::try_from(v).map_err(|_| format!("{what} index {v} is too large for the interpreter"))
    }

    /// Lays out the arguments of a call to a function of type `ty` and pushes its results: the
    /// slot where the callee's frame starts.
    fn call_args(&mut self, ty: &FuncType) -> Reg {
        self.materialize_top(ty.params.len());
        let first = self.stack.len() - ty.params.len();
        let pos = self.pos_at(first);
        for _ in 0..ty.params.len() {
            self.pop();
        }
        for &t in &ty.results {
            self.push(Operand::Temp, t == ValType::V128);
        }
        // Host functions use max(params, results) slots from `base`. At least one, so that
        // `base` is a slot of this frame, remapped with the temporaries, even for a call
        // without operands (else it stays near `TEMP_TOP`, 64 Ki slots up the value stack).
        self.reserve(pos + slots(&ty.params).max(slots(&ty.results)).max(1) as u32);
        self.slot(pos)
    }

    fn op(&mut self, op: Operator<'_>) -> R {
        if !self.reachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                Operator::Else if self.dead_depth == 0 => {}
                Operator::End if self.dead_depth == 0 => {}
                Operator::End => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
        use Operator as O;
        match op {
            O::Unreachable => {
                self.emit(Instr::Unreachable(()));
                self.set_unreachable();
            }
            O::Nop => {}
            O::Block { blockty } => self.push_ctrl(Kind::Block, blockty),
            O::Loop { blockty } => self.push_ctrl(Kind::Loop, blockty),
            O::If { blockty } => {
                // The condition is above the parameters: jump on it first (fusing a comparison),
                // then materialise the block's inputs. Those copies must run on both paths, so
                // the jump moves after them; they write only temporaries below the condition,
                // never the comparison's operands.
                let j = self.cond_jump(true);
                let before = self.code.len();
                self.push_ctrl(Kind::If, blockty);
                let j = if self.code.len() > before {
                    let jump = self.code.remove(j);
                    let off = self.offsets.remove(j);
                    self.code.push(jump);
                    self.offsets.push(off);
                    self.code.len() - 1
                } else {
                    j
                };
                self.ctrl.last_mut().expect("pushed").else_fixup = Some(j);
                self.bind_label();
            }
            O::Else => {
                let c = self.ctrl.last().expect("validated");
                let (height, ty, results) = (c.height, c.ty, c.results);
                if self.reachable {
                    self.materialize_top(results);
                    let j = self.emit(Instr::Jump(Jump { offset: 0 }));
                    self.ctrl.last_mut().expect("validated").fixups.push(j);
                }
                let here = self.bind_label();
                let c = self.ctrl.last_mut().expect("validated");
                c.kind = Kind::Else;
                if let Some(e) = c.else_fixup.take() {
                    self.patch(e, here);
                }
                while self.stack.len() > height {
                    self.pop();
                }
                self.push_block_values(ty, false);
                self.reachable = true;
            }
            O::End => self.end(),
            O::Br { relative_depth } => {
                self.branch(relative_depth as usize);
                self.set_unreachable();
            }
            O::BrIf { relative_depth } => {
                let depth = relative_depth as usize;
                // Decide with the condition popped: look below it (`top` is not needed meanwhile).
                let cond = self.stack.pop().expect("validated");
                let simple = self.branch_is_jump(depth);
                self.stack.push(cond);
                if simple {
                    let j = self.cond_jump(false);
                    self.link(j, depth);
                    self.fuse_counter(j);
                } else {
                    let j = self.cond_jump(true);
                    self.branch(depth);
                    let here = self.bind_label();
                    self.patch(j, here);
                }
            }
            O::BrTable { targets } => {
                let top = self.stack.len() - 1;
                let load = match self.last_writer_of(top) {
                    Some(at) => match self.code[at] {
                        Instr::I32Load8U(l) => u16::try_from(targets.len()).ok().map(|len| {
                            Instr::BrTableLoad8U(TableLoad8 { addr: l.addr, len, offset: l.offset })
                        }),
                        _ => None,
                    },
                    _ => None,
                };
                let index = self.pop();
                let mut depths: Vec<usize> = Vec::with_capacity(targets.len() as usize + 1);
                for t in targets.targets() {
                    depths.push(t.map_err(|e| e.message().to_string())? as usize);
                }
                depths.push(targets.default() as usize);
                let len = targets.len();
                match load {
                    // The switch on a byte just loaded (an interpreter's dispatch): one
                    // instruction.
                    Some(fused) => {
                        self.code.pop();
                        self.offsets.pop();
                        self.emit(fused);
                    }
                    None => {
                        self.emit(Instr::BrTable(Table { index, len }));
                    }
                }
                let mut stubs: Vec<(usize, usize)> = Vec::new();
                for &d in &depths {
                    let j = self.emit(Instr::Jump(Jump { offset: 0 }));
                    if self.branch_is_jump(d) {
                        self.link(j, d);
                    } else {
                        stubs.push((j, d));
                    }
                }
                let mut done: FastMap<usize, usize> = FastMap::default();
                for (j, d) in stubs {
                    let at = match done.get(&d) {
                        Some(&at) => at,
                        None => {
                            let at = self.bind_label();
                            self.branch(d);
                            done.insert(d, at);
                            at
                        }
                    };
                    self.patch(j, at);
                }
                self.set_unreachable();
            }
            O::Return => {
                self.emit_return();
                self.set_unreachable();
            }
            O::Call { function_index } => {
                let module = self.module;
                let base = self.call_args(module.func_type(function_index));
                let imported = self.module.num_imported_functions;
                if function_index < imported {
                    self.emit(Instr::CallImport(Call { base, func: function_index }));
                } else {
                    self.emit(Instr::Call(Call { base, func: function_index - imported }));
                }
            }
            O::CallIndirect { type_index, table_index } => {
                let module = self.module;
                let index = self.pop();
                let base = self.call_args(&module.types[type_index as usize]);
                let table = Self::small(table_index, "table")?;
                let ty = Self::small(type_index, "type")?;
                self.emit(Instr::CallIndirect(CallIndirect { base, index, table, ty }));
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let cond = self.pop();
                let wide = self.stack.last().expect("validated").wide;
                let b = self.pop();
                let a = self.pop();
                let dst = if wide { self.push_temp128() } else { self.push_temp() };
                let s = Sel { dst, cond, a, b };
                self.emit(if wide { Instr::Select128(s) } else { Instr::Select(s) });
            }
            O::LocalGet { local_index } => {
                let (slot, wide) = self.local(local_index);
                self.push(Operand::Local(slot), wide);
            }
            O::LocalSet { local_index } => self.set_local(local_index),
            O::LocalTee { local_index } => {
                self.set_local(local_index);
                let (slot, wide) = self.local(local_index);
                self.push(Operand::Local(slot), wide);
            }
            O::GlobalGet { global_index } => {
                let index = global_index;
                if self.module.globals[index as usize].content == ValType::V128 {
                    let dst = self.push_temp128();
                    self.emit(Instr::GlobalGet128(DstIdx { dst, index }));
                } else {
                    let dst = self.push_temp();
                    self.emit(Instr::GlobalGet(DstIdx { dst, index }));
                }
            }
            O::GlobalSet { global_index } => {
                let index = global_index;
                let src = self.pop();
                if self.module.globals[index as usize].content == ValType::V128 {
                    self.emit(Instr::GlobalSet128(SrcIdx { src, index }));
                } else {
                    self.emit(Instr::GlobalSet(SrcIdx { src, index }));
                }
            }
            O::I32Load { memarg } => self.load(&memarg, Instr::I32Load)?,
            O::I64Load { memarg } => self.load(&memarg, Instr::I64Load)?,
            O::F32Load { memarg } => self.load(&memarg, Instr::F32Load)?,
            O::F64Load { memarg } => self.load(&memarg, Instr::F64Load)?,
            O::I32Load8S { memarg } => self.load(&memarg, Instr::I32Load8S)?,
            O::I32Load8U { memarg } => self.load(&memarg, Instr::I32Load8U)?,
            O::I32Load16S { memarg } => self.load(&memarg, Instr::I32Load16S)?,
            O::I32Load16U { memarg } => self.load(&memarg, Instr::I32Load16U)?,
            O::I64Load8S { memarg } => self.load(&memarg, Instr::I64Load8S)?,
            O::I64Load8U { memarg } => self.load(&memarg, Instr::I64Load8U)?,
            O::I64Load16S { memarg } => self.load(&memarg, Instr::I64Load16S)?,
            O::I64Load16U { memarg } => self.load(&memarg, Instr::I64Load16U)?,
            O::I64Load32S { memarg } => self.load(&memarg, Instr::I64Load32S)?,
            O::I64Load32U { memarg } => self.load(&memarg, Instr::I64Load32U)?,
            O::I32Store { memarg } | O::F32Store { memarg } => {
                self.store(&memarg, Instr::I32Store)?
            }
            O::I64Store { memarg } | O::F64Store { memarg } => {
                self.store(&memarg, Instr::I64Store)?
            }
            O::I32Store8 { memarg } => self.store(&memarg, Instr::I32Store8)?,
            O::I32Store16 { memarg } => self.store(&memarg, Instr::I32Store16)?,
            O::I64Store8 { memarg } => self.store(&memarg, Instr::I64Store8)?,
            O::I64Store16 { memarg } => self.store(&memarg, Instr::I64Store16)?,
            O::I64Store32 { memarg } => self.store(&memarg, Instr::I64Store32)?,
            O::MemorySize { mem } => {
                let dst = self.push_temp();
                self.emit(Instr::MemorySize(DstIdx { dst, index: mem }));
            }
            O::MemoryGrow { mem } => {
                if mem != 0 {
                    return Err("only memory 0 is supported".into());
                }
                let src = self.pop();
                let dst = self.push_temp();
                self.emit(Instr::MemoryGrow(R2 { dst, src }));
            }
            O::MemoryFill { mem } => {
                if mem != 0 {
                    return Err("only memory 0 is supported".into());
                }
                let (a, b, c) = self.pop3();
                self.emit(Instr::MemoryFill(Bulk { a, b, c, x: 0, y: 0 }));
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                if dst_mem != 0 || src_mem != 0 {
                    return Err("only memory 0 is supported".into());
                }
                let (a, b, c) = self.pop3();
                self.emit(Instr::MemoryCopy(Bulk { a, b, c, x: 0, y: 0 }));
            }
            O::MemoryInit { data_index, mem } => {
                if mem != 0 {
                    return Err("only memory 0 is supported".into());
                }
                let x = Self::small(data_index, "data segment")?;
                let (a, b, c) = self.pop3();
                self.emit(Instr::MemoryInit(Bulk { a, b, c, x, y: 0 }));
            }
            O::DataDrop { data_index } => {
                self.emit(Instr::DataDrop(Idx { index: data_index }));
            }
            O::TableGet { table } => {
                let b = self.pop();
                let a = self.push_temp();
                self.emit(Instr::TableGet(TableOp { a, b, table }));
            }
            O::TableSet { table } => {
                let b = self.pop();
                let a = self.pop();
                self.emit(Instr::TableSet(TableOp { a, b, table }));
            }
            O::TableSize { table } => {
                let dst = self.push_temp();
                self.emit(Instr::TableSize(DstIdx { dst, index: table }));
            }
            O::TableGrow { table } => {
                let x = Self::small(table, "table")?;
                let c = self.pop();
                let b = self.pop();
                let a = self.push_temp();
                self.emit(Instr::TableGrow(Bulk { a, b, c, x, y: 0 }));
            }
            O::TableFill { table } => {
                let x = Self::small(table, "table")?;
                let (a, b, c) = self.pop3();
                self.emit(Instr::TableFill(Bulk { a, b, c, x, y: 0 }));
            }
            O::TableCopy { dst_table, src_table } => {
                let x = Self::small(dst_table, "table")?;
                let y = Self::small(src_table, "table")?;
                let (a, b, c) = self.pop3();
                self.emit(Instr::TableCopy(Bulk { a, b, c, x, y }));
            }
            O::TableInit { elem_index, table } => {
                let x = Self::small(table, "table")?;
                let y = Self::small(elem_index, "element segment")?;
                let (a, b, c) = self.pop3();
                self.emit(Instr::TableInit(Bulk { a, b, c, x, y }));
            }
            O::ElemDrop { elem_index } => {
                self.emit(Instr::ElemDrop(Idx { index: elem_index }));
            }
            O::I32Const { value } => self.push_const(value as u32 as u64),
            O::I64Const { value } => self.push_const(value as u64),
            O::F32Const { value } => self.push_const(value.bits() as u64),
            O::F64Const { value } => self.push_const(value.bits()),
            O::RefNull { .. } => self.push_const(0),
            O::RefIsNull => un!(self, I64Eqz),
            O::RefFunc { function_index } => {
                let dst = self.push_temp();
                self.emit(Instr::RefFunc(DstIdx { dst, index: function_index }));
            }

            O::I32Eqz => un!(self, I32Eqz),
            O::I32Eq => bin!(self, I32Eq),
            O::I32Ne => bin!(self, I32Ne),
            O::I32LtS => bin!(self, I32LtS),
            O::I32LtU => bin!(self, I32LtU),
            O::I32GtS => bin!(self, I32GtS),
            O::I32GtU => bin!(self, I32GtU),
            O::I32LeS => bin!(self, I32LeS),
            O::I32LeU => bin!(self, I32LeU),
            O::I32GeS => bin!(self, I32GeS),
            O::I32GeU => bin!(self, I32GeU),
            O::I64Eqz => un!(self, I64Eqz),
            O::I64Eq => bin!(self, I64Eq),
            O::I64Ne => bin!(self, I64Ne),
            O::I64LtS => bin!(self, I64LtS),
            O::I64LtU => bin!(self, I64LtU),
            O::I64GtS => bin!(self, I64GtS),
            O::I64GtU => bin!(self, I64GtU),
            O::I64LeS => bin!(self, I64LeS),
            O::I64LeU => bin!(self, I64LeU),
            O::I64GeS => bin!(self, I64GeS),
            O::I64GeU => bin!(self, I64GeU),
            O::F32Eq => bin!(self, F32Eq),
            O::F32Ne => bin!(self, F32Ne),
            O::F32Lt => bin!(self, F32Lt),
            O::F32Gt => bin!(self, F32Gt),
            O::F32Le => bin!(self, F32Le),
            O::F32Ge => bin!(self, F32Ge),
            O::F64Eq => bin!(self, F64Eq),
            O::F64Ne => bin!(self, F64Ne),
            O::F64Lt => bin!(self, F64Lt),
            O::F64Gt => bin!(self, F64Gt),
            O::F64Le => bin!(self, F64Le),
            O::F64Ge => bin!(self, F64Ge),

            O::I32Clz => un!(self, I32Clz),
            O::I32Ctz => un!(self, I32Ctz),
            O::I32Popcnt => un!(self, I32Popcnt),
            O::I32Add => {
                if !self.add_shl() {
                    self.bin_imm(true, false, Instr::I32Add, Some(Instr::I32AddImm), false)
                }
            }
            O::I32Sub => self.bin_imm(false, false, Instr::I32Sub, Some(Instr::I32AddImm), true),
            O::I32Mul => self.bin_imm(true, false, Instr::I32Mul, Some(Instr::I32MulImm), false),
            O::I32DivS => bin!(self, I32DivS),
            O::I32DivU => bin!(self, I32DivU),
            O::I32RemS => bin!(self, I32RemS),
            O::I32RemU => bin!(self, I32RemU),
            O::I32And => self.bin_imm(true, false, Instr::I32And, Some(Instr::I32AndImm), false),
            O::I32Or => self.bin_imm(true, false, Instr::I32Or, Some(Instr::I32OrImm), false),
            O::I32Xor => self.bin_imm(true, false, Instr::I32Xor, Some(Instr::I32XorImm), false),
            O::I32Shl => self.bin_imm(false, false, Instr::I32Shl, Some(Instr::I32ShlImm), false),
            O::I32ShrS => {
                self.bin_imm(false, false, Instr::I32ShrS, Some(Instr::I32ShrSImm), false)
            }
            O::I32ShrU => {
                self.bin_imm(false, false, Instr::I32ShrU, Some(Instr::I32ShrUImm), false)
            }
            O::I32Rotl => bin!(self, I32Rotl),
            O::I32Rotr => bin!(self, I32Rotr),
            O::I64Clz => un!(self, I64Clz),
            O::I64Ctz => un!(self, I64Ctz),
            O::I64Popcnt => un!(self, I64Popcnt),
            O::I64Add => self.bin_imm(true, true, Instr::I64Add, Some(Instr::I64AddImm), false),
            O::I64Sub => self.bin_imm(false, true, Instr::I64Sub, Some(Instr::I64AddImm), true),
            O::I64Mul => self.bin_imm(true, true, Instr::I64Mul, Some(Instr::I64MulImm), false),
            O::I64DivS => bin!(self, I64DivS),
            O::I64DivU => bin!(self, I64DivU),
            O::I64RemS => bin!(self, I64RemS),
            O::I64RemU => bin!(self, I64RemU),
            O::I64And => self.bin_imm(true, true, Instr::I64And, Some(Instr::I64AndImm), false),
            O::I64Or => self.bin_imm(true, true, Instr::I64Or, Some(Instr::I64OrImm), false),
            O::I64Xor => self.bin_imm(true, true, Instr::I64Xor, Some(Instr::I64XorImm), false),
            O::I64Shl => self.bin_imm(false, true, Instr::I64Shl, Some(Instr::I64ShlImm), false),
            O::I64ShrS => self.bin_imm(false, true, Instr::I64ShrS, Some(Instr::I64ShrSImm), false),
            O::I64ShrU => self.bin_imm(false, true, Instr::I64ShrU, Some(Instr::I64ShrUImm), false),
            O::I64Rotl => bin!(self, I64Rotl),
            O::I64Rotr => bin!(self, I64Rotr),

            O::F32Abs => un!(self, F32Abs),
            O::F32Neg => un!(self, F32Neg),
            O::F32Ceil => un!(self, F32Ceil),
            O::F32Floor => un!(self, F32Floor),
            O::F32Trunc => un!(self, F32Trunc),
            O::F32Nearest => un!(self, F32Nearest),
            O::F32Sqrt => un!(self, F32Sqrt),
            O::F32Add => bin!(self, F32Add),
            O::F32Sub => bin!(self, F32Sub),
            O::F32Mul => bin!(self, F32Mul),
            O::F32Div => bin!(self, F32Div),
            O::F32Min => bin!(self, F32Min),
            O::F32Max => bin!(self, F32Max),
            O::F32Copysign => bin!(self, F32Copysign),
            O::F64Abs => un!(self, F64Abs),
            O::F64Neg => un!(self, F64Neg),
            O::F64Ceil => un!(self, F64Ceil),
            O::F64Floor => un!(self, F64Floor),
            O::F64Trunc => un!(self, F64Trunc),
            O::F64Nearest => un!(self, F64Nearest),
            O::F64Sqrt => un!(self, F64Sqrt),
            O::F64Add => bin!(self, F64Add),
            O::F64Sub => bin!(self, F64Sub),
            O::F64Mul => bin!(self, F64Mul),
            O::F64Div => bin!(self, F64Div),
            O::F64Min => bin!(self, F64Min),
            O::F64Max => bin!(self, F64Max),
            O::F64Copysign => bin!(self, F64Copysign),

            // i32 readers use only the low 32 bits of a slot: wrapping is free.
            O::I32WrapI64 => {}
            O::I32TruncF32S => un!(self, I32TruncF32S),
            O::I32TruncF32U => un!(self, I32TruncF32U),
            O::I32TruncF64S => un!(self, I32TruncF64S),
            O::I32TruncF64U => un!(self, I32TruncF64U),
            O::I64ExtendI32S => un!(self, I64ExtendI32S),
            O::I64ExtendI32U => un!(self, I64ExtendI32U),
            O::I64TruncF32S => un!(self, I64TruncF32S),
            O::I64TruncF32U => un!(self, I64TruncF32U),
            O::I64TruncF64S => un!(self, I64TruncF64S),
            O::I64TruncF64U => un!(self, I64TruncF64U),
            O::F32ConvertI32S => un!(self, F32ConvertI32S),
            O::F32ConvertI32U => un!(self, F32ConvertI32U),
            O::F32ConvertI64S => un!(self, F32ConvertI64S),
            O::F32ConvertI64U => un!(self, F32ConvertI64U),
            O::F32DemoteF64 => un!(self, F32DemoteF64),
            O::F64ConvertI32S => un!(self, F64ConvertI32S),
            O::F64ConvertI32U => un!(self, F64ConvertI32U),
            O::F64ConvertI64S => un!(self, F64ConvertI64S),
            O::F64ConvertI64U => un!(self, F64ConvertI64U),
            O::F64PromoteF32 => un!(self, F64PromoteF32),
            // Slots hold values by their bits, 32-bit ones zero-extended: reinterpreting is free.
            O::I32ReinterpretF32
            | O::I64ReinterpretF64
            | O::F32ReinterpretI32
            | O::F64ReinterpretI64 => {}
            O::I32Extend8S => un!(self, I32Extend8S),
            O::I32Extend16S => un!(self, I32Extend16S),
            O::I64Extend8S => un!(self, I64Extend8S),
            O::I64Extend16S => un!(self, I64Extend16S),
            O::I64Extend32S => un!(self, I64Extend32S),
            O::I32TruncSatF32S => un!(self, I32TruncSatF32S),
            O::I32TruncSatF32U => un!(self, I32TruncSatF32U),
            O::I32TruncSatF64S => un!(self, I32TruncSatF64S),
            O::I32TruncSatF64U => un!(self, I32TruncSatF64U),
            O::I64TruncSatF32S => un!(self, I64TruncSatF32S),
            O::I64TruncSatF32U => un!(self, I64TruncSatF32U),
            O::I64TruncSatF64S => un!(self, I64TruncSatF64S),
            O::I64TruncSatF64U => un!(self, I64TruncSatF64U),
            other => return self.simd(other),
        }
        Ok(())
    }

    fn pop3(&mut self) -> (Reg, Reg, Reg) {
        let c = self.pop();
        let b = self.pop();
        let a = self.pop();
        (a, b, c)
    }
}

/// The fused jump for comparison `cmp` followed by a branch taken when its result is non-zero
/// (or zero, if `negate`).
fn fuse_cmp(cmp: Instr, negate: bool) -> Option<Instr> {
    use Instr as I;
    let jc = |r: R3| JumpCmp { a: r.a, b: r.b, offset: 0 };
    let ji = |r: R2| JumpIf { cond: r.src, offset: 0 };
    Some(match (cmp, negate) {
        (I::I32Eqz(r), false) => I::JumpIfZ(ji(r)),
        (I::I32Eqz(r), true) => I::JumpIfNz(ji(r)),
        (I::I64Eqz(r), false) => I::JumpIfZ64(ji(r)),
        (I::I64Eqz(r), true) => I::JumpIfNz64(ji(r)),
        (I::I32Eq(r), false) | (I::I32Ne(r), true) => I::JumpI32Eq(jc(r)),
        (I::I32Ne(r), false) | (I::I32Eq(r), true) => I::JumpI32Ne(jc(r)),
        (I::I32LtS(r), false) | (I::I32GeS(r), true) => I::JumpI32LtS(jc(r)),
        (I::I32GeS(r), false) | (I::I32LtS(r), true) => I::JumpI32GeS(jc(r)),
        (I::I32LtU(r), false) | (I::I32GeU(r), true) => I::JumpI32LtU(jc(r)),
        (I::I32GeU(r), false) | (I::I32LtU(r), true) => I::JumpI32GeU(jc(r)),
        (I::I32GtS(r), false) | (I::I32LeS(r), true) => I::JumpI32GtS(jc(r)),
        (I::I32LeS(r), false) | (I::I32GtS(r), true) => I::JumpI32LeS(jc(r)),
        (I::I32GtU(r), false) | (I::I32LeU(r), true) => I::JumpI32GtU(jc(r)),
        (I::I32LeU(r), false) | (I::I32GtU(r), true) => I::JumpI32LeU(jc(r)),
        (I::I64Eq(r), false) | (I::I64Ne(r), true) => I::JumpI64Eq(jc(r)),
        (I::I64Ne(r), false) | (I::I64Eq(r), true) => I::JumpI64Ne(jc(r)),
        (I::I64LtS(r), false) | (I::I64GeS(r), true) => I::JumpI64LtS(jc(r)),
        (I::I64GeS(r), false) | (I::I64LtS(r), true) => I::JumpI64GeS(jc(r)),
        (I::I64LtU(r), false) | (I::I64GeU(r), true) => I::JumpI64LtU(jc(r)),
        (I::I64GeU(r), false) | (I::I64LtU(r), true) => I::JumpI64GeU(jc(r)),
        (I::I64GtS(r), false) | (I::I64LeS(r), true) => I::JumpI64GtS(jc(r)),
        (I::I64LeS(r), false) | (I::I64GtS(r), true) => I::JumpI64LeS(jc(r)),
        (I::I64GtU(r), false) | (I::I64LeU(r), true) => I::JumpI64GtU(jc(r)),
        (I::I64LeU(r), false) | (I::I64GtU(r), true) => I::JumpI64LeU(jc(r)),
        _ => return None,
    })
}
