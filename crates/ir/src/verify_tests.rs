//! The verifier: hand-broken bytecode is rejected with the right error; translated code passes.

use crate::instr::*;
use crate::{
    CompiledFunc, IndexSpace, VerifyError, VerifyErrorKind as K, translate_function, verify,
};

/// Function 0 (`$callee`, two i32 params and an i32 result) is the callee of the calls; the
/// hand-written bytecode stands for function 1, `(param i32) (result i32) (local i32)`.
const MODULE: &str = r#"(module
    (type $t (func (param i32 i32) (result i32)))
    (memory 1)
    (table 2 funcref)
    (global $g (mut i32) (i32.const 0))
    (global $c i32 (i32.const 0))
    (global $v (mut v128) (v128.const i64x2 0 0))
    (func $callee (type $t) local.get 0)
    (func $f (param i32) (result i32) (local i32) local.get 0))"#;

fn module() -> keel_decode::Module {
    let wasm = wat::parse_str(MODULE).expect("valid wat");
    keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module")
}

/// Function 1 with this code: frame of 6 slots, the parameter in slot 0, the local in 1, a
/// constant in 2, temporaries 3..6.
fn func(code: &[Instr]) -> CompiledFunc {
    CompiledFunc {
        code: code.into(),
        offsets: vec![0; code.len()].into(),
        frame_size: 6,
        num_params: 1,
        num_results: 1,
        init: vec![0, 7].into(),
        func_index: 1,
    }
}

const RET: Instr = Instr::Return1(Src { src: 0 });
const FRAME: u16 = 6;

fn at(at: usize, kind: K) -> VerifyError {
    VerifyError { func_index: 1, at: Some(at), kind }
}

fn header(kind: K) -> VerifyError {
    VerifyError { func_index: 1, at: None, kind }
}

#[test]
fn valid_bytecode_passes() {
    let m = module();
    let cases: &[(&str, &[Instr])] = &[
        ("return", &[RET]),
        ("operands up to the last slot", &[Instr::I32Add(R3 { dst: 5, a: 0, b: 2 }), RET]),
        ("v128 in the last two slots", &[Instr::I8x16Splat(R2 { dst: 4, src: 0 }), RET]),
        // A splat's source is a scalar: the last slot is fine.
        (
            "scalar operand of a SIMD instruction",
            &[
                Instr::Copy(R2 { dst: 5, src: 0 }),
                Instr::I8x16Splat(R2 { dst: 3, src: 5 }),
                Instr::Copy128(R2 { dst: 4, src: 3 }),
                RET,
            ],
        ),
        (
            "a temporary written on both paths",
            &[
                Instr::JumpIfZ(JumpIf { cond: 0, offset: 3 }),
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Jump(Jump { offset: 2 }),
                Instr::Copy(R2 { dst: 3, src: 2 }),
                Instr::Return1(Src { src: 3 }),
            ],
        ),
        (
            "a loop's temporary, written before the loop and in it",
            &[
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::I32AddImm(RImm { dst: 3, a: 3, imm: -1 }),
                Instr::JumpIfNz(JumpIf { cond: 3, offset: -1 }),
                Instr::Return1(Src { src: 3 }),
            ],
        ),
        ("jump to itself", &[Instr::Jump(Jump { offset: 0 })]),
        ("backward jump", &[RET, Instr::JumpIfZ(JumpIf { cond: 0, offset: -1 }), RET]),
        (
            "call, window at the frame's end, then its result",
            &[
                Instr::Copy(R2 { dst: 4, src: 0 }),
                Instr::Copy(R2 { dst: 5, src: 1 }),
                Instr::Call(Call { base: 4, func: 0 }),
                Instr::Return1(Src { src: 4 }),
            ],
        ),
        (
            "br_table",
            &[
                Instr::BrTable(Table { index: 0, len: 1 }),
                Instr::Jump(Jump { offset: 2 }),
                Instr::Jump(Jump { offset: 1 }),
                RET,
            ],
        ),
        ("mutable global", &[Instr::GlobalSet(SrcIdx { src: 0, index: 0 }), RET]),
        ("v128 global", &[Instr::GlobalGet128(DstIdx { dst: 3, index: 2 }), RET]),
    ];
    for (name, code) in cases {
        assert_eq!(verify(&func(code), &m), Ok(()), "{name}");
    }
}

