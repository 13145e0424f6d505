//! What `decode` makes of valid modules: every section, index spaces, element segments, constant
//! expressions and the name section.

use keel_decode::{
    ConstExpr, ConstOp, DataMode, Element, ElementItems, ElementMode, Export, ExternKind, Features,
    FuncType, GlobalType, Import, ImportType, Limits, MemoryType, Module, Names, Table, TableType,
    ValType, decode,
};

fn wat(source: &str) -> Vec<u8> {
    wat::parse_str(source).unwrap_or_else(|e| panic!("bad test wat: {e}\n{source}"))
}

fn decode_wat(source: &str, features: Features) -> Module {
    let wasm = wat(source);
    decode(&wasm, features).unwrap_or_else(|e| panic!("decode failed: {e}\n{source}"))
}

fn expr(ops: &[ConstOp]) -> ConstExpr {
    ConstExpr { ops: ops.into() }
}

fn limits(min: u64, max: Option<u64>) -> Limits {
    Limits { min, max }
}

#[test]
fn every_section() {
    let wasm = wat(r#"(module $everything
        (type $sig (func (param i32) (result i32)))
        (type $void (func))
        (import "env" "f" (func $imp (type $sig)))
        (import "env" "g" (global $ig i32))
        (func $add (type $sig) (local i32 i32) (local i64)
            local.get 0 global.get $ig i32.add)
        (func $start (type $void) data.drop 1)
        (table $t 2 10 funcref)
        (memory $m 1 2)
        (global $counter (mut i64) (i64.const -7))
        (global $ratio f32 (f32.const 1.5))
        (export "add" (func $add))
        (export "mem" (memory $m))
        (export "tab" (table $t))
        (export "counter" (global $counter))
        (start $start)
        (elem (i32.const 0) func $add $imp)
        (data (i32.const 8) "hello")
        (data "passive")
        (@custom "meta" "payload"))"#);
    let m = decode(&wasm, Features::V2).unwrap();

    assert_eq!(&m.bytes[..], &wasm[..], "bytes are a copy of the binary");
    assert_eq!(m.features, Features::V2);
    assert_eq!(m.types, [FuncType::new([ValType::I32], [ValType::I32]), FuncType::new([], [])]);
    assert_eq!(
        m.imports,
        [
            Import { module: "env".into(), name: "f".into(), ty: ImportType::Func(0) },
            Import {
                module: "env".into(),
                name: "g".into(),
                ty: ImportType::Global(GlobalType { content: ValType::I32, mutable: false }),
            },
        ]
    );
    assert_eq!(m.functions, [0, 0, 1]);
    let table = TableType { element: ValType::FuncRef, limits: limits(2, Some(10)) };
    assert_eq!(m.tables, [table]);
    assert_eq!(
        m.memories,
        [MemoryType { limits: limits(1, Some(2)), shared: false, memory64: false }]
    );
    let counter = GlobalType { content: ValType::I64, mutable: true };
    let ratio = GlobalType { content: ValType::F32, mutable: false };
    assert_eq!(m.globals, [GlobalType { content: ValType::I32, mutable: false }, counter, ratio]);
    assert_eq!(
        (
            m.num_imported_functions,
            m.num_imported_tables,
            m.num_imported_memories,
            m.num_imported_globals
        ),
        (1, 0, 0, 1)
    );
    assert_eq!(m.defined_tables, [Table { ty: table, init: None }]);
    assert_eq!(m.defined_globals.len(), 2);
    assert_eq!(m.defined_globals[0].ty, counter);
    assert_eq!(m.defined_globals[0].init, expr(&[ConstOp::I64Const(-7)]));
    assert_eq!(m.defined_globals[1].ty, ratio);
    assert_eq!(m.defined_globals[1].init, expr(&[ConstOp::F32Const(1.5f32.to_bits())]));

    // Bodies: run-length locals, operator bytes up to the final `end`, the whole body.
    assert_eq!(m.num_defined_functions(), 2);
    let add = &m.bodies[0];
    assert_eq!(&add.locals[..], [(2, ValType::I32), (1, ValType::I64)]);
    assert_eq!(m.slice(&add.code), [0x20, 0x00, 0x23, 0x00, 0x6a, 0x0b]);
    assert_eq!(
        m.slice(&add.body),
        [0x02, 0x02, 0x7f, 0x01, 0x7e, 0x20, 0x00, 0x23, 0x00, 0x6a, 0x0b]
    );
    let start = &m.bodies[1];
    assert!(start.locals.is_empty());
    assert_eq!(m.slice(&start.code), [0xfc, 0x09, 0x01, 0x0b]);
    assert_eq!(start.body.start + 1, start.code.start);
    assert_eq!(start.body.end, start.code.end);
    assert!(add.body.end <= start.body.start, "bodies in order");

    assert_eq!(
        m.exports,
        [
            Export { name: "add".into(), kind: ExternKind::Func, index: 1 },
            Export { name: "mem".into(), kind: ExternKind::Memory, index: 0 },
            Export { name: "tab".into(), kind: ExternKind::Table, index: 0 },
            Export { name: "counter".into(), kind: ExternKind::Global, index: 1 },
        ]
    );
    assert_eq!(m.export("counter").map(|e| e.index), Some(1));
    assert_eq!(m.export("nope"), None);
    assert_eq!(m.start, Some(2));
    assert_eq!(
        m.elements,
        [Element {
            mode: ElementMode::Active { table: 0, offset: expr(&[ConstOp::I32Const(0)]) },
            ty: ValType::FuncRef,
            items: ElementItems::Functions([1, 0].into()),
        }]
    );
    assert_eq!(m.data.len(), 2);
    assert_eq!(
        m.data[0].mode,
        DataMode::Active { memory: 0, offset: expr(&[ConstOp::I32Const(8)]) }
    );
    assert_eq!(m.slice(&m.data[0].range), b"hello");
    assert_eq!(m.data[1].mode, DataMode::Passive);
    assert_eq!(m.slice(&m.data[1].range), b"passive");

    let meta = m.custom_sections.iter().find(|c| c.name == "meta").expect("custom section");
    assert_eq!(m.slice(&meta.data), b"payload");
    assert!(m.custom_sections.iter().any(|c| c.name == "name"));
    assert_eq!(m.names.module.as_deref(), Some("everything"));
    assert_eq!(
        m.names.functions,
        [(0, "imp".to_string()), (1, "add".to_string()), (2, "start".to_string())]
    );
    assert_eq!(m.func_type(1).to_string(), "(i32) -> (i32)");
    assert_eq!(m.func_type(2).to_string(), "() -> ()");
}

