//! Host logging (wazero's `--hostlogging`): a [`FunctionListenerFactory`] that writes one line
//! before and one after each call of chosen host functions, with decoded parameters, results and
//! errno names:
//!
//! ```text
//! ==> wasi_snapshot_preview1.fd_write(fd=1,iovs=65536,iovs_len=1)
//! <== (nwritten=6,errno=ESUCCESS)
//! ```
//!
//! Import sets describe their functions with [`LoggedFunction`] tables (names, kinds and scopes
//! of the parameters; keel-wasi's is `keel_wasi::logged_functions`); this module only formats.
//! Results a function writes to guest memory through pointer parameters ([`ParamKind::OutU32`],
//! ...) are read back from memory after the call, and left empty when the errno is not success.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
use crate::trap::{FrameInfo, Trap};
use crate::vm::Caller;

/// Which host functions to log: a set of scopes, as wazero's `logging.LogScopes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogScopes(pub u32);

impl LogScopes {
    /// Nothing.
    pub const NONE: LogScopes = LogScopes(0);
    /// Clocks (`clock_time_get`, `clock_res_get`).
    pub const CLOCK: LogScopes = LogScopes(1);
    /// Process exit (`proc_exit`, `proc_raise`).
    pub const PROC: LogScopes = LogScopes(1 << 1);
    /// File systems (`fd_*`, `path_*`).
    pub const FILESYSTEM: LogScopes = LogScopes(1 << 2);
    /// Memory (host functions that reset or grow guest memory; none in WASI).
    pub const MEMORY: LogScopes = LogScopes(1 << 3);
    /// Polling (`poll_oneoff`).
    pub const POLL: LogScopes = LogScopes(1 << 4);
    /// Random (`random_get`).
    pub const RANDOM: LogScopes = LogScopes(1 << 5);
    /// Sockets (`sock_*`).
    pub const SOCK: LogScopes = LogScopes(1 << 6);
    /// Every function, those of no scope (`args_get`, `sched_yield`, ...) included.
    pub const ALL: LogScopes = LogScopes(u32::MAX);

    /// Scopes by name, as the CLI's `--hostlogging` takes them.
    pub const NAMES: &[(&str, LogScopes)] = &[
        ("all", LogScopes::ALL),
        ("clock", LogScopes::CLOCK),
        ("filesystem", LogScopes::FILESYSTEM),
        ("memory", LogScopes::MEMORY),
        ("poll", LogScopes::POLL),
        ("proc", LogScopes::PROC),
        ("random", LogScopes::RANDOM),
        ("sock", LogScopes::SOCK),
    ];

    /// Parses `filesystem,memory` (comma-separated names of [`LogScopes::NAMES`]).
    pub fn parse(s: &str) -> Result<LogScopes, String> {
        let mut scopes = LogScopes::NONE;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match LogScopes::NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, sc)) => scopes = scopes | *sc,
                None => return Err(format!("invalid scope: {name}")),
            }
        }
        Ok(scopes)
    }

    /// Whether a function of `scope` is logged under these scopes: functions without a scope
    /// only with [`LogScopes::ALL`].
    pub fn logs(self, scope: LogScopes) -> bool {
        if scope == LogScopes::NONE { self == LogScopes::ALL } else { self.0 & scope.0 != 0 }
    }
}

impl std::ops::BitOr for LogScopes {
    type Output = LogScopes;
    fn bitor(self, rhs: LogScopes) -> LogScopes {
        LogScopes(self.0 | rhs.0)
    }
}

/// How to show one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A signed 32-bit integer.
    I32,
    /// An unsigned 32-bit integer (descriptors, flags, lengths, addresses shown as numbers).
    U32,
    /// A signed 64-bit integer.
    I64,
    /// An unsigned 64-bit integer.
    U64,
    /// The address of a string in guest memory whose length is the next parameter (a
    /// [`ParamKind::Len`]): shown as the string.
    String,
    /// The length of the preceding string: not shown.
    Len,
    /// A pointer the function writes a `u32` result through: not shown before the call; shown
    /// among the results, read back from memory.
    OutU32,
    /// As [`ParamKind::OutU32`] for a `u64`.
    OutU64,
    /// An `f64`, shown as Go's `strconv.FormatFloat(x, 'g', -1, 64)` ([`format_float`]).
    F64,
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// Nothing.
    None,
    /// A WASI errno (`errno=ESUCCESS`).
    Errno,
    /// An `i32`.
    I32,
    /// An `f64` with this name (`rand=0.5`), shown as [`format_float`] does.
    F64(&'static str),
}

