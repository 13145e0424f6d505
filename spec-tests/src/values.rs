//! Converting `.wast` arguments to keel values and matching results against expected values,
//! NaN patterns and v128 lane patterns included.

use std::collections::HashMap;
use std::fmt::Write as _;

use keel::{ExternRef, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// The `ref.extern N` values of one script: the same `N` always gives the same reference.
#[derive(Default)]
pub(crate) struct HostRefs {
    refs: HashMap<u32, ExternRef>,
}

impl HostRefs {
    fn get(&mut self, n: u32) -> ExternRef {
        self.refs.entry(n).or_insert_with(|| ExternRef::new(n)).clone()
    }
}

/// The keel value of an argument.
pub(crate) fn arg_to_val(arg: &WastArg<'_>, refs: &mut HostRefs) -> Result<Val, String> {
    let WastArg::Core(arg) = arg else {
        return Err("component-model arguments are not supported".into());
    };
    Ok(match arg {
        WastArgCore::I32(x) => Val::I32(*x),
        WastArgCore::I64(x) => Val::I64(*x),
        WastArgCore::F32(x) => Val::F32(x.bits),
        WastArgCore::F64(x) => Val::F64(x.bits),
        WastArgCore::V128(x) => Val::V128(u128::from_le_bytes(x.to_le_bytes())),
        WastArgCore::RefNull(ty) => match null_kind(ty) {
            Some(NullKind::Func) => Val::FuncRef(None),
            Some(NullKind::Extern) => Val::ExternRef(None),
            None => return Err(format!("unsupported argument (ref.null {ty:?})")),
        },
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(refs.get(*n))),
        WastArgCore::RefHost(n) => return Err(format!("unsupported argument (ref.host {n})")),
    })
}

enum NullKind {
    Func,
    Extern,
}

fn null_kind(ty: &HeapType<'_>) -> Option<NullKind> {
    match ty {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func | AbstractHeapType::NoFunc,
        } => Some(NullKind::Func),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
        } => Some(NullKind::Extern),
        _ => None,
    }
}

