//! Host logging (`keel run --hostlogging`) of Go's imports, in wazero's scopes: `filesystem`
//! for the `fs` calls Go makes through `syscall/js.valueCall`, `clock` for `runtime.nanotime1`,
//! `runtime.walltime` and `Date`, `random` for `runtime.getRandomData` and
//! `crypto.getRandomValues`, `proc` for `runtime.wasmExit` and `process`, `memory` for
//! `runtime.resetMemoryDataView` (Go calls it after its memory grew), `poll` for the timeout
//! events. Every import takes only Go's `sp`, so the lines are decoded from Go's stack:
//!
//! ```text
//! ==> gojs.syscall/js.valueCall(fs.open(path=/data/a.txt,flags=RDONLY,perm=----------))
//! <== (err=<nil>,fd=4)
//! ==> gojs.runtime.nanotime1()
//! <== (nsec=1234)
//! ```
//!
//! An `fs` call's results are the ones its callback gets; another call's, the value it returns.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;

use keel::listener::{FunctionDefinition, FunctionListener};
use keel::logging::{LogScopes, LogWriter, ModuleLogger};
use keel::{Caller, FrameInfo, Trap};

use crate::value::{Kind, Value};
use crate::world::GoState;

/// The logger of modules `go` and `gojs`, for [`keel::logging::HostLogging::with_logger`].
pub fn logger() -> Arc<dyn ModuleLogger> {
    Arc::new(GoLogger)
}

struct GoLogger;

/// What an import's lines show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Func {
    WasmExit,
    Nanotime,
    Walltime,
    RandomData,
    ResetMemory,
    ScheduleTimeout,
    ClearTimeout,
    ValueCall,
}

impl ModuleLogger for GoLogger {
    fn listener(
        &self,
        name: &str,
        scopes: LogScopes,
        out: LogWriter,
    ) -> Option<Arc<dyn FunctionListener>> {
        let (func, scope) = match name {
            "runtime.wasmExit" => (Func::WasmExit, LogScopes::PROC),
            "runtime.nanotime1" => (Func::Nanotime, LogScopes::CLOCK),
            "runtime.walltime" | "runtime.walltime1" => (Func::Walltime, LogScopes::CLOCK),
            "runtime.getRandomData" => (Func::RandomData, LogScopes::RANDOM),
            "runtime.resetMemoryDataView" => (Func::ResetMemory, LogScopes::MEMORY),
            "runtime.scheduleTimeoutEvent" => (Func::ScheduleTimeout, LogScopes::POLL),
            "runtime.clearTimeoutEvent" => (Func::ClearTimeout, LogScopes::POLL),
            // Which scope a call is in depends on what it calls: decided per call.
            "syscall/js.valueCall" => (Func::ValueCall, LogScopes::ALL),
            _ => return None,
        };
        if func != Func::ValueCall && !scopes.logs(scope) {
            return None;
        }
        let interesting =
            LogScopes::FILESYSTEM.0 | LogScopes::PROC.0 | LogScopes::CLOCK.0 | LogScopes::RANDOM.0;
        if func == Func::ValueCall && scopes.0 & interesting == 0 {
            return None;
        }
        Some(Arc::new(GoListener { func, scopes, out }))
    }
}

struct GoListener {
    func: Func,
    scopes: LogScopes,
    out: LogWriter,
}

/// A logged `valueCall` in progress: whether it is an `fs` call, and its results once known.
struct Pending {
    fs: bool,
    results: Option<String>,
}

thread_local! {
    /// The `valueCall`s in progress on this thread, innermost last (`None`: not logged).
    static PENDING: RefCell<Vec<Option<Pending>>> = const { RefCell::new(Vec::new()) };
}

/// An `fs` function's reply to its callback, for the log line of the call in progress.
pub(crate) fn fs_reply(name: &str, reply: &[Value]) {
    PENDING.with(|p| {
        if let Some(Some(pending)) = p.borrow_mut().last_mut()
            && pending.fs
            && pending.results.is_none()
        {
            pending.results = Some(fs_results(name, reply));
        }
    });
}

