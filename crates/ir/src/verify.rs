//! A verifier of translated bytecode: the invariants keel-interp's unchecked reads rely on.
//!
//! The interpreter reads frame slots through a raw pointer (`Regs::get`/`set`, and two slots at
//! once for a v128), follows jump offsets and `br_table` entries without bounds checks, starts a
//! callee's frame on the caller's argument slots and copies a function's `init` after its
//! parameters unchecked. All of that is only sound if the bytecode keel-ir produced keeps its
//! promises; [`verify`] checks them, one instruction at a time, against the module the function
//! came from. It runs after every translation in builds with debug assertions, and explicitly in
//! the fuzz targets and the spec-suite test (see `docs/interpreter.md`, "Verifying bytecode").
//!
//! A second pass, a forward dataflow over the code, checks that every slot is written before it
//! is read on every path.
//!
//! The description of each instruction's operands is table-driven: the slot operands of every
//! payload type ([`Shape`], which a new payload type must implement) and, for each variant, which
//! of them are v128s (`wide`, an exhaustive match: a new instruction does not compile until it is
//! classified).

use keel_decode::{Module, ValType};

use crate::instr::{self, Reg};
use crate::{CompiledFunc, Instr};

/// Why a translated function fails verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// The function (index in the module's function index space).
    pub func_index: u32,
    /// The index of the offending instruction, or `None` for the function's header
    /// (`frame_size`, `num_params`, `num_results`, `init`, `offsets`).
    pub at: Option<usize>,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

/// An index space of the module, for [`VerifyErrorKind::UnknownIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSpace {
    /// The function index space (imports first).
    Function,
    /// Imported functions ([`Instr::CallImport`]).
    ImportedFunction,
    /// Defined functions ([`Instr::Call`]).
    DefinedFunction,
    /// The type section.
    Type,
    /// Tables.
    Table,
    /// Memories (the interpreter's memory instructions use memory 0).
    Memory,
    /// Globals.
    Global,
    /// Data segments.
    Data,
    /// Element segments.
    Element,
}

