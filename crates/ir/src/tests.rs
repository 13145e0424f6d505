//! Translation tests: the bytecode emitted for small functions.

use crate::instr::*;
use crate::{CompiledFunc, TranslateOptions, translate_function, translate_function_with};

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
fn v128_values_take_two_slots() {
    // Params: v128 in 0-1, i32 in 2, v128 in 3-4; temporaries from 5 (two v128 positions).
    let f = translate(
        r#"(module (func (param v128 i32 v128) (result v128)
            (i32x4.add (local.get 0) (local.get 2))))"#,
    );
    assert_eq!((f.num_params, f.num_results, f.frame_size), (5, 2, 9));
    assert_eq!(
        *f.code,
        [
            Instr::I32x4Add(R3 { dst: 5, a: 0, b: 3 }),
            Instr::Copy128(R2 { dst: 0, src: 5 }),
            Instr::Return(()),
        ]
    );
}

#[test]
fn v128_constants_take_two_pool_slots() {
    // Result slot 0, then the constant (low half first) in 1-2.
    let f =
        translate(r#"(module (func (result i64) (i64x2.extract_lane 1 (v128.const i64x2 7 9))))"#);
    assert_eq!(*f.init, [0, 7, 9]);
    assert_eq!(
        *f.code,
        [
            Instr::I64x2ExtractLane(RLane { dst: 3, src: 1, lane: 1 }),
            Instr::Return1(Src { src: 3 }),
        ]
    );
}

#[test]
fn shuffle_lanes_live_in_the_constant_pool() {
    let f = translate(
        r#"(module (func (param v128 v128) (result v128)
            (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31
              (local.get 0) (local.get 1))))"#,
    );
    let lanes: [u8; 16] = [0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31];
    let bits = u128::from_le_bytes(lanes);
    assert_eq!(*f.init, [bits as u64, (bits >> 64) as u64]);
    assert_eq!(f.code[0], Instr::I8x16Shuffle(R4 { dst: 6, a: 0, b: 2, c: 4 }));
}

#[test]
fn lane_loads_and_stores_go_through_a_scratch_slot() {
    // Params: i32 in 0, v128 in 1-2; temporaries from 3: the address at 3, the vector at 4-5,
    // the scratch slot above them at 6.
    let c = code(
        r#"(module (memory 1) (func (param i32 v128) (result v128)
            (v128.load8_lane 3 (local.get 0) (local.get 1))))"#,
    );
    assert_eq!(
        c[..2],
        [
            Instr::I32Load8U(Load { dst: 6, addr: 0, offset: 0 }),
            Instr::I8x16ReplaceLane(R3Lane { dst: 3, a: 1, b: 6, lane: 3 }),
        ]
    );
    let c = code(
        r#"(module (memory 1) (func (param i32 v128)
            (v128.store64_lane offset=8 1 (local.get 0) (local.get 1))))"#,
    );
    assert_eq!(
        c[..2],
        [
            Instr::I64x2ExtractLane(RLane { dst: 6, src: 1, lane: 1 }),
            Instr::I64Store(Store { addr: 0, val: 6, offset: 8 }),
        ]
    );
}

#[test]
fn results_are_laid_out_by_width() {
    // Params: v128 in 0-1, i32 in 2. Results: i32 in 0, v128 in 1-2, both read from locals
    // that the result copies would overwrite: through their temporaries (3, then 4-5) first.
    let c =
        code(r#"(module (func (param v128 i32) (result i32 v128) (local.get 1) (local.get 0)))"#);
    assert_eq!(
        c,
        [
            Instr::Copy(R2 { dst: 3, src: 2 }),
            Instr::Copy128(R2 { dst: 4, src: 0 }),
            Instr::Copy(R2 { dst: 0, src: 3 }),
            Instr::Copy128(R2 { dst: 1, src: 4 }),
            Instr::Return(()),
        ]
    );
}

#[test]
fn v128_block_results_and_branches_meet_in_their_slots() {
    // The i32 below the block is at temporary 3 (after params 0 and 1-2); the block's v128
    // result at 4-5, where the branch copies it.
    let c = code(
        r#"(module (func (param i32 v128) (result i32)
            (local.get 0) (i32.const 1) (i32.add)
            (block (result v128) (br_if 0 (local.get 1) (local.get 0)) (drop) (local.get 1))
            (drop)))"#,
    );
    assert!(c.contains(&Instr::Copy128(R2 { dst: 5, src: 1 })), "{c:?}");
}