#[test]
fn operators_are_read_from_the_body_ranges() {
    let m = decode_wat(
        "(module (func (param i32) (result i32) (local f64) local.get 0 i32.const 1 i32.add))",
        Features::V2,
    );
    let body = &m.bodies[0];
    let mut ops = m.operators_reader(body);
    let mut seen = Vec::new();
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset().unwrap();
        seen.push((format!("{op:?}"), offset as usize));
    }
    let names: Vec<&str> = seen.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(names, ["LocalGet { local_index: 0 }", "I32Const { value: 1 }", "I32Add", "End"]);
    assert_eq!(seen[0].1, body.code.start, "offsets are offsets in the binary");
    assert_eq!(seen[3].1, body.code.end - 1);

    let whole = m.wasmparser_body(body);
    assert_eq!(whole.range(), body.body.start as u64..body.body.end as u64);
    let locals: Vec<_> =
        whole.get_locals_reader().unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(locals, [(1, keel_decode::wasmparser::ValType::F64)]);
}

#[test]
fn imports_fill_index_spaces_first() {
    struct Case {
        name: &'static str,
        wat: &'static str,
        functions: &'static [u32],
        tables: &'static [ValType],
        memories: &'static [u64],
        globals: &'static [ValType],
        imported: (u32, u32, u32, u32),
        exports: &'static [(&'static str, u32)],
    }
    let cases = [
        Case {
            name: "no imports",
            wat: r#"(module (type (func)) (type (func (param i64)))
                (func (type 1)) (func (type 0)) (table 1 externref) (memory 3) (global f64 (f64.const 0))
                (export "f" (func 1)))"#,
            functions: &[1, 0],
            tables: &[ValType::ExternRef],
            memories: &[3],
            globals: &[ValType::F64],
            imported: (0, 0, 0, 0),
            exports: &[("f", 1)],
        },
        Case {
            name: "only imports",
            wat: r#"(module (type (func)) (type (func (param i64)))
                (import "m" "a" (func (type 1))) (import "m" "b" (func (type 0)))
                (import "m" "t" (table 1 funcref)) (import "m" "mem" (memory 5))
                (import "m" "g" (global i64)))"#,
            functions: &[1, 0],
            tables: &[ValType::FuncRef],
            memories: &[5],
            globals: &[ValType::I64],
            imported: (2, 1, 1, 1),
            exports: &[],
        },
        Case {
            name: "imports interleaved, then definitions",
            wat: r#"(module (type $a (func)) (type $b (func (param i64)))
                (import "m" "f1" (func (type $b)))
                (import "m" "t" (table 3 externref))
                (import "m" "f2" (func (type $a)))
                (import "m" "mem" (memory 1))
                (import "m" "g" (global (mut f64)))
                (func (type $a)) (func (type $b))
                (table 1 funcref) (memory 2) (global i32 (i32.const 0))
                (export "f" (func 2)) (export "t" (table 1)) (export "m" (memory 1))
                (export "g" (global 1)))"#,
            functions: &[1, 0, 0, 1],
            tables: &[ValType::ExternRef, ValType::FuncRef],
            memories: &[1, 2],
            globals: &[ValType::F64, ValType::I32],
            imported: (2, 1, 1, 1),
            exports: &[("f", 2), ("t", 1), ("m", 1), ("g", 1)],
        },
    ];
    for case in cases {
        let m = decode_wat(case.wat, Features::V2 | Features::MULTI_MEMORY);
        let name = case.name;
        assert_eq!(m.functions, case.functions, "{name}: functions");
        let tables: Vec<ValType> = m.tables.iter().map(|t| t.element).collect();
        assert_eq!(tables, case.tables, "{name}: tables");
        let memories: Vec<u64> = m.memories.iter().map(|t| t.limits.min).collect();
        assert_eq!(memories, case.memories, "{name}: memories");
        let globals: Vec<ValType> = m.globals.iter().map(|g| g.content).collect();
        assert_eq!(globals, case.globals, "{name}: globals");
        let imported = (
            m.num_imported_functions,
            m.num_imported_tables,
            m.num_imported_memories,
            m.num_imported_globals,
        );
        assert_eq!(imported, case.imported, "{name}: import counts");
        assert_eq!(m.imports.len() as u32, imported.0 + imported.1 + imported.2 + imported.3);
        assert_eq!(m.bodies.len() + imported.0 as usize, m.functions.len(), "{name}: bodies");
        assert_eq!(m.defined_tables.len() + imported.1 as usize, m.tables.len(), "{name}");
        assert_eq!(m.defined_globals.len() + imported.3 as usize, m.globals.len(), "{name}");
        // The defined items come after the imported ones in each space.
        for (i, t) in m.defined_tables.iter().enumerate() {
            assert_eq!(t.ty, m.tables[imported.1 as usize + i], "{name}");
        }
        for (i, g) in m.defined_globals.iter().enumerate() {
            assert_eq!(g.ty, m.globals[imported.3 as usize + i], "{name}");
        }
        let exports: Vec<(&str, u32)> =
            m.exports.iter().map(|e| (e.name.as_str(), e.index)).collect();
        assert_eq!(exports, case.exports, "{name}: exports");
    }
}