/// What a `valueCall` returned (or threw), for the log line of the call in progress.
pub(crate) fn call_result(result: Result<&Value, &Value>) {
    PENDING.with(|p| {
        if let Some(Some(pending)) = p.borrow_mut().last_mut()
            && !pending.fs
            && pending.results.is_none()
        {
            pending.results = Some(match result {
                Ok(v) => show(v),
                Err(e) => format!("err={}", error_text(e)),
            });
        }
    });
}

fn read(caller: &Caller<'_>, addr: u64, buf: &mut [u8]) -> bool {
    caller.read_memory(addr, buf)
}

fn u64_at(caller: &Caller<'_>, addr: u64) -> u64 {
    let mut b = [0; 8];
    if read(caller, addr, &mut b) { u64::from_le_bytes(b) } else { 0 }
}

fn u32_at(caller: &Caller<'_>, addr: u64) -> u32 {
    u64_at(caller, addr) as u32
}

fn string_at(caller: &Caller<'_>, addr: u64) -> String {
    let (ptr, len) = (u64_at(caller, addr), u64_at(caller, addr + 8).min(4096));
    let mut b = vec![0; len as usize];
    if read(caller, ptr, &mut b) { String::from_utf8_lossy(&b).into_owned() } else { String::new() }
}

fn state(caller: &Caller<'_>) -> Option<Arc<GoState>> {
    caller.sys().map(crate::imports::state_of)
}

/// A value loaded from a NaN-boxed reference at `addr`.
fn value_at(caller: &Caller<'_>, state: &GoState, addr: u64) -> Value {
    state.load(u64_at(caller, addr)).unwrap_or(Value::Undefined)
}

fn values_at(caller: &Caller<'_>, state: &GoState, addr: u64) -> Vec<Value> {
    let (ptr, len) = (u64_at(caller, addr), u64_at(caller, addr + 8).min(64));
    (0..len).map(|i| value_at(caller, state, ptr + i * 8)).collect()
}

/// Which object of the world a `valueCall` calls into, and its log scope.
fn target(state: &GoState, v: &Value) -> Option<(&'static str, LogScopes)> {
    let o = v.as_obj()?;
    let global = state.global();
    for (name, scope) in
        [("fs", LogScopes::FILESYSTEM), ("process", LogScopes::PROC), ("crypto", LogScopes::RANDOM)]
    {
        if global.get(name).as_obj().is_some_and(|g| g.same(o)) {
            return Some((name, scope));
        }
    }
    o.ctor().filter(|c| c.same(&state.ctors.date)).map(|_| ("Date", LogScopes::CLOCK))
}

impl FunctionListener for GoListener {
    fn before(
        &self,
        caller: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        _: &[FrameInfo],
    ) {
        let sp = params.first().copied().unwrap_or(0) as u32 as u64;
        let shown = match self.func {
            Func::WasmExit => format!("code={}", u32_at(caller, sp + 8) as i32),
            Func::RandomData => format!("r_len={}", u64_at(caller, sp + 16)),
            Func::ScheduleTimeout => format!("ms={}", u64_at(caller, sp + 8) as i64),
            Func::ClearTimeout => format!("id={}", u32_at(caller, sp + 8) as i32),
            Func::Nanotime | Func::Walltime | Func::ResetMemory => String::new(),
            Func::ValueCall => {
                let call = state(caller).and_then(|state| {
                    let v = value_at(caller, &state, sp + 8);
                    let (object, scope) = target(&state, &v).unwrap_or(("", LogScopes::NONE));
                    if !self.scopes.logs(scope) {
                        return None;
                    }
                    let method = string_at(caller, sp + 16);
                    let args = values_at(caller, &state, sp + 32);
                    // Not stdio's reads and writes: they would log every print.
                    if object == "fs"
                        && matches!(method.as_str(), "read" | "write")
                        && args.first().is_some_and(|fd| fd.to_number() <= 2.0)
                    {
                        return None;
                    }
                    Some(call_text(if object.is_empty() { "?" } else { object }, &method, &args))
                });
                let logged = call.is_some();
                PENDING.with(|p| {
                    p.borrow_mut().push(logged.then(|| Pending {
                        fs: call.as_deref().is_some_and(|c| c.starts_with("fs.")),
                        results: None,
                    }))
                });
                match call {
                    Some(c) => c,
                    None => return,
                }
            }
        };
        self.out.line(&format!("==> {}({shown})\n", def.debug_name()));
    }

