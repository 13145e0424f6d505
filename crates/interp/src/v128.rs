//! `v128` values as arrays of lanes, and the lane operations whose Wasm semantics take more than
//! one Rust operator.
//!
//! Handlers read a v128's lanes as an array `[T; N]` straight from its two frame slots
//! (`Regs::lanes`): on a little-endian host the slots' bytes are the v128's bytes, in Wasm's lane
//! order. Elsewhere, and for values held as a `u128` (slot 0 is the low half), [`lanes`] and
//! [`join`] convert by shifts: lane `i` of `T` is bits `[i * T::BITS, (i + 1) * T::BITS)`.
//! Lane-wise loops over the arrays vectorise to the host's SIMD instructions where it has them,
//! so this stays portable Rust.
//!
//! Nothing here may take the address of a handler's local and pass it to a function that is not
//! inlined (`array::from_fn`, `array::map`, `copy_from_slice` with debug assertions): the
//! handler's dispatch could then no longer be a tail call (see `docs/interpreter.md`). Hence the
//! plain loops and `#[inline(always)]`.

/// A lane type: an integer or float of `BITS` bits. Implemented only for the primitive integers
/// and floats, for which every bit pattern is a valid value (`Regs::lanes` relies on it).
pub(crate) trait Lane: Copy + Default {
    /// Its width.
    const BITS: usize;
    /// The lane made of the low `BITS` bits of `v`.
    fn from_bits(v: u128) -> Self;
    /// Its bits, zero-extended.
    #[cfg_attr(all(target_endian = "little", not(test)), allow(dead_code))]
    fn to_bits(self) -> u128;
}

macro_rules! lane {
    ($($t:ty: $u:ty, |$x:ident| $from:expr, |$y:ident| $to:expr;)*) => {$(
        impl Lane for $t {
            const BITS: usize = <$u>::BITS as usize;
            #[inline(always)]
            fn from_bits(v: u128) -> Self {
                let $x = v as $u;
                $from
            }
            #[inline(always)]
            fn to_bits(self) -> u128 {
                let $y = self;
                $to as u128
            }
        }
    )*};
}
lane! {
    u8: u8, |x| x, |y| y;
    i8: u8, |x| x as i8, |y| y as u8;
    u16: u16, |x| x, |y| y;
    i16: u16, |x| x as i16, |y| y as u16;
    u32: u32, |x| x, |y| y;
    i32: u32, |x| x as i32, |y| y as u32;
    u64: u64, |x| x, |y| y;
    i64: u64, |x| x as i64, |y| y as u64;
    f32: u32, |x| f32::from_bits(x), |y| y.to_bits();
    f64: u64, |x| f64::from_bits(x), |y| y.to_bits();
}

/// The lanes of `v` (`N` times `T` must be 128 bits).
#[inline(always)]
pub(crate) fn lanes<T: Lane, const N: usize>(v: u128) -> [T; N] {
    const { assert!(N * T::BITS == 128) };
    let mut a = [T::default(); N];
    for (i, x) in a.iter_mut().enumerate() {
        *x = T::from_bits(v >> (i * T::BITS));
    }
    a
}

/// The v128 made of `lanes` (frames on big-endian hosts, tests).
#[cfg_attr(all(target_endian = "little", not(test)), allow(dead_code))]
#[inline(always)]
pub(crate) fn join<T: Lane, const N: usize>(lanes: [T; N]) -> u128 {
    const { assert!(N * T::BITS == 128) };
    let mut v = 0;
    for (i, x) in lanes.iter().enumerate() {
        v |= x.to_bits() << (i * T::BITS);
    }
    v
}

/// The lanes built by `f` from their index.
#[inline(always)]
pub(crate) fn build<T: Lane, const N: usize>(f: impl Fn(usize) -> T) -> [T; N] {
    let mut r = [T::default(); N];
    for (i, x) in r.iter_mut().enumerate() {
        *x = f(i);
    }
    r
}

/// A comparison's lane result: all ones if `c` holds, else zero.
#[inline(always)]
pub(crate) fn mask<T: From<i8>>(c: bool) -> T {
    T::from(-(c as i8))
}

/// `i8x16.swizzle`: lanes of `a` picked by the lanes of `s`; out-of-range indices give 0.
#[inline(always)]
pub(crate) fn swizzle(a: [u8; 16], s: [u8; 16]) -> [u8; 16] {
    build(|i| if s[i] < 16 { a[s[i] as usize & 15] } else { 0 })
}

