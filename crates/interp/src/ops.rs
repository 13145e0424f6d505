//! Numeric helpers with the exact semantics of the Wasm spec, where Rust's differ.

use keel_runtime::TrapCode;

/// Converts between 64-bit slots and typed values. 32-bit values live zero-extended in the low
/// half of a slot; floats by their bits.
pub(crate) trait Slot: Sized {
    fn from_slot(v: u64) -> Self;
    fn to_slot(self) -> u64;
}

impl Slot for i32 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        v as u32 as i32
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u32 as u64
    }
}
impl Slot for u32 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        v as u32
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u64
    }
}
impl Slot for i64 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        v as i64
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u64
    }
}
impl Slot for u64 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        v
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self
    }
}
impl Slot for f32 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        f32::from_bits(v as u32)
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self.to_bits() as u64
    }
}
impl Slot for f64 {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        f64::from_bits(v)
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self.to_bits()
    }
}
impl Slot for bool {
    #[inline(always)]
    fn from_slot(v: u64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u64
    }
}

macro_rules! float_ops {
    ($t:ty, $bits:ty, $quiet:ident, $min:ident, $max:ident, $nearest:ident, $copysign:ident, $abs:ident, $neg:ident) => {
        /// Wasm `min`: NaN if either is NaN; -0 below +0.
        #[inline]
        pub(crate) fn $min(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                a + b
            } else if a == b {
                <$t>::from_bits(a.to_bits() | b.to_bits())
            } else if a < b {
                a
            } else {
                b
            }
        }
        /// Wasm `max`: NaN if either is NaN; +0 above -0.
        #[inline]
        pub(crate) fn $max(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                a + b
            } else if a == b {
                <$t>::from_bits(a.to_bits() & b.to_bits())
            } else if a > b {
                a
            } else {
                b
            }
        }
        /// Round to nearest, ties to even.
        #[inline]
        pub(crate) fn $nearest(a: $t) -> $t {
            $quiet(a.round_ties_even())
        }
        /// A NaN result made quiet (software rounding may return a signalling NaN unchanged;
        /// the spec wants an arithmetic NaN).
        #[inline(always)]
        pub(crate) fn $quiet(a: $t) -> $t {
            const QUIET: $bits = 1 << (<$t>::MANTISSA_DIGITS - 2);
            if a.is_nan() { <$t>::from_bits(a.to_bits() | QUIET) } else { a }
        }
        /// Bitwise copysign (NaN payloads kept).
        #[inline(always)]
        pub(crate) fn $copysign(a: $t, b: $t) -> $t {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            <$t>::from_bits((a.to_bits() & !SIGN) | (b.to_bits() & SIGN))
        }
        /// Bitwise abs.
        #[inline(always)]
        pub(crate) fn $abs(a: $t) -> $t {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            <$t>::from_bits(a.to_bits() & !SIGN)
        }
        /// Bitwise neg.
        #[inline(always)]
        pub(crate) fn $neg(a: $t) -> $t {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            <$t>::from_bits(a.to_bits() ^ SIGN)
        }
    };
}
float_ops!(f32, u32, f32_quiet, f32_min, f32_max, f32_nearest, f32_copysign, f32_abs, f32_neg);
float_ops!(f64, u64, f64_quiet, f64_min, f64_max, f64_nearest, f64_copysign, f64_abs, f64_neg);

macro_rules! trunc {
    ($name:ident, $from:ty, $to:ty, $lo:expr, $hi:expr) => {
        /// Trapping float-to-int truncation: valid when `lo < x < hi`.
        #[inline]
        pub(crate) fn $name(x: $from) -> Result<$to, TrapCode> {
            if x.is_nan() {
                Err(TrapCode::BadConversionToInteger)
            } else if x > $lo && x < $hi {
                Ok(x as $to)
            } else {
                Err(TrapCode::IntegerOverflow)
            }
        }
    };
}
trunc!(i32_trunc_f32, f32, i32, -2147483904.0f32, 2147483648.0f32);
trunc!(u32_trunc_f32, f32, u32, -1.0f32, 4294967296.0f32);
trunc!(i32_trunc_f64, f64, i32, -2147483649.0f64, 2147483648.0f64);
trunc!(u32_trunc_f64, f64, u32, -1.0f64, 4294967296.0f64);
trunc!(i64_trunc_f32, f32, i64, -9223373136366403584.0f32, 9223372036854775808.0f32);
trunc!(u64_trunc_f32, f32, u64, -1.0f32, 18446744073709551616.0f32);
trunc!(i64_trunc_f64, f64, i64, -9223372036854777856.0f64, 9223372036854775808.0f64);
trunc!(u64_trunc_f64, f64, u64, -1.0f64, 18446744073709551616.0f64);

#[inline]
pub(crate) fn i32_div_s(a: i32, b: i32) -> Result<i32, TrapCode> {
    if b == 0 {
        Err(TrapCode::IntegerDivisionByZero)
    } else if a == i32::MIN && b == -1 {
        Err(TrapCode::IntegerOverflow)
    } else {
        Ok(a / b)
    }
}
#[inline]
pub(crate) fn i64_div_s(a: i64, b: i64) -> Result<i64, TrapCode> {
    if b == 0 {
        Err(TrapCode::IntegerDivisionByZero)
    } else if a == i64::MIN && b == -1 {
        Err(TrapCode::IntegerOverflow)
    } else {
        Ok(a / b)
    }
}
macro_rules! div_rem {
    ($name:ident, $t:ty, $op:ident) => {
        #[inline]
        pub(crate) fn $name(a: $t, b: $t) -> Result<$t, TrapCode> {
            if b == 0 { Err(TrapCode::IntegerDivisionByZero) } else { Ok(a.$op(b)) }
        }
    };
}
div_rem!(u32_div, u32, wrapping_div);
div_rem!(u64_div, u64, wrapping_div);
div_rem!(i32_rem_s, i32, wrapping_rem);
div_rem!(i64_rem_s, i64, wrapping_rem);
div_rem!(u32_rem, u32, wrapping_rem);
div_rem!(u64_rem, u64, wrapping_rem);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_zeros_and_nan() {
        assert!(f32_min(0.0, -0.0).is_sign_negative());
        assert!(f32_max(-0.0, 0.0).is_sign_positive());
        assert!(f64_min(1.0, f64::NAN).is_nan());
        assert_eq!(f64_max(1.0, 2.0), 2.0);
    }

    #[test]
    fn trunc_bounds() {
        assert_eq!(i32_trunc_f32(-2147483648.0), Ok(i32::MIN));
        assert_eq!(i32_trunc_f32(2147483648.0), Err(TrapCode::IntegerOverflow));
        assert_eq!(u32_trunc_f64(-0.9), Ok(0));
        assert_eq!(u32_trunc_f64(-1.0), Err(TrapCode::IntegerOverflow));
        assert_eq!(i32_trunc_f64(-2147483648.9), Ok(i32::MIN));
        assert_eq!(i64_trunc_f64(f64::NAN), Err(TrapCode::BadConversionToInteger));
        assert_eq!(f32_nearest(2.5), 2.0);
        assert_eq!(f64_nearest(-3.5), -4.0);
    }
}
