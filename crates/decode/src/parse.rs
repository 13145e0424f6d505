//! Reading a validated binary into a [`Module`].
//!
//! Two walks over the binary: validation first, as `wasmparser::Validator::validate_all` does it
//! (every section, then every function body — in parallel for a large module — so that errors
//! and their order are exactly wasmparser's: a malformed section is reported before an invalid
//! function body, for example), then one `wasmparser::Parser` walk that reads the sections into
//! the [`Module`]. Operators are only looked at by the validator: the description keeps each
//! function body as byte ranges. (The function validator is instantiated in this crate, which is
//! optimised in dev builds too: unoptimised, it made decoding four times slower.)

use std::sync::Arc;

use wasmparser as wp;
use wp::{Parser, Payload, Validator};

use crate::types::{
    ConstExpr, ConstOp, CustomSection, Data, DataMode, Element, ElementItems, ElementMode, Export,
    ExternKind, FuncType, FunctionBody, Global, GlobalType, Import, ImportType, Limits, MemoryType,
    Names, Table, TableType, ValType,
};
use crate::{DecodeError, Features, Module};

/// Validates `bytes` against `features` and decodes them into a [`Module`].
///
/// The whole binary is validated (every section and every function body) before the
/// description is returned, so a `Module` is always a valid module. Any problem, malformed or
/// invalid, is a [`DecodeError`] carrying the byte offset in `bytes` where it was found.
///
/// ```
/// use keel_decode::{decode, ExternKind, Features};
///
/// let wasm = wat::parse_str(r#"(module
///     (import "env" "log" (func $log (param i32)))
///     (memory (export "memory") 1)
///     (func (export "run") i32.const 42 call $log))"#).unwrap();
/// let module = decode(&wasm, Features::V2).unwrap();
/// assert_eq!(module.num_imported_functions, 1);
/// assert_eq!(module.functions.len(), 2);
/// assert_eq!(module.export("run").unwrap().kind, ExternKind::Func);
/// assert_eq!(module.export("run").unwrap().index, 1);
///
/// let err = decode(b"\0asm\x02\0\0\0", Features::V2).unwrap_err();
/// assert_eq!(err.offset(), 4);
/// ```
pub fn decode(bytes: &[u8], features: Features) -> Result<Module, DecodeError> {
    let wasm_features = features.to_wasmparser();
    validate(bytes, wasm_features)?;

    let mut parser = Parser::new(0);
    parser.set_features(wasm_features);
    let mut builder = Builder::new(bytes, features);
    for payload in parser.parse_all(bytes) {
        builder.payload(payload?)?;
    }
    Ok(builder.finish())
}

/// Function bodies at or above which they are validated on several threads.
const PARALLEL_BODIES: usize = 64;

/// What `wasmparser::Validator::validate_all` does — every section first, then every function
/// body, the first error in that order — with the bodies of a large module validated on all
/// cores: most of the time of starting a multi-megabyte module on the tiered engine, which
/// translates nothing else before it runs.
fn validate(bytes: &[u8], features: wp::WasmFeatures) -> Result<(), wp::BinaryReaderError> {
    let mut validator = Validator::new_with_features(features);
    let mut parser = Parser::new(0);
    parser.set_features(features);
    let mut bodies = Vec::new();
    for payload in parser.parse_all(bytes) {
        if let wp::ValidPayload::Func(f, body) = validator.payload(&payload?)? {
            bodies.push((f, body));
        }
    }
    let check = |chunk: Vec<(wp::FuncToValidate<_>, wp::FunctionBody<'_>)>| {
        let mut allocs = wp::FuncValidatorAllocations::default();
        for (f, body) in chunk {
            let mut v = f.into_validator(allocs);
            v.validate(&body)?;
            allocs = v.into_allocations();
        }
        Ok(())
    };
    if bodies.len() < PARALLEL_BODIES {
        return check(bodies);
    }
    // Asked once per process: the query reads cgroup files on Linux.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads =
        *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8));
    if threads < 2 {
        return check(bodies);
    }
    let per = bodies.len().div_ceil(threads);
    let mut chunks = Vec::new();
    while !bodies.is_empty() {
        let rest = bodies.split_off(per.min(bodies.len()));
        chunks.push(std::mem::replace(&mut bodies, rest));
    }
    // In order, so that the first error is the first body's that fails, as in `validate_all`.
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks.into_iter().map(|c| s.spawn(move || check(c))).collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        results.into_iter().collect::<Result<(), _>>()
    })
}

