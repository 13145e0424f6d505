//! Fixed-width SIMD (Wasm 2.0 `v128`): every instruction of the proposal.
//!
//! v128 values live in the canonical type [`V128`] (`i8x16`) everywhere between instructions.
//! Each instruction bitcasts its operands to the lane type it works on (`pop_as`) and its
//! result back to `i8x16` (`push_v`); Cranelift's optimiser removes the pairs of bitcasts that
//! cancel out. Bitcasts that change the lane shape say little-endian, as Wasm lanes are.
//!
//! Where Cranelift's instruction and Wasm's differ, the lowering is spelt out here: `pmin` and
//! `pmax` are a compare and a `bitselect` (Cranelift's `fmin`/`fmax` have Wasm's NaN-propagating
//! `min`/`max` semantics, which `pmin`/`pmax` do not); `dot`, `extmul` and `extadd_pairwise` are
//! widen + multiply/add; `trunc_sat_f64x2_*_zero` is a saturating conversion to `i64x2` narrowed
//! against a zero vector (the shape Cranelift's x64 backend lowers as one sequence).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types;
use cranelift_codegen::ir::types::{F32X4, F64X2, I8X16, I16X8, I32X4, I64X2};
use cranelift_codegen::ir::{ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

use super::{Tx, V128};

/// Flags of a bitcast between vector shapes: Wasm lanes are little-endian.
fn le() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// How a lane read from memory is placed into a vector.
#[derive(Clone, Copy)]
enum Place {
    /// In every lane.
    Splat,
    /// In lane 0, the other lanes zero.
    Zero,
}

impl Tx<'_, '_> {
    /// A v128 constant (in the canonical type).
    pub(super) fn v128_const(&mut self, bits: u128) -> Value {
        self.vconst(V128, bits)
    }

    fn vconst(&mut self, ty: Type, bits: u128) -> Value {
        let c = self.b.func.dfg.constants.insert(ConstantData::from(&bits.to_le_bytes()[..]));
        self.b.ins().vconst(ty, c)
    }

    fn cast(&mut self, v: Value, ty: Type) -> Value {
        if self.b.func.dfg.value_type(v) == ty { v } else { self.b.ins().bitcast(ty, le(), v) }
    }

    fn pop_as(&mut self, ty: Type) -> Value {
        let v = self.pop();
        self.cast(v, ty)
    }

    fn push_v(&mut self, v: Value) {
        let v = self.cast(v, V128);
        self.push(v);
    }

    fn vunop(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let x = self.pop_as(ty);
        let v = f(&mut self.b, x);
        self.push_v(v);
    }

    fn vbinop(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value,
    ) {
        let y = self.pop_as(ty);
        let x = self.pop_as(ty);
        let v = f(&mut self.b, x, y);
        self.push_v(v);
    }

    fn vicmp(&mut self, ty: Type, cc: IntCC) {
        self.vbinop(ty, |b, x, y| b.ins().icmp(cc, x, y));
    }

    fn vfcmp(&mut self, ty: Type, cc: FloatCC) {
        self.vbinop(ty, |b, x, y| b.ins().fcmp(cc, x, y));
    }

    /// A shift by an i32 amount; Cranelift takes the amount modulo the lane width, as Wasm does.
    fn vshift(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value,
    ) {
        let y = self.pop();
        let x = self.pop_as(ty);
        let v = f(&mut self.b, x, y);
        self.push_v(v);
    }

    /// A scalar operand for lane type `lane` (Wasm gives i8 and i16 lanes as an i32).
    fn pop_lane(&mut self, lane: Type) -> Value {
        let x = self.pop();
        if lane == types::I8 || lane == types::I16 { self.b.ins().ireduce(lane, x) } else { x }
    }

    fn splat(&mut self, ty: Type) {
        let x = self.pop_lane(ty.lane_type());
        let v = self.b.ins().splat(ty, x);
        self.push_v(v);
    }

    fn extract_lane(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let x = self.pop_as(ty);
        let v = self.b.ins().extractlane(x, lane);
        let v = match signed {
            Some(true) => self.b.ins().sextend(types::I32, v),
            Some(false) => self.b.ins().uextend(types::I32, v),
            None => v,
        };
        self.push(v);
    }

    fn replace_lane(&mut self, ty: Type, lane: u8) {
        let s = self.pop_lane(ty.lane_type());
        let x = self.pop_as(ty);
        let v = self.b.ins().insertlane(x, s, lane);
        self.push_v(v);
    }

    fn v128_load(&mut self, memarg: MemArg) -> Result<(), String> {
        let p = self.heap_addr(memarg, 16)?;
        let f = self.heap();
        let v = self.b.ins().load(V128, f, p, 0);
        self.push(v);
        Ok(())
    }

    /// `v128.load8x8_s` and friends: 8 bytes, each half-lane widened.
    fn load_extend(&mut self, memarg: MemArg, from: Type, signed: bool) -> Result<(), String> {
        let p = self.heap_addr(memarg, 8)?;
        let f = self.heap();
        let v = match (from, signed) {
            (types::I8, true) => self.b.ins().sload8x8(f, p, 0),
            (types::I8, false) => self.b.ins().uload8x8(f, p, 0),
            (types::I16, true) => self.b.ins().sload16x4(f, p, 0),
            (types::I16, false) => self.b.ins().uload16x4(f, p, 0),
            (_, true) => self.b.ins().sload32x2(f, p, 0),
            (_, false) => self.b.ins().uload32x2(f, p, 0),
        };
        self.push_v(v);
        Ok(())
    }

    /// `load*_splat` and `load*_zero`.
    fn load_place(&mut self, memarg: MemArg, ty: Type, place: Place) -> Result<(), String> {
        let lane = ty.lane_type();
        let p = self.heap_addr(memarg, lane.bytes())?;
        let f = self.heap();
        let s = self.b.ins().load(lane, f, p, 0);
        let v = match place {
            Place::Splat => self.b.ins().splat(ty, s),
            Place::Zero => self.b.ins().scalar_to_vector(ty, s),
        };
        self.push_v(v);
        Ok(())
    }

    fn load_lane(&mut self, memarg: MemArg, ty: Type, lane: u8) -> Result<(), String> {
        let x = self.pop_as(ty);
        let p = self.heap_addr(memarg, ty.lane_type().bytes())?;
        let f = self.heap();
        let s = self.b.ins().load(ty.lane_type(), f, p, 0);
        let v = self.b.ins().insertlane(x, s, lane);
        self.push_v(v);
        Ok(())
    }

    fn store_lane(&mut self, memarg: MemArg, ty: Type, lane: u8) -> Result<(), String> {
        let x = self.pop_as(ty);
        let p = self.heap_addr(memarg, ty.lane_type().bytes())?;
        let s = self.b.ins().extractlane(x, lane);
        let f = self.heap();
        self.b.ins().store(f, s, p, 0);
        Ok(())
    }

    /// `extend_low/high`: half the lanes, widened.
    fn widen(&mut self, from: Type, signed: bool, high: bool) {
        self.vunop(from, |b, x| match (signed, high) {
            (true, false) => b.ins().swiden_low(x),
            (true, true) => b.ins().swiden_high(x),
            (false, false) => b.ins().uwiden_low(x),
            (false, true) => b.ins().uwiden_high(x),
        });
    }

    /// `extmul_low/high`: the widened halves multiplied.
    fn extmul(&mut self, from: Type, signed: bool, high: bool) {
        self.vbinop(from, |b, x, y| {
            let w = |b: &mut FunctionBuilder<'_>, v| match (signed, high) {
                (true, false) => b.ins().swiden_low(v),
                (true, true) => b.ins().swiden_high(v),
                (false, false) => b.ins().uwiden_low(v),
                (false, true) => b.ins().uwiden_high(v),
            };
            let (x, y) = (w(b, x), w(b, y));
            b.ins().imul(x, y)
        });
    }

    /// `extadd_pairwise`: adjacent lanes widened and added.
    fn extadd_pairwise(&mut self, from: Type, signed: bool) {
        self.vunop(from, |b, x| {
            let (lo, hi) = if signed {
                (b.ins().swiden_low(x), b.ins().swiden_high(x))
            } else {
                (b.ins().uwiden_low(x), b.ins().uwiden_high(x))
            };
            b.ins().iadd_pairwise(lo, hi)
        });
    }

    /// `pmin` (`b < a ? b : a`) and `pmax` (`a < b ? b : a`): no NaN propagation, no ordering
    /// of zeros, unlike Cranelift's `fmin`/`fmax`.
    fn pminmax(&mut self, ty: Type, max: bool) {
        self.vbinop(ty, |b, x, y| {
            let mask = if max {
                b.ins().fcmp(FloatCC::LessThan, x, y)
            } else {
                b.ins().fcmp(FloatCC::LessThan, y, x)
            };
            let mask = b.ins().bitcast(ty, le(), mask);
            b.ins().bitselect(mask, y, x)
        });
    }

    /// `i32x4.trunc_sat_f64x2_{s,u}_zero`.
    fn trunc_sat_zero(&mut self, signed: bool) {
        let x = self.pop_as(F64X2);
        let zero = self.vconst(I64X2, 0);
        let v = if signed {
            let c = self.b.ins().fcvt_to_sint_sat(I64X2, x);
            self.b.ins().snarrow(c, zero)
        } else {
            let c = self.b.ins().fcvt_to_uint_sat(I64X2, x);
            self.b.ins().uunarrow(c, zero)
        };
        self.push_v(v);
    }

    fn any_true(&mut self) {
        let x = self.pop_as(V128);
        let c = self.b.ins().vany_true(x);
        let v = self.b.ins().uextend(types::I32, c);
        self.push(v);
    }

    fn all_true(&mut self, ty: Type) {
        let x = self.pop_as(ty);
        let c = self.b.ins().vall_true(x);
        let v = self.b.ins().uextend(types::I32, c);
        self.push(v);
    }

    fn bitmask(&mut self, ty: Type) {
        let x = self.pop_as(ty);
        let v = self.b.ins().vhigh_bits(types::I32, x);
        self.push(v);
    }

    /// Translates one SIMD operator; anything else is an unsupported operator.
    pub(super) fn simd_op(&mut self, op: Operator<'_>) -> Result<(), String> {
        use Operator as O;
        match op {
            O::V128Const { value } => {
                let v = self.v128_const(u128::from_le_bytes(*value.bytes()));
                self.push(v);
            }
            O::V128Load { memarg } => self.v128_load(memarg)?,
            O::V128Store { memarg } => {
                let v = self.pop_as(V128);
                let p = self.heap_addr(memarg, 16)?;
                let f = self.heap();
                self.b.ins().store(f, v, p, 0);
            }
            O::V128Load8x8S { memarg } => self.load_extend(memarg, types::I8, true)?,
            O::V128Load8x8U { memarg } => self.load_extend(memarg, types::I8, false)?,
            O::V128Load16x4S { memarg } => self.load_extend(memarg, types::I16, true)?,
            O::V128Load16x4U { memarg } => self.load_extend(memarg, types::I16, false)?,
            O::V128Load32x2S { memarg } => self.load_extend(memarg, types::I32, true)?,
            O::V128Load32x2U { memarg } => self.load_extend(memarg, types::I32, false)?,
            O::V128Load8Splat { memarg } => self.load_place(memarg, I8X16, Place::Splat)?,
            O::V128Load16Splat { memarg } => self.load_place(memarg, I16X8, Place::Splat)?,
            O::V128Load32Splat { memarg } => self.load_place(memarg, I32X4, Place::Splat)?,
            O::V128Load64Splat { memarg } => self.load_place(memarg, I64X2, Place::Splat)?,
            O::V128Load32Zero { memarg } => self.load_place(memarg, I32X4, Place::Zero)?,
            O::V128Load64Zero { memarg } => self.load_place(memarg, I64X2, Place::Zero)?,
            O::V128Load8Lane { memarg, lane } => self.load_lane(memarg, I8X16, lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(memarg, I16X8, lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(memarg, I32X4, lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(memarg, I64X2, lane)?,
            O::V128Store8Lane { memarg, lane } => self.store_lane(memarg, I8X16, lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(memarg, I16X8, lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(memarg, I32X4, lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(memarg, I64X2, lane)?,

            O::I8x16Shuffle { lanes } => {
                let y = self.pop_as(I8X16);
                let x = self.pop_as(I8X16);
                let mask = self.b.func.dfg.immediates.push(ConstantData::from(&lanes[..]));
                let v = self.b.ins().shuffle(x, y, mask);
                self.push_v(v);
            }
            O::I8x16Swizzle => self.vbinop(I8X16, |b, x, y| b.ins().swizzle(x, y)),
            O::I8x16Splat => self.splat(I8X16),
            O::I16x8Splat => self.splat(I16X8),
            O::I32x4Splat => self.splat(I32X4),
            O::I64x2Splat => self.splat(I64X2),
            O::F32x4Splat => self.splat(F32X4),
            O::F64x2Splat => self.splat(F64X2),
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Some(true)),
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Some(false)),
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Some(true)),
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Some(false)),
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, None),
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, None),
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, None),
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, None),
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane),

            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal),
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual),
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan),
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan),
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan),
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan),
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual),
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual),
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual),
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual),
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal),
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual),
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan),
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan),
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan),
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan),
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual),
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual),
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual),
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual),
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal),
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual),
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan),
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan),
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan),
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan),
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual),
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual),
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual),
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual),
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal),
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual),
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan),
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan),
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual),
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual),
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal),
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual),
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan),
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan),
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual),
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual),
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal),
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual),
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan),
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan),
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual),
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual),

            O::V128Not => self.vunop(V128, |b, x| b.ins().bnot(x)),
            O::V128And => self.vbinop(V128, |b, x, y| b.ins().band(x, y)),
            O::V128AndNot => self.vbinop(V128, |b, x, y| b.ins().band_not(x, y)),
            O::V128Or => self.vbinop(V128, |b, x, y| b.ins().bor(x, y)),
            O::V128Xor => self.vbinop(V128, |b, x, y| b.ins().bxor(x, y)),
            O::V128Bitselect => {
                let c = self.pop_as(V128);
                let y = self.pop_as(V128);
                let x = self.pop_as(V128);
                let v = self.b.ins().bitselect(c, x, y);
                self.push(v);
            }
            O::V128AnyTrue => self.any_true(),

            O::I8x16Abs => self.vunop(I8X16, |b, x| b.ins().iabs(x)),
            O::I16x8Abs => self.vunop(I16X8, |b, x| b.ins().iabs(x)),
            O::I32x4Abs => self.vunop(I32X4, |b, x| b.ins().iabs(x)),
            O::I64x2Abs => self.vunop(I64X2, |b, x| b.ins().iabs(x)),
            O::I8x16Neg => self.vunop(I8X16, |b, x| b.ins().ineg(x)),
            O::I16x8Neg => self.vunop(I16X8, |b, x| b.ins().ineg(x)),
            O::I32x4Neg => self.vunop(I32X4, |b, x| b.ins().ineg(x)),
            O::I64x2Neg => self.vunop(I64X2, |b, x| b.ins().ineg(x)),
            O::I8x16Popcnt => self.vunop(I8X16, |b, x| b.ins().popcnt(x)),
            O::I8x16AllTrue => self.all_true(I8X16),
            O::I16x8AllTrue => self.all_true(I16X8),
            O::I32x4AllTrue => self.all_true(I32X4),
            O::I64x2AllTrue => self.all_true(I64X2),
            O::I8x16Bitmask => self.bitmask(I8X16),
            O::I16x8Bitmask => self.bitmask(I16X8),
            O::I32x4Bitmask => self.bitmask(I32X4),
            O::I64x2Bitmask => self.bitmask(I64X2),
            O::I8x16NarrowI16x8S => self.vbinop(I16X8, |b, x, y| b.ins().snarrow(x, y)),
            O::I8x16NarrowI16x8U => self.vbinop(I16X8, |b, x, y| b.ins().unarrow(x, y)),
            O::I16x8NarrowI32x4S => self.vbinop(I32X4, |b, x, y| b.ins().snarrow(x, y)),
            O::I16x8NarrowI32x4U => self.vbinop(I32X4, |b, x, y| b.ins().unarrow(x, y)),
            O::I16x8ExtendLowI8x16S => self.widen(I8X16, true, false),
            O::I16x8ExtendHighI8x16S => self.widen(I8X16, true, true),
            O::I16x8ExtendLowI8x16U => self.widen(I8X16, false, false),
            O::I16x8ExtendHighI8x16U => self.widen(I8X16, false, true),
            O::I32x4ExtendLowI16x8S => self.widen(I16X8, true, false),
            O::I32x4ExtendHighI16x8S => self.widen(I16X8, true, true),
            O::I32x4ExtendLowI16x8U => self.widen(I16X8, false, false),
            O::I32x4ExtendHighI16x8U => self.widen(I16X8, false, true),
            O::I64x2ExtendLowI32x4S => self.widen(I32X4, true, false),
            O::I64x2ExtendHighI32x4S => self.widen(I32X4, true, true),
            O::I64x2ExtendLowI32x4U => self.widen(I32X4, false, false),
            O::I64x2ExtendHighI32x4U => self.widen(I32X4, false, true),

            O::I8x16Shl => self.vshift(I8X16, |b, x, y| b.ins().ishl(x, y)),
            O::I8x16ShrS => self.vshift(I8X16, |b, x, y| b.ins().sshr(x, y)),
            O::I8x16ShrU => self.vshift(I8X16, |b, x, y| b.ins().ushr(x, y)),
            O::I16x8Shl => self.vshift(I16X8, |b, x, y| b.ins().ishl(x, y)),
            O::I16x8ShrS => self.vshift(I16X8, |b, x, y| b.ins().sshr(x, y)),
            O::I16x8ShrU => self.vshift(I16X8, |b, x, y| b.ins().ushr(x, y)),
            O::I32x4Shl => self.vshift(I32X4, |b, x, y| b.ins().ishl(x, y)),
            O::I32x4ShrS => self.vshift(I32X4, |b, x, y| b.ins().sshr(x, y)),
            O::I32x4ShrU => self.vshift(I32X4, |b, x, y| b.ins().ushr(x, y)),
            O::I64x2Shl => self.vshift(I64X2, |b, x, y| b.ins().ishl(x, y)),
            O::I64x2ShrS => self.vshift(I64X2, |b, x, y| b.ins().sshr(x, y)),
            O::I64x2ShrU => self.vshift(I64X2, |b, x, y| b.ins().ushr(x, y)),

            O::I8x16Add => self.vbinop(I8X16, |b, x, y| b.ins().iadd(x, y)),
            O::I16x8Add => self.vbinop(I16X8, |b, x, y| b.ins().iadd(x, y)),
            O::I32x4Add => self.vbinop(I32X4, |b, x, y| b.ins().iadd(x, y)),
            O::I64x2Add => self.vbinop(I64X2, |b, x, y| b.ins().iadd(x, y)),
            O::I8x16Sub => self.vbinop(I8X16, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Sub => self.vbinop(I16X8, |b, x, y| b.ins().isub(x, y)),
            O::I32x4Sub => self.vbinop(I32X4, |b, x, y| b.ins().isub(x, y)),
            O::I64x2Sub => self.vbinop(I64X2, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Mul => self.vbinop(I16X8, |b, x, y| b.ins().imul(x, y)),
            O::I32x4Mul => self.vbinop(I32X4, |b, x, y| b.ins().imul(x, y)),
            O::I64x2Mul => self.vbinop(I64X2, |b, x, y| b.ins().imul(x, y)),
            O::I8x16AddSatS => self.vbinop(I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I8x16AddSatU => self.vbinop(I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I8x16SubSatS => self.vbinop(I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I8x16SubSatU => self.vbinop(I8X16, |b, x, y| b.ins().usub_sat(x, y)),
            O::I16x8AddSatS => self.vbinop(I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I16x8AddSatU => self.vbinop(I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I16x8SubSatS => self.vbinop(I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I16x8SubSatU => self.vbinop(I16X8, |b, x, y| b.ins().usub_sat(x, y)),
            O::I8x16MinS => self.vbinop(I8X16, |b, x, y| b.ins().smin(x, y)),
            O::I8x16MinU => self.vbinop(I8X16, |b, x, y| b.ins().umin(x, y)),
            O::I8x16MaxS => self.vbinop(I8X16, |b, x, y| b.ins().smax(x, y)),
            O::I8x16MaxU => self.vbinop(I8X16, |b, x, y| b.ins().umax(x, y)),
            O::I16x8MinS => self.vbinop(I16X8, |b, x, y| b.ins().smin(x, y)),
            O::I16x8MinU => self.vbinop(I16X8, |b, x, y| b.ins().umin(x, y)),
            O::I16x8MaxS => self.vbinop(I16X8, |b, x, y| b.ins().smax(x, y)),
            O::I16x8MaxU => self.vbinop(I16X8, |b, x, y| b.ins().umax(x, y)),
            O::I32x4MinS => self.vbinop(I32X4, |b, x, y| b.ins().smin(x, y)),
            O::I32x4MinU => self.vbinop(I32X4, |b, x, y| b.ins().umin(x, y)),
            O::I32x4MaxS => self.vbinop(I32X4, |b, x, y| b.ins().smax(x, y)),
            O::I32x4MaxU => self.vbinop(I32X4, |b, x, y| b.ins().umax(x, y)),
            O::I8x16AvgrU => self.vbinop(I8X16, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8AvgrU => self.vbinop(I16X8, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8Q15MulrSatS => self.vbinop(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),
            O::I32x4DotI16x8S => self.vbinop(I16X8, |b, x, y| {
                let (xl, yl) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
                let (xh, yh) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
                let lo = b.ins().imul(xl, yl);
                let hi = b.ins().imul(xh, yh);
                b.ins().iadd_pairwise(lo, hi)
            }),
            O::I16x8ExtMulLowI8x16S => self.extmul(I8X16, true, false),
            O::I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true),
            O::I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false),
            O::I16x8ExtMulHighI8x16U => self.extmul(I8X16, false, true),
            O::I32x4ExtMulLowI16x8S => self.extmul(I16X8, true, false),
            O::I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true),
            O::I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false),
            O::I32x4ExtMulHighI16x8U => self.extmul(I16X8, false, true),
            O::I64x2ExtMulLowI32x4S => self.extmul(I32X4, true, false),
            O::I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true),
            O::I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false),
            O::I64x2ExtMulHighI32x4U => self.extmul(I32X4, false, true),
            O::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, true),
            O::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, false),
            O::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, true),
            O::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, false),

            O::F32x4Ceil => self.vunop(F32X4, |b, x| b.ins().ceil(x)),
            O::F32x4Floor => self.vunop(F32X4, |b, x| b.ins().floor(x)),
            O::F32x4Trunc => self.vunop(F32X4, |b, x| b.ins().trunc(x)),
            O::F32x4Nearest => self.vunop(F32X4, |b, x| b.ins().nearest(x)),
            O::F32x4Abs => self.vunop(F32X4, |b, x| b.ins().fabs(x)),
            O::F32x4Neg => self.vunop(F32X4, |b, x| b.ins().fneg(x)),
            O::F32x4Sqrt => self.vunop(F32X4, |b, x| b.ins().sqrt(x)),
            O::F32x4Add => self.vbinop(F32X4, |b, x, y| b.ins().fadd(x, y)),
            O::F32x4Sub => self.vbinop(F32X4, |b, x, y| b.ins().fsub(x, y)),
            O::F32x4Mul => self.vbinop(F32X4, |b, x, y| b.ins().fmul(x, y)),
            O::F32x4Div => self.vbinop(F32X4, |b, x, y| b.ins().fdiv(x, y)),
            O::F32x4Min => self.vbinop(F32X4, |b, x, y| b.ins().fmin(x, y)),
            O::F32x4Max => self.vbinop(F32X4, |b, x, y| b.ins().fmax(x, y)),
            O::F32x4PMin => self.pminmax(F32X4, false),
            O::F32x4PMax => self.pminmax(F32X4, true),
            O::F64x2Ceil => self.vunop(F64X2, |b, x| b.ins().ceil(x)),
            O::F64x2Floor => self.vunop(F64X2, |b, x| b.ins().floor(x)),
            O::F64x2Trunc => self.vunop(F64X2, |b, x| b.ins().trunc(x)),
            O::F64x2Nearest => self.vunop(F64X2, |b, x| b.ins().nearest(x)),
            O::F64x2Abs => self.vunop(F64X2, |b, x| b.ins().fabs(x)),
            O::F64x2Neg => self.vunop(F64X2, |b, x| b.ins().fneg(x)),
            O::F64x2Sqrt => self.vunop(F64X2, |b, x| b.ins().sqrt(x)),
            O::F64x2Add => self.vbinop(F64X2, |b, x, y| b.ins().fadd(x, y)),
            O::F64x2Sub => self.vbinop(F64X2, |b, x, y| b.ins().fsub(x, y)),
            O::F64x2Mul => self.vbinop(F64X2, |b, x, y| b.ins().fmul(x, y)),
            O::F64x2Div => self.vbinop(F64X2, |b, x, y| b.ins().fdiv(x, y)),
            O::F64x2Min => self.vbinop(F64X2, |b, x, y| b.ins().fmin(x, y)),
            O::F64x2Max => self.vbinop(F64X2, |b, x, y| b.ins().fmax(x, y)),
            O::F64x2PMin => self.pminmax(F64X2, false),
            O::F64x2PMax => self.pminmax(F64X2, true),

            O::I32x4TruncSatF32x4S => self.vunop(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
            O::I32x4TruncSatF32x4U => self.vunop(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
            O::I32x4TruncSatF64x2SZero => self.trunc_sat_zero(true),
            O::I32x4TruncSatF64x2UZero => self.trunc_sat_zero(false),
            O::F32x4ConvertI32x4S => self.vunop(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
            O::F32x4ConvertI32x4U => self.vunop(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
            O::F64x2ConvertLowI32x4S => self.vunop(I32X4, |b, x| {
                let w = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, w)
            }),
            O::F64x2ConvertLowI32x4U => self.vunop(I32X4, |b, x| {
                let w = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, w)
            }),
            O::F32x4DemoteF64x2Zero => self.vunop(F64X2, |b, x| b.ins().fvdemote(x)),
            O::F64x2PromoteLowF32x4 => self.vunop(F32X4, |b, x| b.ins().fvpromote_low(x)),

            other => return Err(format!("the compiler does not support {other:?} yet")),
        }
        Ok(())
    }
}
