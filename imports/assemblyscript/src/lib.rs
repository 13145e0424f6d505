#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel-assemblyscript: the host functions AssemblyScript guests import from the module `env`
//! when they are not built for WASI — `abort`, `trace` and `seed` — with wazero's semantics
//! (`imports/assemblyscript` there).
//!
//! ```no_run
//! use keel::{ModuleConfig, Runtime};
//!
//! let runtime = Runtime::new();
//! keel_assemblyscript::FunctionExporter::new()
//!     .with_trace_to_stderr()
//!     .instantiate(&runtime)?;
//! let wasm = std::fs::read("app.wasm")?;
//! let config = ModuleConfig::new().with_stderr(std::io::stderr());
//! match runtime.instantiate_bytes(&wasm, config) {
//!     Ok(_) => {}
//!     Err(e) if e.exit_code() == Some(255) => eprintln!("the guest aborted"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `abort(message, fileName, line, column)` writes `MESSAGE at FILE:LINE:COLUMN` and a newline
//!   to the instance's stderr (`ModuleConfig::with_stderr`), closes the instance and ends the
//!   call with an exit error of code 255 (`Error::exit_code`), as WASI's `proc_exit` does.
//!   [`FunctionExporter::with_abort_message_disabled`] leaves the message out.
//! - `trace(message, n, a0, ..., a4)` writes `trace: MESSAGE`, then for `n >= 1` a space and the
//!   first `n` arguments joined by commas, each as Go's `strconv.FormatFloat(x, 'g', -1, 64)`
//!   ([`keel::logging::format_float`]), and a newline — to nowhere (the default), the
//!   instance's stdout or its stderr ([`TraceOutput`]). An `n` outside `0..=5` is a trap
//!   ([`Error::TraceArgCount`]) wherever the output goes.
//! - `seed()` returns 8 bytes of the instance's random source (`ModuleConfig::with_os_random`,
//!   deterministic by default), little-endian, as the bits of an `f64`.
//!
//! Strings are AssemblyScript's: UTF-16LE, their byte length a `u32` just before them
//! ([`read_string`]). A string out of the guest's memory is a memory-out-of-bounds trap; a
//! null pointer (0) reads as `null`, as AssemblyScript's JS loader shows it; text that is not
//! valid UTF-16 is decoded lossily. A string whose output is discarded is not read.

mod logging;
mod string;

pub use logging::{LOGGED_FUNCTIONS, host_logging};
pub use string::read_string;

use keel::{Caller, FuncType, HostModuleBuilder, Module, Runtime, Trap, ValType};

/// The module name AssemblyScript's special functions are imported from.
pub const MODULE_NAME: &str = "env";

const I32: ValType = ValType::I32;
const F64: ValType = ValType::F64;

/// The functions' names and signatures, as asc declares them in `~lib/builtins`.
const SIGNATURES: &[(&str, &[ValType], &[ValType])] = &[
    ("abort", &[I32, I32, I32, I32], &[]),
    ("trace", &[I32, I32, F64, F64, F64, F64, F64], &[]),
    ("seed", &[], &[F64]),
];

/// The signature of AssemblyScript's function `name` (`abort`, `trace` or `seed`), if it is one.
pub fn signature(name: &str) -> Option<FuncType> {
    SIGNATURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, params, results)| FuncType::new(params.iter().copied(), results.iter().copied()))
}

/// Whether this crate provides an import of `name` with type `ty` from [`MODULE_NAME`]: what a
/// loader (keel's CLI) asks to tell an AssemblyScript guest's `env` from another toolchain's.
pub fn provides(name: &str, ty: &FuncType) -> bool {
    signature(name).is_some_and(|s| &s == ty)
}

/// Instantiates the functions into `runtime` as [`MODULE_NAME`], with wazero's defaults: abort
/// messages to stderr, trace discarded.
pub fn instantiate(runtime: &Runtime) -> keel::Result<Module> {
    FunctionExporter::new().instantiate(runtime)
}

/// Where `trace` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceOutput {
    /// Nowhere (the default, as wazero's).
    #[default]
    Discard,
    /// The instance's stdout (`ModuleConfig::with_stdout`).
    Stdout,
    /// The instance's stderr (`ModuleConfig::with_stderr`).
    Stderr,
}

/// A bad call of one of the functions: the host error of the trap that ends it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `trace` was called with a count of arguments outside `0..=5`.
    TraceArgCount(i32),
    /// `seed` could not read the random source.
    Random(std::io::Error),
    /// A function that needs the calling instance's system state was called from outside Wasm.
    NoInstance(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::TraceArgCount(n) => write!(f, "trace: {n} arguments, not in 0..=5"),
            Error::Random(e) => write!(f, "error reading random seed: {e}"),
            Error::NoInstance(name) => write!(f, "{name} called without a calling instance"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Random(e) => Some(e),
            _ => None,
        }
    }
}