/// How to log one host function.
#[derive(Debug, Clone, Copy)]
pub struct LoggedFunction {
    /// Its export name.
    pub name: &'static str,
    /// Its scope ([`LogScopes::NONE`]: logged only with `all`).
    pub scope: LogScopes,
    /// Its parameters, in order: name and kind.
    pub params: &'static [(&'static str, ParamKind)],
    /// Its result.
    pub result: ResultKind,
}

type Writer = Arc<Mutex<Box<dyn Write + Send>>>;

/// Where log lines go: the writer of one [`HostLogging`], shared by its listeners.
#[derive(Clone)]
pub struct LogWriter(Writer);

impl LogWriter {
    /// Writes `line` (which ends with a newline) at once.
    pub fn line(&self, line: &str) {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = w.write_all(line.as_bytes());
        let _ = w.flush();
    }
}

/// Logs the host functions of one module with code of its import set, for functions a
/// [`LoggedFunction`] table cannot describe: Go's imports take one stack pointer and find their
/// arguments in the guest's memory (keel-gojs's logger decodes them).
pub trait ModuleLogger: Send + Sync {
    /// The listener of the host function `name` under `scopes`, writing to `out`; `None` for a
    /// function without log lines under these scopes.
    fn listener(
        &self,
        name: &str,
        scopes: LogScopes,
        out: LogWriter,
    ) -> Option<Arc<dyn FunctionListener>>;
}

/// The host-logging listener factory.
#[derive(Clone)]
pub struct HostLogging {
    writer: Writer,
    scopes: LogScopes,
    modules: HashMap<String, HashMap<&'static str, &'static LoggedFunction>>,
    loggers: HashMap<String, Arc<dyn ModuleLogger>>,
}

impl HostLogging {
    /// Logs to `writer` the functions of `scopes`; add the import sets' tables with
    /// [`HostLogging::with_functions`].
    pub fn new(writer: impl Write + Send + 'static, scopes: LogScopes) -> HostLogging {
        HostLogging {
            writer: Arc::new(Mutex::new(Box::new(writer))),
            scopes,
            modules: HashMap::new(),
            loggers: HashMap::new(),
        }
    }

    /// Logs the host functions of the module named `module` with `logger`.
    pub fn with_logger(
        mut self,
        module: impl Into<String>,
        logger: Arc<dyn ModuleLogger>,
    ) -> HostLogging {
        self.loggers.insert(module.into(), logger);
        self
    }

    /// Describes the host functions of the module named `module`.
    pub fn with_functions(
        mut self,
        module: impl Into<String>,
        functions: &'static [LoggedFunction],
    ) -> HostLogging {
        let map = self.modules.entry(module.into()).or_default();
        for f in functions {
            map.insert(f.name, f);
        }
        self
    }
}

impl FunctionListenerFactory for HostLogging {
    fn new_listener(&self, def: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
        if !def.is_host {
            return None;
        }
        if let Some(logger) = self.loggers.get(&*def.module) {
            return logger.listener(
                def.name.as_deref()?,
                self.scopes,
                LogWriter(self.writer.clone()),
            );
        }
        let f = *self.modules.get(&*def.module)?.get(def.name.as_deref()?)?;
        if !self.scopes.logs(f.scope) {
            return None;
        }
        Some(Arc::new(LoggingListener { writer: self.writer.clone(), f }))
    }
}

struct LoggingListener {
    writer: Writer,
    f: &'static LoggedFunction,
}

fn errno_name(e: u16) -> &'static str {
    match e {
        0 => "ESUCCESS",
        e => keel_sys::Errno(e).name(),
    }
}

impl LoggingListener {
    fn line(&self, line: String) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = w.write_all(line.as_bytes());
        let _ = w.flush();
    }
}

impl FunctionListener for LoggingListener {
    fn before(
        &self,
        caller: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        _: &[FrameInfo],
    ) {
        let mut line = format!("==> {}(", def.debug_name());
        let mut first = true;
        for (i, &(name, kind)) in self.f.params.iter().enumerate() {
            let v = params.get(i).copied().unwrap_or(0);
            let shown = match kind {
                ParamKind::I32 => (v as u32 as i32).to_string(),
                ParamKind::U32 => (v as u32).to_string(),
                ParamKind::I64 => (v as i64).to_string(),
                ParamKind::U64 => v.to_string(),
                ParamKind::F64 => format_float(f64::from_bits(v)),
                ParamKind::String => {
                    let len = params.get(i + 1).copied().unwrap_or(0) as u32;
                    read_string(caller, v as u32, len)
                }
                ParamKind::Len | ParamKind::OutU32 | ParamKind::OutU64 => continue,
            };
            if !first {
                line.push(',');
            }
            first = false;
            let _ = write!(line, "{name}={shown}");
        }
        line.push_str(")\n");
        self.line(line);
    }