/// `i8x16.shuffle`: lanes of `a` and `b` (indices 16-31) picked by `m` (validated < 32).
#[inline(always)]
pub(crate) fn shuffle(a: [u8; 16], b: [u8; 16], m: [u8; 16]) -> [u8; 16] {
    build(|i| {
        let k = m[i] as usize;
        if k < 16 { a[k] } else { b[k & 15] }
    })
}

/// `bitmask`: the top bit of every lane, lane 0 in bit 0.
#[inline(always)]
pub(crate) fn bitmask<T: Lane + PartialOrd, const N: usize>(a: [T; N]) -> u32 {
    let mut m = 0;
    for (i, x) in a.iter().enumerate() {
        m |= ((*x < T::default()) as u32) << i;
    }
    m
}

/// `all_true`: every lane non-zero.
#[inline(always)]
pub(crate) fn all_true<T: Lane + PartialEq, const N: usize>(a: [T; N]) -> bool {
    let mut all = true;
    for x in a {
        all &= x != T::default();
    }
    all
}

macro_rules! narrow {
    ($name:ident, $from:ty, $to:ty, $n:literal) => {
        /// Narrowing with saturation: the lanes of `a`, then those of `b`.
        #[inline(always)]
        pub(crate) fn $name(a: [$from; $n / 2], b: [$from; $n / 2]) -> [$to; $n] {
            let sat = |x: $from| x.clamp(<$to>::MIN as $from, <$to>::MAX as $from) as $to;
            build(|i| sat(if i < $n / 2 { a[i] } else { b[i - $n / 2] }))
        }
    };
}
narrow!(narrow_i16_s, i16, i8, 16);
narrow!(narrow_i16_u, i16, u8, 16);
narrow!(narrow_i32_s, i32, i16, 8);
narrow!(narrow_i32_u, i32, u16, 8);

macro_rules! widen {
    ($extend:ident, $extmul:ident, $pairwise:ident, $from:ty, $to:ty, $n:literal) => {
        /// Extension of the low (`high == false`) or high half of the lanes.
        #[inline(always)]
        pub(crate) fn $extend(a: [$from; $n * 2], high: bool) -> [$to; $n] {
            let at = if high { $n } else { 0 };
            build(|i| a[at + i] as $to)
        }
        /// Extended multiplication of the low or high halves.
        #[inline(always)]
        pub(crate) fn $extmul(a: [$from; $n * 2], b: [$from; $n * 2], high: bool) -> [$to; $n] {
            let at = if high { $n } else { 0 };
            build(|i| (a[at + i] as $to).wrapping_mul(b[at + i] as $to))
        }
        /// Extended addition of neighbouring lanes.
        #[inline(always)]
        pub(crate) fn $pairwise(a: [$from; $n * 2]) -> [$to; $n] {
            build(|i| (a[2 * i] as $to).wrapping_add(a[2 * i + 1] as $to))
        }
    };
}
widen!(extend_i8_s, extmul_i8_s, pairwise_i8_s, i8, i16, 8);
widen!(extend_i8_u, extmul_i8_u, pairwise_i8_u, u8, u16, 8);
widen!(extend_i16_s, extmul_i16_s, pairwise_i16_s, i16, i32, 4);
widen!(extend_i16_u, extmul_i16_u, pairwise_i16_u, u16, u32, 4);
widen!(extend_i32_s, extmul_i32_s, _pairwise_i32_s, i32, i64, 2);
widen!(extend_i32_u, extmul_i32_u, _pairwise_i32_u, u32, u64, 2);

/// `i32x4.dot_i16x8_s`: sums of the products of neighbouring lanes (wrapping: only
/// `-32768 * -32768` twice overflows).
#[inline(always)]
pub(crate) fn dot_i16(a: [i16; 8], b: [i16; 8]) -> [i32; 4] {
    let p = |i: usize| a[i] as i32 * b[i] as i32;
    build(|i| p(2 * i).wrapping_add(p(2 * i + 1)))
}

