//! The module description: what a validated binary declares, in the shape the runtime and both
//! engines consume. Function bodies stay as byte ranges into [`Module::bytes`]; engines read their
//! operators again with `wasmparser` when they translate them.

use std::ops::Range;
use std::sync::Arc;

/// A value type of Core Wasm 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector.
    V128,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable opaque host reference.
    ExternRef,
}

impl ValType {
    /// How many 64-bit value slots a value of this type occupies (2 for `v128`, else 1).
    pub fn slots(self) -> usize {
        if self == ValType::V128 { 2 } else { 1 }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl std::fmt::Display for ValType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Parameter types, in order.
    pub params: Box<[ValType]>,
    /// Result types, in order.
    pub results: Box<[ValType]>,
}

impl FuncType {
    /// A signature from parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }
}

impl std::fmt::Display for FuncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, tys: &[ValType]| -> std::fmt::Result {
            f.write_str("(")?;
            for (i, t) in tys.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{t}")?;
            }
            f.write_str(")")
        };
        list(f, &self.params)?;
        f.write_str(" -> ")?;
        list(f, &self.results)
    }
}

/// Minimum and optional maximum of a memory (in 64 KiB pages) or a table (in elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Initial size.
    pub min: u64,
    /// Largest size it may grow to, if declared.
    pub max: Option<u64>,
}

impl Limits {
    /// Whether limits `self` (of an actual extern) satisfy the declared import limits `import`:
    /// at least as large a minimum and a maximum no larger than the import's.
    pub fn matches(&self, import: &Limits) -> bool {
        self.min >= import.min
            && match (import.max, self.max) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(want), Some(have)) => have <= want,
            }
    }
}

/// A memory's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryType {
    /// Size limits in pages.
    pub limits: Limits,
    /// Whether the memory is shared between threads (threads proposal).
    pub shared: bool,
    /// Whether addresses are 64-bit (memory64 proposal).
    pub memory64: bool,
}

/// A table's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableType {
    /// Element type: `FuncRef` or `ExternRef`.
    pub element: ValType,
    /// Size limits in elements.
    pub limits: Limits,
}

/// A global's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalType {
    /// Type of the value.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// One operator of a constant expression. A constant expression is a sequence of these,
/// evaluated on a small stack; it always leaves exactly one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstOp {
    /// Push an i32.
    I32Const(i32),
    /// Push an i64.
    I64Const(i64),
    /// Push an f32 by its bits.
    F32Const(u32),
    /// Push an f64 by its bits.
    F64Const(u64),
    /// Push a v128.
    V128Const(u128),
    /// Push a null reference of the given type.
    RefNull(ValType),
    /// Push a reference to function `index` of the module's function index space.
    RefFunc(u32),
    /// Push the value of global `index` (an imported global, or any earlier one with GC).
    GlobalGet(u32),
    /// i32.add of the two top values (extended-const).
    I32Add,
    /// i32.sub of the two top values (extended-const).
    I32Sub,
    /// i32.mul of the two top values (extended-const).
    I32Mul,
    /// i64.add of the two top values (extended-const).
    I64Add,
    /// i64.sub of the two top values (extended-const).
    I64Sub,
    /// i64.mul of the two top values (extended-const).
    I64Mul,
}

/// A constant expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstExpr {
    /// Operators in order.
    pub ops: Box<[ConstOp]>,
}

/// What an import or export refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
}

impl std::fmt::Display for ExternKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExternKind::Func => "function",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
        })
    }
}

/// The type an import asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportType {
    /// A function of the signature at this index of [`Module::types`].
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

impl ImportType {
    /// The kind of extern.
    pub fn kind(&self) -> ExternKind {
        match self {
            ImportType::Func(_) => ExternKind::Func,
            ImportType::Table(_) => ExternKind::Table,
            ImportType::Memory(_) => ExternKind::Memory,
            ImportType::Global(_) => ExternKind::Global,
        }
    }
}

/// An import.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Name of the module it comes from.
    pub module: String,
    /// Name within that module.
    pub name: String,
    /// What it must be.
    pub ty: ImportType,
}

/// An export: a name for an item of one of the index spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Exported name.
    pub name: String,
    /// Which index space.
    pub kind: ExternKind,
    /// Index in that space (imports first, then definitions).
    pub index: u32,
}

/// A defined global.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    /// Its type.
    pub ty: GlobalType,
    /// Its initial value.
    pub init: ConstExpr,
}

/// A defined table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Its type.
    pub ty: TableType,
    /// Initial value of every element (function-references proposal), else null.
    pub init: Option<ConstExpr>,
}

