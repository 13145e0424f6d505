//! What `decode` says about binaries it rejects: the message and the exact byte offset.

use keel_decode::{Features, decode};

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

/// A module binary from sections given as (id, content); every section is shorter than 128 bytes
/// so its size takes one byte: a section with id at offset `o` has its content at `o + 2`.
fn module(sections: &[(u8, &[u8])]) -> Vec<u8> {
    let mut wasm = HEADER.to_vec();
    for (id, content) in sections {
        assert!(content.len() < 128);
        wasm.push(*id);
        wasm.push(content.len() as u8);
        wasm.extend_from_slice(content);
    }
    wasm
}

/// Type section: one type, `() -> ()`; function section: one function of it.
const TYPE_VOID: (u8, &[u8]) = (1, &[0x01, 0x60, 0x00, 0x00]);
const FUNC_ONE: (u8, &[u8]) = (3, &[0x01, 0x00]);

/// A module of one `() -> ()` function with the given operator bytes (final `end` included).
/// Header 0..8, type section 8..14, function section 14..18, code section id at 18, size at 19,
/// function count at 20, body size at 21, local count at 22: the first operator is at 23.
fn one_function(code: &[u8]) -> Vec<u8> {
    let mut body = vec![(code.len() + 1) as u8, 0x00];
    body.extend_from_slice(code);
    let mut section = vec![0x01];
    section.extend_from_slice(&body);
    module(&[TYPE_VOID, FUNC_ONE, (10, &section)])
}
const FIRST_OP: usize = 23;

fn wat(source: &str) -> Vec<u8> {
    wat::parse_str(source).unwrap()
}

struct Case {
    name: &'static str,
    wasm: Vec<u8>,
    features: Features,
    offset: usize,
    message: &'static str,
}

fn check(cases: Vec<Case>) {
    for case in cases {
        let err = match decode(&case.wasm, case.features) {
            Ok(_) => panic!("{}: decoded, expected an error", case.name),
            Err(e) => e,
        };
        assert!(
            err.message().contains(case.message),
            "{}: message {:?} does not contain {:?}",
            case.name,
            err.message(),
            case.message
        );
        assert!(!err.message().contains('\n'), "{}: one line: {err}", case.name);
        assert_eq!(err.offset(), case.offset, "{}: offset ({err})", case.name);
        assert!(err.to_string().contains(&format!("0x{:x}", case.offset)), "{}: {err}", case.name);
    }
}

#[test]
fn malformed_binaries() {
    let valid = one_function(&[0x0b]);
    assert!(decode(&valid, Features::V2).is_ok());
    let cut = |at: usize| valid[..at].to_vec();
    let eof = "unexpected end-of-file";
    check(vec![
        Case { name: "empty", wasm: vec![], features: Features::V2, offset: 0, message: eof },
        Case {
            name: "cut in magic",
            wasm: cut(2),
            features: Features::V2,
            offset: 0,
            message: eof,
        },
        Case {
            name: "cut after magic",
            wasm: cut(4),
            features: Features::V2,
            offset: 4,
            message: eof,
        },
        Case {
            name: "cut in version",
            wasm: cut(6),
            features: Features::V2,
            offset: 4,
            message: eof,
        },
        Case {
            name: "cut after section id",
            wasm: cut(9),
            features: Features::V2,
            offset: 9,
            message: eof,
        },
        // The type section says 4 bytes, 2 are there: reported where its content starts.
        Case {
            name: "cut in type section",
            wasm: cut(12),
            features: Features::V2,
            offset: 10,
            message: eof,
        },
        // The code section is read body by body: the first body says 2 bytes, none are there.
        Case {
            name: "cut in code section",
            wasm: cut(22),
            features: Features::V2,
            offset: 22,
            message: eof,
        },
        Case {
            name: "cut before final end",
            wasm: cut(valid.len() - 1),
            features: Features::V2,
            offset: 22,
            message: eof,
        },
        Case {
            name: "section cut inside an item",
            // The section is complete (2 bytes) but its one type stops after the 0x60.
            wasm: module(&[(1, &[0x01, 0x60])]),
            features: Features::V2,
            offset: 12,
            message: eof,
        },
        Case {
            name: "bad magic",
            wasm: b"\0asn\x01\0\0\0".to_vec(),
            features: Features::V2,
            offset: 0,
            message: "magic header not detected",
        },
        Case {
            name: "not wasm at all",
            wasm: b"#!/bin/sh\n".to_vec(),
            features: Features::V2,
            offset: 0,
            message: "magic header not detected",
        },
        Case {
            name: "bad version",
            wasm: b"\0asm\x02\0\0\0".to_vec(),
            features: Features::V2,
            offset: 4,
            message: "unknown binary version",
        },
        Case {
            name: "over-long LEB128",
            // The type count as six bytes; a u32 takes at most five.
            wasm: module(&[(1, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00])]),
            features: Features::V2,
            offset: 14,
            message: "integer representation too long",
        },
        Case {
            name: "LEB128 too large for u32",
            wasm: module(&[(1, &[0x80, 0x80, 0x80, 0x80, 0x10])]),
            features: Features::V2,
            offset: 14,
            message: "integer too large",
        },
        Case {
            name: "LEB128 without its last byte",
            wasm: module(&[(1, &[0x80, 0x80, 0x80])]),
            features: Features::V2,
            offset: 13,
            message: eof,
        },
        Case {
            name: "unknown section id",
            wasm: module(&[TYPE_VOID, (0x20, &[])]),
            features: Features::V2,
            offset: 16,
            message: "malformed section id: 32",
        },
        Case {
            name: "unknown opcode",
            wasm: one_function(&[0x01, 0xff, 0x0b]),
            features: Features::V2,
            offset: FIRST_OP + 1,
            message: "illegal opcode: 0xff",
        },
        Case {
            name: "section out of order",
            // An empty memory section (8..11), then an empty table section.
            wasm: module(&[(5, &[0x00]), (4, &[0x00])]),
            features: Features::V2,
            offset: 13,
            message: "section out of order",
        },
        Case {
            name: "bytes after the final end",
            wasm: one_function(&[0x0b, 0x01]),
            features: Features::V2,
            offset: FIRST_OP + 1,
            message: "operators remaining after end of function",
        },
    ]);
}