/// The [`Module`] under construction, and what is needed to fill it.
struct Builder<'a> {
    bytes: &'a [u8],
    module: Module,
    /// Whether a well-formed name section has been read (the first one wins).
    have_names: bool,
}

fn error(offset: u64, message: impl Into<String>) -> DecodeError {
    DecodeError::new(offset as usize, message)
}

impl<'a> Builder<'a> {
    fn new(bytes: &'a [u8], features: Features) -> Self {
        Builder {
            bytes,
            module: Module {
                bytes: Arc::from(bytes),
                features,
                types: Vec::new(),
                imports: Vec::new(),
                functions: Vec::new(),
                tables: Vec::new(),
                memories: Vec::new(),
                globals: Vec::new(),
                num_imported_functions: 0,
                num_imported_tables: 0,
                num_imported_memories: 0,
                num_imported_globals: 0,
                defined_tables: Vec::new(),
                defined_globals: Vec::new(),
                bodies: Vec::new(),
                exports: Vec::new(),
                start: None,
                elements: Vec::new(),
                data: Vec::new(),
                custom_sections: Vec::new(),
                names: Names::default(),
            },
            have_names: false,
        }
    }

    /// Reads one payload the validator has accepted.
    fn payload(&mut self, payload: Payload<'a>) -> Result<(), DecodeError> {
        match payload {
            Payload::TypeSection(s) => self.types(s),
            Payload::ImportSection(s) => self.imports(s),
            Payload::FunctionSection(s) => {
                let m = &mut self.module;
                m.functions.reserve_exact(s.count() as usize);
                for ty in s {
                    m.functions.push(ty?);
                }
                Ok(())
            }
            Payload::TableSection(s) => self.tables(s),
            Payload::MemorySection(s) => {
                self.module.memories.reserve_exact(s.count() as usize);
                for item in s.into_iter_with_offsets() {
                    let (offset, ty) = item?;
                    self.module.memories.push(memory_type(&ty, offset)?);
                }
                Ok(())
            }
            Payload::GlobalSection(s) => {
                let m = &mut self.module;
                m.defined_globals.reserve_exact(s.count() as usize);
                for item in s.into_iter_with_offsets() {
                    let (offset, global) = item?;
                    let ty = global_type(&global.ty, offset)?;
                    m.globals.push(ty);
                    m.defined_globals.push(Global { ty, init: const_expr(&global.init_expr)? });
                }
                Ok(())
            }
            Payload::ExportSection(s) => {
                let m = &mut self.module;
                m.exports.reserve_exact(s.count() as usize);
                for item in s.into_iter_with_offsets() {
                    let (offset, export) = item?;
                    let kind = match export.kind {
                        wp::ExternalKind::Func => ExternKind::Func,
                        wp::ExternalKind::Table => ExternKind::Table,
                        wp::ExternalKind::Memory => ExternKind::Memory,
                        wp::ExternalKind::Global => ExternKind::Global,
                        other => {
                            return Err(error(
                                offset,
                                format!("{other:?} exports are not supported"),
                            ));
                        }
                    };
                    m.exports.push(Export { name: export.name.into(), kind, index: export.index });
                }
                Ok(())
            }
            Payload::StartSection { func, .. } => {
                self.module.start = Some(func);
                Ok(())
            }
            Payload::ElementSection(s) => self.elements(s),
            Payload::DataSection(s) => self.data(s),
            Payload::CustomSection(s) => {
                self.custom(&s);
                Ok(())
            }
            Payload::CodeSectionStart { count, .. } => {
                self.module.bodies.reserve_exact(count as usize);
                Ok(())
            }
            Payload::CodeSectionEntry(body) => self.body(&body),
            Payload::TagSection(s) => {
                Err(error(s.range().start, "exception tags are not supported"))
            }
            // Version, data count (the validator checked it), end: nothing to record.
            _ => Ok(()),
        }
    }