    fn after(&self, caller: &Caller<'_>, _: &FunctionDefinition, params: &[u64], results: &[u64]) {
        let ok = match self.f.result {
            ResultKind::Errno => results.first().is_some_and(|e| *e as u16 == 0),
            _ => true,
        };
        let mut parts = Vec::new();
        for (i, &(name, kind)) in self.f.params.iter().enumerate() {
            let ptr = params.get(i).copied().unwrap_or(0) as u32 as u64;
            let value = match kind {
                ParamKind::OutU32 => {
                    read_bytes::<4>(caller, ptr).map(|b| u32::from_le_bytes(b) as u64)
                }
                ParamKind::OutU64 => read_bytes::<8>(caller, ptr).map(u64::from_le_bytes),
                _ => continue,
            };
            match value.filter(|_| ok) {
                Some(v) => parts.push(format!("{name}={v}")),
                None => parts.push(format!("{name}=")),
            }
        }
        match self.f.result {
            ResultKind::Errno => parts.push(format!(
                "errno={}",
                errno_name(results.first().copied().unwrap_or(0) as u16)
            )),
            ResultKind::I32 => {
                parts.push((results.first().copied().unwrap_or(0) as u32 as i32).to_string())
            }
            ResultKind::F64(name) => parts.push(format!(
                "{name}={}",
                format_float(f64::from_bits(results.first().copied().unwrap_or(0)))
            )),
            ResultKind::None => {}
        }
        self.line(format!("<== ({})\n", parts.join(",")));
    }

    fn abort(&self, _: &Caller<'_>, _: &FunctionDefinition, _: &[u64], error: &Trap) {
        // proc_exit ends here: wazero logs nothing after it; anything else is worth a line.
        if error.exit_code().is_none() {
            self.line(format!(
                "<== aborted: {}\n",
                error.to_string().lines().next().unwrap_or_default()
            ));
        }
    }
}

/// `x` as Go's `strconv.FormatFloat(x, 'g', -1, 64)` (and `fmt`'s `%v`) writes it, which
/// wazero's logging and AssemblyScript's `trace` use: the shortest decimal that reads back as
/// `x`, in exponent form (`1e+06`, `1.5e-07`: at least two exponent digits) when the decimal
/// exponent is below -4 or at least 6, plain otherwise (`123456`, `0.0001`); `NaN`, `+Inf`,
/// `-Inf`, and `-0` for negative zero.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    let x = x.abs();
    if x == 0.0 {
        out.push('0');
        return out;
    }
    // The shortest digits that read back as x: the correctly rounded p-digit decimal is the
    // closest of p digits, so the first p at which it reads back is Go's shortest (ties included).
    let (digits, exp) = (1..=17)
        .map(|p| format!("{:.*e}", p - 1, x))
        .find(|s| s.parse::<f64>() == Ok(x))
        .map(|s| {
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
            (digits, exp.parse::<i32>().unwrap_or(0))
        })
        .unwrap_or_else(|| (b"0".to_vec(), 0));
    let nd = digits.len() as i32;
    if !(-4..6).contains(&exp) {
        // Go's fmtE with nd-1 digits after the point.
        out.push(digits[0] as char);
        if nd > 1 {
            out.push('.');
            out.extend(digits[1..].iter().map(|&d| d as char));
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    } else {
        // Go's fmtF with max(nd - dp, 0) digits after the point, dp = exp + 1.
        let dp = exp + 1;
        let digit = |i: i32| if (0..nd).contains(&i) { digits[i as usize] as char } else { '0' };
        if dp > 0 {
            out.extend((0..dp).map(digit));
        } else {
            out.push('0');
        }
        let frac = (nd - dp).max(0);
        if frac > 0 {
            out.push('.');
            out.extend((0..frac).map(|i| digit(dp + i)));
        }
    }
    out
}

fn read_bytes<const N: usize>(caller: &Caller<'_>, ptr: u64) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    caller.read_memory(ptr, &mut b).then_some(b)
}

fn read_string(caller: &Caller<'_>, ptr: u32, len: u32) -> String {
    let len = len.min(4096) as usize;
    let mut b = vec![0u8; len];
    if caller.read_memory(ptr as u64, &mut b) {
        String::from_utf8_lossy(&b).into_owned()
    } else {
        String::new()
    }
}