#[test]
fn invalid_modules() {
    check(vec![
        Case {
            name: "i32.add of i64s",
            // i64.const 1, i64.const 2, i32.add, drop, end
            wasm: one_function(&[0x42, 0x01, 0x42, 0x02, 0x6a, 0x1a, 0x0b]),
            features: Features::V2,
            offset: FIRST_OP + 4,
            message: "type mismatch: expected i32, found i64",
        },
        Case {
            name: "value left on the stack",
            wasm: one_function(&[0x41, 0x00, 0x0b]),
            features: Features::V2,
            offset: FIRST_OP + 2,
            message: "type mismatch",
        },
        Case {
            name: "call of an unknown function",
            wasm: one_function(&[0x10, 0x05, 0x0b]),
            features: Features::V2,
            offset: FIRST_OP,
            message: "unknown function 5",
        },
        Case {
            name: "function and code counts differ",
            wasm: module(&[TYPE_VOID, FUNC_ONE]),
            features: Features::V2,
            offset: 18,
            message: "function section has non-zero count but code section is absent",
        },
        Case {
            name: "export of an unknown function",
            // export "f" func 3; reported at the export (after the count at 16).
            wasm: module(&[TYPE_VOID, (7, &[0x01, 0x01, b'f', 0x00, 0x03])]),
            features: Features::V2,
            offset: 17,
            message: "unknown function",
        },
        Case {
            name: "GC struct type",
            wasm: wat("(module (type (struct)))"),
            features: Features::V2,
            offset: 11,
            message: "gc",
        },
        Case {
            name: "rec group of two types",
            // one rec group (0x4e) of two function types
            wasm: module(&[(1, &[0x01, 0x4e, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x00])]),
            features: Features::V2,
            offset: 11,
            message: "gc",
        },
        Case {
            name: "table with an initialiser",
            // Needs function references, which no keel feature set enables.
            wasm: wat("(module (func $f) (elem declare func $f) (table 3 funcref (ref.func $f)))"),
            features: Features::V2,
            offset: 21,
            message: "function-references",
        },
        Case {
            name: "64-bit table",
            wasm: wat("(module (table i64 1 funcref))"),
            features: Features::V2 | Features::MEMORY64,
            offset: 11,
            message: "64-bit tables are not supported",
        },
    ]);
}

#[test]
fn malformed_section_is_reported_before_an_invalid_body() {
    // The body is invalid (i32.add of nothing) and the data section after the code is cut:
    // as with wasmparser's own `validate_all`, the malformed binary is what is reported.
    let mut wasm = module(&[
        TYPE_VOID,
        FUNC_ONE,
        (5, &[0x01, 0x00, 0x01]),
        (10, &[0x01, 0x03, 0x00, 0x6a, 0x0b]),
    ]);
    let data_at = wasm.len();
    wasm.extend_from_slice(&[11, 0x05, 0x01, 0x00, 0x41]);
    let err = decode(&wasm, Features::V2).unwrap_err();
    assert_eq!(err.message(), "unexpected end-of-file", "{err}");
    // The data section says 5 bytes and has 3: reported where its content starts.
    assert_eq!(err.offset(), data_at + 2);

    // Without the data section, the body is what is wrong.
    let err = decode(&wasm[..data_at], Features::V2).unwrap_err();
    assert!(err.message().contains("type mismatch"), "{err}");
    assert_eq!(err.offset(), data_at - 2);
}

