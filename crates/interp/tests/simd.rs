//! v128 values through the interpreter's frame layout: each export of `testdata/simd.wat` with
//! its arguments and expected results.

use std::sync::Arc;

use keel_interp::Interpreter;
use keel_runtime::{ModuleConfig, Runtime, RuntimeConfig, Val};

/// A v128 from four i32 lanes, lane 0 first.
fn i32x4(l: [i32; 4]) -> Val {
    Val::V128(l.iter().rev().fold(0u128, |v, &x| v << 32 | x as u32 as u128))
}

fn i64x2(l: [i64; 2]) -> Val {
    Val::V128(l[0] as u64 as u128 | (l[1] as u64 as u128) << 64)
}

fn i8x16(l: [i8; 16]) -> Val {
    Val::V128(u128::from_le_bytes(l.map(|x| x as u8)))
}

fn f32x4(l: [f32; 4]) -> Val {
    i32x4(l.map(|x| x.to_bits() as i32))
}

/// A value's type and bits, to compare results exactly (NaN payloads and zero signs included).
fn bits(v: &Val) -> (char, u128) {
    match v {
        Val::I32(x) => ('i', *x as u32 as u128),
        Val::I64(x) => ('I', *x as u64 as u128),
        Val::V128(x) => ('v', *x),
        other => panic!("unexpected value {other:?}"),
    }
}

#[test]
fn v128_layout_cases() {
    let rt = Runtime::with_engine(RuntimeConfig::default(), Arc::new(Interpreter));
    let wasm = wat::parse_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata/simd.wat"))
        .expect("valid wat");
    let m = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("")).expect("instantiates");
    let v = i32x4([1, -2, 3, -4]);
    let w = i32x4([10, 20, 30, 40]);
    let cases: Vec<(&str, Vec<Val>, Vec<Val>)> = vec![
        ("splat_over_operand", vec![Val::I32(41)], vec![i32x4([42; 4])]),
        (
            "load_lane_temp_address",
            vec![Val::I32(4), v.clone()],
            vec![i32x4([1, 0x0b0a_0908, 3, -4])],
        ),
        ("store_lane", vec![i32x4([0, 0, 0, 0x1234_5678])], vec![Val::I64(0x1234)]),
        // Bytes 14-21: 0e 0f 10 11 12 13 80 ff, sign-extended.
        (
            "load_extend",
            vec![Val::I32(14)],
            vec![Val::V128(0xffff_ff80_0013_0012_0011_0010_000f_000e)],
        ),
        ("block_params", vec![i8x16([127; 16]), i8x16([1; 16])], vec![i8x16([-128; 16])]),
        ("br_table", vec![Val::I32(0), v.clone()], vec![i32x4([2, -1, 4, -3])]),
        ("br_table", vec![Val::I32(1), v.clone()], vec![i32x4([3, 0, 5, -2])]),
        ("br_table", vec![Val::I32(7), v.clone()], vec![i32x4([4, 1, 6, -1])]),
        ("loop_param", vec![Val::I32(10)], vec![i32x4([55; 4])]),
        ("set_keeps_old", vec![w.clone()], vec![i32x4([9, 19, 29, 39])]),
        ("select", vec![v.clone(), w.clone(), Val::I32(1)], vec![v.clone()]),
        ("select", vec![v.clone(), w.clone(), Val::I32(0)], vec![w.clone()]),
        ("if_result", vec![Val::I32(1), i64x2([5, i64::MIN])], vec![i64x2([-5, i64::MIN])]),
        ("if_result", vec![Val::I32(0), i64x2([5, 6])], vec![i64x2([5, 6])]),
        ("call_pair", vec![v.clone(), Val::I32(9)], vec![v.clone(), Val::I32(10)]),
        ("global", vec![v.clone()], vec![i32x4([1, 4, 9, 16])]),
        (
            "shuffle_bitselect",
            vec![i8x16([1; 16]), i8x16([2; 16])],
            vec![i8x16([2, 1, 2, 1, 2, 1, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2])],
        ),
        (
            "bitmask_of_compare",
            vec![i8x16([0, 5, 0, 5, 0, 5, 0, 5, 0, 0, 0, 0, 0, 0, 0, -1]), i8x16([1; 16])],
            vec![Val::I32(0xff55)],
        ),
        (
            "f32x4_min_zeros",
            vec![f32x4([0.0, -0.0, 1.0, f32::INFINITY]), f32x4([-0.0, 0.0, -1.0, 2.0])],
            vec![f32x4([-0.0, -0.0, -1.0, 2.0])],
        ),
    ];
    for (name, args, want) in cases {
        let got =
            m.func(name).expect("export").call(&args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<_> = got.iter().map(bits).collect();
        let want: Vec<_> = want.iter().map(bits).collect();
        assert_eq!(got, want, "{name}({args:?})");
    }
}
