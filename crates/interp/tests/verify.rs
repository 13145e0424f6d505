//! `verify_module`: the bytecode of every function, plain and listening, passes the verifier.

fn decode(wat: &str) -> keel_decode::Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module")
}

#[test]
fn simd_testdata_verifies() {
    let module = decode(include_str!("testdata/simd.wat"));
    assert!(module.num_defined_functions() > 10);
    assert_eq!(keel_interp::verify_module(&module), Ok(()));
}

#[test]
fn calls_tables_and_branches_verify() {
    let module = decode(
        r#"(module
            (import "env" "f" (func $f (param i32 i64) (result i32)))
            (import "env" "v" (func $v (param v128) (result v128 v128)))
            (type $t (func (param i32) (result i32)))
            (table 4 funcref)
            (memory 1)
            (global $g (mut v128) (v128.const i64x2 1 2))
            (func $id (type $t) local.get 0)
            (func $none)
            (func (export "run") (param i32) (result i32) (local v128)
                (call $none)
                (local.set 1 (v128.load (local.get 0)))
                (call $v (global.get $g)) (drop) (drop)
                (block (block (block
                    (br_table 0 1 2 (i32.load8_u (local.get 0))))
                    (return (call $f (local.get 0) (i64.const 7))))
                    (return (call_indirect (type $t) (local.get 0) (i32.const 1))))
                (i32.add (call $id (local.get 0)) (i32x4.extract_lane 3 (local.get 1)))))"#,
    );
    assert_eq!(keel_interp::verify_module(&module), Ok(()));
}
