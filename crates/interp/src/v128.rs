//! `v128` values as arrays of lanes, and the lane operations whose Wasm semantics take more than
//! one Rust operator.
//!
//! A v128 travels as a `u128` (slot 0 is the low half); lane `i` of `T` is bits
//! `[i * T::BITS, (i + 1) * T::BITS)` of it, Wasm's little-endian lane order on any host. The
//! conversions are shifts that LLVM turns into register moves, and lane-wise loops over the
//! arrays vectorise to the host's SIMD instructions where it has them, so this stays portable
//! Rust.
//!
//! Nothing here may take the address of a handler's local and pass it to a function that is not
//! inlined (`array::from_fn`, `array::map`, `copy_from_slice` with debug assertions): the
//! handler's dispatch could then no longer be a tail call (see `docs/interpreter.md`). Hence the
//! plain loops and `#[inline(always)]`.

/// A lane type: an integer or float of `BITS` bits.
pub(crate) trait Lane: Copy + Default {
    /// Its width.
    const BITS: usize;
    /// The lane made of the low `BITS` bits of `v`.
    fn from_bits(v: u128) -> Self;
    /// Its bits, zero-extended.
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

/// The v128 made of `lanes`.
#[inline(always)]
pub(crate) fn join<T: Lane, const N: usize>(lanes: [T; N]) -> u128 {
    const { assert!(N * T::BITS == 128) };
    let mut v = 0;
    for (i, x) in lanes.iter().enumerate() {
        v |= x.to_bits() << (i * T::BITS);
    }
    v
}

/// `lanes(v)` with `f` applied to each.
#[inline(always)]
pub(crate) fn map<T: Lane, U: Lane, const N: usize>(v: u128, f: impl Fn(T) -> U) -> u128 {
    let a: [T; N] = lanes(v);
    let mut r = [U::default(); N];
    for i in 0..N {
        r[i] = f(a[i]);
    }
    join(r)
}

/// The lanes of `v` and `w` combined pairwise by `f`.
#[inline(always)]
pub(crate) fn zip<T: Lane, U: Lane, const N: usize>(
    v: u128,
    w: u128,
    f: impl Fn(T, T) -> U,
) -> u128 {
    let (a, b): ([T; N], [T; N]) = (lanes(v), lanes(w));
    let mut r = [U::default(); N];
    for i in 0..N {
        r[i] = f(a[i], b[i]);
    }
    join(r)
}

/// The lanes of the result built by `f` from their index.
#[inline(always)]
pub(crate) fn build<T: Lane, const N: usize>(f: impl Fn(usize) -> T) -> u128 {
    let mut r = [T::default(); N];
    for (i, x) in r.iter_mut().enumerate() {
        *x = f(i);
    }
    join(r)
}

/// A comparison's lane result: all ones if `c` holds, else zero.
#[inline(always)]
pub(crate) fn mask<T: From<i8>>(c: bool) -> T {
    T::from(-(c as i8))
}

/// `i8x16.swizzle`: lanes of `a` picked by the lanes of `s`; out-of-range indices give 0.
#[inline(always)]
pub(crate) fn swizzle(a: u128, s: u128) -> u128 {
    let (a, s): ([u8; 16], [u8; 16]) = (lanes(a), lanes(s));
    build::<u8, 16>(|i| if s[i] < 16 { a[s[i] as usize & 15] } else { 0 })
}

/// `i8x16.shuffle`: lanes of `a` and `b` (indices 16-31) picked by `mask` (validated < 32).
#[inline(always)]
pub(crate) fn shuffle(a: u128, b: u128, mask: u128) -> u128 {
    let (a, b, m): ([u8; 16], [u8; 16], [u8; 16]) = (lanes(a), lanes(b), lanes(mask));
    build::<u8, 16>(|i| {
        let k = m[i] as usize;
        if k < 16 { a[k] } else { b[k & 15] }
    })
}

/// `bitmask`: the top bit of every lane, lane 0 in bit 0.
#[inline(always)]
pub(crate) fn bitmask<T: Lane + PartialOrd, const N: usize>(v: u128) -> u32 {
    let a: [T; N] = lanes(v);
    let mut m = 0;
    for (i, x) in a.iter().enumerate() {
        m |= ((*x < T::default()) as u32) << i;
    }
    m
}

/// `all_true`: every lane non-zero.
#[inline(always)]
pub(crate) fn all_true<T: Lane + PartialEq, const N: usize>(v: u128) -> bool {
    let a: [T; N] = lanes(v);
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
        pub(crate) fn $name(a: u128, b: u128) -> u128 {
            let (a, b): ([$from; $n / 2], [$from; $n / 2]) = (lanes(a), lanes(b));
            let sat = |x: $from| x.clamp(<$to>::MIN as $from, <$to>::MAX as $from) as $to;
            build::<$to, $n>(|i| sat(if i < $n / 2 { a[i] } else { b[i - $n / 2] }))
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
        pub(crate) fn $extend(v: u128, high: bool) -> u128 {
            let a: [$from; $n * 2] = lanes(v);
            let at = if high { $n } else { 0 };
            build::<$to, $n>(|i| a[at + i] as $to)
        }
        /// Extended multiplication of the low or high halves.
        #[inline(always)]
        pub(crate) fn $extmul(x: u128, y: u128, high: bool) -> u128 {
            let (a, b): ([$from; $n * 2], [$from; $n * 2]) = (lanes(x), lanes(y));
            let at = if high { $n } else { 0 };
            build::<$to, $n>(|i| (a[at + i] as $to).wrapping_mul(b[at + i] as $to))
        }
        /// Extended addition of neighbouring lanes.
        #[inline(always)]
        pub(crate) fn $pairwise(v: u128) -> u128 {
            let a: [$from; $n * 2] = lanes(v);
            build::<$to, $n>(|i| (a[2 * i] as $to).wrapping_add(a[2 * i + 1] as $to))
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
pub(crate) fn dot_i16(x: u128, y: u128) -> u128 {
    let (a, b): ([i16; 8], [i16; 8]) = (lanes(x), lanes(y));
    let p = |i: usize| a[i] as i32 * b[i] as i32;
    build::<i32, 4>(|i| p(2 * i).wrapping_add(p(2 * i + 1)))
}

/// `i16x8.q15mulr_sat_s`: Q15 multiplication, rounding, saturating.
#[inline(always)]
pub(crate) fn q15mulr_sat(x: u128, y: u128) -> u128 {
    zip::<i16, i16, 8>(x, y, |a, b| {
        let r = (a as i32 * b as i32 + 0x4000) >> 15;
        r.clamp(i16::MIN as i32, i16::MAX as i32) as i16
    })
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

    fn bytes(b: [u8; 16]) -> u128 {
        u128::from_le_bytes(b)
    }

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
    }

    #[test]
    fn lane_operations() {
        type Case = (&'static str, u128, u128);
        let iota = bytes(from_fn(|i| i as u8));
        let cases: &[Case] = &[
            (
                "swizzle reversed, 16 and 255 out of range",
                swizzle(
                    iota,
                    bytes(from_fn(|i| match i {
                        0 => 16,
                        1 => 255,
                        _ => 15 - i as u8,
                    })),
                ),
                bytes(from_fn(|i| if i < 2 { 0 } else { 15 - i as u8 })),
            ),
            (
                "shuffle interleaves",
                shuffle(
                    iota,
                    iota << 4,
                    bytes(from_fn(|i| if i % 2 == 0 { i as u8 } else { 16 + i as u8 })),
                ),
                bytes(from_fn(|i| if i % 2 == 0 { i as u8 } else { (i as u8) << 4 })),
            ),
            (
                "narrow i16 s saturates",
                narrow_i16_s(join([300i16, -300, 5, -5, 127, -128, 0, 1]), join([i16::MAX; 8])),
                join([127i8, -128, 5, -5, 127, -128, 0, 1, 127, 127, 127, 127, 127, 127, 127, 127]),
            ),
            (
                "narrow i16 u clamps",
                narrow_i16_u(join([-1i16, 256, 255, 0, 0, 0, 0, 0]), 0),
                join([0u8, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ),
            (
                "extend high i8 s",
                extend_i8_s(join::<i8, 16>(from_fn(|i| -(i as i8))), true),
                join::<i16, 8>(from_fn(|i| -(8 + i as i16))),
            ),
            (
                "extmul low u16",
                extmul_i16_u(join([0xffffu16; 8]), join([0xffffu16; 8]), false),
                join([0xfffe_0001u32; 4]),
            ),
            ("pairwise i8 s", pairwise_i8_s(join([-128i8; 16])), join([-256i16; 8])),
            ("dot wraps", dot_i16(join([i16::MIN; 8]), join([i16::MIN; 8])), join([i32::MIN; 4])),
            (
                "q15mulr saturates",
                q15mulr_sat(
                    join([i16::MIN, 0x4000, -1, 0, 0, 0, 0, 0]),
                    join([i16::MIN, 0x4000, 1, 0, 0, 0, 0, 0]),
                ),
                join([i16::MAX, 0x2000, 0, 0, 0, 0, 0, 0]),
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}: {got:032x} != {want:032x}");
        }
    }

    #[test]
    fn masks_and_tests() {
        assert_eq!(mask::<i32>(true), -1);
        assert_eq!(mask::<i64>(false), 0);
        assert_eq!(bitmask::<i8, 16>(join::<i8, 16>(from_fn(|i| -(i as i8 % 2)))), 0xaaaa);
        assert_eq!(bitmask::<i64, 2>(join([1i64, -1])), 0b10);
        assert!(all_true::<i16, 8>(join([1i16; 8])));
        assert!(!all_true::<i32, 4>(join([1i32, 1, 0, 1])));
        assert_eq!(avgr_u8(255, 254), 255);
        assert_eq!(avgr_u16(0, 1), 1);
    }
}
