//! The bytecode: one [`Instr`] per operation, naming frame slots ([`Reg`]) and immediates.
//!
//! Every variant carries one small payload struct, so that the translator can find an
//! instruction's destination slot or branch offset generically ([`Operands`]). Payloads are at
//! most 10 bytes with 2-byte alignment or 8 bytes with 4-byte alignment, which keeps an `Instr`
//! at 12 bytes (checked by a unit test).

/// A slot of the current frame: `frame_base + Reg`. A `v128` occupies two consecutive slots
/// (low 64 bits first, as in the runtime's value slots) and is named by the first.
pub type Reg = u16;

/// Unary operation or copy: `dst = op(src)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R2 {
    /// Destination slot.
    pub dst: Reg,
    /// Operand slot.
    pub src: Reg,
}

/// Binary operation: `dst = op(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R3 {
    /// Destination slot.
    pub dst: Reg,
    /// Left operand slot.
    pub a: Reg,
    /// Right operand slot.
    pub b: Reg,
}

/// Binary operation with an immediate right operand: `dst = op(a, imm)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RImm {
    /// Destination slot.
    pub dst: Reg,
    /// Left operand slot.
    pub a: Reg,
    /// Immediate (sign-extended for 64-bit operations).
    pub imm: i32,
}

/// `dst = a + (b << shift)`: an address scaled by an element size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R3Shift {
    /// Destination slot.
    pub dst: Reg,
    /// Base slot.
    pub a: Reg,
    /// Index slot.
    pub b: Reg,
    /// Shift count (0..32).
    pub shift: u16,
}

/// `dst = if cond != 0 { a } else { b }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sel {
    /// Destination slot.
    pub dst: Reg,
    /// Condition slot (i32).
    pub cond: Reg,
    /// Value if true.
    pub a: Reg,
    /// Value if false.
    pub b: Reg,
}

/// Ternary operation: `dst = op(a, b, c)` (`v128.bitselect`; `i8x16.shuffle`, whose `c` is the
/// constant-pool slot of its 16 lane indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R4 {
    /// Destination slot.
    pub dst: Reg,
    /// First operand slot.
    pub a: Reg,
    /// Second operand slot.
    pub b: Reg,
    /// Third operand slot.
    pub c: Reg,
}

/// Lane extraction: `dst = src[lane]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RLane {
    /// Destination slot (a scalar).
    pub dst: Reg,
    /// The vector's first slot.
    pub src: Reg,
    /// Lane index.
    pub lane: u16,
}

/// Lane replacement: `dst = a` with lane `lane` set to the scalar `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R3Lane {
    /// Destination slot (a vector).
    pub dst: Reg,
    /// The vector's first slot.
    pub a: Reg,
    /// The scalar's slot.
    pub b: Reg,
    /// Lane index.
    pub lane: u16,
}

/// A load from memory 0: `dst = mem[addr + offset]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Destination slot.
    pub dst: Reg,
    /// Address slot (i32).
    pub addr: Reg,
    /// Static offset.
    pub offset: u32,
}

/// A store to memory 0: `mem[addr + offset] = val`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store {
    /// Address slot (i32).
    pub addr: Reg,
    /// Value slot.
    pub val: Reg,
    /// Static offset.
    pub offset: u32,
}

/// An unconditional jump by `offset` instructions (relative to this instruction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    /// Relative target.
    pub offset: i32,
}

/// `dst = src`, then an unconditional jump by `offset` (relative to this instruction): the
/// copy of a loop-carried value before a loop's back edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyJump {
    /// Destination slot.
    pub dst: Reg,
    /// Source slot.
    pub src: Reg,
    /// Relative target.
    pub offset: i32,
}

/// A jump taken on the value of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JumpIf {
    /// Tested slot.
    pub cond: Reg,
    /// Relative target.
    pub offset: i32,
}

/// A jump taken when `cmp(a, b)` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JumpCmp {
    /// Left operand slot.
    pub a: Reg,
    /// Right operand slot.
    pub b: Reg,
    /// Relative target.
    pub offset: i32,
}