#[test]
fn element_segments() {
    use ConstOp::*;
    // Function $f is 0 and $h is 1; tables $t1, $t2, $te are 0, 1, 2; global $g is 0.
    let active = |table, offset: &[ConstOp]| ElementMode::Active { table, offset: expr(offset) };
    let funcs = |f: &[u32]| ElementItems::Functions(f.into());
    let exprs = |e: &[&[ConstOp]]| ElementItems::Exprs(e.iter().map(|ops| expr(ops)).collect());
    let cases: Vec<(&str, Element)> = vec![
        (
            "(elem (i32.const 1) func $f $h)",
            Element {
                mode: active(0, &[I32Const(1)]),
                ty: ValType::FuncRef,
                items: funcs(&[0, 1]),
            },
        ),
        (
            "(elem (table $t2) (global.get $g) func $h)",
            Element { mode: active(1, &[GlobalGet(0)]), ty: ValType::FuncRef, items: funcs(&[1]) },
        ),
        (
            "(elem func $h $f)",
            Element { mode: ElementMode::Passive, ty: ValType::FuncRef, items: funcs(&[1, 0]) },
        ),
        (
            "(elem func)",
            Element { mode: ElementMode::Passive, ty: ValType::FuncRef, items: funcs(&[]) },
        ),
        (
            "(elem declare func $f)",
            Element { mode: ElementMode::Declared, ty: ValType::FuncRef, items: funcs(&[0]) },
        ),
        (
            "(elem (i32.const 0) funcref (ref.func $f) (ref.null func))",
            Element {
                mode: active(0, &[I32Const(0)]),
                ty: ValType::FuncRef,
                items: exprs(&[&[RefFunc(0)], &[RefNull(ValType::FuncRef)]]),
            },
        ),
        (
            "(elem (table $t2) (i32.const 3) funcref (item ref.func $h))",
            Element {
                mode: active(1, &[I32Const(3)]),
                ty: ValType::FuncRef,
                items: exprs(&[&[RefFunc(1)]]),
            },
        ),
        (
            "(elem funcref (item ref.func $h) (item ref.null func))",
            Element {
                mode: ElementMode::Passive,
                ty: ValType::FuncRef,
                items: exprs(&[&[RefFunc(1)], &[RefNull(ValType::FuncRef)]]),
            },
        ),
        (
            "(elem declare funcref (item ref.func $h))",
            Element {
                mode: ElementMode::Declared,
                ty: ValType::FuncRef,
                items: exprs(&[&[RefFunc(1)]]),
            },
        ),
        (
            "(elem (table $te) (i32.const 2) externref (ref.null extern))",
            Element {
                mode: active(2, &[I32Const(2)]),
                ty: ValType::ExternRef,
                items: exprs(&[&[RefNull(ValType::ExternRef)]]),
            },
        ),
        (
            "(elem externref (ref.null extern) (ref.null extern))",
            Element {
                mode: ElementMode::Passive,
                ty: ValType::ExternRef,
                items: exprs(&[&[RefNull(ValType::ExternRef)], &[RefNull(ValType::ExternRef)]]),
            },
        ),
    ];
    for (elem, want) in cases {
        let source = format!(
            r#"(module (import "e" "g" (global $g i32))
                (table $t1 4 funcref) (table $t2 4 funcref) (table $te 4 externref)
                (func $f) (func $h) {elem})"#
        );
        let m = decode_wat(&source, Features::V2);
        assert_eq!(m.elements, [want], "{elem}");
        assert_eq!(m.elements[0].items.len(), m.elements[0].items.len());
    }
}