/// How an element segment is used.
#[derive(Debug, Clone, PartialEq)]
pub enum ElementMode {
    /// Copied into `table` at `offset` during instantiation, then dropped.
    Active {
        /// Table index.
        table: u32,
        /// Start offset in the table.
        offset: ConstExpr,
    },
    /// Available to `table.init` until `elem.drop`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Debug, Clone, PartialEq)]
pub enum ElementItems {
    /// Function indices (the compact form).
    Functions(Box<[u32]>),
    /// One constant expression per item.
    Exprs(Box<[ConstExpr]>),
}

impl ElementItems {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElementItems::Functions(f) => f.len(),
            ElementItems::Exprs(e) => e.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Active, passive or declared.
    pub mode: ElementMode,
    /// Reference type of the items.
    pub ty: ValType,
    /// The items.
    pub items: ElementItems,
}

/// How a data segment is used.
#[derive(Debug, Clone, PartialEq)]
pub enum DataMode {
    /// Copied into `memory` at `offset` during instantiation, then dropped.
    Active {
        /// Memory index.
        memory: u32,
        /// Start offset in the memory.
        offset: ConstExpr,
    },
    /// Available to `memory.init` until `data.drop`.
    Passive,
}

/// A data segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// Active or passive.
    pub mode: DataMode,
    /// The bytes: a range of [`Module::bytes`].
    pub range: Range<usize>,
}

/// The body of a defined function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionBody {
    /// Declared locals (beyond the parameters), run-length encoded as in the binary.
    pub locals: Box<[(u32, ValType)]>,
    /// The operators: a range of [`Module::bytes`], from just after the locals to the final `end`
    /// included. Read it with [`Module::operators_reader`] (a `wasmparser::OperatorsReader` over
    /// a `BinaryReader` created at `code.start`), so that offsets stay those of the binary.
    pub code: Range<usize>,
    /// The whole body (locals included) as a range of [`Module::bytes`]; what
    /// `wasmparser::FunctionBody::new` takes.
    pub body: Range<usize>,
}

/// A custom section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomSection {
    /// Section name.
    pub name: String,
    /// Its payload: a range of [`Module::bytes`].
    pub data: Range<usize>,
}

/// What the `name` custom section says, where it could be read. A malformed name section is
/// ignored, as the spec asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The module's name.
    pub module: Option<String>,
    /// Function names by function index (imports included), sorted by index.
    pub functions: Vec<(u32, String)>,
}

impl Names {
    /// The name of function `index`, if the section gives one.
    pub fn function(&self, index: u32) -> Option<&str> {
        self.functions
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|at| self.functions[at].1.as_str())
    }
}

/// A validated module. Index spaces list imports first, then definitions, as in the spec.
#[derive(Debug, Clone)]
pub struct Module {
    /// The binary it was decoded from; ranges elsewhere in this struct index into it.
    pub bytes: Arc<[u8]>,
    /// The features it was validated with.
    pub features: crate::Features,
    /// Function signatures of the type section.
    pub types: Vec<FuncType>,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Type index of every function in the function index space (imports first).
    pub functions: Vec<u32>,
    /// Every table of the table index space (imports first).
    pub tables: Vec<TableType>,
    /// Every memory of the memory index space (imports first).
    pub memories: Vec<MemoryType>,
    /// Every global type of the global index space (imports first).
    pub globals: Vec<GlobalType>,
    /// Number of imported functions: defined function `i` has index `num_imported_functions + i`.
    pub num_imported_functions: u32,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Defined tables with their initialisers.
    pub defined_tables: Vec<Table>,
    /// Defined globals with their initialisers.
    pub defined_globals: Vec<Global>,
    /// Bodies of the defined functions, in order.
    pub bodies: Vec<FunctionBody>,
    /// Exports in order.
    pub exports: Vec<Export>,
    /// The start function's index.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<Element>,
    /// Data segments.
    pub data: Vec<Data>,
    /// Custom sections, in order (the name section included).
    pub custom_sections: Vec<CustomSection>,
    /// What the name section says.
    pub names: Names,
}

impl Module {
    /// The signature of function `index` of the function index space.
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.functions[index as usize] as usize]
    }

    /// The export named `name`.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }

    /// Bytes of a range of [`Module::bytes`].
    pub fn slice(&self, range: &Range<usize>) -> &[u8] {
        &self.bytes[range.clone()]
    }

    /// Number of defined (not imported) functions.
    pub fn num_defined_functions(&self) -> u32 {
        self.bodies.len() as u32
    }

    /// A `wasmparser` reader for the operators of `body` (one of [`Module::bodies`]), from just
    /// after its locals to its final `end`. Offsets it reports are offsets in [`Module::bytes`],
    /// and it parses with the module's features (memory64 changes how a `memarg` reads).
    pub fn operators_reader(&self, body: &FunctionBody) -> wasmparser::OperatorsReader<'_> {
        wasmparser::OperatorsReader::new(self.reader(&body.code))
    }

    /// `body` (one of [`Module::bodies`]) as a `wasmparser::FunctionBody`, locals included, for
    /// code that wants `wasmparser`'s own locals reader or a function validator.
    pub fn wasmparser_body(&self, body: &FunctionBody) -> wasmparser::FunctionBody<'_> {
        wasmparser::FunctionBody::new(self.reader(&body.body))
    }

    fn reader(&self, range: &Range<usize>) -> wasmparser::BinaryReader<'_> {
        wasmparser::BinaryReader::new_features(
            &self.bytes[range.clone()],
            range.start as u64,
            self.features.to_wasmparser(),
        )
    }
}
