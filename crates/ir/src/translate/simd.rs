//! Translation of the SIMD (`v128`) operators.
//!
//! Most are one instruction naming the first slot of each v128 operand. `v128.const` and the
//! lane indices of `i8x16.shuffle` go to the constant pool (two slots each), so no instruction
//! carries 16 bytes. Lane loads and stores are two instructions through a scratch slot above
//! the stack: a scalar load then a lane replacement, or a lane extraction then a scalar store.

use keel_decode::wasmparser::{MemArg, Operator};

use super::{R, Translator};
use crate::instr::*;

/// The kinds of SIMD operator, by operand and result types.
enum Shape {
    /// v128 -> v128.
    Un(fn(R2) -> Instr),
    /// v128 v128 -> v128, and v128 i32 -> v128 (shifts).
    Bin(fn(R3) -> Instr),
    /// v128 -> i32.
    Test(fn(R2) -> Instr),
    /// scalar -> v128.
    Splat(fn(R2) -> Instr),
    /// v128 -> scalar.
    Extract(fn(RLane) -> Instr, u8),
    /// v128 scalar -> v128.
    Replace(fn(R3Lane) -> Instr, u8),
    /// i32 address -> v128.
    Load(fn(Load) -> Instr, MemArg),
    /// A lane load: the scalar load, then the lane replacement.
    LoadLane(fn(Load) -> Instr, fn(R3Lane) -> Instr, MemArg, u8),
    /// A lane store: the lane extraction, then the scalar store.
    StoreLane(fn(RLane) -> Instr, fn(Store) -> Instr, MemArg, u8),
}