    fn types(&mut self, section: wp::TypeSectionReader<'a>) -> Result<(), DecodeError> {
        self.module.types.reserve_exact(section.count() as usize);
        for item in section.into_iter_with_offsets() {
            let (offset, group) = item?;
            if group.is_explicit_rec_group() && group.types().len() != 1 {
                return Err(error(
                    offset,
                    format!(
                        "a recursive group of {} types is not supported (only function types are)",
                        group.types().len()
                    ),
                ));
            }
            for sub in group.types() {
                if !sub.is_final || !sub.supertype_idxs.is_empty() {
                    return Err(error(offset, "subtyping (GC proposal) is not supported"));
                }
                if sub.composite_type.shared {
                    return Err(error(offset, "shared types are not supported"));
                }
                let func = match &sub.composite_type.inner {
                    wp::CompositeInnerType::Func(f) => f,
                    wp::CompositeInnerType::Struct(_) => {
                        return Err(error(offset, "struct types (GC proposal) are not supported"));
                    }
                    wp::CompositeInnerType::Array(_) => {
                        return Err(error(offset, "array types (GC proposal) are not supported"));
                    }
                    wp::CompositeInnerType::Cont(_) => {
                        return Err(error(offset, "continuation types are not supported"));
                    }
                };
                let list = |tys: &[wp::ValType]| -> Result<Box<[ValType]>, DecodeError> {
                    tys.iter().map(|t| val_type(*t, offset)).collect()
                };
                self.module.types.push(FuncType {
                    params: list(func.params())?,
                    results: list(func.results())?,
                });
            }
        }
        Ok(())
    }

    fn imports(&mut self, section: wp::ImportSectionReader<'a>) -> Result<(), DecodeError> {
        let m = &mut self.module;
        m.imports.reserve(section.count() as usize);
        for item in section.into_imports_with_offsets() {
            let (offset, import) = item?;
            let ty = match import.ty {
                wp::TypeRef::Func(index) => {
                    m.functions.push(index);
                    m.num_imported_functions += 1;
                    ImportType::Func(index)
                }
                wp::TypeRef::Table(t) => {
                    let ty = table_type(&t, offset)?;
                    m.tables.push(ty);
                    m.num_imported_tables += 1;
                    ImportType::Table(ty)
                }
                wp::TypeRef::Memory(t) => {
                    let ty = memory_type(&t, offset)?;
                    m.memories.push(ty);
                    m.num_imported_memories += 1;
                    ImportType::Memory(ty)
                }
                wp::TypeRef::Global(t) => {
                    let ty = global_type(&t, offset)?;
                    m.globals.push(ty);
                    m.num_imported_globals += 1;
                    ImportType::Global(ty)
                }
                wp::TypeRef::Tag(_) => {
                    return Err(error(offset, "importing an exception tag is not supported"));
                }
                wp::TypeRef::FuncExact(_) => {
                    return Err(error(offset, "exact function imports are not supported"));
                }
            };
            m.imports.push(Import { module: import.module.into(), name: import.name.into(), ty });
        }
        Ok(())
    }

    fn tables(&mut self, section: wp::TableSectionReader<'a>) -> Result<(), DecodeError> {
        let m = &mut self.module;
        m.defined_tables.reserve_exact(section.count() as usize);
        for item in section.into_iter_with_offsets() {
            let (offset, table) = item?;
            let ty = table_type(&table.ty, offset)?;
            let init = match &table.init {
                wp::TableInit::RefNull => None,
                wp::TableInit::Expr(expr) => Some(const_expr(expr)?),
            };
            m.tables.push(ty);
            m.defined_tables.push(Table { ty, init });
        }
        Ok(())
    }

