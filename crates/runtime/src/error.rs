//! The runtime's errors, typed as wasmtime's are: each kind of failure is a variant whose fields
//! say what failed, so that callers and tests match on kinds and fields, never on message text.
//! `Display` gives the messages people read.

use keel_decode::{ExternKind, FuncType, ValType};

use crate::trap::{Trap, TrapCode};

/// Every error of the runtime's API.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The binary is malformed or invalid (with the byte offset).
    #[error("invalid module: {0}")]
    Decode(#[from] keel_decode::DecodeError),
    /// The engine could not compile the module.
    #[error("compilation failed: {0}")]
    Compile(#[from] CompileError),
    /// An import is missing or does not match.
    #[error("link error: {0}")]
    Link(#[from] LinkError),
    /// Instantiation failed before any code ran (limits, resources). A trap while
    /// instantiating (a segment out of bounds, a start function trapping) is [`Error::Trap`].
    #[error("instantiation failed: {0}")]
    Instantiate(#[from] InstantiateError),
    /// A call trapped, exited or a host function failed. (`{:#}` shows every frame of its
    /// trace, as the trap's own `Display` does.)
    #[error(transparent)]
    Trap(#[from] Trap),
    /// The API was used wrongly: unknown export, wrong argument types, another runtime's
    /// object, a name already taken...
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl Error {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    /// The guest's exit code, if it exited.
    pub fn exit_code(&self) -> Option<u32> {
        self.as_trap().and_then(Trap::exit_code)
    }
}

impl From<TrapCode> for Error {
    fn from(c: TrapCode) -> Self {
        Error::Trap(c.into())
    }
}

/// Why an engine could not compile a module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// A function's body could not be translated.
    #[error("function {func_index} (body at offset {offset:#x}): {message}")]
    Function {
        /// Its index in the function index space (imports first).
        func_index: u32,
        /// The byte offset of its body in the binary.
        offset: usize,
        /// What went wrong.
        message: String,
    },
    /// The module needs what this engine does not do (the compiler and several memories, say).
    #[error("the {engine} does not support {what}")]
    Unsupported {
        /// The engine's name.
        engine: &'static str,
        /// What it lacks.
        what: String,
    },
    /// The engine cannot run on this host (the compiler off x86_64 and aarch64).
    #[error("the {engine} does not support this host{}", detail_suffix(.detail))]
    UnsupportedHost {
        /// The engine's name.
        engine: &'static str,
        /// Why, where known.
        detail: String,
    },
    /// A compilation-cache entry could not be loaded: damaged, of another keel, or of the
    /// other variant (listening or plain). The cache recompiles instead of trusting it.
    #[error("cached code: {0}")]
    Cache(String),
    /// The engine does not load cached code at all (the interpreter).
    #[error("the {engine} does not load cached code")]
    NotCacheable {
        /// The engine's name.
        engine: &'static str,
    },
    /// Another failure of the engine: a trampoline it could not build, code memory the system
    /// refused.
    #[error("{0}")]
    Engine(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

/// An import that could not be resolved, or resolved to something of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// No module of that name is in the runtime's namespace.
    #[error(
        "import \"{module}\".\"{field}\": unknown import: module \"{module}\" is not instantiated"
    )]
    UnknownModule {
        /// The imported module's name.
        module: String,
        /// The imported field.
        field: String,
    },
    /// The module exists but exports nothing of that name.
    #[error(
        "import \"{module}\".\"{field}\": unknown import: module \"{module}\" has no export \"{field}\""
    )]
    UnknownExport {
        /// The imported module's name.
        module: String,
        /// The imported field.
        field: String,
    },
    /// The export is not of the type the import declares.
    #[error(
        "import \"{module}\".\"{field}\": incompatible import type: expected {expected}, got {found}"
    )]
    IncompatibleType {
        /// The imported module's name.
        module: String,
        /// The imported field.
        field: String,
        /// The type the import declares, as text (`function (i32) -> ()`, `memory 1..2`).
        expected: String,
        /// The type of what was found.
        found: String,
    },
}

/// Why an instance could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstantiateError {
    /// A memory's minimum is past `RuntimeConfig::memory_limit_pages` (or its own maximum).
    #[error("memory minimum of {minimum} pages exceeds the limit of {limit} pages")]
    MemoryLimit {
        /// The declared minimum, in pages.
        minimum: u64,
        /// The limit, in pages.
        limit: u64,
    },
    /// A memory's minimum is past `RuntimeConfig::memory_reservation`.
    #[error("memory minimum of {minimum} pages exceeds the reservation of {reserved} pages")]
    MemoryReservation {
        /// The declared minimum, in pages.
        minimum: u64,
        /// The reservation, in pages.
        reserved: u64,
    },
    /// A table's minimum is past the most elements a table may have.
    #[error("table minimum of {minimum} elements exceeds the limit of {limit}")]
    TableLimit {
        /// The declared minimum.
        minimum: u64,
        /// The limit.
        limit: u64,
    },
    /// The system refused memory (address space or pages).
    #[error("{0}")]
    Resources(String),
}

