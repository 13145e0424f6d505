//! v128 through the compiler: params, results, locals, globals, blocks, host and cross-instance
//! calls, and a few lane operations (the spec's SIMD suite covers every instruction).

use keel::{Caller, EngineKind, ModuleConfig, Runtime, RuntimeConfig, Val};

fn runtime() -> Runtime {
    Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler)
}

fn instantiate(rt: &Runtime, name: &str, wat: &str) -> keel::Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name(name)).expect("instantiates")
}

/// A v128 of four i32 lanes, lane 0 lowest.
fn i32x4(l: [u32; 4]) -> u128 {
    l.iter().rev().fold(0u128, |acc, x| acc << 32 | *x as u128)
}

const A: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
const B: u128 = 0xdead_beef_0000_0001_8000_0000_ffff_fffe;

#[test]
fn v128_round_trips_through_params_results_and_globals() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        "",
        r#"(module
            (global $g (export "g") (mut v128) (v128.const i64x2 7 8))
            (func (export "swap") (param v128 i32 v128) (result v128 i32 v128)
              (local.get 2) (local.get 1) (local.get 0))
            (func (export "set") (param v128) (global.set $g (local.get 0)))
            (func (export "get") (result v128) (global.get $g))
            (func (export "pick") (param v128 v128 i32) (result v128)
              (local v128)
              (local.set 3 (select (local.get 0) (local.get 1) (local.get 2)))
              (local.get 0)
              (block (param v128) (result v128)
                (loop (param v128) (result v128)
                  (br_if 1 (i32.const 1))))
              (drop)
              (local.get 3)))"#,
    );
    let swap = m.typed_func::<(u128, i32, u128), (u128, i32, u128)>("swap").unwrap();
    assert_eq!(swap.call((A, -5, B)).unwrap(), (B, -5, A));
    let r = m.func("swap").unwrap().call(&[Val::V128(A), Val::I32(3), Val::V128(B)]).unwrap();
    assert_eq!(format!("{r:?}"), format!("{:?}", [Val::V128(B), Val::I32(3), Val::V128(A)]));

    let get = m.typed_func::<(), u128>("get").unwrap();
    assert_eq!(get.call(()).unwrap(), 7 | 8 << 64);
    m.typed_func::<u128, ()>("set").unwrap().call(A).unwrap();
    assert_eq!(get.call(()).unwrap(), A);
    let g = m.global("g").unwrap();
    assert!(matches!(g.get(), Val::V128(v) if v == A));
    g.set(Val::V128(B)).unwrap();
    assert_eq!(get.call(()).unwrap(), B);

    let pick = m.typed_func::<(u128, u128, i32), u128>("pick").unwrap();
    assert_eq!(pick.call((A, B, 1)).unwrap(), A);
    assert_eq!(pick.call((A, B, 0)).unwrap(), B);
}

