//! Traps, exits and the errors of compiling, linking and calling.

use std::fmt;
use std::sync::Arc;

/// Why execution trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A memory access outside the memory's current size.
    MemoryOutOfBounds,
    /// A table access outside the table's current size.
    TableOutOfBounds,
    /// `call_indirect` reached a null entry.
    IndirectCallToNull,
    /// `call_indirect` reached a function of another signature.
    BadSignature,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Signed division overflow, or a float-to-int conversion out of range.
    IntegerOverflow,
    /// A float-to-int conversion of NaN.
    BadConversionToInteger,
    /// The call stack exceeded its limit.
    StackOverflow,
    /// A null reference was dereferenced.
    NullReference,
    /// The call was interrupted.
    Interrupted,
}

impl TrapCode {
    /// The message the spec tests use for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::NullReference => "null reference",
            TrapCode::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One frame of a Wasm stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module instance.
    pub module: Arc<str>,
    /// Index in the module's function index space.
    pub func_index: u32,
    /// Name from the name section, if any.
    pub func_name: Option<Arc<str>>,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => write!(f, "{}.{}", self.module, name),
            None => write!(f, "{}.${}", self.module, self.func_index),
        }
    }
}

/// What ended a call early.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TrapKind {
    /// A Wasm trap.
    Code(TrapCode),
    /// The guest asked to exit (WASI `proc_exit`, Go's `wasmExit`) with this code.
    Exit(u32),
    /// A host function failed.
    Host(Arc<dyn std::error::Error + Send + Sync>),
}

/// A trap: why a call ended early, with the Wasm stack trace at that point (innermost first).
#[derive(Debug, Clone)]
pub struct Trap {
    kind: TrapKind,
    trace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap of kind `kind` with no trace yet.
    pub fn new(kind: TrapKind) -> Self {
        Trap { kind, trace: Vec::new() }
    }

    /// A host function's error.
    pub fn host(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Trap::new(TrapKind::Host(Arc::from(error.into())))
    }

    /// An exit with `code`.
    pub fn exit(code: u32) -> Self {
        Trap::new(TrapKind::Exit(code))
    }

    /// What happened.
    pub fn kind(&self) -> &TrapKind {
        &self.kind
    }

    /// The trap code, if this is a Wasm trap.
    pub fn code(&self) -> Option<TrapCode> {
        match self.kind {
            TrapKind::Code(c) => Some(c),
            _ => None,
        }
    }

    /// The exit code, if the guest exited.
    pub fn exit_code(&self) -> Option<u32> {
        match self.kind {
            TrapKind::Exit(c) => Some(c),
            _ => None,
        }
    }

    /// The Wasm stack trace, innermost frame first.
    pub fn trace(&self) -> &[FrameInfo] {
        &self.trace
    }

    /// Appends an outer frame to the trace (engines call this while unwinding).
    pub fn push_frame(&mut self, frame: FrameInfo) {
        self.trace.push(frame);
    }
}

impl From<TrapCode> for Trap {
    fn from(code: TrapCode) -> Self {
        Trap::new(TrapKind::Code(code))
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TrapKind::Code(c) => write!(f, "wasm trap: {c}")?,
            TrapKind::Exit(c) => write!(f, "module exited with exit code {c}")?,
            TrapKind::Host(e) => write!(f, "host function failed: {e}")?,
        }
        if !self.trace.is_empty() {
            f.write_str("\nwasm stack trace:")?;
            for frame in &self.trace {
                write!(f, "\n\t{frame}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// Every error of the runtime's API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The binary is malformed or invalid.
    Decode(keel_decode::DecodeError),
    /// The engine could not compile a function.
    Compile(String),
    /// An import is missing or does not match.
    Link(String),
    /// Instantiation failed (segment out of bounds, start function trapped, limits...).
    Instantiate(String),
    /// A call trapped, exited or a host function failed.
    Trap(Trap),
    /// The API was used wrongly: unknown export, wrong argument types, closed module...
    Usage(String),
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Decode(e) => write!(f, "invalid module: {e}"),
            Error::Compile(e) => write!(f, "compilation failed: {e}"),
            Error::Link(e) => write!(f, "link error: {e}"),
            Error::Instantiate(e) => write!(f, "instantiation failed: {e}"),
            Error::Trap(t) => t.fmt(f),
            Error::Usage(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Decode(e) => Some(e),
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }
}

impl From<keel_decode::DecodeError> for Error {
    fn from(e: keel_decode::DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<Trap> for Error {
    fn from(t: Trap) -> Self {
        Error::Trap(t)
    }
}

impl From<TrapCode> for Error {
    fn from(c: TrapCode) -> Self {
        Error::Trap(c.into())
    }
}

/// So that a host function can `?` a call it makes: a trap goes on as itself (its code and
/// frames kept), any other error becomes a host trap with its message.
impl From<Error> for Trap {
    fn from(e: Error) -> Self {
        match e {
            Error::Trap(t) => t,
            other => Trap::host(other.to_string()),
        }
    }
}

/// Result of the runtime's API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