#[test]
fn broken_bytecode_is_rejected() {
    let m = module();
    let with = |f: fn(&mut CompiledFunc)| {
        let mut func = func(&[RET]);
        f(&mut func);
        func
    };
    let cases: Vec<(&str, CompiledFunc, VerifyError)> = vec![
        (
            "register past the frame",
            func(&[Instr::I32Add(R3 { dst: 0, a: 1, b: 6 }), RET]),
            at(0, K::SlotOutOfFrame { operand: "b", slot: 6, width: 1, frame_size: FRAME }),
        ),
        (
            "destination past the frame",
            func(&[RET, Instr::Copy(R2 { dst: 600, src: 0 }), RET]),
            at(1, K::SlotOutOfFrame { operand: "dst", slot: 600, width: 1, frame_size: FRAME }),
        ),
        (
            "second slot of a v128 past the frame",
            func(&[Instr::Copy128(R2 { dst: 3, src: 5 }), RET]),
            at(0, K::SlotOutOfFrame { operand: "src", slot: 5, width: 2, frame_size: FRAME }),
        ),
        (
            "v128 store's value past the frame",
            func(&[Instr::V128Store(Store { addr: 0, val: 5, offset: 0 }), RET]),
            at(0, K::SlotOutOfFrame { operand: "val", slot: 5, width: 2, frame_size: FRAME }),
        ),
        (
            "jump past the end",
            func(&[Instr::Jump(Jump { offset: 2 }), RET]),
            at(0, K::JumpOutOfCode { target: 2, len: 2 }),
        ),
        (
            "conditional jump before the start",
            func(&[Instr::JumpI32LtS(JumpCmp { a: 0, b: 1, offset: -1 }), RET]),
            at(0, K::JumpOutOfCode { target: -1, len: 2 }),
        ),
        (
            "counted loop's back edge before the start",
            func(&[RET, Instr::JumpI32LtUAdd(JumpAdd { reg: 1, step: 2, b: 0, offset: -2 }), RET]),
            at(1, K::JumpOutOfCode { target: -1, len: 3 }),
        ),
        (
            "copy-and-jump past the end",
            func(&[Instr::CopyJump(CopyJump { dst: 1, src: 0, offset: 5 })]),
            at(0, K::JumpOutOfCode { target: 5, len: 1 }),
        ),
        (
            "br_table entries past the end",
            func(&[Instr::BrTable(Table { index: 0, len: 2 }), Instr::Jump(Jump { offset: -1 })]),
            at(0, K::TableOutOfCode { end: 4, len: 2 }),
        ),
        (
            "br_table of u32::MAX entries",
            func(&[Instr::BrTable(Table { index: 0, len: u32::MAX }), RET]),
            at(0, K::TableOutOfCode { end: u32::MAX as u64 + 2, len: 2 }),
        ),
        (
            "br_table entry that is not a jump",
            func(&[
                Instr::BrTable(Table { index: 0, len: 1 }),
                Instr::Jump(Jump { offset: 2 }),
                RET,
                RET,
            ]),
            at(0, K::TableEntryNotJump { entry: 2 }),
        ),
        (
            "br_table entry jumping past the end",
            func(&[
                Instr::BrTableLoad8U(TableLoad8 { addr: 0, len: 1, offset: 0 }),
                Instr::Jump(Jump { offset: 1 }),
                Instr::Jump(Jump { offset: 1 }),
            ]),
            at(2, K::JumpOutOfCode { target: 3, len: 3 }),
        ),
        (
            "last instruction falls through",
            func(&[RET, Instr::Copy(R2 { dst: 1, src: 0 })]),
            at(1, K::FallsOffEnd),
        ),
        (
            "a call last: its return falls through",
            func(&[Instr::Call(Call { base: 3, func: 0 })]),
            at(0, K::FallsOffEnd),
        ),
        (
            "call whose arguments overlap the frame end",
            func(&[Instr::Call(Call { base: 5, func: 0 }), RET]),
            at(0, K::CallOutOfFrame { base: 5, slots: 2, frame_size: FRAME }),
        ),
        (
            "call_indirect whose arguments overlap the frame end",
            func(&[Instr::CallIndirect(CallIndirect { base: 5, index: 0, table: 0, ty: 0 }), RET]),
            at(0, K::CallOutOfFrame { base: 5, slots: 2, frame_size: FRAME }),
        ),
        (
            "call whose frame starts on the caller's local and constant",
            func(&[Instr::Call(Call { base: 1, func: 0 }), RET]),
            at(0, K::CallOverFixedSlots { base: 1, first_temp: 3 }),
        ),
        (
            "call of an undefined function",
            func(&[Instr::Call(Call { base: 3, func: 2 }), RET]),
            at(0, K::UnknownIndex { space: IndexSpace::DefinedFunction, index: 2 }),
        ),
        (
            "call of an import the module does not have",
            func(&[Instr::CallImport(Call { base: 3, func: 0 }), RET]),
            at(0, K::UnknownIndex { space: IndexSpace::ImportedFunction, index: 0 }),
        ),
        (
            "call_indirect through a missing table",
            func(&[Instr::CallIndirect(CallIndirect { base: 3, index: 0, table: 1, ty: 0 }), RET]),
            at(0, K::UnknownIndex { space: IndexSpace::Table, index: 1 }),
        ),
        (
            "scalar global.get of a v128 global",
            func(&[Instr::GlobalGet(DstIdx { dst: 3, index: 2 }), RET]),
            at(0, K::GlobalWidth { index: 2, wide: false }),
        ),
        (
            "global.set of an immutable global",
            func(&[Instr::GlobalSet(SrcIdx { src: 0, index: 1 }), RET]),
            at(0, K::ImmutableGlobal { index: 1 }),
        ),
        (
            "missing global",
            func(&[Instr::GlobalGet(DstIdx { dst: 3, index: 3 }), RET]),
            at(0, K::UnknownIndex { space: IndexSpace::Global, index: 3 }),
        ),
        (
            "data segment the module does not have",
            func(&[Instr::DataDrop(Idx { index: 0 }), RET]),
            at(0, K::UnknownIndex { space: IndexSpace::Data, index: 0 }),
        ),
        (
            "shift of 32 folded into an address",
            func(&[Instr::I32AddShl(R3Shift { dst: 3, a: 0, b: 1, shift: 32 }), RET]),
            at(0, K::ShiftTooLarge { shift: 32 }),
        ),
        (
            "shift of 40 packed into a load's offset",
            func(&[Instr::I64LoadShl(Load { dst: 3, addr: 0, offset: 40 << 24 }), RET]),
            at(0, K::ShiftTooLarge { shift: 40 }),
        ),
        (
            "lane 4 of an i32x4",
            func(&[Instr::I32x4ExtractLane(RLane { dst: 0, src: 3, lane: 4 }), RET]),
            at(0, K::LaneOutOfRange { lane: 4, lanes: 4 }),
        ),
        (
            "temporary read before it is written",
            func(&[Instr::I32Add(R3 { dst: 0, a: 3, b: 0 }), RET]),
            at(0, K::UnwrittenSlot { operand: "a", slot: 3 }),
        ),
        (
            "temporary written on one path only",
            func(&[
                Instr::JumpIfZ(JumpIf { cond: 0, offset: 2 }),
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Return1(Src { src: 3 }),
            ]),
            at(2, K::UnwrittenSlot { operand: "src", slot: 3 }),
        ),
        (
            "second slot of a v128 never written",
            func(&[Instr::Copy(R2 { dst: 3, src: 0 }), Instr::Copy128(R2 { dst: 4, src: 3 }), RET]),
            at(1, K::UnwrittenSlot { operand: "src", slot: 4 }),
        ),
        (
            "call argument never written",
            func(&[
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Call(Call { base: 3, func: 0 }),
                RET,
            ]),
            at(1, K::UnwrittenSlot { operand: "args", slot: 4 }),
        ),
        (
            "slot above a call's results read after the call (the callee's frame overwrote it)",
            func(&[
                Instr::Copy(R2 { dst: 5, src: 0 }),
                Instr::Copy(R2 { dst: 3, src: 0 }),
                Instr::Copy(R2 { dst: 4, src: 0 }),
                Instr::Call(Call { base: 3, func: 0 }),
                Instr::Return1(Src { src: 5 }),
            ]),
            at(4, K::UnwrittenSlot { operand: "src", slot: 5 }),
        ),
        ("no instructions", func(&[]), header(K::EmptyCode)),
        (
            "offsets missing",
            with(|f| f.offsets = Box::new([])),
            header(K::OffsetsLength { offsets: 0, code: 1 }),
        ),
        (
            "a function index the module does not define",
            with(|f| f.func_index = 7),
            VerifyError {
                func_index: 7,
                at: None,
                kind: K::UnknownIndex { space: IndexSpace::DefinedFunction, index: 7 },
            },
        ),
        (
            "parameter slots unlike the type's",
            with(|f| f.num_params = 2),
            header(K::SignatureMismatch { what: "params", expected: 1, found: 2 }),
        ),
        (
            "init past the frame",
            with(|f| f.init = vec![0; 6].into()),
            header(K::HeaderOutOfFrame { what: "params + init", end: 7, frame_size: FRAME }),
        ),
        (
            "results past the frame",
            with(|f| {
                f.frame_size = 0;
                f.init = Box::new([]);
            }),
            header(K::HeaderOutOfFrame { what: "params", end: 1, frame_size: 0 }),
        ),
    ];
    for (name, func, expected) in cases {
        let got = verify(&func, &m);
        assert_eq!(got, Err(expected), "{name}");
        // Every error says where and what.
        let text = got.unwrap_err().to_string();
        assert!(text.starts_with("function "), "{name}: {text}");
    }
}