#[test]
fn tags_follow_declaration_order() {
    assert_eq!(Instr::Unreachable(()).tag(), 0);
    assert_eq!(Instr::Return(()).tag(), 1);
    macro_rules! count {
        ($( $(#[$doc:meta])* $name:ident($payload:ty), )*) => { [$(stringify!($name)),*].len() };
    }
    let n = crate::for_each_instr!(count);
    assert_eq!(Instr::F64x2PromoteLowF32x4(R2 { dst: 0, src: 0 }).tag() as usize, n - 1);
}

/// The listening variant: `ListenEnter` first, every return through `ListenReturn` (a result
/// not yet in slot 0 copied there first); the plain variant has neither.
#[test]
fn listening_bytecode_reports_entry_and_every_return() {
    let cases: &[(&str, &[Instr], &[Instr])] = &[
        (
            "(module (func))",
            &[Instr::Return(())],
            &[Instr::ListenEnter(()), Instr::ListenReturn(())],
        ),
        (
            "(module (func (param i32) (result i32) local.get 0))",
            &[Instr::Return(())],
            &[Instr::ListenEnter(()), Instr::ListenReturn(())],
        ),
        (
            "(module (func (param i32 i32) (result i32) local.get 1))",
            &[Instr::Return1(Src { src: 1 })],
            &[Instr::ListenEnter(()), Instr::Copy(R2 { dst: 0, src: 1 }), Instr::ListenReturn(())],
        ),
        (
            // An early return and the final one.
            "(module (func (param i32) (result i32)
               (if (local.get 0) (then (return (i32.const 7)))) (i32.const 8)))",
            &[
                Instr::JumpIfZ(JumpIf { cond: 0, offset: 2 }),
                Instr::Return1(Src { src: 1 }),
                Instr::Return1(Src { src: 2 }),
            ],
            &[
                Instr::ListenEnter(()),
                Instr::JumpIfZ(JumpIf { cond: 0, offset: 3 }),
                Instr::Copy(R2 { dst: 0, src: 1 }),
                Instr::ListenReturn(()),
                Instr::Copy(R2 { dst: 0, src: 2 }),
                Instr::ListenReturn(()),
            ],
        ),
        (
            // Multi-value: the copies into slots 0..n, then the return.
            "(module (func (param i32 i32) (result i32 i32) local.get 1 local.get 0))",
            &[
                Instr::Copy(R2 { dst: 2, src: 1 }),
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Copy(R2 { dst: 0, src: 2 }),
                Instr::Copy(R2 { dst: 1, src: 3 }),
                Instr::Return(()),
            ],
            &[
                Instr::ListenEnter(()),
                Instr::Copy(R2 { dst: 2, src: 1 }),
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Copy(R2 { dst: 0, src: 2 }),
                Instr::Copy(R2 { dst: 1, src: 3 }),
                Instr::ListenReturn(()),
            ],
        ),
    ];
    for (wat, plain, listening) in cases {
        let wasm = wat::parse_str(wat).expect("valid wat");
        let module = keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module");
        let p = translate_function(&module, 0).unwrap();
        assert_eq!(&*p.code, *plain, "plain: {wat}");
        let l = translate_function_with(
            &module,
            0,
            TranslateOptions { listening: true, tiered: false },
        )
        .unwrap();
        assert_eq!(&*l.code, *listening, "listening: {wat}");
        assert_eq!(l.offsets.len(), l.code.len());
        assert_eq!((l.frame_size, &l.init), (p.frame_size, &p.init), "{wat}");
    }
}

/// The tiered variant: `TierEnter` first (before `ListenEnter`), and `TierLoop` at the head of
/// each loop entered with an empty operand stack (its id: the loop operator's offset in the
/// body), so that back edges land on it; none at a loop with a value below it.
#[test]
fn tiered_variant() {
    let wat = r#"(module (func (param i32) (result i32)
        (loop $a (br_if $a (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (i32.const 7)
        (loop $b (br_if $b (i32.eqz (local.get 0))))
        (drop)
        (local.get 0)))"#;
    let wasm = wat::parse_str(wat).expect("valid wat");
    let module = keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module");
    for listening in [false, true] {
        let f = translate_function_with(&module, 0, TranslateOptions { listening, tiered: true })
            .unwrap();
        assert_eq!(f.code[0], Instr::TierEnter(()));
        if listening {
            assert_eq!(f.code[1], Instr::ListenEnter(()));
        }
        let loops: Vec<(usize, u32)> = f
            .code
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Instr::TierLoop(l) => Some((i, l.index)),
                _ => None,
            })
            .collect();
        // Only `$a`: `$b` has the constant 7 below it. Its id is the offset of its `loop` among
        // the body's operators: the first one, 0.
        assert_eq!(loops.len(), 1, "{:?}", f.code);
        assert_eq!(loops[0].1, 0);
        let head = loops[0].0;
        let back = f.code.iter().enumerate().any(|(i, c)| {
            let mut c = *c;
            c.offset_mut().is_some_and(|o| (i as i64 + *o as i64) as usize == head)
        });
        assert!(back, "a back edge lands on TierLoop: {:?}", f.code);
    }
}