/// A wrong use of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A function called with arguments not of its parameter types.
    #[error("function of type {ty} called with arguments ({})", join(.given))]
    ArgumentTypes {
        /// The function's type.
        ty: FuncType,
        /// The types of the arguments given.
        given: Vec<ValType>,
    },
    /// A function asked for as a typed function of another signature.
    #[error("function of type {ty} used as ({}) -> ({})", join(.params), join(.results))]
    SignatureMismatch {
        /// The function's type.
        ty: FuncType,
        /// The parameters asked for.
        params: Vec<ValType>,
        /// The results asked for.
        results: Vec<ValType>,
    },
    /// `Func::call_raw` given fewer slots than the function needs.
    #[error("call_raw needs {needed} value slots")]
    TooFewSlots {
        /// How many it needs.
        needed: usize,
    },
    /// `Func::call_raw` of a function with reference parameters (raw references are pointers).
    #[error("call_raw cannot pass references (the function is of type {ty}): use Func::call")]
    RawReferences {
        /// The function's type.
        ty: FuncType,
    },
    /// An object of another runtime where only this runtime's may go.
    #[error("{what} of another runtime")]
    ForeignRuntime {
        /// What it was: "module", "function handed to Wasm", ...
        what: &'static str,
    },
    /// A module name already taken in the namespace.
    #[error("module \"{name}\" has already been instantiated")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No export of that name and kind.
    #[error("module \"{module}\" exports no {kind} \"{name}\"")]
    NoSuchExport {
        /// The module's name.
        module: String,
        /// The kind asked for.
        kind: ExternKind,
        /// The export's name.
        name: String,
    },
    /// A host access outside a memory.
    #[error("memory range {offset}+{len} is outside the memory's {size} bytes")]
    MemoryRange {
        /// Where it starts.
        offset: u64,
        /// How long it is.
        len: usize,
        /// The memory's size in bytes.
        size: u64,
    },
    /// A table element outside the table.
    #[error("table index {index} out of bounds")]
    TableIndex {
        /// The index.
        index: u32,
    },
    /// `Global::set` on an immutable global.
    #[error("global is immutable")]
    ImmutableGlobal,
    /// A value of the wrong type for a global or a table.
    #[error("{what} of type {expected} given a {found}")]
    ValueType {
        /// "global" or "table".
        what: &'static str,
        /// Its type.
        expected: ValType,
        /// The value's type.
        found: ValType,
    },
    /// A listener factory given at instantiation to a module compiled as plain code.
    #[error(
        "module \"{module}\" was compiled as plain code, which cannot report calls to a listener \
         factory given at instantiation: compile it with a factory \
         (CompileConfig::with_function_listener_factory, or one on the runtime)"
    )]
    PlainCode {
        /// The module's name.
        module: String,
    },
    /// A host function holds a view of guest memory (`Caller::memory`) while something
    /// would enter the guest or touch that memory through another handle: drop the view first.
    #[error("guest memory is borrowed by a host function's view (drop it before calling in)")]
    MemoryBorrowed,
    /// The engine has no compilation cache to load from (the interpreter).
    #[error("the {engine} engine does not cache its code")]
    NotCacheable {
        /// The engine's name.
        engine: &'static str,
    },
}

fn join(types: &[ValType]) -> String {
    types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_fields() {
        let ty = FuncType::new([ValType::I32], []);
        for (error, text) in [
            (
                Error::from(LinkError::IncompatibleType {
                    module: "env".into(),
                    field: "f".into(),
                    expected: "function (i32) -> ()".into(),
                    found: "memory".into(),
                }),
                "link error: import \"env\".\"f\": incompatible import type: expected function \
                 (i32) -> (), got memory",
            ),
            (
                Error::from(CompileError::Function {
                    func_index: 3,
                    offset: 0x2a,
                    message: "boom".into(),
                }),
                "compilation failed: function 3 (body at offset 0x2a): boom",
            ),
            (
                Error::from(UsageError::ArgumentTypes {
                    ty: ty.clone(),
                    given: vec![ValType::I64, ValType::F32],
                }),
                "function of type (i32) -> () called with arguments (i64, f32)",
            ),
            (
                Error::from(InstantiateError::MemoryLimit { minimum: 5, limit: 4 }),
                "instantiation failed: memory minimum of 5 pages exceeds the limit of 4 pages",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }
}