/// Exports the functions into a host module builder, configured — wazero's
/// `assemblyscript.NewFunctionExporter`. A later `func`/`func_raw` of the same name on the
/// builder replaces the built-in one.
///
/// ```no_run
/// let runtime = keel::Runtime::new();
/// let builder = runtime.host_module(keel_assemblyscript::MODULE_NAME);
/// keel_assemblyscript::FunctionExporter::new()
///     .with_abort_message_disabled()
///     .with_trace_to_stdout()
///     .export_functions(builder)
///     .instantiate()?;
/// # Ok::<(), keel::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionExporter {
    abort_message: bool,
    trace: TraceOutput,
}

impl Default for FunctionExporter {
    fn default() -> Self {
        FunctionExporter::new()
    }
}

impl FunctionExporter {
    /// Abort messages to stderr, trace discarded (wazero's defaults).
    pub fn new() -> Self {
        FunctionExporter { abort_message: true, trace: TraceOutput::Discard }
    }

    /// `abort` writes no message; it still exits with 255 (wazero's
    /// `WithAbortMessageDisabled`).
    pub fn with_abort_message_disabled(mut self) -> Self {
        self.abort_message = false;
        self
    }

    /// `trace` writes to `output`.
    pub fn with_trace(mut self, output: TraceOutput) -> Self {
        self.trace = output;
        self
    }

    /// `trace` writes to the instance's stdout (wazero's `WithTraceToStdout`).
    pub fn with_trace_to_stdout(self) -> Self {
        self.with_trace(TraceOutput::Stdout)
    }

    /// `trace` writes to the instance's stderr (wazero's `WithTraceToStderr`).
    pub fn with_trace_to_stderr(self) -> Self {
        self.with_trace(TraceOutput::Stderr)
    }

    /// Names of the exported functions.
    pub fn function_names() -> impl Iterator<Item = &'static str> {
        SIGNATURES.iter().map(|(n, _, _)| *n)
    }

    /// Adds `abort`, `trace` and `seed` to `builder`.
    pub fn export_functions(self, builder: HostModuleBuilder) -> HostModuleBuilder {
        let ty = |name| signature(name).expect("a known function");
        let abort_message = self.abort_message;
        let output = self.trace;
        builder
            .func_raw("abort", ty("abort"), move |caller, values| {
                abort(caller, values, abort_message)
            })
            .func_raw("trace", ty("trace"), move |caller, values| trace(caller, values, output))
            .func_raw("seed", ty("seed"), seed)
    }

    /// Instantiates the functions into `runtime` as [`MODULE_NAME`].
    pub fn instantiate(self, runtime: &Runtime) -> keel::Result<Module> {
        self.export_functions(runtime.host_module(MODULE_NAME)).instantiate()
    }
}

/// A string argument: `null` for the null pointer, else the string at `ptr`.
fn string_arg(caller: &mut Caller<'_>, ptr: u64) -> Result<String, Trap> {
    match ptr as u32 {
        0 => Ok("null".into()),
        ptr => read_string(caller, ptr),
    }
}

/// Writes `text` to the instance's stdout or stderr; a failed write is ignored (as wazero).
fn write_out(caller: &Caller<'_>, stderr: bool, text: &str) {
    if let Some(sys) = caller.sys() {
        let _ = sys.lock().write_out(stderr, text.as_bytes());
    }
}

/// `abort(message, fileName, lineNumber, columnNumber)`.
fn abort(caller: &mut Caller<'_>, values: &mut [u64], message: bool) -> Result<(), Trap> {
    if message {
        let msg = string_arg(caller, values[0])?;
        let file = string_arg(caller, values[1])?;
        let (line, column) = (values[2] as u32, values[3] as u32);
        write_out(caller, true, &format!("{msg} at {file}:{line}:{column}\n"));
    }
    // AssemblyScript expects 255, as its wasi-shim's abort exits with.
    caller.close_module();
    Err(Trap::exit(255))
}

/// `trace(message, nArgs, arg0, ..., arg4)`.
fn trace(caller: &mut Caller<'_>, values: &mut [u64], output: TraceOutput) -> Result<(), Trap> {
    let n = values[1] as u32 as i32;
    if !(0..=5).contains(&n) {
        return Err(Trap::host(Error::TraceArgCount(n)));
    }
    let stderr = match output {
        TraceOutput::Discard => return Ok(()),
        TraceOutput::Stdout => false,
        TraceOutput::Stderr => true,
    };
    let mut line = format!("trace: {}", string_arg(caller, values[0])?);
    for (i, v) in values[2..2 + n as usize].iter().enumerate() {
        line.push(if i == 0 { ' ' } else { ',' });
        line.push_str(&keel::logging::format_float(f64::from_bits(*v)));
    }
    line.push('\n');
    write_out(caller, stderr, &line);
    Ok(())
}

/// `seed() -> f64`: 8 random bytes, little-endian, as the bits of an `f64`.
fn seed(caller: &mut Caller<'_>, values: &mut [u64]) -> Result<(), Trap> {
    let sys = caller.sys().ok_or_else(|| Trap::host(Error::NoInstance("seed")))?;
    let mut buf = [0u8; 8];
    sys.lock().random(&mut buf).map_err(|e| Trap::host(Error::Random(e)))?;
    values[0] = u64::from_le_bytes(buf);
    Ok(())
}