/// A loop's counter step and back edge: `reg += imm`, then a jump by `offset` (relative to this
/// instruction, always backward) when `cmp(reg, b)` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JumpAddImm {
    /// The counter slot, read and written.
    pub reg: Reg,
    /// The compared slot.
    pub b: Reg,
    /// The step.
    pub imm: i16,
    /// Relative target.
    pub offset: i16,
}

/// A loop's counter step by a slot and back edge: `reg += step`, then a jump by `offset`
/// (relative to this instruction, always backward) when `cmp(reg, b)` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JumpAdd {
    /// The counter slot, read and written.
    pub reg: Reg,
    /// The step's slot.
    pub step: Reg,
    /// The compared slot.
    pub b: Reg,
    /// Relative target.
    pub offset: i16,
}

/// `br_table`: the `len + 1` following instructions are [`Instr::Jump`]s; the one at
/// `min(index, len)` is executed next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Index slot (i32).
    pub index: Reg,
    /// Number of targets, the default excluded.
    pub len: u32,
}

/// `br_table` on a byte loaded from memory 0 (`switch (code[pc])`): the index is the byte at
/// `addr + offset` (not wrapping); otherwise as [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLoad8 {
    /// Address slot (i32).
    pub addr: Reg,
    /// Number of targets, the default excluded.
    pub len: u16,
    /// Static offset.
    pub offset: u32,
}

/// One slot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Src {
    /// The slot.
    pub src: Reg,
}

/// A direct call: the callee's frame starts at slot `base`, where the arguments are and where the
/// results are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// First argument slot, and the callee's frame base.
    pub base: Reg,
    /// Defined-function index (for [`Instr::Call`]) or function index (for
    /// [`Instr::CallImport`]).
    pub func: u32,
}

/// `call_indirect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallIndirect {
    /// First argument slot, and the callee's frame base.
    pub base: Reg,
    /// Slot with the table index (i32).
    pub index: Reg,
    /// Table.
    pub table: u16,
    /// Type index of the expected signature.
    pub ty: u16,
}

/// An operation on an indexed entity (global, function, table, segment) producing a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstIdx {
    /// Destination slot.
    pub dst: Reg,
    /// Entity index.
    pub index: u32,
}

/// An operation on an indexed entity consuming a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrcIdx {
    /// Source slot.
    pub src: Reg,
    /// Entity index.
    pub index: u32,
}

/// An entity index alone (data.drop, elem.drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idx {
    /// Entity index.
    pub index: u32,
}

/// Three operands and up to two small indices: bulk memory and table operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bulk {
    /// First operand (destination offset, or the result slot for table.grow).
    pub a: Reg,
    /// Second operand.
    pub b: Reg,
    /// Third operand.
    pub c: Reg,
    /// First index (table, segment).
    pub x: u16,
    /// Second index (source table, segment).
    pub y: u16,
}

/// Two operands and a table index (table.get, table.set, table.grow's result is in `Bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOp {
    /// Destination (table.get) or index (table.set) slot.
    pub a: Reg,
    /// Index (table.get) or value (table.set) slot.
    pub b: Reg,
    /// Table index.
    pub table: u32,
}

/// Generic access to the operands the translator patches.
pub trait Operands {
    /// The slot this instruction writes its one result to, if it has such a slot.
    fn dst_mut(&mut self) -> Option<&mut Reg> {
        None
    }
    /// The relative branch offset, for jumps.
    fn offset_mut(&mut self) -> Option<&mut i32> {
        None
    }
    /// Replaces every slot this instruction names with `f(slot)`.
    fn map_regs(&mut self, f: &impl Fn(Reg) -> Reg) {
        let _ = f;
    }
}