impl<'a> Translator<'a> {
    /// Translates a SIMD operator (or reports an operator the interpreter does not know).
    pub(super) fn simd(&mut self, op: Operator<'_>) -> R {
        use Instr as I;
        use Operator as O;
        use Shape::*;
        let shape = match op {
            O::V128Const { value } => {
                let r = self.const_reg128(u128::from_le_bytes(*value.bytes()));
                self.push(super::Operand::Const(r), true);
                return Ok(());
            }
            O::I8x16Shuffle { lanes } => {
                let c = self.const_reg128(u128::from_le_bytes(lanes));
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_temp128();
                self.emit(I::I8x16Shuffle(R4 { dst, a, b, c }));
                return Ok(());
            }
            O::V128Bitselect => {
                let c = self.pop();
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_temp128();
                self.emit(I::V128Bitselect(R4 { dst, a, b, c }));
                return Ok(());
            }
            O::V128Store { memarg } => {
                let offset = self.memarg(&memarg)?;
                let val = self.pop();
                let addr = self.pop();
                self.emit(I::V128Store(Store { addr, val, offset }));
                return Ok(());
            }

            O::V128Load { memarg } => Load(I::V128Load, memarg),
            O::V128Load8x8S { memarg } => Load(I::V128Load8x8S, memarg),
            O::V128Load8x8U { memarg } => Load(I::V128Load8x8U, memarg),
            O::V128Load16x4S { memarg } => Load(I::V128Load16x4S, memarg),
            O::V128Load16x4U { memarg } => Load(I::V128Load16x4U, memarg),
            O::V128Load32x2S { memarg } => Load(I::V128Load32x2S, memarg),
            O::V128Load32x2U { memarg } => Load(I::V128Load32x2U, memarg),
            O::V128Load8Splat { memarg } => Load(I::V128Load8Splat, memarg),
            O::V128Load16Splat { memarg } => Load(I::V128Load16Splat, memarg),
            O::V128Load32Splat { memarg } => Load(I::V128Load32Splat, memarg),
            O::V128Load64Splat { memarg } => Load(I::V128Load64Splat, memarg),
            O::V128Load32Zero { memarg } => Load(I::V128Load32Zero, memarg),
            O::V128Load64Zero { memarg } => Load(I::V128Load64Zero, memarg),
            O::V128Load8Lane { memarg, lane } => {
                LoadLane(I::I32Load8U, I::I8x16ReplaceLane, memarg, lane)
            }
            O::V128Load16Lane { memarg, lane } => {
                LoadLane(I::I32Load16U, I::I16x8ReplaceLane, memarg, lane)
            }
            O::V128Load32Lane { memarg, lane } => {
                LoadLane(I::I32Load, I::I32x4ReplaceLane, memarg, lane)
            }
            O::V128Load64Lane { memarg, lane } => {
                LoadLane(I::I64Load, I::I64x2ReplaceLane, memarg, lane)
            }
            O::V128Store8Lane { memarg, lane } => {
                StoreLane(I::I8x16ExtractLaneU, I::I32Store8, memarg, lane)
            }
            O::V128Store16Lane { memarg, lane } => {
                StoreLane(I::I16x8ExtractLaneU, I::I32Store16, memarg, lane)
            }
            O::V128Store32Lane { memarg, lane } => {
                StoreLane(I::I32x4ExtractLane, I::I32Store, memarg, lane)
            }
            O::V128Store64Lane { memarg, lane } => {
                StoreLane(I::I64x2ExtractLane, I::I64Store, memarg, lane)
            }

            O::I8x16Swizzle => Bin(I::I8x16Swizzle),
            O::I8x16ExtractLaneS { lane } => Extract(I::I8x16ExtractLaneS, lane),
            O::I8x16ExtractLaneU { lane } => Extract(I::I8x16ExtractLaneU, lane),
            O::I16x8ExtractLaneS { lane } => Extract(I::I16x8ExtractLaneS, lane),
            O::I16x8ExtractLaneU { lane } => Extract(I::I16x8ExtractLaneU, lane),
            // Slots hold floats by their bits: the integer lane moves do for floats too.
            O::I32x4ExtractLane { lane } | O::F32x4ExtractLane { lane } => {
                Extract(I::I32x4ExtractLane, lane)
            }
            O::I64x2ExtractLane { lane } | O::F64x2ExtractLane { lane } => {
                Extract(I::I64x2ExtractLane, lane)
            }
            O::I8x16ReplaceLane { lane } => Replace(I::I8x16ReplaceLane, lane),
            O::I16x8ReplaceLane { lane } => Replace(I::I16x8ReplaceLane, lane),
            O::I32x4ReplaceLane { lane } | O::F32x4ReplaceLane { lane } => {
                Replace(I::I32x4ReplaceLane, lane)
            }
            O::I64x2ReplaceLane { lane } | O::F64x2ReplaceLane { lane } => {
                Replace(I::I64x2ReplaceLane, lane)
            }
            O::I8x16Splat => Splat(I::I8x16Splat),
            O::I16x8Splat => Splat(I::I16x8Splat),
            O::I32x4Splat | O::F32x4Splat => Splat(I::I32x4Splat),
            O::I64x2Splat | O::F64x2Splat => Splat(I::I64x2Splat),

            O::I8x16Eq => Bin(I::I8x16Eq),
            O::I8x16Ne => Bin(I::I8x16Ne),
            O::I8x16LtS => Bin(I::I8x16LtS),
            O::I8x16LtU => Bin(I::I8x16LtU),
            O::I8x16GtS => Bin(I::I8x16GtS),
            O::I8x16GtU => Bin(I::I8x16GtU),
            O::I8x16LeS => Bin(I::I8x16LeS),
            O::I8x16LeU => Bin(I::I8x16LeU),
            O::I8x16GeS => Bin(I::I8x16GeS),
            O::I8x16GeU => Bin(I::I8x16GeU),
            O::I16x8Eq => Bin(I::I16x8Eq),
            O::I16x8Ne => Bin(I::I16x8Ne),
            O::I16x8LtS => Bin(I::I16x8LtS),
            O::I16x8LtU => Bin(I::I16x8LtU),
            O::I16x8GtS => Bin(I::I16x8GtS),
            O::I16x8GtU => Bin(I::I16x8GtU),
            O::I16x8LeS => Bin(I::I16x8LeS),
            O::I16x8LeU => Bin(I::I16x8LeU),
            O::I16x8GeS => Bin(I::I16x8GeS),
            O::I16x8GeU => Bin(I::I16x8GeU),
            O::I32x4Eq => Bin(I::I32x4Eq),
            O::I32x4Ne => Bin(I::I32x4Ne),
            O::I32x4LtS => Bin(I::I32x4LtS),
            O::I32x4LtU => Bin(I::I32x4LtU),
            O::I32x4GtS => Bin(I::I32x4GtS),
            O::I32x4GtU => Bin(I::I32x4GtU),
            O::I32x4LeS => Bin(I::I32x4LeS),
            O::I32x4LeU => Bin(I::I32x4LeU),
            O::I32x4GeS => Bin(I::I32x4GeS),
            O::I32x4GeU => Bin(I::I32x4GeU),
            O::I64x2Eq => Bin(I::I64x2Eq),
            O::I64x2Ne => Bin(I::I64x2Ne),
            O::I64x2LtS => Bin(I::I64x2LtS),
            O::I64x2GtS => Bin(I::I64x2GtS),
            O::I64x2LeS => Bin(I::I64x2LeS),
            O::I64x2GeS => Bin(I::I64x2GeS),
            O::F32x4Eq => Bin(I::F32x4Eq),
            O::F32x4Ne => Bin(I::F32x4Ne),
            O::F32x4Lt => Bin(I::F32x4Lt),
            O::F32x4Gt => Bin(I::F32x4Gt),
            O::F32x4Le => Bin(I::F32x4Le),
            O::F32x4Ge => Bin(I::F32x4Ge),
            O::F64x2Eq => Bin(I::F64x2Eq),
            O::F64x2Ne => Bin(I::F64x2Ne),
            O::F64x2Lt => Bin(I::F64x2Lt),
            O::F64x2Gt => Bin(I::F64x2Gt),
            O::F64x2Le => Bin(I::F64x2Le),
            O::F64x2Ge => Bin(I::F64x2Ge),

            O::V128Not => Un(I::V128Not),
            O::V128And => Bin(I::V128And),
            O::V128AndNot => Bin(I::V128AndNot),
            O::V128Or => Bin(I::V128Or),
            O::V128Xor => Bin(I::V128Xor),
            O::V128AnyTrue => Test(I::V128AnyTrue),

            O::I8x16Abs => Un(I::I8x16Abs),
            O::I8x16Neg => Un(I::I8x16Neg),
            O::I8x16Popcnt => Un(I::I8x16Popcnt),
            O::I8x16AllTrue => Test(I::I8x16AllTrue),
            O::I8x16Bitmask => Test(I::I8x16Bitmask),
            O::I8x16NarrowI16x8S => Bin(I::I8x16NarrowI16x8S),
            O::I8x16NarrowI16x8U => Bin(I::I8x16NarrowI16x8U),
            O::I8x16Shl => Bin(I::I8x16Shl),
            O::I8x16ShrS => Bin(I::I8x16ShrS),
            O::I8x16ShrU => Bin(I::I8x16ShrU),
            O::I8x16Add => Bin(I::I8x16Add),
            O::I8x16AddSatS => Bin(I::I8x16AddSatS),
            O::I8x16AddSatU => Bin(I::I8x16AddSatU),
            O::I8x16Sub => Bin(I::I8x16Sub),
            O::I8x16SubSatS => Bin(I::I8x16SubSatS),
            O::I8x16SubSatU => Bin(I::I8x16SubSatU),
            O::I8x16MinS => Bin(I::I8x16MinS),
            O::I8x16MinU => Bin(I::I8x16MinU),
            O::I8x16MaxS => Bin(I::I8x16MaxS),
            O::I8x16MaxU => Bin(I::I8x16MaxU),
            O::I8x16AvgrU => Bin(I::I8x16AvgrU),

            O::I16x8ExtAddPairwiseI8x16S => Un(I::I16x8ExtAddPairwiseI8x16S),
            O::I16x8ExtAddPairwiseI8x16U => Un(I::I16x8ExtAddPairwiseI8x16U),
            O::I16x8Abs => Un(I::I16x8Abs),
            O::I16x8Neg => Un(I::I16x8Neg),
            O::I16x8Q15MulrSatS => Bin(I::I16x8Q15MulrSatS),
            O::I16x8AllTrue => Test(I::I16x8AllTrue),
            O::I16x8Bitmask => Test(I::I16x8Bitmask),
            O::I16x8NarrowI32x4S => Bin(I::I16x8NarrowI32x4S),
            O::I16x8NarrowI32x4U => Bin(I::I16x8NarrowI32x4U),
            O::I16x8ExtendLowI8x16S => Un(I::I16x8ExtendLowI8x16S),
            O::I16x8ExtendHighI8x16S => Un(I::I16x8ExtendHighI8x16S),
            O::I16x8ExtendLowI8x16U => Un(I::I16x8ExtendLowI8x16U),
            O::I16x8ExtendHighI8x16U => Un(I::I16x8ExtendHighI8x16U),
            O::I16x8Shl => Bin(I::I16x8Shl),
            O::I16x8ShrS => Bin(I::I16x8ShrS),
            O::I16x8ShrU => Bin(I::I16x8ShrU),
            O::I16x8Add => Bin(I::I16x8Add),
            O::I16x8AddSatS => Bin(I::I16x8AddSatS),
            O::I16x8AddSatU => Bin(I::I16x8AddSatU),
            O::I16x8Sub => Bin(I::I16x8Sub),
            O::I16x8SubSatS => Bin(I::I16x8SubSatS),
            O::I16x8SubSatU => Bin(I::I16x8SubSatU),
            O::I16x8Mul => Bin(I::I16x8Mul),
            O::I16x8MinS => Bin(I::I16x8MinS),
            O::I16x8MinU => Bin(I::I16x8MinU),
            O::I16x8MaxS => Bin(I::I16x8MaxS),
            O::I16x8MaxU => Bin(I::I16x8MaxU),
            O::I16x8AvgrU => Bin(I::I16x8AvgrU),
            O::I16x8ExtMulLowI8x16S => Bin(I::I16x8ExtMulLowI8x16S),
            O::I16x8ExtMulHighI8x16S => Bin(I::I16x8ExtMulHighI8x16S),
            O::I16x8ExtMulLowI8x16U => Bin(I::I16x8ExtMulLowI8x16U),
            O::I16x8ExtMulHighI8x16U => Bin(I::I16x8ExtMulHighI8x16U),

            O::I32x4ExtAddPairwiseI16x8S => Un(I::I32x4ExtAddPairwiseI16x8S),
            O::I32x4ExtAddPairwiseI16x8U => Un(I::I32x4ExtAddPairwiseI16x8U),
            O::I32x4Abs => Un(I::I32x4Abs),
            O::I32x4Neg => Un(I::I32x4Neg),
            O::I32x4AllTrue => Test(I::I32x4AllTrue),
            O::I32x4Bitmask => Test(I::I32x4Bitmask),
            O::I32x4ExtendLowI16x8S => Un(I::I32x4ExtendLowI16x8S),
            O::I32x4ExtendHighI16x8S => Un(I::I32x4ExtendHighI16x8S),
            O::I32x4ExtendLowI16x8U => Un(I::I32x4ExtendLowI16x8U),
            O::I32x4ExtendHighI16x8U => Un(I::I32x4ExtendHighI16x8U),
            O::I32x4Shl => Bin(I::I32x4Shl),
            O::I32x4ShrS => Bin(I::I32x4ShrS),
            O::I32x4ShrU => Bin(I::I32x4ShrU),
            O::I32x4Add => Bin(I::I32x4Add),
            O::I32x4Sub => Bin(I::I32x4Sub),
            O::I32x4Mul => Bin(I::I32x4Mul),
            O::I32x4MinS => Bin(I::I32x4MinS),
            O::I32x4MinU => Bin(I::I32x4MinU),
            O::I32x4MaxS => Bin(I::I32x4MaxS),
            O::I32x4MaxU => Bin(I::I32x4MaxU),
            O::I32x4DotI16x8S => Bin(I::I32x4DotI16x8S),
            O::I32x4ExtMulLowI16x8S => Bin(I::I32x4ExtMulLowI16x8S),
            O::I32x4ExtMulHighI16x8S => Bin(I::I32x4ExtMulHighI16x8S),
            O::I32x4ExtMulLowI16x8U => Bin(I::I32x4ExtMulLowI16x8U),
            O::I32x4ExtMulHighI16x8U => Bin(I::I32x4ExtMulHighI16x8U),

            O::I64x2Abs => Un(I::I64x2Abs),
            O::I64x2Neg => Un(I::I64x2Neg),
            O::I64x2AllTrue => Test(I::I64x2AllTrue),
            O::I64x2Bitmask => Test(I::I64x2Bitmask),
            O::I64x2ExtendLowI32x4S => Un(I::I64x2ExtendLowI32x4S),
            O::I64x2ExtendHighI32x4S => Un(I::I64x2ExtendHighI32x4S),
            O::I64x2ExtendLowI32x4U => Un(I::I64x2ExtendLowI32x4U),
            O::I64x2ExtendHighI32x4U => Un(I::I64x2ExtendHighI32x4U),
            O::I64x2Shl => Bin(I::I64x2Shl),
            O::I64x2ShrS => Bin(I::I64x2ShrS),
            O::I64x2ShrU => Bin(I::I64x2ShrU),
            O::I64x2Add => Bin(I::I64x2Add),
            O::I64x2Sub => Bin(I::I64x2Sub),
            O::I64x2Mul => Bin(I::I64x2Mul),
            O::I64x2ExtMulLowI32x4S => Bin(I::I64x2ExtMulLowI32x4S),
            O::I64x2ExtMulHighI32x4S => Bin(I::I64x2ExtMulHighI32x4S),
            O::I64x2ExtMulLowI32x4U => Bin(I::I64x2ExtMulLowI32x4U),
            O::I64x2ExtMulHighI32x4U => Bin(I::I64x2ExtMulHighI32x4U),

            O::F32x4Ceil => Un(I::F32x4Ceil),
            O::F32x4Floor => Un(I::F32x4Floor),
            O::F32x4Trunc => Un(I::F32x4Trunc),
            O::F32x4Nearest => Un(I::F32x4Nearest),
            O::F32x4Abs => Un(I::F32x4Abs),
            O::F32x4Neg => Un(I::F32x4Neg),
            O::F32x4Sqrt => Un(I::F32x4Sqrt),
            O::F32x4Add => Bin(I::F32x4Add),
            O::F32x4Sub => Bin(I::F32x4Sub),
            O::F32x4Mul => Bin(I::F32x4Mul),
            O::F32x4Div => Bin(I::F32x4Div),
            O::F32x4Min => Bin(I::F32x4Min),
            O::F32x4Max => Bin(I::F32x4Max),
            O::F32x4PMin => Bin(I::F32x4PMin),
            O::F32x4PMax => Bin(I::F32x4PMax),
            O::F64x2Ceil => Un(I::F64x2Ceil),
            O::F64x2Floor => Un(I::F64x2Floor),
            O::F64x2Trunc => Un(I::F64x2Trunc),
            O::F64x2Nearest => Un(I::F64x2Nearest),
            O::F64x2Abs => Un(I::F64x2Abs),
            O::F64x2Neg => Un(I::F64x2Neg),
            O::F64x2Sqrt => Un(I::F64x2Sqrt),
            O::F64x2Add => Bin(I::F64x2Add),
            O::F64x2Sub => Bin(I::F64x2Sub),
            O::F64x2Mul => Bin(I::F64x2Mul),
            O::F64x2Div => Bin(I::F64x2Div),
            O::F64x2Min => Bin(I::F64x2Min),
            O::F64x2Max => Bin(I::F64x2Max),
            O::F64x2PMin => Bin(I::F64x2PMin),
            O::F64x2PMax => Bin(I::F64x2PMax),

            O::I32x4TruncSatF32x4S => Un(I::I32x4TruncSatF32x4S),
            O::I32x4TruncSatF32x4U => Un(I::I32x4TruncSatF32x4U),
            O::F32x4ConvertI32x4S => Un(I::F32x4ConvertI32x4S),
            O::F32x4ConvertI32x4U => Un(I::F32x4ConvertI32x4U),
            O::I32x4TruncSatF64x2SZero => Un(I::I32x4TruncSatF64x2SZero),
            O::I32x4TruncSatF64x2UZero => Un(I::I32x4TruncSatF64x2UZero),
            O::F64x2ConvertLowI32x4S => Un(I::F64x2ConvertLowI32x4S),
            O::F64x2ConvertLowI32x4U => Un(I::F64x2ConvertLowI32x4U),
            O::F32x4DemoteF64x2Zero => Un(I::F32x4DemoteF64x2Zero),
            O::F64x2PromoteLowF32x4 => Un(I::F64x2PromoteLowF32x4),

            other => return Err(format!("operator not supported by the interpreter: {other:?}")),
        };
        self.simd_shape(shape)
    }