    fn elements(&mut self, section: wp::ElementSectionReader<'a>) -> Result<(), DecodeError> {
        let m = &mut self.module;
        m.elements.reserve_exact(section.count() as usize);
        for element in section {
            let element = element?;
            let offset = element.range.start;
            let mode = match &element.kind {
                wp::ElementKind::Passive => ElementMode::Passive,
                wp::ElementKind::Declared => ElementMode::Declared,
                wp::ElementKind::Active { table_index, offset_expr } => ElementMode::Active {
                    table: table_index.unwrap_or(0),
                    offset: const_expr(offset_expr)?,
                },
            };
            let (ty, items) = match element.items {
                wp::ElementItems::Functions(funcs) => {
                    let funcs = funcs.into_iter().collect::<Result<Box<[u32]>, _>>()?;
                    (ValType::FuncRef, ElementItems::Functions(funcs))
                }
                wp::ElementItems::Expressions(ty, exprs) => {
                    let ty = ref_type(ty, offset)?;
                    let mut items = Vec::with_capacity(exprs.count() as usize);
                    for expr in exprs {
                        items.push(const_expr(&expr?)?);
                    }
                    (ty, ElementItems::Exprs(items.into()))
                }
            };
            m.elements.push(Element { mode, ty, items });
        }
        Ok(())
    }

    fn data(&mut self, section: wp::DataSectionReader<'a>) -> Result<(), DecodeError> {
        let m = &mut self.module;
        m.data.reserve_exact(section.count() as usize);
        for data in section {
            let data = data?;
            let mode = match &data.kind {
                wp::DataKind::Passive => DataMode::Passive,
                wp::DataKind::Active { memory_index, offset_expr } => {
                    DataMode::Active { memory: *memory_index, offset: const_expr(offset_expr)? }
                }
            };
            let start = slice_offset(self.bytes, data.data);
            m.data.push(Data { mode, range: start..start + data.data.len() });
        }
        Ok(())
    }

    fn custom(&mut self, section: &wp::CustomSectionReader<'a>) {
        let range = section.data_range();
        self.module.custom_sections.push(CustomSection {
            name: section.name().into(),
            data: range.start as usize..range.end as usize,
        });
        if self.have_names {
            return;
        }
        // The spec asks that a malformed name section be ignored, not rejected.
        if let wp::KnownCustom::Name(reader) = section.as_known()
            && let Ok(names) = read_names(reader)
        {
            self.module.names = names;
            self.have_names = true;
        }
    }

    /// Reads one function body: its locals and its ranges.
    fn body(&mut self, body: &wp::FunctionBody<'a>) -> Result<(), DecodeError> {
        let range = body.range();
        let mut reader = body.get_locals_reader()?;
        let mut locals = Vec::with_capacity(reader.get_count() as usize);
        for _ in 0..reader.get_count() {
            let offset = reader.original_position();
            let (count, ty) = reader.read()?;
            locals.push((count, val_type(ty, offset)?));
        }
        let code_start = reader.get_binary_reader().original_position();
        self.module.bodies.push(FunctionBody {
            locals: locals.into(),
            code: code_start as usize..range.end as usize,
            body: range.start as usize..range.end as usize,
        });
        Ok(())
    }

    fn finish(mut self) -> Module {
        // Names for functions that do not exist are of no use to anyone.
        let count = self.module.functions.len() as u64;
        self.module.names.functions.retain(|(index, _)| u64::from(*index) < count);
        self.module
    }
}

/// Where `part` (a subslice of `whole`) starts in `whole`.
fn slice_offset(whole: &[u8], part: &[u8]) -> usize {
    let at = part.as_ptr() as usize - whole.as_ptr() as usize;
    debug_assert!(at + part.len() <= whole.len());
    at
}