macro_rules! with_dst {
    ($($t:ty: $($r:ident),*;)*) => {$(
        impl Operands for $t {
            fn dst_mut(&mut self) -> Option<&mut Reg> { Some(&mut self.dst) }
            fn map_regs(&mut self, f: &impl Fn(Reg) -> Reg) { $( self.$r = f(self.$r); )* }
        }
    )*};
}
with_dst! {
    R2: dst, src;
    R3: dst, a, b;
    R3Shift: dst, a, b;
    R4: dst, a, b, c;
    RLane: dst, src;
    R3Lane: dst, a, b;
    RImm: dst, a;
    Sel: dst, cond, a, b;
    Load: dst, addr;
    DstIdx: dst;
}
macro_rules! with_offset {
    ($($t:ty: $($r:ident),*;)*) => {$(
        impl Operands for $t {
            fn offset_mut(&mut self) -> Option<&mut i32> { Some(&mut self.offset) }
            fn map_regs(&mut self, f: &impl Fn(Reg) -> Reg) {
                let _ = f;
                $( self.$r = f(self.$r); )*
            }
        }
    )*};
}
with_offset! {
    Jump: ;
    CopyJump: dst, src;
    JumpIf: cond;
    JumpCmp: a, b;
}
macro_rules! with_regs {
    ($($t:ty: $($r:ident),*;)*) => {$(
        impl Operands for $t {
            fn map_regs(&mut self, f: &impl Fn(Reg) -> Reg) { $( self.$r = f(self.$r); )* }
        }
    )*};
}
with_regs! {
    Store: addr, val;
    Table: index;
    TableLoad8: addr;
    Src: src;
    Call: base;
    CallIndirect: base, index;
    SrcIdx: src;
    Bulk: a, b, c;
    TableOp: a, b;
    JumpAddImm: reg, b;
    JumpAdd: reg, step, b;
}
impl Operands for () {}
impl Operands for Idx {}