/// What is wrong with a translated function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyErrorKind {
    /// The function has no instructions (execution starts at the first one).
    EmptyCode,
    /// `offsets` does not have one entry per instruction.
    OffsetsLength {
        /// Entries in `offsets`.
        offsets: usize,
        /// Instructions.
        code: usize,
    },
    /// `num_params` or `num_results` is not what the function's type takes in slots (callers lay
    /// out arguments, and read results, by the type).
    SignatureMismatch {
        /// `"params"` or `"results"`.
        what: &'static str,
        /// Slots the type takes.
        expected: u32,
        /// Slots the function says.
        found: u16,
    },
    /// A region the interpreter writes on entry or reads on return lies past the frame:
    /// the parameters, the results, or `init` (written after the parameters).
    HeaderOutOfFrame {
        /// `"params"`, `"results"` or `"params + init"`.
        what: &'static str,
        /// One past its last slot.
        end: u32,
        /// The frame size.
        frame_size: u16,
    },
    /// A slot operand (both slots of a v128) is not inside the frame.
    SlotOutOfFrame {
        /// The payload field naming it (`dst`, `src`, `a`, ...).
        operand: &'static str,
        /// The slot.
        slot: Reg,
        /// 1, or 2 for a v128.
        width: u8,
        /// The frame size.
        frame_size: u16,
    },
    /// A jump (or a `br_table` entry) lands outside the function's code.
    JumpOutOfCode {
        /// The target instruction index (may be negative).
        target: i64,
        /// Instructions in the function.
        len: usize,
    },
    /// A `br_table`'s `len + 1` entries do not all follow it inside the code.
    TableOutOfCode {
        /// One past the index of its last entry.
        end: u64,
        /// Instructions in the function.
        len: usize,
    },
    /// A `br_table` entry is not an [`Instr::Jump`].
    TableEntryNotJump {
        /// Index of the entry.
        entry: usize,
    },
    /// The last instruction can continue with the next one, past the end of the code (a
    /// call, a conditional jump or any plain operation).
    FallsOffEnd,
    /// A call's window (`base .. base + max(params, results, 1)` slots of the callee's type,
    /// where the callee's frame starts) is not inside the caller's frame.
    CallOutOfFrame {
        /// The window's first slot.
        base: Reg,
        /// Its length in slots.
        slots: u32,
        /// The caller's frame size.
        frame_size: u16,
    },
    /// A call's window starts below the temporaries: the callee's frame would overwrite the
    /// caller's parameters, locals or constants.
    CallOverFixedSlots {
        /// The window's first slot.
        base: Reg,
        /// The first temporary slot (`num_params + init.len()`).
        first_temp: u32,
    },
    /// An index that the module does not define.
    UnknownIndex {
        /// The index space.
        space: IndexSpace,
        /// The index.
        index: u32,
    },
    /// `global.get`/`global.set` of a v128 global by a scalar instruction or the reverse.
    GlobalWidth {
        /// The global.
        index: u32,
        /// Whether the instruction moves a v128.
        wide: bool,
    },
    /// `global.set` of an immutable global.
    ImmutableGlobal {
        /// The global.
        index: u32,
    },
    /// A shift count folded into an instruction is 32 or more (a panic in debug builds).
    ShiftTooLarge {
        /// The shift count.
        shift: u32,
    },
    /// A lane index is not below the vector's lane count.
    LaneOutOfRange {
        /// The lane index.
        lane: u16,
        /// The lane count.
        lanes: u16,
    },
    /// A slot is read before it is written on some path from the function's entry (or after a
    /// call overwrote it with the callee's frame): the interpreter would read a stale value
    /// left on the reused value stack.
    UnwrittenSlot {
        /// The payload field naming it (`"args"` for a call's arguments, `"results"` for a
        /// return's).
        operand: &'static str,
        /// The slot (for a v128, the one of its two slots that is unwritten).
        slot: Reg,
    },
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use VerifyErrorKind as K;
        write!(f, "function {}", self.func_index)?;
        match self.at {
            Some(at) => write!(f, ", instruction {at}: ")?,
            None => write!(f, ": ")?,
        }
        match &self.kind {
            K::EmptyCode => write!(f, "no instructions"),
            K::OffsetsLength { offsets, code } => {
                write!(f, "{offsets} offsets for {code} instructions")
            }
            K::SignatureMismatch { what, expected, found } => {
                write!(f, "{found} slots of {what}, its type takes {expected}")
            }
            K::HeaderOutOfFrame { what, end, frame_size } => {
                write!(f, "{what} end at slot {end}, past the frame of {frame_size}")
            }
            K::SlotOutOfFrame { operand, slot, width, frame_size } => write!(
                f,
                "operand `{operand}` is slot {slot} ({width} wide), past the frame of {frame_size}"
            ),
            K::JumpOutOfCode { target, len } => {
                write!(f, "jump to {target}, outside the code of {len} instructions")
            }
            K::TableOutOfCode { end, len } => {
                write!(f, "br_table entries end at {end}, past the code of {len} instructions")
            }
            K::TableEntryNotJump { entry } => write!(f, "br_table entry {entry} is not a jump"),
            K::FallsOffEnd => write!(f, "the last instruction falls through past the end"),
            K::CallOutOfFrame { base, slots, frame_size } => write!(
                f,
                "call window {base}..{} is past the frame of {frame_size}",
                *base as u32 + slots
            ),
            K::CallOverFixedSlots { base, first_temp } => write!(
                f,
                "call window starts at slot {base}, below the temporaries (slot {first_temp})"
            ),
            K::UnknownIndex { space, index } => write!(f, "unknown {space:?} index {index}"),
            K::GlobalWidth { index, wide } => {
                let (i, g) = if *wide { ("v128", "scalar") } else { ("scalar", "v128") };
                write!(f, "{i} access to global {index}, a {g}")
            }
            K::ImmutableGlobal { index } => write!(f, "global.set of immutable global {index}"),
            K::ShiftTooLarge { shift } => write!(f, "shift count {shift} is 32 or more"),
            K::LaneOutOfRange { lane, lanes } => write!(f, "lane {lane} of {lanes}"),
            K::UnwrittenSlot { operand, slot } => {
                write!(f, "operand `{operand}` reads slot {slot}, not written on every path")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// How a payload type names frame slots and branch targets.
trait Shape {
    /// Calls `f` with every slot operand and the name of its field, in declaration order.
    fn slots(&self, f: &mut dyn FnMut(&'static str, Reg));
    /// The branch offset (relative to the instruction), for jumps.
    fn jump(&self) -> Option<i32> {
        None
    }
    /// Whether the instruction accesses memory 0.
    fn memory(&self) -> bool {
        false
    }
}

macro_rules! shape {
    ($($t:ty: [$($r:ident),*] $($k:ident $o:ident)?;)*) => {$(
        impl Shape for $t {
            fn slots(&self, f: &mut dyn FnMut(&'static str, Reg)) {
                let _ = &f;
                $( f(stringify!($r), self.$r); )*
            }
            $( shape!(@$k $o); )?
        }
    )*};
    (@jump $o:ident) => {
        fn jump(&self) -> Option<i32> {
            Some(self.$o as i32)
        }
    };
    (@memory $o:ident) => {
        fn memory(&self) -> bool {
            true
        }
    };
}

shape! {
    (): [];
    instr::R2: [dst, src];
    instr::R3: [dst, a, b];
    instr::RImm: [dst, a];
    instr::R3Shift: [dst, a, b];
    instr::Sel: [dst, cond, a, b];
    instr::R4: [dst, a, b, c];
    instr::RLane: [dst, src];
    instr::R3Lane: [dst, a, b];
    instr::Load: [dst, addr] memory offset;
    instr::Store: [addr, val] memory offset;
    instr::Jump: [] jump offset;
    instr::CopyJump: [dst, src] jump offset;
    instr::JumpIf: [cond] jump offset;
    instr::JumpCmp: [a, b] jump offset;
    instr::JumpAddImm: [reg, b] jump offset;
    instr::JumpAdd: [reg, step, b] jump offset;
    instr::Table: [index];
    instr::TableLoad8: [addr] memory offset;
    instr::Src: [src];
    instr::Call: [base];
    instr::CallIndirect: [base, index];
    instr::DstIdx: [dst];
    instr::SrcIdx: [src];
    instr::Idx: [];
    instr::Bulk: [a, b, c];
    instr::TableOp: [a, b];
}

/// Dispatches to the payload's [`Shape`], for every instruction (generated from the table).
macro_rules! shape_of {
    ($( $(#[$doc:meta])* $name:ident($payload:ty), )*) => {
        fn shape(i: &Instr) -> &dyn Shape {
            match i { $( Instr::$name(p) => p, )* }
        }
    };
}
crate::for_each_instr!(shape_of);

/// The operands (by field name) of `i` that are v128s, taking two slots; all others take one.
/// Exhaustive, without a wildcard: a new instruction must be classified here.
fn wide(i: &Instr) -> &'static [&'static str] {
    use Instr as I;
    match i {
        I::Unreachable(_)
        | I::Return(_)
        | I::Return1(_)
        | I::ListenEnter(_)
        | I::ListenReturn(_)
        | I::TierEnter(_)
        | I::TierLoop(_)
        | I::Copy(_)
        | I::Jump(_)
        | I::CopyJump(_)
        | I::JumpIfZ(_)
        | I::JumpIfNz(_)
        | I::JumpIfZ64(_)
        | I::JumpIfNz64(_)
        | I::JumpI32Eq(_)
        | I::JumpI32Ne(_)
        | I::JumpI32LtS(_)
        | I::JumpI32LtU(_)
        | I::JumpI32GtS(_)
        | I::JumpI32GtU(_)
        | I::JumpI32LeS(_)
        | I::JumpI32LeU(_)
        | I::JumpI32GeS(_)
        | I::JumpI32GeU(_)
        | I::JumpI64Eq(_)
        | I::JumpI64Ne(_)
        | I::JumpI64LtS(_)
        | I::JumpI64LtU(_)
        | I::JumpI64GtS(_)
        | I::JumpI64GtU(_)
        | I::JumpI64LeS(_)
        | I::JumpI64LeU(_)
        | I::JumpI64GeS(_)
        | I::JumpI64GeU(_)
        | I::JumpI32NeAddImm(_)
        | I::JumpI32LtSAddImm(_)
        | I::JumpI32LtUAddImm(_)
        | I::JumpI64NeAddImm(_)
        | I::JumpI32NeAdd(_)
        | I::JumpI32LtSAdd(_)
        | I::JumpI32LtUAdd(_)
        | I::BrTable(_)
        | I::BrTableLoad8U(_)
        | I::Call(_)
        | I::CallImport(_)
        | I::CallIndirect(_)
        | I::Select(_)
        | I::GlobalGet(_)
        | I::GlobalSet(_)
        | I::RefFunc(_)
        | I::I32Load(_)
        | I::I64Load(_)
        | I::F32Load(_)
        | I::F64Load(_)
        | I::I32Load8S(_)
        | I::I32Load8U(_)
        | I::I32Load16S(_)
        | I::I32Load16U(_)
        | I::I64Load8S(_)
        | I::I64Load8U(_)
        | I::I64Load16S(_)
        | I::I64Load16U(_)
        | I::I64Load32S(_)
        | I::I64Load32U(_)
        | I::I32Store(_)
        | I::I64Store(_)
        | I::I32Store8(_)
        | I::I32Store16(_)
        | I::I64Store8(_)
        | I::I64Store16(_)
        | I::I64Store32(_)
        | I::I32LoadAdd(_)
        | I::I64LoadAdd(_)
        | I::I32Load8SAdd(_)
        | I::I32Load8UAdd(_)
        | I::I32Load16SAdd(_)
        | I::I32Load16UAdd(_)
        | I::I32StoreAdd(_)
        | I::I64StoreAdd(_)
        | I::I32Store8Add(_)
        | I::I32Store16Add(_)
        | I::I32LoadShl(_)
        | I::I64LoadShl(_)
        | I::I32LoadShlAdd(_)
        | I::I64LoadShlAdd(_)
        | I::MemorySize(_)
        | I::MemoryGrow(_)
        | I::MemoryFill(_)
        | I::MemoryCopy(_)
        | I::MemoryInit(_)
        | I::DataDrop(_)
        | I::TableGet(_)
        | I::TableSet(_)
        | I::TableSize(_)
        | I::TableGrow(_)
        | I::TableFill(_)
        | I::TableCopy(_)
        | I::TableInit(_)
        | I::ElemDrop(_)
        | I::I32Eqz(_)
        | I::I32Eq(_)
        | I::I32Ne(_)
        | I::I32LtS(_)
        | I::I32LtU(_)
        | I::I32GtS(_)
        | I::I32GtU(_)
        | I::I32LeS(_)
        | I::I32LeU(_)
        | I::I32GeS(_)
        | I::I32GeU(_)
        | I::I64Eqz(_)
        | I::I64Eq(_)
        | I::I64Ne(_)
        | I::I64LtS(_)
        | I::I64LtU(_)
        | I::I64GtS(_)
        | I::I64GtU(_)
        | I::I64LeS(_)
        | I::I64LeU(_)
        | I::I64GeS(_)
        | I::I64GeU(_)
        | I::F32Eq(_)
        | I::F32Ne(_)
        | I::F32Lt(_)
        | I::F32Gt(_)
        | I::F32Le(_)
        | I::F32Ge(_)
        | I::F64Eq(_)
        | I::F64Ne(_)
        | I::F64Lt(_)
        | I::F64Gt(_)
        | I::F64Le(_)
        | I::F64Ge(_)
        | I::I32Clz(_)
        | I::I32Ctz(_)
        | I::I32Popcnt(_)
        | I::I32Add(_)
        | I::I32Sub(_)
        | I::I32Mul(_)
        | I::I32DivS(_)
        | I::I32DivU(_)
        | I::I32RemS(_)
        | I::I32RemU(_)
        | I::I32And(_)
        | I::I32Or(_)
        | I::I32Xor(_)
        | I::I32Shl(_)
        | I::I32ShrS(_)
        | I::I32ShrU(_)
        | I::I32Rotl(_)
        | I::I32Rotr(_)
        | I::I32AddShl(_)
        | I::I32AddImm(_)
        | I::I32MulImm(_)
        | I::I32AndImm(_)
        | I::I32OrImm(_)
        | I::I32XorImm(_)
        | I::I32ShlImm(_)
        | I::I32ShrSImm(_)
        | I::I32ShrUImm(_)
        | I::I64Clz(_)
        | I::I64Ctz(_)
        | I::I64Popcnt(_)
        | I::I64Add(_)
        | I::I64Sub(_)
        | I::I64Mul(_)
        | I::I64DivS(_)
        | I::I64DivU(_)
        | I::I64RemS(_)
        | I::I64RemU(_)
        | I::I64And(_)
        | I::I64Or(_)
        | I::I64Xor(_)
        | I::I64Shl(_)
        | I::I64ShrS(_)
        | I::I64ShrU(_)
        | I::I64Rotl(_)
        | I::I64Rotr(_)
        | I::I64AddImm(_)
        | I::I64MulImm(_)
        | I::I64AndImm(_)
        | I::I64OrImm(_)
        | I::I64XorImm(_)
        | I::I64ShlImm(_)
        | I::I64ShrSImm(_)
        | I::I64ShrUImm(_)
        | I::F32Abs(_)
        | I::F32Neg(_)
        | I::F32Ceil(_)
        | I::F32Floor(_)
        | I::F32Trunc(_)
        | I::F32Nearest(_)
        | I::F32Sqrt(_)
        | I::F32Add(_)
        | I::F32Sub(_)
        | I::F32Mul(_)
        | I::F32Div(_)
        | I::F32Min(_)
        | I::F32Max(_)
        | I::F32Copysign(_)
        | I::F64Abs(_)
        | I::F64Neg(_)
        | I::F64Ceil(_)
        | I::F64Floor(_)
        | I::F64Trunc(_)
        | I::F64Nearest(_)
        | I::F64Sqrt(_)
        | I::F64Add(_)
        | I::F64Sub(_)
        | I::F64Mul(_)
        | I::F64Div(_)
        | I::F64Min(_)
        | I::F64Max(_)
        | I::F64Copysign(_)
        | I::I32TruncF32S(_)
        | I::I32TruncF32U(_)
        | I::I32TruncF64S(_)
        | I::I32TruncF64U(_)
        | I::I64ExtendI32S(_)
        | I::I64ExtendI32U(_)
        | I::I64TruncF32S(_)
        | I::I64TruncF32U(_)
        | I::I64TruncF64S(_)
        | I::I64TruncF64U(_)
        | I::F32ConvertI32S(_)
        | I::F32ConvertI32U(_)
        | I::F32ConvertI64S(_)
        | I::F32ConvertI64U(_)
        | I::F32DemoteF64(_)
        | I::F64ConvertI32S(_)
        | I::F64ConvertI32U(_)
        | I::F64ConvertI64S(_)
        | I::F64ConvertI64U(_)
        | I::F64PromoteF32(_)
        | I::I32Extend8S(_)
        | I::I32Extend16S(_)
        | I::I64Extend8S(_)
        | I::I64Extend16S(_)
        | I::I64Extend32S(_)
        | I::I32TruncSatF32S(_)
        | I::I32TruncSatF32U(_)
        | I::I32TruncSatF64S(_)
        | I::I32TruncSatF64U(_)
        | I::I64TruncSatF32S(_)
        | I::I64TruncSatF32U(_)
        | I::I64TruncSatF64S(_)
        | I::I64TruncSatF64U(_) => &[],
        I::Copy128(_)
        | I::V128Not(_)
        | I::I8x16Abs(_)
        | I::I8x16Neg(_)
        | I::I8x16Popcnt(_)
        | I::I16x8ExtAddPairwiseI8x16S(_)
        | I::I16x8ExtAddPairwiseI8x16U(_)
        | I::I16x8Abs(_)
        | I::I16x8Neg(_)
        | I::I16x8ExtendLowI8x16S(_)
        | I::I16x8ExtendHighI8x16S(_)
        | I::I16x8ExtendLowI8x16U(_)
        | I::I16x8ExtendHighI8x16U(_)
        | I::I32x4ExtAddPairwiseI16x8S(_)
        | I::I32x4ExtAddPairwiseI16x8U(_)
        | I::I32x4Abs(_)
        | I::I32x4Neg(_)
        | I::I32x4ExtendLowI16x8S(_)
        | I::I32x4ExtendHighI16x8S(_)
        | I::I32x4ExtendLowI16x8U(_)
        | I::I32x4ExtendHighI16x8U(_)
        | I::I64x2Abs(_)
        | I::I64x2Neg(_)
        | I::I64x2ExtendLowI32x4S(_)
        | I::I64x2ExtendHighI32x4S(_)
        | I::I64x2ExtendLowI32x4U(_)
        | I::I64x2ExtendHighI32x4U(_)
        | I::F32x4Ceil(_)
        | I::F32x4Floor(_)
        | I::F32x4Trunc(_)
        | I::F32x4Nearest(_)
        | I::F32x4Abs(_)
        | I::F32x4Neg(_)
        | I::F32x4Sqrt(_)
        | I::F64x2Ceil(_)
        | I::F64x2Floor(_)
        | I::F64x2Trunc(_)
        | I::F64x2Nearest(_)
        | I::F64x2Abs(_)
        | I::F64x2Neg(_)
        | I::F64x2Sqrt(_)
        | I::I32x4TruncSatF32x4S(_)
        | I::I32x4TruncSatF32x4U(_)
        | I::F32x4ConvertI32x4S(_)
        | I::F32x4ConvertI32x4U(_)
        | I::I32x4TruncSatF64x2SZero(_)
        | I::I32x4TruncSatF64x2UZero(_)
        | I::F64x2ConvertLowI32x4S(_)
        | I::F64x2ConvertLowI32x4U(_)
        | I::F32x4DemoteF64x2Zero(_)
        | I::F64x2PromoteLowF32x4(_) => &["dst", "src"],
        I::Select128(_)
        | I::I8x16Swizzle(_)
        | I::I8x16Eq(_)
        | I::I8x16Ne(_)
        | I::I8x16LtS(_)
        | I::I8x16LtU(_)
        | I::I8x16GtS(_)
        | I::I8x16GtU(_)
        | I::I8x16LeS(_)
        | I::I8x16LeU(_)
        | I::I8x16GeS(_)
        | I::I8x16GeU(_)
        | I::I16x8Eq(_)
        | I::I16x8Ne(_)
        | I::I16x8LtS(_)
        | I::I16x8LtU(_)
        | I::I16x8GtS(_)
        | I::I16x8GtU(_)
        | I::I16x8LeS(_)
        | I::I16x8LeU(_)
        | I::I16x8GeS(_)
        | I::I16x8GeU(_)
        | I::I32x4Eq(_)
        | I::I32x4Ne(_)
        | I::I32x4LtS(_)
        | I::I32x4LtU(_)
        | I::I32x4GtS(_)
        | I::I32x4GtU(_)
        | I::I32x4LeS(_)
        | I::I32x4LeU(_)
        | I::I32x4GeS(_)
        | I::I32x4GeU(_)
        | I::I64x2Eq(_)
        | I::I64x2Ne(_)
        | I::I64x2LtS(_)
        | I::I64x2GtS(_)
        | I::I64x2LeS(_)
        | I::I64x2GeS(_)
        | I::F32x4Eq(_)
        | I::F32x4Ne(_)
        | I::F32x4Lt(_)
        | I::F32x4Gt(_)
        | I::F32x4Le(_)
        | I::F32x4Ge(_)
        | I::F64x2Eq(_)
        | I::F64x2Ne(_)
        | I::F64x2Lt(_)
        | I::F64x2Gt(_)
        | I::F64x2Le(_)
        | I::F64x2Ge(_)
        | I::V128And(_)
        | I::V128AndNot(_)
        | I::V128Or(_)
        | I::V128Xor(_)
        | I::I8x16NarrowI16x8S(_)
        | I::I8x16NarrowI16x8U(_)
        | I::I8x16Add(_)
        | I::I8x16AddSatS(_)
        | I::I8x16AddSatU(_)
        | I::I8x16Sub(_)
        | I::I8x16SubSatS(_)
        | I::I8x16SubSatU(_)
        | I::I8x16MinS(_)
        | I::I8x16MinU(_)
        | I::I8x16MaxS(_)
        | I::I8x16MaxU(_)
        | I::I8x16AvgrU(_)
        | I::I16x8Q15MulrSatS(_)
        | I::I16x8NarrowI32x4S(_)
        | I::I16x8NarrowI32x4U(_)
        | I::I16x8Add(_)
        | I::I16x8AddSatS(_)
        | I::I16x8AddSatU(_)
        | I::I16x8Sub(_)
        | I::I16x8SubSatS(_)
        | I::I16x8SubSatU(_)
        | I::I16x8Mul(_)
        | I::I16x8MinS(_)
        | I::I16x8MinU(_)
        | I::I16x8MaxS(_)
        | I::I16x8MaxU(_)
        | I::I16x8AvgrU(_)
        | I::I16x8ExtMulLowI8x16S(_)
        | I::I16x8ExtMulHighI8x16S(_)
        | I::I16x8ExtMulLowI8x16U(_)
        | I::I16x8ExtMulHighI8x16U(_)
        | I::I32x4Add(_)
        | I::I32x4Sub(_)
        | I::I32x4Mul(_)
        | I::I32x4MinS(_)
        | I::I32x4MinU(_)
        | I::I32x4MaxS(_)
        | I::I32x4MaxU(_)
        | I::I32x4DotI16x8S(_)
        | I::I32x4ExtMulLowI16x8S(_)
        | I::I32x4ExtMulHighI16x8S(_)
        | I::I32x4ExtMulLowI16x8U(_)
        | I::I32x4ExtMulHighI16x8U(_)
        | I::I64x2Add(_)
        | I::I64x2Sub(_)
        | I::I64x2Mul(_)
        | I::I64x2ExtMulLowI32x4S(_)
        | I::I64x2ExtMulHighI32x4S(_)
        | I::I64x2ExtMulLowI32x4U(_)
        | I::I64x2ExtMulHighI32x4U(_)
        | I::F32x4Add(_)
        | I::F32x4Sub(_)
        | I::F32x4Mul(_)
        | I::F32x4Div(_)
        | I::F32x4Min(_)
        | I::F32x4Max(_)
        | I::F32x4PMin(_)
        | I::F32x4PMax(_)
        | I::F64x2Add(_)
        | I::F64x2Sub(_)
        | I::F64x2Mul(_)
        | I::F64x2Div(_)
        | I::F64x2Min(_)
        | I::F64x2Max(_)
        | I::F64x2PMin(_)
        | I::F64x2PMax(_) => &["dst", "a", "b"],
        I::GlobalGet128(_)
        | I::V128Load(_)
        | I::V128Load8x8S(_)
        | I::V128Load8x8U(_)
        | I::V128Load16x4S(_)
        | I::V128Load16x4U(_)
        | I::V128Load32x2S(_)
        | I::V128Load32x2U(_)
        | I::V128Load8Splat(_)
        | I::V128Load16Splat(_)
        | I::V128Load32Splat(_)
        | I::V128Load64Splat(_)
        | I::V128Load32Zero(_)
        | I::V128Load64Zero(_)
        | I::I8x16Splat(_)
        | I::I16x8Splat(_)
        | I::I32x4Splat(_)
        | I::I64x2Splat(_) => &["dst"],
        I::GlobalSet128(_)
        | I::I8x16ExtractLaneS(_)
        | I::I8x16ExtractLaneU(_)
        | I::I16x8ExtractLaneS(_)
        | I::I16x8ExtractLaneU(_)
        | I::I32x4ExtractLane(_)
        | I::I64x2ExtractLane(_)
        | I::V128AnyTrue(_)
        | I::I8x16AllTrue(_)
        | I::I8x16Bitmask(_)
        | I::I16x8AllTrue(_)
        | I::I16x8Bitmask(_)
        | I::I32x4AllTrue(_)
        | I::I32x4Bitmask(_)
        | I::I64x2AllTrue(_)
        | I::I64x2Bitmask(_) => &["src"],
        I::V128Store(_) => &["val"],
        I::I8x16Shuffle(_) | I::V128Bitselect(_) => &["dst", "a", "b", "c"],
        I::I8x16ReplaceLane(_)
        | I::I16x8ReplaceLane(_)
        | I::I32x4ReplaceLane(_)
        | I::I64x2ReplaceLane(_)
        | I::I8x16Shl(_)
        | I::I8x16ShrS(_)
        | I::I8x16ShrU(_)
        | I::I16x8Shl(_)
        | I::I16x8ShrS(_)
        | I::I16x8ShrU(_)
        | I::I32x4Shl(_)
        | I::I32x4ShrS(_)
        | I::I32x4ShrU(_)
        | I::I64x2Shl(_)
        | I::I64x2ShrS(_)
        | I::I64x2ShrU(_) => &["dst", "a"],
    }
}

/// Whether execution can continue with the next instruction after `i`.
fn falls_through(i: &Instr) -> bool {
    !matches!(
        i,
        Instr::Unreachable(_)
            | Instr::Return(_)
            | Instr::Return1(_)
            | Instr::ListenReturn(_)
            | Instr::Jump(_)
            | Instr::CopyJump(_)
            | Instr::BrTable(_)
            | Instr::BrTableLoad8U(_)
    )
}

/// Checks `func`, translated from `module`, against every invariant the interpreter's unchecked
/// reads rely on:
///
/// - header: at least one instruction; one offset per instruction; `num_params` and
///   `num_results` are the slots of the function's type; parameters, results and
///   `num_params + init.len()` fit in the frame;
/// - every slot operand (both slots of a v128, by the instruction's operand widths) is below
///   `frame_size`;
/// - every jump, and every `br_table` entry, lands inside the code; a `br_table`'s `len + 1`
///   entries follow it and are all [`Instr::Jump`]s; the last instruction does not fall
///   through;
/// - a call's window, `base .. base + max(param slots, result slots, 1)` by the callee's type
///   (where the callee's frame starts, on the arguments), lies inside the caller's frame and
///   above its parameters, locals and constants; the callee exists;
/// - indices of functions, types, tables, globals (with the instruction's width, and
///   mutability for `global.set`), data and element segments exist; memory instructions have a
///   memory 0;
/// - folded shift counts are below 32 and lane indices below the lane count;
/// - every slot read (a call's arguments and a return's results included) was written on every
///   path from the entry, where the parameters and `init` are: a call writes its results and
///   leaves everything above them unwritten (the callee's frame was there). The interpreter
///   reuses value stacks without clearing them, so an unwritten slot holds a stale value.
///
/// Not checked: that operands hold values of the type the instruction expects (see
/// `docs/interpreter.md`).
pub fn verify(func: &CompiledFunc, module: &Module) -> Result<(), VerifyError> {
    let func_index = func.func_index;
    let fail = |at: Option<usize>, kind| Err(VerifyError { func_index, at, kind });
    let fail_at = |at: usize, kind| VerifyError { func_index, at: Some(at), kind };
    use VerifyErrorKind as K;

    // The header.
    let code = &func.code;
    let len = code.len();
    if len == 0 {
        return fail(None, K::EmptyCode);
    }
    if func.offsets.len() != len {
        return fail(None, K::OffsetsLength { offsets: func.offsets.len(), code: len });
    }
    // A defined function: the interpreter finds its code by `func_index - imports`.
    let ty_index = match module.functions.get(func_index as usize) {
        Some(&t) if func_index >= module.num_imported_functions => t,
        _ => {
            let space = IndexSpace::DefinedFunction;
            return fail(None, K::UnknownIndex { space, index: func_index });
        }
    };
    let ty = &module.types[ty_index as usize];
    for (what, expected, found) in [
        ("params", slots(&ty.params), func.num_params),
        ("results", slots(&ty.results), func.num_results),
    ] {
        if expected != found as u32 {
            return fail(None, K::SignatureMismatch { what, expected, found });
        }
    }
    let frame_size = func.frame_size;
    let first_temp = func.num_params as u64 + func.init.len() as u64;
    for (what, end) in [
        ("params", func.num_params as u64),
        ("results", func.num_results as u64),
        ("params + init", first_temp),
    ] {
        if end > frame_size as u64 {
            let end = end.min(u32::MAX as u64) as u32;
            return fail(None, K::HeaderOutOfFrame { what, end, frame_size });
        }
    }
    if falls_through(&code[len - 1]) {
        return fail(Some(len - 1), K::FallsOffEnd);
    }

    for (at, i) in code.iter().enumerate() {
        let err = |kind| fail(Some(at), kind);
        let shape = shape(i);

        // Slot operands, by width.
        let wide = wide(i);
        let mut bad = None;
        let mut count = 0;
        shape.slots(&mut |operand, slot| {
            count += 1;
            let width = if wide.contains(&operand) { 2 } else { 1 };
            if bad.is_none() && slot as u32 + width as u32 > frame_size as u32 {
                bad = Some(K::SlotOutOfFrame { operand, slot, width, frame_size });
            }
        });
        debug_assert_eq!(count, map_regs_count(i), "the verifier's operands of {i:?}");
        debug_assert!(
            wide.iter().all(|w| {
                let mut found = false;
                shape.slots(&mut |n, _| found |= n == *w);
                found
            }),
            "widths of {i:?}"
        );
        if let Some(kind) = bad {
            return err(kind);
        }

        // Branch targets.
        if let Some(offset) = shape.jump() {
            check_target(len, at, offset).map_err(|kind| fail_at(at, kind))?;
        }

        if shape.memory() && module.memories.is_empty() {
            return err(K::UnknownIndex { space: IndexSpace::Memory, index: 0 });
        }

        // What only some instructions have.
        let index = |space: IndexSpace, index: u32, count: usize| {
            if index as usize >= count {
                return err(K::UnknownIndex { space, index });
            }
            Ok(())
        };
        let memory = || index(IndexSpace::Memory, 0, module.memories.len());
        let table = |t: u32| index(IndexSpace::Table, t, module.tables.len());
        let elem = |e: u32| index(IndexSpace::Element, e, module.elements.len());
        let data = |d: u32| index(IndexSpace::Data, d, module.data.len());
        let global = |g: u32, wide: bool, set: bool| {
            let Some(gt) = module.globals.get(g as usize) else {
                return err(K::UnknownIndex { space: IndexSpace::Global, index: g });
            };
            if (gt.content == ValType::V128) != wide {
                return err(K::GlobalWidth { index: g, wide });
            }
            if set && !gt.mutable {
                return err(K::ImmutableGlobal { index: g });
            }
            Ok(())
        };
        let window = |base: Reg, callee: &keel_decode::FuncType| {
            let slots = slots(&callee.params).max(slots(&callee.results)).max(1);
            if base as u32 + slots > frame_size as u32 {
                return err(K::CallOutOfFrame { base, slots, frame_size });
            }
            if (base as u64) < first_temp {
                return err(K::CallOverFixedSlots { base, first_temp: first_temp as u32 });
            }
            Ok(())
        };
        let lane = |lane: u16, lanes: u16| {
            if lane >= lanes {
                return err(K::LaneOutOfRange { lane, lanes });
            }
            Ok(())
        };
        let shift = |shift: u32| {
            if shift >= 32 {
                return err(K::ShiftTooLarge { shift });
            }
            Ok(())
        };
        match *i {
            Instr::BrTable(instr::Table { len: n, .. }) => {
                table_entries(code, at, n).map_err(|(at, kind)| fail_at(at, kind))?
            }
            Instr::BrTableLoad8U(instr::TableLoad8 { len: n, .. }) => {
                table_entries(code, at, n as u32).map_err(|(at, kind)| fail_at(at, kind))?
            }
            Instr::Call(c) => {
                index(IndexSpace::DefinedFunction, c.func, module.bodies.len())?;
                window(c.base, module.func_type(module.num_imported_functions + c.func))?;
            }
            Instr::CallImport(c) => {
                index(
                    IndexSpace::ImportedFunction,
                    c.func,
                    module.num_imported_functions as usize,
                )?;
                window(c.base, module.func_type(c.func))?;
            }
            Instr::CallIndirect(c) => {
                index(IndexSpace::Type, c.ty as u32, module.types.len())?;
                table(c.table as u32)?;
                window(c.base, &module.types[c.ty as usize])?;
            }
            Instr::GlobalGet(g) => global(g.index, false, false)?,
            Instr::GlobalSet(g) => global(g.index, false, true)?,
            Instr::GlobalGet128(g) => global(g.index, true, false)?,
            Instr::GlobalSet128(g) => global(g.index, true, true)?,
            Instr::RefFunc(f) => index(IndexSpace::Function, f.index, module.functions.len())?,
            Instr::MemorySize(_)
            | Instr::MemoryGrow(_)
            | Instr::MemoryFill(_)
            | Instr::MemoryCopy(_) => memory()?,
            Instr::MemoryInit(b) => {
                memory()?;
                data(b.x as u32)?;
            }
            Instr::DataDrop(d) => data(d.index)?,
            Instr::ElemDrop(e) => elem(e.index)?,
            Instr::TableGet(t) | Instr::TableSet(t) => table(t.table)?,
            Instr::TableSize(t) => table(t.index)?,
            Instr::TableGrow(b) | Instr::TableFill(b) => table(b.x as u32)?,
            Instr::TableCopy(b) => {
                table(b.x as u32)?;
                table(b.y as u32)?;
            }
            Instr::TableInit(b) => {
                table(b.x as u32)?;
                elem(b.y as u32)?;
            }
            Instr::I32AddShl(p) => shift(p.shift as u32)?,
            Instr::I32LoadShl(p)
            | Instr::I64LoadShl(p)
            | Instr::I32LoadShlAdd(p)
            | Instr::I64LoadShlAdd(p) => shift(p.offset >> 24)?,
            Instr::I8x16ExtractLaneS(p) | Instr::I8x16ExtractLaneU(p) => lane(p.lane, 16)?,
            Instr::I16x8ExtractLaneS(p) | Instr::I16x8ExtractLaneU(p) => lane(p.lane, 8)?,
            Instr::I32x4ExtractLane(p) => lane(p.lane, 4)?,
            Instr::I64x2ExtractLane(p) => lane(p.lane, 2)?,
            Instr::I8x16ReplaceLane(p) => lane(p.lane, 16)?,
            Instr::I16x8ReplaceLane(p) => lane(p.lane, 8)?,
            Instr::I32x4ReplaceLane(p) => lane(p.lane, 4)?,
            Instr::I64x2ReplaceLane(p) => lane(p.lane, 2)?,
            _ => {}
        }
    }
    written_before_read(func, module)
}

/// How an instruction uses one of its slot operands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    /// Read, then written (a counted loop's counter).
    ReadWrite,
    /// A call's `base`: its arguments are read, its results written, and the callee's frame
    /// overwrites everything above them.
    Call,
}

/// How `i` uses its operand `operand`: results are `dst` fields, but for the few payloads whose
/// result field has another name.
fn access(i: &Instr, operand: &str) -> Access {
    match (i, operand) {
        (_, "dst") => Access::Write,
        (Instr::TableGet(_) | Instr::TableGrow(_), "a") => Access::Write,
        (Instr::Call(_) | Instr::CallImport(_) | Instr::CallIndirect(_), "base") => Access::Call,
        (_, "reg") => Access::ReadWrite,
        _ => Access::Read,
    }
}

/// A set of frame slots.
struct Slots<'a>(&'a mut [u64]);

impl Slots<'_> {
    fn has(&self, s: usize) -> bool {
        self.0[s / 64] >> (s % 64) & 1 != 0
    }
    /// Adds (`on`) or removes the slots of `range`, a word at a time (a call removes the rest
    /// of the frame).
    fn set(&mut self, range: std::ops::Range<usize>, on: bool) {
        let (mut s, end) = (range.start, range.end);
        while s < end {
            let bit = s % 64;
            let n = (64 - bit).min(end - s);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
            if on {
                self.0[s / 64] |= mask;
            } else {
                self.0[s / 64] &= !mask;
            }
            s += n;
        }
    }
}

/// The callee's type of a call instruction (already checked to exist).
fn callee_type<'m>(i: &Instr, module: &'m Module) -> Option<&'m keel_decode::FuncType> {
    match *i {
        Instr::Call(c) => Some(module.func_type(module.num_imported_functions + c.func)),
        Instr::CallImport(c) => Some(module.func_type(c.func)),
        Instr::CallIndirect(c) => Some(&module.types[c.ty as usize]),
        _ => None,
    }
}

/// Applies `i`'s effect on the set of written slots; with `check`, first fails on a read of an
/// unwritten slot.
fn transfer(
    i: &Instr,
    module: &Module,
    frame_size: usize,
    written: &mut Slots<'_>,
    check: bool,
) -> Result<(), VerifyErrorKind> {
    let wide = wide(i);
    let shape = shape(i);
    let width = |operand: &str| if wide.contains(&operand) { 2 } else { 1 };
    let mut unwritten = None;
    let mut read = |operand: &'static str, first: usize, n: usize, written: &Slots<'_>| {
        if let Some(s) = (first..first + n).find(|&s| !written.has(s)) {
            unwritten.get_or_insert(VerifyErrorKind::UnwrittenSlot { operand, slot: s as Reg });
        }
    };
    if check {
        shape.slots(&mut |operand, slot| match access(i, operand) {
            Access::Read | Access::ReadWrite => {
                read(operand, slot as usize, width(operand), written)
            }
            Access::Call => {
                let ty = callee_type(i, module).expect("a call");
                read("args", slot as usize, slots(&ty.params) as usize, written);
            }
            Access::Write => {}
        });
    }
    if let Some(kind) = unwritten {
        return Err(kind);
    }
    shape.slots(&mut |operand, slot| {
        let slot = slot as usize;
        match access(i, operand) {
            Access::Write | Access::ReadWrite => written.set(slot..slot + width(operand), true),
            Access::Call => {
                let ty = callee_type(i, module).expect("a call");
                let results = slot + slots(&ty.results) as usize;
                written.set(slot..results, true);
                written.set(results..frame_size, false);
            }
            Access::Read => {}
        }
    });
    Ok(())
}

/// Checks that every slot an instruction reads was written on every path from the entry (where
/// the parameters and `init` are written): a forward dataflow over the basic blocks,
/// intersecting the sets of written slots where paths meet, then one pass over the reached
/// blocks checking the reads.
fn written_before_read(func: &CompiledFunc, module: &Module) -> Result<(), VerifyError> {
    let code = &func.code;
    let len = code.len();
    let frame = func.frame_size as usize;
    let words = frame.div_ceil(64).max(1);
    // Block leaders: the entry, jump targets, and what follows a jump or a return.
    let mut leader = vec![false; len + 1];
    leader[0] = true;
    let mut succs = Vec::new();
    for at in 0..len {
        successors(code, at, &mut succs);
        if succs.as_slice() != [at + 1] {
            leader[at + 1] = true;
            for &s in &succs {
                leader[s] = true;
            }
        }
    }
    // The written slots on entry to each block (row `block[leader]`), once it is reached.
    let mut block = vec![0u32; len];
    let mut blocks = 0;
    for at in (0..len).filter(|&at| leader[at]) {
        block[at] = blocks;
        blocks += 1;
    }
    let row = |at: usize| block[at] as usize * words..(block[at] as usize + 1) * words;
    let mut state = vec![0u64; blocks as usize * words];
    let mut reached = vec![false; len];
    let mut queued = vec![false; len];
    Slots(&mut state[row(0)]).set(0..func.num_params as usize + func.init.len(), true);
    reached[0] = true;
    queued[0] = true;
    let mut work = vec![0usize];
    let mut out = vec![0u64; words];
    while let Some(start) = work.pop() {
        queued[start] = false;
        out.copy_from_slice(&state[row(start)]);
        // Reads are checked once the sets are final, below.
        let end = run_block(code, &leader, start, |i| {
            transfer(i, module, frame, &mut Slots(&mut out), false)
        })
        .unwrap_or_else(|(at, _)| at);
        successors(code, end, &mut succs);
        for &s in &succs {
            let into = &mut state[row(s)];
            let changed = if reached[s] {
                let mut changed = false;
                for (d, &o) in into.iter_mut().zip(&out) {
                    let v = *d & o;
                    changed |= v != *d;
                    *d = v;
                }
                changed
            } else {
                reached[s] = true;
                into.copy_from_slice(&out);
                true
            };
            if changed && !queued[s] {
                queued[s] = true;
                work.push(s);
            }
        }
    }
    let results = func.num_results as usize;
    for start in (0..len).filter(|&at| leader[at] && reached[at]) {
        out.copy_from_slice(&state[row(start)]);
        run_block(code, &leader, start, |i| {
            let mut written = Slots(&mut out);
            transfer(i, module, frame, &mut written, true)?;
            if let Instr::Return(()) | Instr::ListenReturn(()) = i
                && let Some(s) = (0..results).find(|&s| !written.has(s))
            {
                return Err(VerifyErrorKind::UnwrittenSlot { operand: "results", slot: s as Reg });
            }
            Ok(())
        })
        .map_err(|(at, kind)| VerifyError {
            func_index: func.func_index,
            at: Some(at),
            kind,
        })?;
    }
    Ok(())
}

/// Runs `f` on the instructions of the block starting at `start`: the index of its last
/// instruction, or where `f` failed and why.
fn run_block(
    code: &[Instr],
    leader: &[bool],
    start: usize,
    mut f: impl FnMut(&Instr) -> Result<(), VerifyErrorKind>,
) -> Result<usize, (usize, VerifyErrorKind)> {
    let mut at = start;
    loop {
        let i = &code[at];
        f(i).map_err(|kind| (at, kind))?;
        if leader[at + 1] {
            return Ok(at);
        }
        at += 1;
    }
}

/// The instructions that can run right after the one at `at` (already checked to be inside the
/// code).
fn successors(code: &[Instr], at: usize, out: &mut Vec<usize>) {
    out.clear();
    let i = &code[at];
    match *i {
        Instr::BrTable(instr::Table { len, .. }) => out.extend(at + 1..at + 2 + len as usize),
        Instr::BrTableLoad8U(instr::TableLoad8 { len, .. }) => {
            out.extend(at + 1..at + 2 + len as usize)
        }
        _ => {
            if falls_through(i) {
                out.push(at + 1);
            }
            if let Some(offset) = shape(i).jump() {
                out.push((at as i64 + offset as i64) as usize);
            }
        }
    }
}

/// Checks that the jump at `at` by `offset` lands inside code of `len` instructions.
fn check_target(len: usize, at: usize, offset: i32) -> Result<(), VerifyErrorKind> {
    let target = at as i64 + offset as i64;
    if target < 0 || target >= len as i64 {
        return Err(VerifyErrorKind::JumpOutOfCode { target, len });
    }
    Ok(())
}

/// Checks the `n + 1` entries of the `br_table` at `at`: they follow it inside the code and are
/// jumps landing inside it. The error's instruction index is the table's, or the entry's for a
/// target outside the code.
fn table_entries(code: &[Instr], at: usize, n: u32) -> Result<(), (usize, VerifyErrorKind)> {
    let len = code.len();
    let end = at as u64 + 2 + n as u64;
    if end > len as u64 {
        return Err((at, VerifyErrorKind::TableOutOfCode { end, len }));
    }
    for (entry, i) in code.iter().enumerate().take(end as usize).skip(at + 1) {
        let Instr::Jump(j) = *i else {
            return Err((at, VerifyErrorKind::TableEntryNotJump { entry }));
        };
        check_target(len, entry, j.offset).map_err(|kind| (entry, kind))?;
    }
    Ok(())
}

/// Slots taken by values of these types.
fn slots(types: &[ValType]) -> u32 {
    types.iter().map(|t| t.slots() as u32).sum()
}

/// How many slots `Instr::map_regs` (the translator's renaming of temporaries) visits in `i`:
/// the verifier's [`Shape`] must name the same number.
fn map_regs_count(i: &Instr) -> usize {
    let n = std::cell::Cell::new(0);
    let mut copy = *i;
    copy.map_regs(&|r| {
        n.set(n.get() + 1);
        r
    });
    n.get()
}