    fn simd_shape(&mut self, shape: Shape) -> R {
        match shape {
            Shape::Un(f) => {
                let src = self.pop();
                let dst = self.push_temp128();
                self.emit(f(R2 { dst, src }));
            }
            Shape::Bin(f) => {
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_temp128();
                self.emit(f(R3 { dst, a, b }));
            }
            Shape::Test(f) => {
                let src = self.pop();
                let dst = self.push_temp();
                self.emit(f(R2 { dst, src }));
            }
            Shape::Splat(f) => {
                let src = self.pop();
                let dst = self.push_temp128();
                self.emit(f(R2 { dst, src }));
            }
            Shape::Extract(f, lane) => {
                let src = self.pop();
                let dst = self.push_temp();
                self.emit(f(RLane { dst, src, lane: lane as u16 }));
            }
            Shape::Replace(f, lane) => {
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_temp128();
                self.emit(f(R3Lane { dst, a, b, lane: lane as u16 }));
            }
            Shape::Load(f, memarg) => {
                let offset = self.memarg(&memarg)?;
                let addr = self.pop();
                let dst = self.push_temp128();
                self.emit(f(Load { dst, addr, offset }));
            }
            Shape::LoadLane(load, replace, memarg, lane) => {
                let offset = self.memarg(&memarg)?;
                let scratch = self.scratch();
                let a = self.pop();
                let addr = self.pop();
                self.emit(load(Load { dst: scratch, addr, offset }));
                let dst = self.push_temp128();
                self.emit(replace(R3Lane { dst, a, b: scratch, lane: lane as u16 }));
            }
            Shape::StoreLane(extract, store, memarg, lane) => {
                let offset = self.memarg(&memarg)?;
                let scratch = self.scratch();
                let src = self.pop();
                let addr = self.pop();
                self.emit(extract(RLane { dst: scratch, src, lane: lane as u16 }));
                self.emit(store(Store { addr, val: scratch, offset }));
            }
        }
        Ok(())
    }

    /// A free scalar slot: the temporary just above the stack.
    fn scratch(&mut self) -> Reg {
        let pos = self.top;
        self.reserve(pos + 1);
        self.slot(pos)
    }
}