macro_rules! define_instrs {
    ($( $(#[$doc:meta])* $name:ident($payload:ty), )*) => {
        /// One bytecode instruction. See the module docs and `docs/interpreter.md`.
        ///
        /// `repr(u16)`: the first two bytes of every instruction are its tag, numbered in
        /// declaration order, which engines may read directly ([`Instr::tag`]).
        #[derive(Debug, Clone, Copy, PartialEq)]
        #[allow(missing_docs)]
        #[repr(u16)]
        pub enum Instr {
            $( $(#[$doc])* $name($payload), )*
        }

        impl Instr {
            /// The instruction's tag: its index in declaration order (see [`for_each_instr`]).
            #[inline(always)]
            #[allow(unsafe_code)]
            pub fn tag(&self) -> u16 {
                // SAFETY: `Instr` is `repr(u16)`, so its first field is the `u16` tag.
                unsafe { *(self as *const Instr as *const u16) }
            }
            /// The slot this instruction writes its one result to, if any.
            pub fn dst_mut(&mut self) -> Option<&mut Reg> {
                match self { $( Instr::$name(p) => p.dst_mut(), )* }
            }
            /// The relative branch offset, for jumps.
            pub fn offset_mut(&mut self) -> Option<&mut i32> {
                match self { $( Instr::$name(p) => p.offset_mut(), )* }
            }
            /// Replaces every slot this instruction names with `f(slot)`.
            pub fn map_regs(&mut self, f: &impl Fn(Reg) -> Reg) {
                match self { $( Instr::$name(p) => p.map_regs(f), )* }
            }
        }
    };
}

/// Calls macro `$m` with the list of every instruction variant and its payload type, in
/// declaration order (the order of their `u16` tags): `$m! { Name(Payload), ... }`, each entry
/// possibly preceded by doc attributes. Engines use it to build per-instruction tables.
#[macro_export]
macro_rules! for_each_instr {
    ($m:ident) => {
        $m! {
        /// Traps with `unreachable`.
        Unreachable(()),
        /// Returns from the function; its results are already in slots `0..n`.
        Return(()),
        /// Copies `src` to slot 0, then returns.
        Return1(Src),
        /// Listening code only, first in every function: reports the call to the function's
        /// listener, if it has one.
        ListenEnter(()),
        /// Listening code only, for every return: reports the results (in slots `0..n`) to the
        /// function's listener, if it has one, then returns.
        ListenReturn(()),
        /// Tiered code only, first in every function (before [`Instr::ListenEnter`]): counts
        /// the call, and runs the function's compiled code instead once it has some.
        TierEnter(()),
        /// Tiered code only, at the head of every loop entered with an empty operand stack
        /// (`index`: the loop operator's offset in the function body): counts the iteration,
        /// and continues in compiled code from here once the loop is hot (on-stack
        /// replacement; the state there is the locals alone).
        TierLoop(Idx),
        /// `dst = src`.
        Copy(R2),
        /// Jumps.
        Jump(Jump),
        /// Copies, then jumps.
        CopyJump(CopyJump),
        /// Jumps if the i32 in `cond` is zero.
        JumpIfZ(JumpIf),
        /// Jumps if the i32 in `cond` is not zero.
        JumpIfNz(JumpIf),
        /// Jumps if the i64 in `cond` is zero.
        JumpIfZ64(JumpIf),
        /// Jumps if the i64 in `cond` is not zero.
        JumpIfNz64(JumpIf),
        JumpI32Eq(JumpCmp), JumpI32Ne(JumpCmp),
        JumpI32LtS(JumpCmp), JumpI32LtU(JumpCmp), JumpI32GtS(JumpCmp), JumpI32GtU(JumpCmp),
        JumpI32LeS(JumpCmp), JumpI32LeU(JumpCmp), JumpI32GeS(JumpCmp), JumpI32GeU(JumpCmp),
        JumpI64Eq(JumpCmp), JumpI64Ne(JumpCmp),
        JumpI64LtS(JumpCmp), JumpI64LtU(JumpCmp), JumpI64GtS(JumpCmp), JumpI64GtU(JumpCmp),
        JumpI64LeS(JumpCmp), JumpI64LeU(JumpCmp), JumpI64GeS(JumpCmp), JumpI64GeU(JumpCmp),
        /// Counted loops' back edges: `reg += imm; if reg <cmp> b { jump }`.
        JumpI32NeAddImm(JumpAddImm), JumpI32LtSAddImm(JumpAddImm), JumpI32LtUAddImm(JumpAddImm),
        JumpI64NeAddImm(JumpAddImm),
        JumpI32NeAdd(JumpAdd), JumpI32LtSAdd(JumpAdd), JumpI32LtUAdd(JumpAdd),
        /// `br_table`; followed by its jump entries.
        BrTable(Table),
        /// `br_table` on an `i32.load8_u`; followed by its jump entries.
        BrTableLoad8U(TableLoad8),
        /// Calls a defined function of this module.
        Call(Call),
        /// Calls an imported function (by function index).
        CallImport(Call),
        /// `call_indirect`.
        CallIndirect(CallIndirect),
        Select(Sel),
        GlobalGet(DstIdx),
        GlobalSet(SrcIdx),
        RefFunc(DstIdx),

        I32Load(Load), I64Load(Load), F32Load(Load), F64Load(Load),
        I32Load8S(Load), I32Load8U(Load), I32Load16S(Load), I32Load16U(Load),
        I64Load8S(Load), I64Load8U(Load), I64Load16S(Load), I64Load16U(Load),
        I64Load32S(Load), I64Load32U(Load),
        I32Store(Store), I64Store(Store), I32Store8(Store), I32Store16(Store),
        I64Store8(Store), I64Store16(Store), I64Store32(Store),
        /// Loads and stores whose address is `i32.add(addr, offset)` (wrapping): an addition
        /// of a constant folded into an access with static offset 0.
        I32LoadAdd(Load), I64LoadAdd(Load), I32Load8SAdd(Load), I32Load8UAdd(Load),
        I32Load16SAdd(Load), I32Load16UAdd(Load),
        I32StoreAdd(Store), I64StoreAdd(Store), I32Store8Add(Store), I32Store16Add(Store),
        /// Loads whose address is `i32.shl(addr, k)`, with static offset: `offset` holds
        /// `k << 24 | static offset` (static offsets below 2^24 only).
        I32LoadShl(Load), I64LoadShl(Load),
        /// Loads whose address is `i32.add(i32.shl(addr, k), c)` (wrapping): `offset` holds
        /// `k << 24 | c` (`c` below 2^24 only).
        I32LoadShlAdd(Load), I64LoadShlAdd(Load),
        MemorySize(DstIdx),
        /// `dst = memory.grow(src)`.
        MemoryGrow(R2),
        /// memory.fill(a = dst, b = value, c = len).
        MemoryFill(Bulk),
        /// memory.copy(a = dst, b = src, c = len).
        MemoryCopy(Bulk),
        /// memory.init(a = dst, b = src, c = len), segment `x`.
        MemoryInit(Bulk),
        DataDrop(Idx),
        /// `a = table[table].get(b)`.
        TableGet(TableOp),
        /// `table[table].set(a, b)`.
        TableSet(TableOp),
        TableSize(DstIdx),
        /// `a = table[x].grow(init = b, delta = c)`.
        TableGrow(Bulk),
        /// table.fill(a = dst, b = value, c = len) on table `x`.
        TableFill(Bulk),
        /// table.copy(a = dst, b = src, c = len) from table `y` to table `x`.
        TableCopy(Bulk),
        /// table.init(a = dst, b = src, c = len) of segment `y` into table `x`.
        TableInit(Bulk),
        ElemDrop(Idx),

        I32Eqz(R2), I32Eq(R3), I32Ne(R3), I32LtS(R3), I32LtU(R3), I32GtS(R3), I32GtU(R3),
        I32LeS(R3), I32LeU(R3), I32GeS(R3), I32GeU(R3),
        I64Eqz(R2), I64Eq(R3), I64Ne(R3), I64LtS(R3), I64LtU(R3), I64GtS(R3), I64GtU(R3),
        I64LeS(R3), I64LeU(R3), I64GeS(R3), I64GeU(R3),
        F32Eq(R3), F32Ne(R3), F32Lt(R3), F32Gt(R3), F32Le(R3), F32Ge(R3),
        F64Eq(R3), F64Ne(R3), F64Lt(R3), F64Gt(R3), F64Le(R3), F64Ge(R3),

        I32Clz(R2), I32Ctz(R2), I32Popcnt(R2),
        I32Add(R3), I32Sub(R3), I32Mul(R3), I32DivS(R3), I32DivU(R3), I32RemS(R3), I32RemU(R3),
        I32And(R3), I32Or(R3), I32Xor(R3), I32Shl(R3), I32ShrS(R3), I32ShrU(R3),
        I32Rotl(R3), I32Rotr(R3),
        /// `i32.add(a, i32.shl(b, k))` with constant `k`.
        I32AddShl(R3Shift),
        I32AddImm(RImm), I32MulImm(RImm), I32AndImm(RImm), I32OrImm(RImm), I32XorImm(RImm),
        I32ShlImm(RImm), I32ShrSImm(RImm), I32ShrUImm(RImm),
        I64Clz(R2), I64Ctz(R2), I64Popcnt(R2),
        I64Add(R3), I64Sub(R3), I64Mul(R3), I64DivS(R3), I64DivU(R3), I64RemS(R3), I64RemU(R3),
        I64And(R3), I64Or(R3), I64Xor(R3), I64Shl(R3), I64ShrS(R3), I64ShrU(R3),
        I64Rotl(R3), I64Rotr(R3),
        I64AddImm(RImm), I64MulImm(RImm), I64AndImm(RImm), I64OrImm(RImm), I64XorImm(RImm),
        I64ShlImm(RImm), I64ShrSImm(RImm), I64ShrUImm(RImm),

        F32Abs(R2), F32Neg(R2), F32Ceil(R2), F32Floor(R2), F32Trunc(R2), F32Nearest(R2), F32Sqrt(R2),
        F32Add(R3), F32Sub(R3), F32Mul(R3), F32Div(R3), F32Min(R3), F32Max(R3), F32Copysign(R3),
        F64Abs(R2), F64Neg(R2), F64Ceil(R2), F64Floor(R2), F64Trunc(R2), F64Nearest(R2), F64Sqrt(R2),
        F64Add(R3), F64Sub(R3), F64Mul(R3), F64Div(R3), F64Min(R3), F64Max(R3), F64Copysign(R3),

            I32TruncF32S(R2), I32TruncF32U(R2), I32TruncF64S(R2), I32TruncF64U(R2),
        I64ExtendI32S(R2), I64ExtendI32U(R2),
        I64TruncF32S(R2), I64TruncF32U(R2), I64TruncF64S(R2), I64TruncF64U(R2),
        F32ConvertI32S(R2), F32ConvertI32U(R2), F32ConvertI64S(R2), F32ConvertI64U(R2),
        F32DemoteF64(R2),
        F64ConvertI32S(R2), F64ConvertI32U(R2), F64ConvertI64S(R2), F64ConvertI64U(R2),
        F64PromoteF32(R2),
        I32Extend8S(R2), I32Extend16S(R2), I64Extend8S(R2), I64Extend16S(R2), I64Extend32S(R2),
        I32TruncSatF32S(R2), I32TruncSatF32U(R2), I32TruncSatF64S(R2), I32TruncSatF64U(R2),
        I64TruncSatF32S(R2), I64TruncSatF32U(R2), I64TruncSatF64S(R2), I64TruncSatF64U(R2),

        // SIMD. A v128 operand or result names the first of its two slots (low 64 bits, then
        // high). f32x4/f64x2 lane moves and splats share the i32x4/i64x2 ones (slots hold bits).
        /// `dst = src`, both slots.
        Copy128(R2),
        Select128(Sel),
        GlobalGet128(DstIdx),
        GlobalSet128(SrcIdx),
        V128Load(Load), V128Load8x8S(Load), V128Load8x8U(Load), V128Load16x4S(Load),
        V128Load16x4U(Load), V128Load32x2S(Load), V128Load32x2U(Load),
        V128Load8Splat(Load), V128Load16Splat(Load), V128Load32Splat(Load), V128Load64Splat(Load),
        V128Load32Zero(Load), V128Load64Zero(Load),
        V128Store(Store),
        /// `c` is the constant-pool slot of the 16 lane indices.
        I8x16Shuffle(R4),
        I8x16Swizzle(R3),
        I8x16ExtractLaneS(RLane), I8x16ExtractLaneU(RLane), I16x8ExtractLaneS(RLane),
        I16x8ExtractLaneU(RLane), I32x4ExtractLane(RLane), I64x2ExtractLane(RLane),
        I8x16ReplaceLane(R3Lane), I16x8ReplaceLane(R3Lane), I32x4ReplaceLane(R3Lane),
        I64x2ReplaceLane(R3Lane),
        I8x16Splat(R2), I16x8Splat(R2), I32x4Splat(R2), I64x2Splat(R2),

        I8x16Eq(R3), I8x16Ne(R3), I8x16LtS(R3), I8x16LtU(R3), I8x16GtS(R3), I8x16GtU(R3),
        I8x16LeS(R3), I8x16LeU(R3), I8x16GeS(R3), I8x16GeU(R3),
        I16x8Eq(R3), I16x8Ne(R3), I16x8LtS(R3), I16x8LtU(R3), I16x8GtS(R3), I16x8GtU(R3),
        I16x8LeS(R3), I16x8LeU(R3), I16x8GeS(R3), I16x8GeU(R3),
        I32x4Eq(R3), I32x4Ne(R3), I32x4LtS(R3), I32x4LtU(R3), I32x4GtS(R3), I32x4GtU(R3),
        I32x4LeS(R3), I32x4LeU(R3), I32x4GeS(R3), I32x4GeU(R3),
        I64x2Eq(R3), I64x2Ne(R3), I64x2LtS(R3), I64x2GtS(R3), I64x2LeS(R3), I64x2GeS(R3),
        F32x4Eq(R3), F32x4Ne(R3), F32x4Lt(R3), F32x4Gt(R3), F32x4Le(R3), F32x4Ge(R3),
        F64x2Eq(R3), F64x2Ne(R3), F64x2Lt(R3), F64x2Gt(R3), F64x2Le(R3), F64x2Ge(R3),

        V128Not(R2), V128And(R3), V128AndNot(R3), V128Or(R3), V128Xor(R3),
        /// `dst = (a & c) | (b & !c)`.
        V128Bitselect(R4),
        V128AnyTrue(R2),

        I8x16Abs(R2), I8x16Neg(R2), I8x16Popcnt(R2), I8x16AllTrue(R2), I8x16Bitmask(R2),
        I8x16NarrowI16x8S(R3), I8x16NarrowI16x8U(R3),
        /// Shifts: `b` is the i32 count.
        I8x16Shl(R3), I8x16ShrS(R3), I8x16ShrU(R3),
        I8x16Add(R3), I8x16AddSatS(R3), I8x16AddSatU(R3), I8x16Sub(R3), I8x16SubSatS(R3),
        I8x16SubSatU(R3), I8x16MinS(R3), I8x16MinU(R3), I8x16MaxS(R3), I8x16MaxU(R3),
        I8x16AvgrU(R3),

        I16x8ExtAddPairwiseI8x16S(R2), I16x8ExtAddPairwiseI8x16U(R2),
        I16x8Abs(R2), I16x8Neg(R2), I16x8Q15MulrSatS(R3), I16x8AllTrue(R2), I16x8Bitmask(R2),
        I16x8NarrowI32x4S(R3), I16x8NarrowI32x4U(R3),
        I16x8ExtendLowI8x16S(R2), I16x8ExtendHighI8x16S(R2), I16x8ExtendLowI8x16U(R2),
        I16x8ExtendHighI8x16U(R2),
        I16x8Shl(R3), I16x8ShrS(R3), I16x8ShrU(R3),
        I16x8Add(R3), I16x8AddSatS(R3), I16x8AddSatU(R3), I16x8Sub(R3), I16x8SubSatS(R3),
        I16x8SubSatU(R3), I16x8Mul(R3), I16x8MinS(R3), I16x8MinU(R3), I16x8MaxS(R3),
        I16x8MaxU(R3), I16x8AvgrU(R3),
        I16x8ExtMulLowI8x16S(R3), I16x8ExtMulHighI8x16S(R3), I16x8ExtMulLowI8x16U(R3),
        I16x8ExtMulHighI8x16U(R3),

        I32x4ExtAddPairwiseI16x8S(R2), I32x4ExtAddPairwiseI16x8U(R2),
        I32x4Abs(R2), I32x4Neg(R2), I32x4AllTrue(R2), I32x4Bitmask(R2),
        I32x4ExtendLowI16x8S(R2), I32x4ExtendHighI16x8S(R2), I32x4ExtendLowI16x8U(R2),
        I32x4ExtendHighI16x8U(R2),
        I32x4Shl(R3), I32x4ShrS(R3), I32x4ShrU(R3),
        I32x4Add(R3), I32x4Sub(R3), I32x4Mul(R3), I32x4MinS(R3), I32x4MinU(R3), I32x4MaxS(R3),
        I32x4MaxU(R3), I32x4DotI16x8S(R3),
        I32x4ExtMulLowI16x8S(R3), I32x4ExtMulHighI16x8S(R3), I32x4ExtMulLowI16x8U(R3),
        I32x4ExtMulHighI16x8U(R3),

        I64x2Abs(R2), I64x2Neg(R2), I64x2AllTrue(R2), I64x2Bitmask(R2),
        I64x2ExtendLowI32x4S(R2), I64x2ExtendHighI32x4S(R2), I64x2ExtendLowI32x4U(R2),
        I64x2ExtendHighI32x4U(R2),
        I64x2Shl(R3), I64x2ShrS(R3), I64x2ShrU(R3),
        I64x2Add(R3), I64x2Sub(R3), I64x2Mul(R3),
        I64x2ExtMulLowI32x4S(R3), I64x2ExtMulHighI32x4S(R3), I64x2ExtMulLowI32x4U(R3),
        I64x2ExtMulHighI32x4U(R3),

        F32x4Ceil(R2), F32x4Floor(R2), F32x4Trunc(R2), F32x4Nearest(R2), F32x4Abs(R2),
        F32x4Neg(R2), F32x4Sqrt(R2),
        F32x4Add(R3), F32x4Sub(R3), F32x4Mul(R3), F32x4Div(R3), F32x4Min(R3), F32x4Max(R3),
        F32x4PMin(R3), F32x4PMax(R3),
        F64x2Ceil(R2), F64x2Floor(R2), F64x2Trunc(R2), F64x2Nearest(R2), F64x2Abs(R2),
        F64x2Neg(R2), F64x2Sqrt(R2),
        F64x2Add(R3), F64x2Sub(R3), F64x2Mul(R3), F64x2Div(R3), F64x2Min(R3), F64x2Max(R3),
        F64x2PMin(R3), F64x2PMax(R3),

        I32x4TruncSatF32x4S(R2), I32x4TruncSatF32x4U(R2),
        F32x4ConvertI32x4S(R2), F32x4ConvertI32x4U(R2),
        I32x4TruncSatF64x2SZero(R2), I32x4TruncSatF64x2UZero(R2),
        F64x2ConvertLowI32x4S(R2), F64x2ConvertLowI32x4U(R2),
        F32x4DemoteF64x2Zero(R2), F64x2PromoteLowF32x4(R2),
    }
    };
}

for_each_instr!(define_instrs);