    fn after(&self, caller: &Caller<'_>, _: &FunctionDefinition, params: &[u64], _: &[u64]) {
        let sp = params.first().copied().unwrap_or(0) as u32 as u64;
        let shown = match self.func {
            Func::Nanotime => format!("nsec={}", u64_at(caller, sp + 8) as i64),
            Func::Walltime => {
                format!("sec={},nsec={}", u64_at(caller, sp + 8) as i64, u32_at(caller, sp + 16))
            }
            Func::ScheduleTimeout => format!("id={}", u32_at(caller, sp + 16) as i32),
            Func::ValueCall => match PENDING.with(|p| p.borrow_mut().pop()).flatten() {
                Some(pending) => pending.results.unwrap_or_default(),
                None => return,
            },
            _ => String::new(),
        };
        self.out.line(&format!("<== ({shown})\n"));
    }

    fn abort(&self, _: &Caller<'_>, _: &FunctionDefinition, _: &[u64], error: &Trap) {
        let logged = match self.func {
            Func::ValueCall => PENDING.with(|p| p.borrow_mut().pop()).flatten().is_some(),
            _ => true,
        };
        // An exit ends here without a line, as in wazero.
        if logged && error.exit_code().is_none() {
            let first = error.to_string().lines().next().unwrap_or_default().to_string();
            self.out.line(&format!("<== aborted: {first}\n"));
        }
    }
}

/// The names of the arguments of `object.method` (wazero's), for the log line.
fn param_names(object: &str, method: &str) -> &'static [&'static str] {
    match (object, method) {
        ("fs", "open") => &["path", "flags", "perm"],
        ("fs", "stat" | "lstat" | "readdir" | "rmdir" | "unlink" | "readlink") => &["path"],
        ("fs", "fstat" | "close" | "fsync") => &["fd"],
        ("fs", "read" | "write") => &["fd", "buf", "offset", "byteCount", "fOffset"],
        ("fs", "mkdir") => &["path", "perm"],
        ("fs", "rename") => &["from", "to"],
        ("fs", "link" | "symlink") => &["path", "link"],
        ("fs", "utimes") => &["path", "atime", "mtime"],
        ("fs", "chmod") => &["path", "mode"],
        ("fs", "fchmod") => &["fd", "mode"],
        ("fs", "chown" | "lchown") => &["path", "uid", "gid"],
        ("fs", "fchown") => &["fd", "uid", "gid"],
        ("fs", "truncate") => &["path", "length"],
        ("fs", "ftruncate") => &["fd", "length"],
        ("process", "chdir") => &["path"],
        ("process", "umask") => &["mask"],
        ("process", "exit") => &["code"],
        ("crypto", "getRandomValues") => &["r"],
        _ => &[],
    }
}

/// `object.method(name=value,...)`, the callback left out.
fn call_text(object: &str, method: &str, args: &[Value]) -> String {
    let names = param_names(object, method);
    let mut out = format!("{object}.{method}(");
    let mut first = true;
    for (i, v) in args.iter().enumerate() {
        if v.as_obj().is_some_and(|o| matches!(o.kind(), Kind::Function(_))) {
            break; // the callback: last
        }
        let name = names.get(i).copied().unwrap_or("arg");
        if name == "buf" {
            continue; // as long as byteCount
        }
        if !first {
            out.push(',');
        }
        first = false;
        let shown = match name {
            "flags" => open_flags(v.to_number() as u32),
            "perm" | "mode" | "mask" => file_mode(v.to_number() as u32),
            _ if bytes_len(v).is_some() => {
                let _ = write!(out, "{name}_len={}", bytes_len(v).unwrap_or(0));
                continue;
            }
            _ => show(v),
        };
        let _ = write!(out, "{name}={shown}");
    }
    out.push(')');
    out
}

fn bytes_len(v: &Value) -> Option<usize> {
    v.as_obj()?.with_bytes(|b| b.len())
}