/// The module and function names of a name section, or the first reason it is malformed.
fn read_names(reader: wp::NameSectionReader<'_>) -> wp::Result<Names> {
    let mut names = Names::default();
    for subsection in reader {
        match subsection? {
            wp::Name::Module { name, .. } => names.module = Some(name.into()),
            wp::Name::Function(map) => {
                // The reader checks that indices are strictly increasing, so this stays sorted.
                for naming in map {
                    let naming = naming?;
                    names.functions.push((naming.index, naming.name.into()));
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

fn val_type(ty: wp::ValType, offset: u64) -> Result<ValType, DecodeError> {
    Ok(match ty {
        wp::ValType::I32 => ValType::I32,
        wp::ValType::I64 => ValType::I64,
        wp::ValType::F32 => ValType::F32,
        wp::ValType::F64 => ValType::F64,
        wp::ValType::V128 => ValType::V128,
        wp::ValType::Ref(r) => ref_type(r, offset)?,
    })
}

fn ref_type(ty: wp::RefType, offset: u64) -> Result<ValType, DecodeError> {
    if ty == wp::RefType::FUNCREF {
        Ok(ValType::FuncRef)
    } else if ty == wp::RefType::EXTERNREF {
        Ok(ValType::ExternRef)
    } else {
        Err(error(offset, format!("reference type {ty} is not supported")))
    }
}

fn limits(min: u64, max: Option<u64>) -> Limits {
    Limits { min, max }
}

fn table_type(ty: &wp::TableType, offset: u64) -> Result<TableType, DecodeError> {
    if ty.table64 {
        return Err(error(offset, "64-bit tables are not supported"));
    }
    if ty.shared {
        return Err(error(offset, "shared tables are not supported"));
    }
    Ok(TableType {
        element: ref_type(ty.element_type, offset)?,
        limits: limits(ty.initial, ty.maximum),
    })
}

fn memory_type(ty: &wp::MemoryType, offset: u64) -> Result<MemoryType, DecodeError> {
    if ty.page_size_log2.is_some() {
        return Err(error(offset, "custom page sizes are not supported"));
    }
    Ok(MemoryType {
        limits: limits(ty.initial, ty.maximum),
        shared: ty.shared,
        memory64: ty.memory64,
    })
}

fn global_type(ty: &wp::GlobalType, offset: u64) -> Result<GlobalType, DecodeError> {
    if ty.shared {
        return Err(error(offset, "shared globals are not supported"));
    }
    Ok(GlobalType { content: val_type(ty.content_type, offset)?, mutable: ty.mutable })
}

/// Converts a constant expression, up to its final `end`.
fn const_expr(expr: &wp::ConstExpr<'_>) -> Result<ConstExpr, DecodeError> {
    let mut reader = expr.get_operators_reader();
    let mut ops = Vec::with_capacity(1);
    loop {
        let (op, offset) = reader.read_with_offset()?;
        ops.push(match op {
            wp::Operator::End => break,
            wp::Operator::I32Const { value } => ConstOp::I32Const(value),
            wp::Operator::I64Const { value } => ConstOp::I64Const(value),
            wp::Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            wp::Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            wp::Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
            wp::Operator::RefNull { hty } => ConstOp::RefNull(match hty {
                wp::HeapType::FUNC => ValType::FuncRef,
                wp::HeapType::EXTERN => ValType::ExternRef,
                _ => return Err(error(offset, format!("ref.null of {hty:?} is not supported"))),
            }),
            wp::Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            wp::Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            wp::Operator::I32Add => ConstOp::I32Add,
            wp::Operator::I32Sub => ConstOp::I32Sub,
            wp::Operator::I32Mul => ConstOp::I32Mul,
            wp::Operator::I64Add => ConstOp::I64Add,
            wp::Operator::I64Sub => ConstOp::I64Sub,
            wp::Operator::I64Mul => ConstOp::I64Mul,
            other => {
                return Err(error(
                    offset,
                    format!("{other:?} is not supported in a constant expression"),
                ));
            }
        });
    }
    Ok(ConstExpr { ops: ops.into() })
}
