//! The SIMD (`v128`) instruction handlers: lane-wise loops over [`crate::v128`] lane arrays.
//!
//! Every handler reads all its operands before it writes its result: a result may share slots
//! with an operand, even partly (a v128 computed from an i32 just below it).

use super::*;
use crate::v128::*;

/// The lane array type of a v128 with lanes of type `$t`.
macro_rules! lanes_of {
    ($t:ty) => {
        [$t; 16 / size_of::<$t>()]
    };
}
/// A lane-wise unary operation on lanes of type `$t` (the result's lanes have the same width).
macro_rules! v_un {
    ($regs:ident, $p:expr, $t:ty, |$x:ident| $e:expr) => {{
        let p = $p;
        let a: lanes_of!($t) = $regs.lanes(p.src);
        $regs.set_lanes(p.dst, build::<_, { 16 / size_of::<$t>() }>(|i| {
            let $x = a[i];
            $e
        }));
    }};
}
/// A lane-wise binary operation on lanes of type `$t` (the result's lanes have the same width).
macro_rules! v_bin {
    ($regs:ident, $p:expr, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let (x, y): (lanes_of!($t), lanes_of!($t)) = ($regs.lanes(p.a), $regs.lanes(p.b));
        $regs.set_lanes(p.dst, build::<_, { 16 / size_of::<$t>() }>(|i| {
            let ($a, $b) = (x[i], y[i]);
            $e
        }));
    }};
}
/// A lane-wise shift of lanes of type `$t` by the i32 in `b`.
macro_rules! v_shift {
    ($regs:ident, $p:expr, $t:ty, |$x:ident, $s:ident| $e:expr) => {{
        let p = $p;
        let $s = $regs.get(p.b) as u32;
        let a: lanes_of!($t) = $regs.lanes(p.a);
        $regs.set_lanes(p.dst, build::<_, { 16 / size_of::<$t>() }>(|i| {
            let $x = a[i];
            $e
        }));
    }};
}
/// A function of the lanes (of type `$t`) of one or two v128s, returning lanes.
macro_rules! v_fn {
    ($regs:ident, $p:expr, $t:ty, |$a:ident| $e:expr) => {{
        let p = $p;
        let $a: lanes_of!($t) = $regs.lanes(p.src);
        $regs.set_lanes(p.dst, $e);
    }};
    ($regs:ident, $p:expr, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let ($a, $b): (lanes_of!($t), lanes_of!($t)) = ($regs.lanes(p.a), $regs.lanes(p.b));
        $regs.set_lanes(p.dst, $e);
    }};
}
/// A whole-v128 bitwise operation.
macro_rules! v_bits {
    ($regs:ident, $p:expr, |$a:ident| $e:expr) => {{
        let p = $p;
        let $a = $regs.get128(p.src);
        $regs.set128(p.dst, $e);
    }};
    ($regs:ident, $p:expr, |$a:ident, $b:ident| $e:expr) => {{
        let p = $p;
        let ($a, $b) = ($regs.get128(p.a), $regs.get128(p.b));
        $regs.set128(p.dst, $e);
    }};
}
/// A v128 -> i32 test on lanes of type `$t`.
macro_rules! v_test {
    ($regs:ident, $p:expr, $t:ty, |$a:ident| $e:expr) => {{
        let p = $p;
        let $a: lanes_of!($t) = $regs.lanes(p.src);
        $regs.set(p.dst, ($e) as u64);
    }};
}
/// Lane `lane` of lanes of type `$t`, as a slot value.
macro_rules! v_extract {
    ($regs:ident, $p:expr, $t:ty, |$x:ident| $e:expr) => {{
        let p = $p;
        let a: lanes_of!($t) = $regs.lanes(p.src);
        // Validated lane indices are below the lane count, a power of two.
        let $x = a[p.lane as usize & (a.len() - 1)];
        $regs.set(p.dst, $e);
    }};
}
/// Lane `lane` of lanes of type `$t` replaced by the scalar in `b`.
macro_rules! v_replace {
    ($regs:ident, $p:expr, $t:ty) => {{
        let p = $p;
        let mut a: lanes_of!($t) = $regs.lanes(p.a);
        let n = a.len();
        a[p.lane as usize & (n - 1)] = $regs.get(p.b) as $t;
        $regs.set_lanes(p.dst, a);
    }};
}
/// A splat of the scalar in `src`, as lanes of type `$t`.
macro_rules! v_splat {
    ($regs:ident, $p:expr, $t:ty) => {{
        let p = $p;
        let x = $regs.get(p.src) as $t;
        $regs.set_lanes::<$t, { 16 / size_of::<$t>() }>(p.dst, [x; 16 / size_of::<$t>()]);
    }};
}
/// A v128 load of `$n` bytes, made lanes by `$e`.
macro_rules! v_load {
    ($ctx:ident, $mem:ident, $regs:ident, $p:expr, $n:literal, |$b:ident| $e:expr) => {{
        let p = $p;
        match $mem.load::<$n>(Mem::ea($regs.get(p.addr), p.offset)) {
            Some($b) => $regs.set_lanes(p.dst, $e),
            None => return $ctx.trap(TrapCode::MemoryOutOfBounds),
        }
    }};
}