/// A value as Go's `%v` shows it: strings bare, integers without a point, null as `<nil>`.
fn show(v: &Value) -> String {
    match v {
        Value::Undefined => "undefined".into(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => crate::value::number_to_string(*n),
        Value::String(s) => s.to_string(),
        Value::Object(o) => match (o.with_bytes(|b| b.len()), o.items()) {
            (Some(n), _) => format!("n={n}"),
            (_, Some(items)) => {
                format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
            }
            _ => "{}".into(),
        },
    }
}

fn error_text(e: &Value) -> String {
    match e.as_obj().map(|o| o.get("code")) {
        Some(Value::String(code)) => code.to_string(),
        _ => e.as_obj().map(|o| o.get("message").to_js_string()).unwrap_or_else(|| show(e)),
    }
}

/// An `fs` callback's `(err, result)` as `err=...,NAME=...`.
fn fs_results(method: &str, reply: &[Value]) -> String {
    let err = match reply.first() {
        Some(Value::Null) | None => "<nil>".to_string(),
        Some(e) => error_text(e),
    };
    let name = match method {
        "open" => "fd",
        "stat" | "lstat" | "fstat" => "stat",
        "read" | "write" => "n",
        "readdir" => "dirents",
        "readlink" => "dst",
        _ => "ok",
    };
    let value = match reply.get(1) {
        None => return format!("err={err}"),
        Some(Value::Object(o)) if name == "stat" => format!(
            "{{isDir={},mode={},size={},mtimeMs={}}}",
            o.get("mode").to_number() as u32 & 0o170000 == 0o040000,
            file_mode(o.get("mode").to_number() as u32),
            show(&o.get("size")),
            show(&o.get("mtimeMs")),
        ),
        Some(Value::Undefined) => "true".into(),
        Some(v) => show(v),
    };
    format!("err={err},{name}={value}")
}

/// node's open flags by name: the access mode, then the others.
fn open_flags(f: u32) -> String {
    let mut parts = vec![match f & 3 {
        0 => "RDONLY",
        1 => "WRONLY",
        _ => "RDWR",
    }];
    for (bit, name) in [
        (0o2000, "APPEND"),
        (0o100, "CREATE"),
        (0o200, "EXCL"),
        (0o4010000, "SYNC"),
        (0o1000, "TRUNC"),
        (0o200000, "DIRECTORY"),
        (0o400000, "NOFOLLOW"),
    ] {
        if f & bit == bit {
            parts.push(name);
        }
    }
    parts.join("|")
}

/// Permission bits as Go's `fs.FileMode.String` writes them: `-rwxr-xr-x`, with `d`, `L`,
/// `u`, `g`, `t` in front for a directory, a link, setuid, setgid, sticky.
fn file_mode(mode: u32) -> String {
    let mut out = String::new();
    for (bit, mask, c) in [
        (0o040000, 0o170000, 'd'),
        (0o120000, 0o170000, 'L'),
        (0o4000, 0o4000, 'u'),
        (0o2000, 0o2000, 'g'),
        (0o1000, 0o1000, 't'),
    ] {
        if mode & mask == bit {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        out.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_flags_read_as_go_and_wazero_write_them() {
        for (mode, want) in [
            (0, "----------"),
            (0o644, "-rw-r--r--"),
            (0o40755, "drwxr-xr-x"),
            (0o120777, "Lrwxrwxrwx"),
            (0o1700, "trwx------"),
        ] {
            assert_eq!(file_mode(mode), want, "{mode:o}");
        }
        for (flags, want) in [
            (0, "RDONLY"),
            (0o1101, "WRONLY|CREATE|TRUNC"),
            (0o2102, "RDWR|APPEND|CREATE"),
            (0o200000, "RDONLY|DIRECTORY"),
        ] {
            assert_eq!(open_flags(flags), want, "{flags:o}");
        }
    }

    #[test]
    fn calls_show_their_arguments_by_name() {
        let args = [Value::str("/a.txt"), Value::num(0), Value::num(0)];
        assert_eq!(
            call_text("fs", "open", &args),
            "fs.open(path=/a.txt,flags=RDONLY,perm=----------)"
        );
        let args = [
            Value::num(4),
            Value::Object(crate::value::Obj::bytes(vec![0; 8], None)),
            Value::num(0),
            Value::num(8),
            Value::Null,
        ];
        assert_eq!(
            call_text("fs", "read", &args),
            "fs.read(fd=4,offset=0,byteCount=8,fOffset=<nil>)"
        );
        assert_eq!(fs_results("open", &[Value::Null, Value::num(4)]), "err=<nil>,fd=4");
        assert_eq!(fs_results("close", &[Value::Null]), "err=<nil>");
    }
}