#[test]
fn constant_expressions() {
    use ConstOp::*;
    let v128 = 0x0f0e0d0c_0b0a0908_07060504_03020100u128;
    let cases: Vec<(&str, &str, Vec<ConstOp>)> = vec![
        ("i32", "(i32.const -1)", vec![I32Const(-1)]),
        ("i64", "(i64.const 0x7fffffffffffffff)", vec![I64Const(i64::MAX)]),
        ("f32", "(f32.const -0.5)", vec![F32Const((-0.5f32).to_bits())]),
        ("f64", "(f64.const nan:0x1)", vec![F64Const(0x7ff0_0000_0000_0001)]),
        ("v128", "(v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)", vec![V128Const(v128)]),
        ("funcref", "(ref.null func)", vec![RefNull(ValType::FuncRef)]),
        ("externref", "(ref.null extern)", vec![RefNull(ValType::ExternRef)]),
        ("funcref", "(ref.func $f)", vec![RefFunc(1)]),
        ("i32", "(global.get $imported)", vec![GlobalGet(0)]),
        (
            "i32",
            "(i32.mul (i32.sub (i32.add (global.get $imported) (i32.const 4)) (i32.const 1)) (i32.const 2))",
            vec![GlobalGet(0), I32Const(4), I32Add, I32Const(1), I32Sub, I32Const(2), I32Mul],
        ),
        (
            "i64",
            "(i64.mul (i64.sub (i64.add (i64.const 1) (i64.const 2)) (i64.const 3)) (i64.const 4))",
            vec![I64Const(1), I64Const(2), I64Add, I64Const(3), I64Sub, I64Const(4), I64Mul],
        ),
    ];
    for (ty, init, want) in cases {
        let source = format!(
            r#"(module (import "e" "f" (func)) (import "e" "g" (global $imported i32))
                (func $f) (elem declare func $f)
                (global {ty} {init}))"#
        );
        let m = decode_wat(&source, Features::V2 | Features::EXTENDED_CONST);
        assert_eq!(m.defined_globals[0].init.ops[..], want[..], "{init}");
    }

    // Extended constant expressions need their feature.
    let wasm = wat("(module (global i32 (i32.add (i32.const 1) (i32.const 2))))");
    let err = decode(&wasm, Features::V2).unwrap_err();
    assert!(err.message().contains("constant expression"), "{err}");
}