/// Translated functions pass; the same functions without their temporaries' slots, or without
/// their last instruction, do not.
#[test]
fn translated_code_passes_and_shrinking_it_fails() {
    let wasm = wat::parse_str(
        r#"(module
            (memory 1)
            (table 1 funcref)
            (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
            (func (param i32) (result i32) (local i32)
                (block (loop
                    (br_if 1 (i32.eqz (local.get 0)))
                    (local.set 1 (call $add (local.get 1) (i32.load (local.get 0))))
                    (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                    (br_table 0 1 0 (local.get 0))))
                (call_indirect (param i32 i32) (result i32) (local.get 1) (i32.const 2) (i32.const 0)))
            (func (param v128 i32) (result v128)
                (i32x4.replace_lane 1 (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let m = keel_decode::decode(&wasm, keel_decode::Features::V2).unwrap();
    for i in 0..m.num_defined_functions() {
        let f = translate_function(&m, i).unwrap();
        assert_eq!(verify(&f, &m), Ok(()));
        // Each of these functions computes into a temporary.
        let mut smaller = f.clone();
        smaller.frame_size = f.num_params + f.init.len() as u16;
        assert!(verify(&smaller, &m).is_err(), "function {i} without its temporaries");
        let mut shorter = f.clone();
        shorter.code = f.code[..f.code.len() - 1].into();
        shorter.offsets = f.offsets[..f.offsets.len() - 1].into();
        assert!(verify(&shorter, &m).is_err(), "function {i} without its last instruction");
    }
}