#[test]
fn lane_operations() {
    let rt = runtime();
    let m = instantiate(
        &rt,
        "",
        r#"(module
            (memory 1)
            (func (export "add") (param v128 v128) (result v128)
              (i32x4.add (local.get 0) (local.get 1)))
            (func (export "reverse") (param v128) (result v128)
              (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get 0) (local.get 0)))
            (func (export "lane") (param v128) (result i32)
              (i8x16.extract_lane_s 15 (local.get 0)))
            (func (export "bitmask") (param v128) (result i32) (i32x4.bitmask (local.get 0)))
            (func (export "shl") (param v128 i32) (result v128)
              (i32x4.shl (local.get 0) (local.get 1)))
            (func (export "pmin") (param v128 v128) (result v128)
              (f32x4.pmin (local.get 0) (local.get 1)))
            (func (export "min") (param v128 v128) (result v128)
              (f32x4.min (local.get 0) (local.get 1)))
            (func (export "sat") (param v128) (result v128)
              (i32x4.trunc_sat_f32x4_s (local.get 0)))
            (func (export "store_load") (param v128 i32) (result v128)
              (v128.store offset=3 (local.get 1) (local.get 0))
              (v128.load offset=3 (local.get 1)))
            (func (export "load_splat") (param i32) (result v128)
              (v128.load16_splat (local.get 0))))"#,
    );
    let add = m.typed_func::<(u128, u128), u128>("add").unwrap();
    assert_eq!(
        add.call((i32x4([1, 2, 3, u32::MAX]), i32x4([10, 20, 30, 2]))).unwrap(),
        i32x4([11, 22, 33, 1])
    );
    let reverse = m.typed_func::<u128, u128>("reverse").unwrap();
    assert_eq!(reverse.call(A).unwrap(), u128::from_be_bytes(A.to_le_bytes()));
    assert_eq!(m.typed_func::<u128, i32>("lane").unwrap().call(A).unwrap(), 0x01);
    assert_eq!(m.typed_func::<u128, i32>("lane").unwrap().call(B).unwrap(), -34);
    let bitmask = m.typed_func::<u128, i32>("bitmask").unwrap();
    assert_eq!(bitmask.call(i32x4([0, u32::MAX, 1, 1 << 31])).unwrap(), 0b1010);
    // The shift amount is taken modulo the lane width.
    let shl = m.typed_func::<(u128, i32), u128>("shl").unwrap();
    assert_eq!(shl.call((i32x4([1, 2, 3, 4]), 33)).unwrap(), i32x4([2, 4, 6, 8]));

    let f = |l: [f32; 4]| i32x4(l.map(f32::to_bits));
    let nan = f32::NAN;
    // pmin keeps the first operand unless the second is less: NaNs are not propagated.
    let pmin = m.typed_func::<(u128, u128), u128>("pmin").unwrap();
    assert_eq!(
        pmin.call((f([1.0, nan, -0.0, 5.0]), f([2.0, 1.0, 0.0, nan]))).unwrap(),
        f([1.0, nan, -0.0, 5.0])
    );
    let min = m.typed_func::<(u128, u128), u128>("min").unwrap();
    let r = min.call((f([1.0, 3.0, 0.0, 5.0]), f([2.0, 1.0, -0.0, nan]))).unwrap();
    let lanes = [r as u32, (r >> 32) as u32, (r >> 64) as u32, (r >> 96) as u32];
    assert_eq!(lanes[..3], [1f32.to_bits(), 1f32.to_bits(), (-0f32).to_bits()]);
    assert!(f32::from_bits(lanes[3]).is_nan());
    let sat = m.typed_func::<u128, u128>("sat").unwrap();
    assert_eq!(
        sat.call(f([3e9, -3e9, nan, -2.5])).unwrap(),
        i32x4([i32::MAX as u32, i32::MIN as u32, 0, -2i32 as u32])
    );

    let store_load = m.typed_func::<(u128, i32), u128>("store_load").unwrap();
    assert_eq!(store_load.call((A, 100)).unwrap(), A);
    let err = store_load.call((A, 65536 - 16)).unwrap_err();
    assert_eq!(err.as_trap().unwrap().code(), Some(keel::TrapCode::MemoryOutOfBounds));
    let splat = m.typed_func::<i32, u128>("load_splat").unwrap();
    assert_eq!(splat.call(103).unwrap(), 0x3210 * 0x0001_0001_0001_0001_0001_0001_0001_0001);
}

#[test]
fn v128_through_host_and_cross_instance_calls() {
    let rt = runtime();
    rt.host_module("env")
        .func("xor", |_: &mut Caller<'_>, a: u128, k: i32, b: u128| -> u128 {
            a ^ b ^ k as u32 as u128
        })
        .instantiate()
        .unwrap();
    instantiate(
        &rt,
        "lib",
        r#"(module
            (func (export "rot") (param v128) (result v128 v128)
              (local.get 0)
              (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get 0) (local.get 0))))"#,
    );
    let m = instantiate(
        &rt,
        "",
        r#"(module
            (import "env" "xor" (func $xor (param v128 i32 v128) (result v128)))
            (import "lib" "rot" (func $rot (param v128) (result v128 v128)))
            (type $t (func (param v128 i32 v128) (result v128)))
            (table funcref (elem $xor $own))
            (func $own (param v128 i32 v128) (result v128)
              (v128.or (local.get 0) (local.get 2)))
            (func (export "host") (param v128 v128) (result v128)
              (call $xor (local.get 0) (i32.const 5) (local.get 1)))
            (func (export "cross") (param v128) (result v128)
              (call $rot (local.get 0))
              (v128.xor))
            (func (export "indirect") (param v128 v128 i32) (result v128)
              (call_indirect (type $t) (local.get 0) (i32.const 1) (local.get 1) (local.get 2))))"#,
    );
    let host = m.typed_func::<(u128, u128), u128>("host").unwrap();
    assert_eq!(host.call((A, B)).unwrap(), A ^ B ^ 5);
    let cross = m.typed_func::<u128, u128>("cross").unwrap();
    assert_eq!(cross.call(A).unwrap(), A ^ A.rotate_right(32));
    let indirect = m.typed_func::<(u128, u128, i32), u128>("indirect").unwrap();
    assert_eq!(indirect.call((A, B, 0)).unwrap(), A ^ B ^ 1);
    assert_eq!(indirect.call((A, B, 1)).unwrap(), A | B);
}