/// Checks `actual` against the expected `results`; the error describes the difference.
pub(crate) fn check_results(expected: &[WastRet<'_>], actual: &[Val]) -> Result<(), String> {
    let mut want = Vec::with_capacity(expected.len());
    for e in expected {
        match e {
            WastRet::Core(e) => want.push(e),
            _ => return Err("component-model results are not supported".into()),
        }
    }
    let ok = want.len() == actual.len() && want.iter().zip(actual).all(|(w, a)| matches(w, a));
    if ok {
        return Ok(());
    }
    let expected: Vec<String> = want.iter().map(|w| describe_expected(w)).collect();
    let got: Vec<String> = if want.len() == actual.len() {
        want.iter().zip(actual).map(|(w, a)| describe_val_like(a, Some(w))).collect()
    } else {
        actual.iter().map(|a| describe_val_like(a, None)).collect()
    };
    Err(format!("expected {}, got {}", list(&expected), list(&got)))
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Whether `actual` matches one expected result.
fn matches(expected: &WastRetCore<'_>, actual: &Val) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
        (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
        (WastRetCore::RefNull(None), Val::FuncRef(None) | Val::ExternRef(None)) => true,
        (WastRetCore::RefNull(Some(ty)), Val::FuncRef(None)) => {
            matches!(null_kind(ty), Some(NullKind::Func))
        }
        (WastRetCore::RefNull(Some(ty)), Val::ExternRef(None)) => {
            matches!(null_kind(ty), Some(NullKind::Extern))
        }
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => {
            r.downcast_ref::<u32>() == Some(n)
        }
        // The expected function's index is not checked, only that the reference is not null.
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(options), a) => options.iter().any(|o| matches(o, a)),
        _ => false,
    }
}

fn f32_matches(expected: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    let nan = bits & 0x7f80_0000 == 0x7f80_0000 && bits & 0x007f_ffff != 0;
    match expected {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => nan && bits & 0x0040_0000 != 0,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(expected: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    const FRAC: u64 = 0x000f_ffff_ffff_ffff;
    let nan = bits & EXP == EXP && bits & FRAC != 0;
    match expected {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => nan && bits & 0x0008_0000_0000_0000 != 0,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// The lanes of a v128, `N` bytes each, as unsigned integers.
fn lanes<const N: usize>(v: u128) -> impl Iterator<Item = u64> {
    let bytes = v.to_le_bytes();
    (0..16 / N).map(move |i| {
        let mut lane = [0u8; 8];
        lane[..N].copy_from_slice(&bytes[i * N..(i + 1) * N]);
        u64::from_le_bytes(lane)
    })
}

fn v128_matches(expected: &V128Pattern, actual: u128) -> bool {
    match expected {
        V128Pattern::I8x16(e) => lanes::<1>(actual).zip(e).all(|(a, e)| a as u8 == *e as u8),
        V128Pattern::I16x8(e) => lanes::<2>(actual).zip(e).all(|(a, e)| a as u16 == *e as u16),
        V128Pattern::I32x4(e) => lanes::<4>(actual).zip(e).all(|(a, e)| a as u32 == *e as u32),
        V128Pattern::I64x2(e) => lanes::<8>(actual).zip(e).all(|(a, e)| a == *e as u64),
        V128Pattern::F32x4(e) => lanes::<4>(actual).zip(e).all(|(a, e)| f32_matches(e, a as u32)),
        V128Pattern::F64x2(e) => lanes::<8>(actual).zip(e).all(|(a, e)| f64_matches(e, a)),
    }
}

fn describe_f32(bits: u32) -> String {
    format!("{} (0x{bits:08x})", f32::from_bits(bits))
}

fn describe_f64(bits: u64) -> String {
    format!("{} (0x{bits:016x})", f64::from_bits(bits))
}

fn describe_nan32(p: &NanPattern<wast::token::F32>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => describe_f32(v.bits),
    }
}

fn describe_nan64(p: &NanPattern<wast::token::F64>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => describe_f64(v.bits),
    }
}

fn join<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(" ")
}

/// An expected result in `.wast` syntax.
fn describe_expected(e: &WastRetCore<'_>) -> String {
    match e {
        WastRetCore::I32(x) => format!("i32.const {x}"),
        WastRetCore::I64(x) => format!("i64.const {x}"),
        WastRetCore::F32(p) => format!("f32.const {}", describe_nan32(p)),
        WastRetCore::F64(p) => format!("f64.const {}", describe_nan64(p)),
        WastRetCore::V128(p) => {
            let lanes = match p {
                V128Pattern::I8x16(l) => format!("i8x16 {}", join(l, |x| x.to_string())),
                V128Pattern::I16x8(l) => format!("i16x8 {}", join(l, |x| x.to_string())),
                V128Pattern::I32x4(l) => format!("i32x4 {}", join(l, |x| x.to_string())),
                V128Pattern::I64x2(l) => format!("i64x2 {}", join(l, |x| x.to_string())),
                V128Pattern::F32x4(l) => format!("f32x4 {}", join(l, describe_nan32)),
                V128Pattern::F64x2(l) => format!("f64x2 {}", join(l, describe_nan64)),
            };
            format!("v128.const {lanes}")
        }
        WastRetCore::RefNull(None) => "ref.null".into(),
        WastRetCore::RefNull(Some(HeapType::Abstract { ty, .. })) => {
            format!("ref.null {}", format!("{ty:?}").to_lowercase())
        }
        WastRetCore::RefNull(Some(ty)) => format!("ref.null {ty:?}"),
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefFunc(_) => "ref.func".into(),
        WastRetCore::Either(options) => {
            format!(
                "either({})",
                options.iter().map(describe_expected).collect::<Vec<_>>().join(" | ")
            )
        }
        other => format!("{other:?}"),
    }
}

/// A value in `.wast` syntax; a v128 is shown in the lane shape of `like` when that is a v128
/// pattern.
pub(crate) fn describe_val_like(v: &Val, like: Option<&WastRetCore<'_>>) -> String {
    match v {
        Val::I32(x) => format!("i32.const {x}"),
        Val::I64(x) => format!("i64.const {x}"),
        Val::F32(bits) => format!("f32.const {}", describe_f32(*bits)),
        Val::F64(bits) => format!("f64.const {}", describe_f64(*bits)),
        Val::V128(x) => {
            let mut s = String::from("v128.const ");
            match like {
                Some(WastRetCore::V128(V128Pattern::I8x16(_))) => {
                    let _ = write!(s, "i8x16 {}", join(lanes::<1>(*x), |l| (l as i8).to_string()));
                }
                Some(WastRetCore::V128(V128Pattern::I16x8(_))) => {
                    let _ = write!(s, "i16x8 {}", join(lanes::<2>(*x), |l| (l as i16).to_string()));
                }
                Some(WastRetCore::V128(V128Pattern::I32x4(_))) => {
                    let _ = write!(s, "i32x4 {}", join(lanes::<4>(*x), |l| (l as i32).to_string()));
                }
                Some(WastRetCore::V128(V128Pattern::I64x2(_))) => {
                    let _ = write!(s, "i64x2 {}", join(lanes::<8>(*x), |l| (l as i64).to_string()));
                }
                Some(WastRetCore::V128(V128Pattern::F32x4(_))) => {
                    let _ = write!(s, "f32x4 {}", join(lanes::<4>(*x), |l| describe_f32(l as u32)));
                }
                Some(WastRetCore::V128(V128Pattern::F64x2(_))) => {
                    let _ = write!(s, "f64x2 {}", join(lanes::<8>(*x), describe_f64));
                }
                _ => {
                    let _ = write!(s, "i32x4 {}", join(lanes::<4>(*x), |l| format!("0x{l:08x}")));
                }
            }
            s
        }
        Val::FuncRef(None) => "ref.null func".into(),
        Val::FuncRef(Some(_)) => "ref.func".into(),
        Val::ExternRef(None) => "ref.null extern".into(),
        Val::ExternRef(Some(r)) => match r.downcast_ref::<u32>() {
            Some(n) => format!("ref.extern {n}"),
            None => "ref.extern (host data)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_patterns() {
        let canonical = NanPattern::CanonicalNan;
        let arithmetic = NanPattern::ArithmeticNan;
        assert!(f32_matches(&canonical, 0x7fc0_0000));
        assert!(f32_matches(&canonical, 0xffc0_0000));
        assert!(!f32_matches(&canonical, 0x7fc0_0001));
        assert!(f32_matches(&arithmetic, 0x7fc0_0001));
        assert!(f32_matches(&arithmetic, 0xffe0_0000));
        assert!(!f32_matches(&arithmetic, 0x7fa0_0000));
        assert!(!f32_matches(&arithmetic, 0x7f80_0000));
        assert!(f64_matches(&NanPattern::CanonicalNan, 0xfff8_0000_0000_0000));
        assert!(!f64_matches(&NanPattern::CanonicalNan, 0x7ff8_0000_0000_0001));
        assert!(f64_matches(&NanPattern::ArithmeticNan, 0x7ff8_0000_0000_0001));
        assert!(!f64_matches(&NanPattern::ArithmeticNan, 0x7ff4_0000_0000_0000));
        assert!(f32_matches(
            &NanPattern::Value(wast::token::F32 { bits: 0x7fa0_0000 }),
            0x7fa0_0000
        ));
    }

    #[test]
    fn v128_lanes() {
        let v = u128::from_le_bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(v128_matches(&V128Pattern::I32x4([1, 2, 3, -1]), v));
        assert!(!v128_matches(&V128Pattern::I32x4([1, 2, 3, 4]), v));
        assert!(v128_matches(&V128Pattern::I16x8([1, 0, 2, 0, 3, 0, -1, -1]), v));
        assert!(v128_matches(
            &V128Pattern::I8x16([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, -1, -1, -1, -1]),
            v
        ));
        assert!(v128_matches(&V128Pattern::I64x2([0x2_0000_0001, -0x1_0000_0000 + 3]), v));
        let nans = u128::from(0x7fc0_0000u32) | u128::from(0x3f80_0000u32) << 32;
        assert!(v128_matches(
            &V128Pattern::F32x4([
                NanPattern::CanonicalNan,
                NanPattern::Value(wast::token::F32 { bits: 0x3f80_0000 }),
                NanPattern::Value(wast::token::F32 { bits: 0 }),
                NanPattern::Value(wast::token::F32 { bits: 0 }),
            ]),
            nans
        ));
        assert_eq!(
            describe_val_like(&Val::V128(v), Some(&WastRetCore::V128(V128Pattern::I32x4([0; 4])))),
            "v128.const i32x4 1 2 3 -1"
        );
    }
}