handlers! { ip, regs, ctx, mem;
    Copy128(p) => { v_bits!(regs, p, |a| a); }
    Select128(s) => {
        let v = if regs.get(s.cond) as u32 != 0 { regs.get128(s.a) } else { regs.get128(s.b) };
        regs.set128(s.dst, v);
    }
    GlobalGet128(g) => {
        let [lo, hi] = ctx.instance.global(g.index).get_wide();
        regs.set128(g.dst, lo as u128 | (hi as u128) << 64);
    }
    GlobalSet128(g) => {
        let v = regs.get128(g.src);
        ctx.instance.global(g.index).set_wide([v as u64, (v >> 64) as u64]);
    }

    V128Load(p) => { v_load!(ctx, mem, regs, p, 16, |b| b); }
    V128Load8x8S(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i8_s(low(b), false)); }
    V128Load8x8U(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i8_u(low(b), false)); }
    V128Load16x4S(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i16_s(low(b), false)); }
    V128Load16x4U(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i16_u(low(b), false)); }
    V128Load32x2S(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i32_s(low(b), false)); }
    V128Load32x2U(p) => { v_load!(ctx, mem, regs, p, 8, |b| extend_i32_u(low(b), false)); }
    V128Load8Splat(p) => { v_load!(ctx, mem, regs, p, 1, |b| [b[0]; 16]); }
    V128Load16Splat(p) => { v_load!(ctx, mem, regs, p, 2, |b| [u16::from_le_bytes(b); 8]); }
    V128Load32Splat(p) => { v_load!(ctx, mem, regs, p, 4, |b| [u32::from_le_bytes(b); 4]); }
    V128Load64Splat(p) => { v_load!(ctx, mem, regs, p, 8, |b| [u64::from_le_bytes(b); 2]); }
    V128Load32Zero(p) => { v_load!(ctx, mem, regs, p, 4, |b| [u32::from_le_bytes(b), 0, 0, 0]); }
    V128Load64Zero(p) => { v_load!(ctx, mem, regs, p, 8, |b| [u64::from_le_bytes(b), 0]); }
    V128Store(p) => {
        let v = regs.get128(p.val).to_le_bytes();
        if !mem.store(Mem::ea(regs.get(p.addr), p.offset), v) {
            return ctx.trap(TrapCode::MemoryOutOfBounds);
        }
    }

    I8x16Shuffle(p) => {
        let (a, b, m) = (regs.lanes(p.a), regs.lanes(p.b), regs.lanes(p.c));
        regs.set_lanes(p.dst, shuffle(a, b, m));
    }
    I8x16Swizzle(p) => { v_fn!(regs, p, u8, |a, s| swizzle(a, s)); }
    I8x16ExtractLaneS(p) => { v_extract!(regs, p, i8, |x| x as i32 as u32 as u64); }
    I8x16ExtractLaneU(p) => { v_extract!(regs, p, u8, |x| x as u64); }
    I16x8ExtractLaneS(p) => { v_extract!(regs, p, i16, |x| x as i32 as u32 as u64); }
    I16x8ExtractLaneU(p) => { v_extract!(regs, p, u16, |x| x as u64); }
    I32x4ExtractLane(p) => { v_extract!(regs, p, u32, |x| x as u64); }
    I64x2ExtractLane(p) => { v_extract!(regs, p, u64, |x| x); }
    I8x16ReplaceLane(p) => { v_replace!(regs, p, u8); }
    I16x8ReplaceLane(p) => { v_replace!(regs, p, u16); }
    I32x4ReplaceLane(p) => { v_replace!(regs, p, u32); }
    I64x2ReplaceLane(p) => { v_replace!(regs, p, u64); }
    I8x16Splat(p) => { v_splat!(regs, p, u8); }
    I16x8Splat(p) => { v_splat!(regs, p, u16); }
    I32x4Splat(p) => { v_splat!(regs, p, u32); }
    I64x2Splat(p) => { v_splat!(regs, p, u64); }

    I8x16Eq(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a == b)); }
    I8x16Ne(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a != b)); }
    I8x16LtS(p) => { v_bin!(regs, p, i8, |a, b| mask::<i8>(a < b)); }
    I8x16LtU(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a < b)); }
    I8x16GtS(p) => { v_bin!(regs, p, i8, |a, b| mask::<i8>(a > b)); }
    I8x16GtU(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a > b)); }
    I8x16LeS(p) => { v_bin!(regs, p, i8, |a, b| mask::<i8>(a <= b)); }
    I8x16LeU(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a <= b)); }
    I8x16GeS(p) => { v_bin!(regs, p, i8, |a, b| mask::<i8>(a >= b)); }
    I8x16GeU(p) => { v_bin!(regs, p, u8, |a, b| mask::<i8>(a >= b)); }
    I16x8Eq(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a == b)); }
    I16x8Ne(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a != b)); }
    I16x8LtS(p) => { v_bin!(regs, p, i16, |a, b| mask::<i16>(a < b)); }
    I16x8LtU(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a < b)); }
    I16x8GtS(p) => { v_bin!(regs, p, i16, |a, b| mask::<i16>(a > b)); }
    I16x8GtU(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a > b)); }
    I16x8LeS(p) => { v_bin!(regs, p, i16, |a, b| mask::<i16>(a <= b)); }
    I16x8LeU(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a <= b)); }
    I16x8GeS(p) => { v_bin!(regs, p, i16, |a, b| mask::<i16>(a >= b)); }
    I16x8GeU(p) => { v_bin!(regs, p, u16, |a, b| mask::<i16>(a >= b)); }
    I32x4Eq(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a == b)); }
    I32x4Ne(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a != b)); }
    I32x4LtS(p) => { v_bin!(regs, p, i32, |a, b| mask::<i32>(a < b)); }
    I32x4LtU(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a < b)); }
    I32x4GtS(p) => { v_bin!(regs, p, i32, |a, b| mask::<i32>(a > b)); }
    I32x4GtU(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a > b)); }
    I32x4LeS(p) => { v_bin!(regs, p, i32, |a, b| mask::<i32>(a <= b)); }
    I32x4LeU(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a <= b)); }
    I32x4GeS(p) => { v_bin!(regs, p, i32, |a, b| mask::<i32>(a >= b)); }
    I32x4GeU(p) => { v_bin!(regs, p, u32, |a, b| mask::<i32>(a >= b)); }
    I64x2Eq(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a == b)); }
    I64x2Ne(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a != b)); }
    I64x2LtS(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a < b)); }
    I64x2GtS(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a > b)); }
    I64x2LeS(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a <= b)); }
    I64x2GeS(p) => { v_bin!(regs, p, i64, |a, b| mask::<i64>(a >= b)); }
    F32x4Eq(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a == b)); }
    F32x4Ne(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a != b)); }
    F32x4Lt(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a < b)); }
    F32x4Gt(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a > b)); }
    F32x4Le(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a <= b)); }
    F32x4Ge(p) => { v_bin!(regs, p, f32, |a, b| mask::<i32>(a >= b)); }
    F64x2Eq(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a == b)); }
    F64x2Ne(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a != b)); }
    F64x2Lt(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a < b)); }
    F64x2Gt(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a > b)); }
    F64x2Le(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a <= b)); }
    F64x2Ge(p) => { v_bin!(regs, p, f64, |a, b| mask::<i64>(a >= b)); }

    V128Not(p) => { v_bits!(regs, p, |a| !a); }
    V128And(p) => { v_bits!(regs, p, |a, b| a & b); }
    V128AndNot(p) => { v_bits!(regs, p, |a, b| a & !b); }
    V128Or(p) => { v_bits!(regs, p, |a, b| a | b); }
    V128Xor(p) => { v_bits!(regs, p, |a, b| a ^ b); }
    V128Bitselect(p) => {
        let (a, b, c) = (regs.get128(p.a), regs.get128(p.b), regs.get128(p.c));
        regs.set128(p.dst, (a & c) | (b & !c));
    }
    V128AnyTrue(p) => { let v = regs.get128(p.src); regs.set(p.dst, (v != 0) as u64); }

    I8x16Abs(p) => { v_un!(regs, p, i8, |x| x.wrapping_abs()); }
    I8x16Neg(p) => { v_un!(regs, p, i8, |x| x.wrapping_neg()); }
    I8x16Popcnt(p) => { v_un!(regs, p, u8, |x| x.count_ones() as u8); }
    I8x16AllTrue(p) => { v_test!(regs, p, u8, |a| all_true(a)); }
    I8x16Bitmask(p) => { v_test!(regs, p, i8, |a| bitmask(a)); }
    I8x16NarrowI16x8S(p) => { v_fn!(regs, p, i16, |a, b| narrow_i16_s(a, b)); }
    I8x16NarrowI16x8U(p) => { v_fn!(regs, p, i16, |a, b| narrow_i16_u(a, b)); }
    I8x16Shl(p) => { v_shift!(regs, p, u8, |x, s| x.wrapping_shl(s)); }
    I8x16ShrS(p) => { v_shift!(regs, p, i8, |x, s| x.wrapping_shr(s)); }
    I8x16ShrU(p) => { v_shift!(regs, p, u8, |x, s| x.wrapping_shr(s)); }
    I8x16Add(p) => { v_bin!(regs, p, u8, |a, b| a.wrapping_add(b)); }
    I8x16AddSatS(p) => { v_bin!(regs, p, i8, |a, b| a.saturating_add(b)); }
    I8x16AddSatU(p) => { v_bin!(regs, p, u8, |a, b| a.saturating_add(b)); }
    I8x16Sub(p) => { v_bin!(regs, p, u8, |a, b| a.wrapping_sub(b)); }
    I8x16SubSatS(p) => { v_bin!(regs, p, i8, |a, b| a.saturating_sub(b)); }
    I8x16SubSatU(p) => { v_bin!(regs, p, u8, |a, b| a.saturating_sub(b)); }
    I8x16MinS(p) => { v_bin!(regs, p, i8, |a, b| a.min(b)); }
    I8x16MinU(p) => { v_bin!(regs, p, u8, |a, b| a.min(b)); }
    I8x16MaxS(p) => { v_bin!(regs, p, i8, |a, b| a.max(b)); }
    I8x16MaxU(p) => { v_bin!(regs, p, u8, |a, b| a.max(b)); }
    I8x16AvgrU(p) => { v_bin!(regs, p, u8, |a, b| avgr_u8(a, b)); }

    I16x8ExtAddPairwiseI8x16S(p) => { v_fn!(regs, p, i8, |a| pairwise_i8_s(a)); }
    I16x8ExtAddPairwiseI8x16U(p) => { v_fn!(regs, p, u8, |a| pairwise_i8_u(a)); }
    I16x8Abs(p) => { v_un!(regs, p, i16, |x| x.wrapping_abs()); }
    I16x8Neg(p) => { v_un!(regs, p, i16, |x| x.wrapping_neg()); }
    I16x8Q15MulrSatS(p) => { v_bin!(regs, p, i16, |a, b| q15mulr_sat(a, b)); }
    I16x8AllTrue(p) => { v_test!(regs, p, u16, |a| all_true(a)); }
    I16x8Bitmask(p) => { v_test!(regs, p, i16, |a| bitmask(a)); }
    I16x8NarrowI32x4S(p) => { v_fn!(regs, p, i32, |a, b| narrow_i32_s(a, b)); }
    I16x8NarrowI32x4U(p) => { v_fn!(regs, p, i32, |a, b| narrow_i32_u(a, b)); }
    I16x8ExtendLowI8x16S(p) => { v_fn!(regs, p, i8, |a| extend_i8_s(a, false)); }
    I16x8ExtendHighI8x16S(p) => { v_fn!(regs, p, i8, |a| extend_i8_s(a, true)); }
    I16x8ExtendLowI8x16U(p) => { v_fn!(regs, p, u8, |a| extend_i8_u(a, false)); }
    I16x8ExtendHighI8x16U(p) => { v_fn!(regs, p, u8, |a| extend_i8_u(a, true)); }
    I16x8Shl(p) => { v_shift!(regs, p, u16, |x, s| x.wrapping_shl(s)); }
    I16x8ShrS(p) => { v_shift!(regs, p, i16, |x, s| x.wrapping_shr(s)); }
    I16x8ShrU(p) => { v_shift!(regs, p, u16, |x, s| x.wrapping_shr(s)); }
    I16x8Add(p) => { v_bin!(regs, p, u16, |a, b| a.wrapping_add(b)); }
    I16x8AddSatS(p) => { v_bin!(regs, p, i16, |a, b| a.saturating_add(b)); }
    I16x8AddSatU(p) => { v_bin!(regs, p, u16, |a, b| a.saturating_add(b)); }
    I16x8Sub(p) => { v_bin!(regs, p, u16, |a, b| a.wrapping_sub(b)); }
    I16x8SubSatS(p) => { v_bin!(regs, p, i16, |a, b| a.saturating_sub(b)); }
    I16x8SubSatU(p) => { v_bin!(regs, p, u16, |a, b| a.saturating_sub(b)); }
    I16x8Mul(p) => { v_bin!(regs, p, u16, |a, b| a.wrapping_mul(b)); }
    I16x8MinS(p) => { v_bin!(regs, p, i16, |a, b| a.min(b)); }
    I16x8MinU(p) => { v_bin!(regs, p, u16, |a, b| a.min(b)); }
    I16x8MaxS(p) => { v_bin!(regs, p, i16, |a, b| a.max(b)); }
    I16x8MaxU(p) => { v_bin!(regs, p, u16, |a, b| a.max(b)); }
    I16x8AvgrU(p) => { v_bin!(regs, p, u16, |a, b| avgr_u16(a, b)); }
    I16x8ExtMulLowI8x16S(p) => { v_fn!(regs, p, i8, |a, b| extmul_i8_s(a, b, false)); }
    I16x8ExtMulHighI8x16S(p) => { v_fn!(regs, p, i8, |a, b| extmul_i8_s(a, b, true)); }
    I16x8ExtMulLowI8x16U(p) => { v_fn!(regs, p, u8, |a, b| extmul_i8_u(a, b, false)); }
    I16x8ExtMulHighI8x16U(p) => { v_fn!(regs, p, u8, |a, b| extmul_i8_u(a, b, true)); }

    I32x4ExtAddPairwiseI16x8S(p) => { v_fn!(regs, p, i16, |a| pairwise_i16_s(a)); }
    I32x4ExtAddPairwiseI16x8U(p) => { v_fn!(regs, p, u16, |a| pairwise_i16_u(a)); }
    I32x4Abs(p) => { v_un!(regs, p, i32, |x| x.wrapping_abs()); }
    I32x4Neg(p) => { v_un!(regs, p, i32, |x| x.wrapping_neg()); }
    I32x4AllTrue(p) => { v_test!(regs, p, u32, |a| all_true(a)); }
    I32x4Bitmask(p) => { v_test!(regs, p, i32, |a| bitmask(a)); }
    I32x4ExtendLowI16x8S(p) => { v_fn!(regs, p, i16, |a| extend_i16_s(a, false)); }
    I32x4ExtendHighI16x8S(p) => { v_fn!(regs, p, i16, |a| extend_i16_s(a, true)); }
    I32x4ExtendLowI16x8U(p) => { v_fn!(regs, p, u16, |a| extend_i16_u(a, false)); }
    I32x4ExtendHighI16x8U(p) => { v_fn!(regs, p, u16, |a| extend_i16_u(a, true)); }
    I32x4Shl(p) => { v_shift!(regs, p, u32, |x, s| x.wrapping_shl(s)); }
    I32x4ShrS(p) => { v_shift!(regs, p, i32, |x, s| x.wrapping_shr(s)); }
    I32x4ShrU(p) => { v_shift!(regs, p, u32, |x, s| x.wrapping_shr(s)); }
    I32x4Add(p) => { v_bin!(regs, p, u32, |a, b| a.wrapping_add(b)); }
    I32x4Sub(p) => { v_bin!(regs, p, u32, |a, b| a.wrapping_sub(b)); }
    I32x4Mul(p) => { v_bin!(regs, p, u32, |a, b| a.wrapping_mul(b)); }
    I32x4MinS(p) => { v_bin!(regs, p, i32, |a, b| a.min(b)); }
    I32x4MinU(p) => { v_bin!(regs, p, u32, |a, b| a.min(b)); }
    I32x4MaxS(p) => { v_bin!(regs, p, i32, |a, b| a.max(b)); }
    I32x4MaxU(p) => { v_bin!(regs, p, u32, |a, b| a.max(b)); }
    I32x4DotI16x8S(p) => { v_fn!(regs, p, i16, |a, b| dot_i16(a, b)); }
    I32x4ExtMulLowI16x8S(p) => { v_fn!(regs, p, i16, |a, b| extmul_i16_s(a, b, false)); }
    I32x4ExtMulHighI16x8S(p) => { v_fn!(regs, p, i16, |a, b| extmul_i16_s(a, b, true)); }
    I32x4ExtMulLowI16x8U(p) => { v_fn!(regs, p, u16, |a, b| extmul_i16_u(a, b, false)); }
    I32x4ExtMulHighI16x8U(p) => { v_fn!(regs, p, u16, |a, b| extmul_i16_u(a, b, true)); }

    I64x2Abs(p) => { v_un!(regs, p, i64, |x| x.wrapping_abs()); }
    I64x2Neg(p) => { v_un!(regs, p, i64, |x| x.wrapping_neg()); }
    I64x2AllTrue(p) => { v_test!(regs, p, u64, |a| all_true(a)); }
    I64x2Bitmask(p) => { v_test!(regs, p, i64, |a| bitmask(a)); }
    I64x2ExtendLowI32x4S(p) => { v_fn!(regs, p, i32, |a| extend_i32_s(a, false)); }
    I64x2ExtendHighI32x4S(p) => { v_fn!(regs, p, i32, |a| extend_i32_s(a, true)); }
    I64x2ExtendLowI32x4U(p) => { v_fn!(regs, p, u32, |a| extend_i32_u(a, false)); }
    I64x2ExtendHighI32x4U(p) => { v_fn!(regs, p, u32, |a| extend_i32_u(a, true)); }
    I64x2Shl(p) => { v_shift!(regs, p, u64, |x, s| x.wrapping_shl(s)); }
    I64x2ShrS(p) => { v_shift!(regs, p, i64, |x, s| x.wrapping_shr(s)); }
    I64x2ShrU(p) => { v_shift!(regs, p, u64, |x, s| x.wrapping_shr(s)); }
    I64x2Add(p) => { v_bin!(regs, p, u64, |a, b| a.wrapping_add(b)); }
    I64x2Sub(p) => { v_bin!(regs, p, u64, |a, b| a.wrapping_sub(b)); }
    I64x2Mul(p) => { v_bin!(regs, p, u64, |a, b| a.wrapping_mul(b)); }
    I64x2ExtMulLowI32x4S(p) => { v_fn!(regs, p, i32, |a, b| extmul_i32_s(a, b, false)); }
    I64x2ExtMulHighI32x4S(p) => { v_fn!(regs, p, i32, |a, b| extmul_i32_s(a, b, true)); }
    I64x2ExtMulLowI32x4U(p) => { v_fn!(regs, p, u32, |a, b| extmul_i32_u(a, b, false)); }
    I64x2ExtMulHighI32x4U(p) => { v_fn!(regs, p, u32, |a, b| extmul_i32_u(a, b, true)); }

    F32x4Ceil(p) => { v_un!(regs, p, f32, |x| f32_quiet(x.ceil())); }
    F32x4Floor(p) => { v_un!(regs, p, f32, |x| f32_quiet(x.floor())); }
    F32x4Trunc(p) => { v_un!(regs, p, f32, |x| f32_quiet(x.trunc())); }
    F32x4Nearest(p) => { v_un!(regs, p, f32, |x| f32_nearest(x)); }
    F32x4Abs(p) => { v_un!(regs, p, f32, |x| f32_abs(x)); }
    F32x4Neg(p) => { v_un!(regs, p, f32, |x| f32_neg(x)); }
    F32x4Sqrt(p) => { v_un!(regs, p, f32, |x| x.sqrt()); }
    F32x4Add(p) => { v_bin!(regs, p, f32, |a, b| a + b); }
    F32x4Sub(p) => { v_bin!(regs, p, f32, |a, b| a - b); }
    F32x4Mul(p) => { v_bin!(regs, p, f32, |a, b| a * b); }
    F32x4Div(p) => { v_bin!(regs, p, f32, |a, b| a / b); }
    F32x4Min(p) => { v_bin!(regs, p, f32, |a, b| f32_min(a, b)); }
    F32x4Max(p) => { v_bin!(regs, p, f32, |a, b| f32_max(a, b)); }
    F32x4PMin(p) => { v_bin!(regs, p, f32, |a, b| if b < a { b } else { a }); }
    F32x4PMax(p) => { v_bin!(regs, p, f32, |a, b| if a < b { b } else { a }); }
    F64x2Ceil(p) => { v_un!(regs, p, f64, |x| f64_quiet(x.ceil())); }
    F64x2Floor(p) => { v_un!(regs, p, f64, |x| f64_quiet(x.floor())); }
    F64x2Trunc(p) => { v_un!(regs, p, f64, |x| f64_quiet(x.trunc())); }
    F64x2Nearest(p) => { v_un!(regs, p, f64, |x| f64_nearest(x)); }
    F64x2Abs(p) => { v_un!(regs, p, f64, |x| f64_abs(x)); }
    F64x2Neg(p) => { v_un!(regs, p, f64, |x| f64_neg(x)); }
    F64x2Sqrt(p) => { v_un!(regs, p, f64, |x| x.sqrt()); }
    F64x2Add(p) => { v_bin!(regs, p, f64, |a, b| a + b); }
    F64x2Sub(p) => { v_bin!(regs, p, f64, |a, b| a - b); }
    F64x2Mul(p) => { v_bin!(regs, p, f64, |a, b| a * b); }
    F64x2Div(p) => { v_bin!(regs, p, f64, |a, b| a / b); }
    F64x2Min(p) => { v_bin!(regs, p, f64, |a, b| f64_min(a, b)); }
    F64x2Max(p) => { v_bin!(regs, p, f64, |a, b| f64_max(a, b)); }
    F64x2PMin(p) => { v_bin!(regs, p, f64, |a, b| if b < a { b } else { a }); }
    F64x2PMax(p) => { v_bin!(regs, p, f64, |a, b| if a < b { b } else { a }); }

    // Rust's float-to-int `as` saturates and maps NaN to 0, as the `_sat` operators do.
    I32x4TruncSatF32x4S(p) => { v_un!(regs, p, f32, |x| x as i32); }
    I32x4TruncSatF32x4U(p) => { v_un!(regs, p, f32, |x| x as u32); }
    F32x4ConvertI32x4S(p) => { v_un!(regs, p, i32, |x| x as f32); }
    F32x4ConvertI32x4U(p) => { v_un!(regs, p, u32, |x| x as f32); }
    I32x4TruncSatF64x2SZero(p) => { v_fn!(regs, p, f64, |a| [a[0] as i32, a[1] as i32, 0, 0]); }
    I32x4TruncSatF64x2UZero(p) => { v_fn!(regs, p, f64, |a| [a[0] as u32, a[1] as u32, 0, 0]); }
    F64x2ConvertLowI32x4S(p) => { v_fn!(regs, p, i32, |a| [a[0] as f64, a[1] as f64]); }
    F64x2ConvertLowI32x4U(p) => { v_fn!(regs, p, u32, |a| [a[0] as f64, a[1] as f64]); }
    F32x4DemoteF64x2Zero(p) => { v_fn!(regs, p, f64, |a| [a[0] as f32, a[1] as f32, 0.0, 0.0]); }
    F64x2PromoteLowF32x4(p) => { v_fn!(regs, p, f32, |a| [a[0] as f64, a[1] as f64]); }
}

/// Eight loaded bytes as the low half of lanes of type `T`.
#[inline(always)]
fn low<T: Lane, const N: usize>(b: [u8; 8]) -> [T; N] {
    lanes(u64::from_le_bytes(b) as u128)
}