#[test]
fn name_section_gives_names() {
    let cases: Vec<(&str, Names)> = vec![
        (
            "(module $m (func $a) (func $b))",
            Names { module: Some("m".into()), functions: vec![(0, "a".into()), (1, "b".into())] },
        ),
        (
            r#"(module (import "e" "f" (func $imp)) (func) (func $second))"#,
            Names { module: None, functions: vec![(0, "imp".into()), (2, "second".into())] },
        ),
        ("(module $only)", Names { module: Some("only".into()), functions: vec![] }),
        ("(module (func))", Names::default()),
    ];
    for (source, want) in cases {
        let m = decode_wat(source, Features::V2);
        assert_eq!(m.names, want, "{source}");
    }
    let m =
        decode_wat(r#"(module (import "e" "f" (func $imp)) (func) (func $second))"#, Features::V2);
    assert_eq!(m.names.function(0), Some("imp"));
    assert_eq!(m.names.function(1), None);
    assert_eq!(m.names.function(2), Some("second"));
}

/// `base` with one more custom section at its end.
fn with_custom(base: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut content = vec![name.len() as u8];
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut wasm = base.to_vec();
    wasm.push(0);
    leb(&mut wasm, content.len() as u32);
    wasm.extend_from_slice(&content);
    wasm
}

fn leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn malformed_name_section_is_ignored() {
    let base = wat("(module (func) (func))");
    let cases: &[(&str, &[u8])] = &[
        ("subsection longer than the section", &[0x01, 0x09, 0x01, 0x00]),
        ("subsection size cut", &[0x01]),
        ("function count cut", &[0x01, 0x00]),
        ("name longer than the subsection", &[0x01, 0x04, 0x01, 0x00, 0x05, b'a']),
        ("subsections out of order", &[0x01, 0x04, 0x01, 0x00, 0x01, b'a', 0x00, 0x02, 0x01, b'm']),
        ("repeated subsection", &[0x00, 0x02, 0x01, b'm', 0x00, 0x02, 0x01, b'n']),
        ("function indices out of order", &[0x01, 0x07, 0x02, 0x01, 0x01, b'a', 0x00, 0x01, b'b']),
        ("duplicate function index", &[0x01, 0x07, 0x02, 0x00, 0x01, b'a', 0x00, 0x01, b'b']),
        ("name not UTF-8", &[0x01, 0x04, 0x01, 0x00, 0x01, 0xff]),
        ("module name with trailing bytes", &[0x00, 0x03, 0x01, b'm', b'x']),
        (
            "good module name, bad function names",
            &[0x00, 0x02, 0x01, b'm', 0x01, 0x05, 0x01, 0x00, 0x09],
        ),
    ];
    for (what, payload) in cases {
        let wasm = with_custom(&base, "name", payload);
        let m = decode(&wasm, Features::V2).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(m.names, Names::default(), "{what}");
        let section = m.custom_sections.iter().find(|c| c.name == "name").expect(what);
        assert_eq!(m.slice(&section.data), *payload, "{what}");
        assert_eq!(m.bodies.len(), 2, "{what}");
    }

    // A well-formed one in the same place is read.
    let good =
        with_custom(&base, "name", &[0x00, 0x02, 0x01, b'm', 0x01, 0x04, 0x01, 0x01, 0x01, b'b']);
    let m = decode(&good, Features::V2).unwrap();
    assert_eq!(m.names, Names { module: Some("m".into()), functions: vec![(1, "b".into())] });

    // Names of functions that do not exist are dropped.
    let extra = with_custom(&base, "name", &[0x01, 0x07, 0x02, 0x01, 0x01, b'b', 0x07, 0x01, b'z']);
    let m = decode(&extra, Features::V2).unwrap();
    assert_eq!(m.names.functions, [(1, "b".to_string())]);
}

#[test]
fn custom_sections_in_order() {
    let base = wat("(module)");
    let wasm = with_custom(&with_custom(&base, "first", b"1"), "second", b"");
    let m = decode(&wasm, Features::V2).unwrap();
    let got: Vec<(&str, &[u8])> =
        m.custom_sections.iter().map(|c| (c.name.as_str(), m.slice(&c.data))).collect();
    assert_eq!(got, [("first", &b"1"[..]), ("second", &b""[..])]);
    assert_eq!(m.custom_sections[1].data, wasm.len()..wasm.len());
}

#[test]
fn data_ranges_point_into_the_binary() {
    let big = "x".repeat(300);
    let m = decode_wat(
        &format!(
            r#"(module (memory 1) (data (i32.const 0) "") (data (i32.const 1) "{big}") (data "z"))"#
        ),
        Features::V2,
    );
    let got: Vec<&[u8]> = m.data.iter().map(|d| m.slice(&d.range)).collect();
    assert_eq!(got, [&b""[..], big.as_bytes(), b"z"]);
}

#[test]
fn many_functions() {
    let mut source = String::from("(module");
    for i in 0..2000 {
        source.push_str(&format!(" (func (export \"f{i}\") (param i32) (result i32) (local i64) local.get 0 i32.const {i} i32.add)"));
    }
    source.push(')');
    let m = decode_wat(&source, Features::V2);
    assert_eq!(m.bodies.len(), 2000);
    assert_eq!(m.exports.len(), 2000);
    for pair in m.bodies.windows(2) {
        assert!(pair[0].body.end <= pair[1].body.start);
        assert_eq!(m.bytes[pair[0].code.end - 1], 0x0b);
    }
}
