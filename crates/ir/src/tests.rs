//! Translation tests: the bytecode emitted for small functions.

use crate::instr::*;
use crate::{CompiledFunc, translate_function};

fn translate(wat: &str) -> CompiledFunc {
    let wasm = wat::parse_str(wat).expect("valid wat");
    let module = keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module");
    translate_function(&module, module.num_defined_functions() - 1).expect("translates")
}

fn code(wat: &str) -> Vec<Instr> {
    translate(wat).code.into_vec()
}

#[test]
fn instruction_is_small() {
    assert_eq!(std::mem::size_of::<Instr>(), 12);
}

#[test]
fn add_into_local_is_one_instruction() {
    let c = code(
        r#"(module (func (param i32 i32) (local i32)
            local.get 0 local.get 1 i32.add local.set 2))"#,
    );
    assert_eq!(c, [Instr::I32Add(R3 { dst: 2, a: 0, b: 1 }), Instr::Return(())]);
}

#[test]
fn compare_and_br_if_fuse() {
    let c = code(
        r#"(module (func (param i32 i32)
            (block (br_if 0 (i32.lt_s (local.get 0) (local.get 1))))))"#,
    );
    assert_eq!(c, [Instr::JumpI32LtS(JumpCmp { a: 0, b: 1, offset: 1 }), Instr::Return(())]);
}

#[test]
fn if_jumps_on_the_negated_comparison() {
    let c = code(
        r#"(module (func (param i64 i64) (result i32)
            (if (result i32) (i64.lt_u (local.get 0) (local.get 1))
              (then (i32.const 1)) (else (i32.const 2)))))"#,
    );
    // Frame: params 0-1, constants 2 (=1) and 3 (=2), temporaries from 4.
    assert_eq!(
        c,
        [
            Instr::JumpI64GeU(JumpCmp { a: 0, b: 1, offset: 3 }),
            Instr::Copy(R2 { dst: 4, src: 2 }),
            Instr::Jump(Jump { offset: 2 }),
            Instr::Copy(R2 { dst: 4, src: 3 }),
            Instr::Return1(Src { src: 4 }),
        ]
    );
}

#[test]
fn small_constants_become_immediates() {
    let c =
        code(r#"(module (func (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1))))"#);
    assert_eq!(c[0], Instr::I32AddImm(RImm { dst: 2, a: 0, imm: -1 }));
}

#[test]
fn loads_carry_their_offset() {
    let c = code(
        r#"(module (memory 1) (func (param i32) (result i32) (i32.load offset=16 (local.get 0))))"#,
    );
    assert_eq!(c[0], Instr::I32Load(Load { dst: 1, addr: 0, offset: 16 }));
}

#[test]
fn local_set_preserves_earlier_reads() {
    // local.get 0 is still on the stack when local 0 is overwritten: it must be copied first.
    let c = code(
        r#"(module (func (param i32) (result i32)
            local.get 0
            (local.set 0 (i32.const 5))
            local.get 0
            i32.add))"#,
    );
    // constant 5 in slot 1; temporaries from 2.
    assert_eq!(
        c,
        [
            Instr::Copy(R2 { dst: 2, src: 0 }),
            Instr::Copy(R2 { dst: 0, src: 1 }),
            Instr::I32Add(R3 { dst: 2, a: 2, b: 0 }),
            Instr::Return1(Src { src: 2 }),
        ]
    );
}

#[test]
fn call_arguments_are_the_callee_frame() {
    let f = translate(
        r#"(module
            (func $g (param i32 i32) (result i32) local.get 0)
            (func (param i32) (result i32)
              (call $g (i32.add (local.get 0) (local.get 0)) (local.get 0))))"#,
    );
    // temporaries from 1: the add goes to 1, local 0 is copied to 2, the call's frame is at 1.
    assert_eq!(
        &f.code[..],
        [
            Instr::I32Add(R3 { dst: 1, a: 0, b: 0 }),
            Instr::Copy(R2 { dst: 2, src: 0 }),
            Instr::Call(Call { base: 1, func: 0 }),
            Instr::Return1(Src { src: 1 }),
        ]
    );
    assert_eq!(f.frame_size, 3);
}

/// A call without parameters or results at the function's greatest stack height still gets a
/// frame base inside the caller's frame (it used to keep its unmoved temporary number, near
/// 65535, so that every such call put its callee 64 Ki slots further up the value stack).
#[test]
fn call_without_operands_is_based_in_the_frame() {
    for wat in [
        "(module (func $g) (func (call $g)))",
        "(module (func $g) (func (drop (i32.add (i32.const 1) (i32.const 2))) (call $g)))",
        "(module (type $v (func)) (table 1 funcref) (func (call_indirect (type $v) (i32.const 0))))",
    ] {
        let f = translate(wat);
        let base = f.code.iter().find_map(|i| match i {
            Instr::Call(c) => Some(c.base),
            Instr::CallIndirect(c) => Some(c.base),
            _ => None,
        });
        let base = base.expect("a call");
        assert!(base < f.frame_size, "{wat}: base {base}, frame {}", f.frame_size);
    }
}

#[test]
fn unreachable_code_is_skipped() {
    let c = code(
        r#"(module (func (result i32)
            (block (result i32) (br 0 (i32.const 1)) (i32.add) (drop) (block (loop)) (i32.const 2))))"#,
    );
    assert!(c.iter().all(|i| !matches!(i, Instr::I32Add(_))));
    assert!(matches!(c.last(), Some(Instr::Return1(_))));
}

#[test]
fn br_table_has_one_jump_per_target() {
    let c = code(
        r#"(module (func (param i32)
            (block (block (br_table 0 1 0 (local.get 0))))))"#,
    );
    assert_eq!(c[0], Instr::BrTable(Table { index: 0, len: 2 }));
    assert!(c[1..4].iter().all(|i| matches!(i, Instr::Jump(_))));
}

#[test]
fn simd_is_rejected_cleanly() {
    let wasm = wat::parse_str(r#"(module (func (param v128)))"#).unwrap();
    let module = keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap();
    let e = translate_function(&module, 0).unwrap_err();
    assert_eq!(e.message, "SIMD is not supported by the interpreter yet");
}

#[test]
fn tags_follow_declaration_order() {
    assert_eq!(Instr::Unreachable(()).tag(), 0);
    assert_eq!(Instr::Return(()).tag(), 1);
    macro_rules! count {
        ($( $(#[$doc:meta])* $name:ident($payload:ty), )*) => { [$(stringify!($name)),*].len() };
    }
    let n = crate::for_each_instr!(count);
    assert_eq!(Instr::I64TruncSatF64U(R2 { dst: 0, src: 0 }).tag() as usize, n - 1);
}