#[test]
fn disabled_features_are_rejected() {
    struct FeatureCase {
        name: &'static str,
        wat: &'static str,
        off: Features,
        on: Features,
        offset: usize,
        message: &'static str,
    }
    let cases = [
        FeatureCase {
            name: "memory.copy",
            wat: "(module (memory 1) (func (memory.copy (i32.const 0) (i32.const 0) (i32.const 0))))",
            off: Features::V1,
            on: Features::V2,
            // 0xfc prefix after three i32.const 0 in the only body, which starts at 27.
            offset: 34,
            message: "bulk memory support is not enabled",
        },
        FeatureCase {
            name: "multi-value result",
            wat: "(module (func (result i32 i32) i32.const 0 i32.const 0))",
            off: Features::V1,
            on: Features::V2,
            offset: 11,
            message: "multi-value",
        },
        FeatureCase {
            name: "multi-value block params",
            wat: "(module (type $t (func (param i32) (result i32))) (func (result i32) i32.const 1 (block (type $t))))",
            off: Features::V1,
            on: Features::V2,
            // Two types (8..20), one function (20..24), code from 24: count at 26, body size at
            // 27, locals at 28, i32.const 1 at 29, the `block` at 31.
            offset: 31,
            message: "multi-value",
        },
        FeatureCase {
            name: "externref param",
            wat: "(module (func (param externref)))",
            off: Features::V1,
            on: Features::V2,
            offset: 11,
            message: "reference types support is not enabled",
        },
        FeatureCase {
            name: "externref table",
            wat: "(module (table 1 externref))",
            off: Features::V1,
            on: Features::V2,
            offset: 11,
            message: "reference types support is not enabled",
        },
        FeatureCase {
            name: "two tables",
            wat: "(module (table 1 funcref) (table 1 funcref))",
            off: Features::V1,
            on: Features::V2,
            offset: 10,
            message: "multiple tables",
        },
        FeatureCase {
            name: "ref.null in a body",
            wat: "(module (func ref.null func drop))",
            off: Features::V1,
            on: Features::V2,
            offset: 23,
            message: "reference types support is not enabled",
        },
        FeatureCase {
            name: "sign extension",
            wat: "(module (func i32.const 1 i32.extend8_s drop))",
            off: Features::V1,
            on: Features::V1 | Features::SIGN_EXTENSION,
            offset: 25,
            message: "sign extension operations support is not enabled",
        },
        FeatureCase {
            name: "SIMD",
            wat: "(module (func v128.const i64x2 0 0 drop))",
            off: Features::V2.without(Features::SIMD),
            on: Features::V2,
            offset: 23,
            message: "SIMD support is not enabled",
        },
        FeatureCase {
            name: "two memories",
            wat: "(module (memory 1) (memory 1))",
            off: Features::V2,
            on: Features::V2 | Features::MULTI_MEMORY,
            offset: 10,
            message: "multiple memories",
        },
        FeatureCase {
            name: "tail call",
            wat: "(module (func return_call 0))",
            off: Features::V2,
            on: Features::V2 | Features::TAIL_CALL,
            offset: 23,
            message: "tail calls support is not enabled",
        },
        FeatureCase {
            name: "memory64",
            wat: "(module (memory i64 1))",
            off: Features::V2,
            on: Features::V2 | Features::MEMORY64,
            offset: 11,
            message: "memory64 must be enabled",
        },
    ];
    for case in cases {
        let wasm = wat(case.wat);
        let err = decode(&wasm, case.off).expect_err(case.name);
        assert!(
            err.message().contains(case.message),
            "{}: message {:?} does not contain {:?}",
            case.name,
            err.message(),
            case.message
        );
        assert_eq!(err.offset(), case.offset, "{}: offset ({err})", case.name);
        if let Err(e) = decode(&wasm, case.on) {
            panic!("{}: rejected with {:?}: {e}", case.name, case.on);
        }
    }
}

#[test]
fn v1_is_the_mvp_plus_mutable_globals() {
    let mutable_import = wat(r#"(module (import "e" "g" (global (mut i32))))"#);
    assert!(decode(&mutable_import, Features::V1).is_ok());
    let err = decode(&mutable_import, Features::NONE).unwrap_err();
    assert!(err.message().contains("mutable global"), "{err}");
}

/// A large module's bodies are validated in parallel, and the error is still the first failing
/// body's, as wasmparser's sequential `validate_all` reports it (and a bad section still comes
/// before any bad body).
#[test]
fn the_first_invalid_body_of_many_is_reported() {
    let mut wat = String::from("(module\n");
    for i in 0..300 {
        let body = if i == 137 || i == 250 { "i64.const 1" } else { "i32.const 1" };
        wat.push_str(&format!("(func (result i32) {body})\n"));
    }
    wat.push(')');
    let wasm = wat::parse_str(&wat).unwrap();
    let ours = decode(&wasm, Features::V2).unwrap_err();
    let Err(theirs) = wasmparser::Validator::new().validate_all(&wasm) else { panic!("valid") };
    assert_eq!(ours.offset() as u64, theirs.offset());
    // The same module with its bodies fixed is valid.
    let fixed = wat::parse_str(wat.replace("i64.const 1", "i32.const 1")).unwrap();
    assert!(decode(&fixed, Features::V2).is_ok());
}