/// `i16x8.q15mulr_sat_s` of one lane: Q15 multiplication, rounding, saturating.
#[inline(always)]
pub(crate) fn q15mulr_sat(a: i16, b: i16) -> i16 {
    let r = (a as i32 * b as i32 + 0x4000) >> 15;
    r.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// `avgr_u`: the rounding average.
macro_rules! avgr {
    ($name:ident, $t:ty, $wide:ty) => {
        #[inline(always)]
        pub(crate) fn $name(a: $t, b: $t) -> $t {
            ((a as $wide + b as $wide + 1) >> 1) as $t
        }
    };
}
avgr!(avgr_u8, u8, u16);
avgr!(avgr_u16, u16, u32);

#[cfg(test)]
mod tests {
    use std::array::from_fn;

    use super::*;

    #[test]
    fn lanes_are_little_endian() {
        let v = 0x0f0e0d0c_0b0a0908_07060504_03020100u128;
        let a: [u8; 16] = lanes(v);
        assert_eq!(a, from_fn(|i| i as u8));
        let a: [u32; 4] = lanes(v);
        assert_eq!(a[0], 0x03020100);
        assert_eq!(join(a), v);
        let a: [f64; 2] = lanes(v);
        assert_eq!(a[1].to_bits(), 0x0f0e0d0c_0b0a0908);
        // The frame's layout on this host (two u64 slots, low first) gives the same lanes.
        let slots = [v as u64, (v >> 64) as u64];
        // SAFETY: 16 bytes of plain integers read as 16 bytes.
        let bytes: [u8; 16] = unsafe { std::mem::transmute(slots) };
        if cfg!(target_endian = "little") {
            assert_eq!(bytes, from_fn(|i| i as u8));
        }
    }

    #[test]
    fn lane_operations() {
        let iota: [u8; 16] = from_fn(|i| i as u8);
        let rev: [u8; 16] = from_fn(|i| match i {
            0 => 16,
            1 => 255,
            _ => 15 - i as u8,
        });
        type Case = (&'static str, u128, u128);
        let cases: &[Case] = &[
            (
                "swizzle reversed, 16 and 255 out of range",
                join(swizzle(iota, rev)),
                join::<u8, 16>(from_fn(|i| if i < 2 { 0 } else { 15 - i as u8 })),
            ),
            (
                "shuffle interleaves",
                join(shuffle(
                    iota,
                    iota.map(|x| x << 4),
                    from_fn(|i| if i % 2 == 0 { i as u8 } else { 16 + i as u8 }),
                )),
                join::<u8, 16>(from_fn(|i| if i % 2 == 0 { i as u8 } else { (i as u8) << 4 })),
            ),
            (
                "narrow i16 s saturates",
                join(narrow_i16_s([300, -300, 5, -5, 127, -128, 0, 1], [i16::MAX; 8])),
                join([127i8, -128, 5, -5, 127, -128, 0, 1, 127, 127, 127, 127, 127, 127, 127, 127]),
            ),
            (
                "narrow i16 u clamps",
                join(narrow_i16_u([-1, 256, 255, 0, 0, 0, 0, 0], [0; 8])),
                join([0u8, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ),
            (
                "extend high i8 s",
                join(extend_i8_s(from_fn(|i| -(i as i8)), true)),
                join::<i16, 8>(from_fn(|i| -(8 + i as i16))),
            ),
            (
                "extmul low u16",
                join(extmul_i16_u([0xffff; 8], [0xffff; 8], false)),
                join([0xfffe_0001u32; 4]),
            ),
            ("pairwise i8 s", join(pairwise_i8_s([-128; 16])), join([-256i16; 8])),
            ("dot wraps", join(dot_i16([i16::MIN; 8], [i16::MIN; 8])), join([i32::MIN; 4])),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}: {got:032x} != {want:032x}");
        }
    }

    #[test]
    fn lane_scalars() {
        assert_eq!(q15mulr_sat(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(q15mulr_sat(0x4000, 0x4000), 0x2000);
        assert_eq!(q15mulr_sat(-1, 1), 0);
        assert_eq!(mask::<i32>(true), -1);
        assert_eq!(mask::<i64>(false), 0);
        assert_eq!(bitmask::<i8, 16>(from_fn(|i| -(i as i8 % 2))), 0xaaaa);
        assert_eq!(bitmask([1i64, -1]), 0b10);
        assert!(all_true([1i16; 8]));
        assert!(!all_true([1i32, 1, 0, 1]));
        assert_eq!(avgr_u8(255, 254), 255);
        assert_eq!(avgr_u16(0, 1), 1);
    }
}
