//! `keel`: run and compile WebAssembly modules from the command line.
//!
//! ```text
//! keel run [flags] FILE.wasm [--] [ARGS...]
//! keel compile [flags] FILE.wasm
//! keel version
//! ```
//!
//! FILE may be WebAssembly text (.wat) too. The flags follow wazero's CLI; see docs/cli.md.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use keel::decode::ImportType;
use keel::logging::LogScopes;
use keel::{
    EXIT_CODE_DEADLINE_EXCEEDED, EngineKind, FuncType, InterruptHandle, ModuleConfig, Runtime,
    RuntimeConfig,
};
use keel_sys::{DirFs, HostStdin};

const USAGE: &str = "\
usage: keel <command> [flags]

commands:
  run [flags] FILE.wasm [--] [ARGS...]   run a WebAssembly module
  compile [flags] FILE.wasm              validate and compile a module
  version                                print keel's version

FILE is a WebAssembly binary or, when it does not start with \0asm, WebAssembly text (.wat).

run flags (before FILE):
  --mount=HOST[:GUEST][:ro]   expose the host directory HOST at guest path GUEST (default: HOST);
                              repeatable; :ro makes it read-only
  --env=KEY=VALUE             set an environment variable; repeatable
  --env-inherit               pass the host's environment too
  --interpreter               run on the interpreter rather than the compiler
  --hostlogging=SCOPES        log host-function calls of these scopes to stderr, comma-separated:
                              all, clock, filesystem, memory, poll, proc, random, sock
  --cachedir=DIR              keep compiled code in DIR and reuse it (run and compile)
  --timeout=DURATION          stop the guest after DURATION (e.g. 1s, 500ms, 1m30s); it exits
                              with code 255 (wazero's deadline-exceeded 0xefffffff, truncated)
  --listen=HOST:PORT          preopen a TCP listener (from the fd after the mounts); repeatable
";

/// A command-line error: printed as one line, exit code 1.
struct Fail(String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("compile") => compile(&args[1..]),
        Some("version") => {
            println!("keel {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Some("help" | "-h" | "--help" | "-help") => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(Fail(format!("unknown command \"{other}\"\n\n{USAGE}"))),
        None => Err(Fail(format!("missing command\n\n{USAGE}"))),
    };
    match result {
        Ok(code) => code,
        Err(Fail(msg)) => {
            eprintln!("keel: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Parsed flags of `run` and `compile`.
#[derive(Default, Debug)]
struct Flags {
    mounts: Vec<String>,
    env: Vec<String>,
    env_inherit: bool,
    interpreter: bool,
    listen: Vec<String>,
    cachedir: Option<String>,
    timeout: Option<Duration>,
    hostlogging: Option<LogScopes>,
    file: Option<String>,
    guest_args: Vec<String>,
}

/// Flags come before FILE (as Go's flag package parses them: `-f`, `--f`, `--f=v`, `--f v`);
/// everything after FILE belongs to the guest, except one leading `--`.
fn parse(args: &[String]) -> Result<Flags, Fail> {
    let mut flags = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let body = arg.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let mut value = || -> Result<String, Fail> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i).cloned().ok_or_else(|| Fail(format!("flag needs an argument: -{name}")))
        };
        match name {
            "mount" => flags.mounts.push(value()?),
            "env" => flags.env.push(value()?),
            "env-inherit" => flags.env_inherit = true,
            "interpreter" => flags.interpreter = true,
            "listen" => flags.listen.push(value()?),
            "cachedir" => flags.cachedir = Some(value()?),
            "timeout" => {
                let v = value()?;
                let d = parse_duration(&v).ok_or_else(|| {
                    Fail(format!("invalid value \"{v}\" for flag -timeout: parse error"))
                })?;
                flags.timeout = (!d.is_zero()).then_some(d);
            }
            "hostlogging" => {
                let v = value()?;
                let scopes = LogScopes::parse(&v).map_err(|e| {
                    Fail(format!("invalid value \"{v}\" for flag -hostlogging: {e}"))
                })?;
                flags.hostlogging = Some(scopes);
            }
            "h" | "help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(Fail(format!("flag provided but not defined: {arg}\n\n{USAGE}"))),
        }
        i += 1;
    }
    let Some(file) = args.get(i) else {
        return Err(Fail(format!("missing path to wasm file\n\n{USAGE}")));
    };
    flags.file = Some(file.clone());
    let mut rest = &args[i + 1..];
    if rest.first().is_some_and(|a| a == "--") {
        rest = &rest[1..];
    }
    flags.guest_args = rest.to_vec();
    Ok(flags)
}

fn runtime(flags: &Flags) -> Result<Runtime, Fail> {
    let engine = if flags.interpreter { EngineKind::Interpreter } else { EngineKind::Auto };
    let mut config = RuntimeConfig::default();
    if let Some(dir) = &flags.cachedir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Fail(format!("invalid cache directory {dir}: {e}")))?;
        config = config.with_cache_dir(dir);
    }
    if let Some(scopes) = flags.hostlogging {
        // WASI's functions and Go's; `env` is logged by the import set that serves it (AssemblyScript's
        // or Emscripten's, whose tables share names), see IMPORT_SETS.
        let logging = keel_wasi::host_logging(std::io::stderr(), scopes)
            .with_logger(keel_gojs::MODULE_NAME, keel_gojs::logger())
            .with_logger(keel_gojs::MODULE_NAME_LEGACY, keel_gojs::logger());
        config = config.with_function_listener_factory(logging);
    }
    Ok(Runtime::with_config(config, engine))
}

/// FILE's module as a binary: FILE itself when it starts with the magic `\0asm`, otherwise FILE
/// parsed as WebAssembly text (as wasmtime does).
fn read_wasm(file: &str) -> Result<Vec<u8>, Fail> {
    let bytes = std::fs::read(file).map_err(|e| Fail(format!("error reading {file}: {e}")))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Fail(format!(
            "error reading {file}: neither a WebAssembly binary (no \\0asm magic) nor text (not UTF-8)"
        ))
    })?;
    wat::parse_str(text).map_err(|e| Fail(wat_error(file, &e)))
}

/// wat's error on one line: `error parsing FILE:LINE:COL: MESSAGE`. Its `Display` is the message,
/// then `--> <anon>:LINE:COL` and the source line on further lines (or, for columns past 500,
/// `MESSAGE at <anon>:LINE:COL`).
fn wat_error(file: &str, e: &wat::Error) -> String {
    let shown = e.to_string();
    let mut lines = shown.lines();
    let first = lines.next().unwrap_or_default();
    let at = lines.find_map(|l| l.trim_start().strip_prefix("--> <anon>:"));
    match (at, first.rsplit_once(" at <anon>:")) {
        (Some(at), _) => format!("error parsing {file}:{at}: {first}"),
        (None, Some((message, at))) => format!("error parsing {file}:{at}: {message}"),
        (None, None) => format!("error parsing {file}: {first}"),
    }
}

fn compile(args: &[String]) -> Result<ExitCode, Fail> {
    let flags = parse(args)?;
    if !flags.guest_args.is_empty() {
        return Err(Fail("compile takes one FILE".into()));
    }
    let file = flags.file.as_deref().unwrap_or_default();
    let bytes = read_wasm(file)?;
    let runtime = runtime(&flags)?;
    runtime.compile(&bytes).map_err(|e| Fail(format!("error compiling {file}: {e}")))?;
    // `compile --cachedir` exists to fill the cache: an entry that could not be written is a
    // failure here (for `run` it only costs the next start a compile).
    if runtime.cache_stats().write_errors > 0 {
        let dir = flags.cachedir.as_deref().unwrap_or_default();
        return Err(Fail(format!("error compiling {file}: cannot write the cache entry in {dir}")));
    }
    Ok(ExitCode::SUCCESS)
}

/// An import set the CLI can provide: the module names it serves, a predicate over one import of
/// such a module (its name, and its signature when it is a function), and how to instantiate it
/// under one of those names for one guest. A guest's imports of a module must all satisfy one
/// set's predicate; sets serving the same module name (AssemblyScript's and Emscripten's `env`)
/// are told apart that way.
struct ImportSet {
    /// For messages.
    name: &'static str,
    modules: &'static [&'static str],
    provides: fn(name: &str, ty: Option<&FuncType>) -> bool,
    instantiate: fn(&Runtime, module: &str, &Guest) -> keel::Result<keel::Module>,
}

/// What an import set's instantiation may need of the guest and the flags.
struct Guest<'a> {
    compiled: &'a keel::CompiledModule,
    /// `--hostlogging`'s scopes, for import sets that log their own module.
    logging: Option<LogScopes>,
}

/// Import sets keel provides.
const IMPORT_SETS: &[ImportSet] = &[
    ImportSet {
        name: "WASI preview1",
        modules: &[keel_wasi::MODULE_NAME, keel_wasi::LEGACY_MODULE_NAME],
        // Any function: a WASI import keel lacks fails at link time, naming its type.
        provides: |_, ty| ty.is_some(),
        instantiate: |runtime, module, _| keel_wasi::instantiate_as(runtime, module),
    },
    ImportSet {
        name: "Go js/wasm",
        modules: &[keel_gojs::MODULE_NAME, keel_gojs::MODULE_NAME_LEGACY],
        provides: |name, ty| ty.is_some() && keel_gojs::provides(name),
        instantiate: |runtime, module, _| keel_gojs::instantiate_as(runtime, module),
    },
    ImportSet {
        name: "AssemblyScript",
        modules: &[keel_assemblyscript::MODULE_NAME],
        provides: |name, ty| ty.is_some_and(|ty| keel_assemblyscript::provides(name, ty)),
        // trace to stderr, as wazero's CLI does.
        instantiate: |runtime, module, guest| {
            let mut builder = keel_assemblyscript::FunctionExporter::new()
                .with_trace_to_stderr()
                .export_functions(runtime.host_module(module));
            if let Some(scopes) = guest.logging {
                let logging = keel::logging::HostLogging::new(std::io::stderr(), scopes)
                    .with_functions(module, keel_assemblyscript::LOGGED_FUNCTIONS);
                builder = builder.with_function_listener_factory(logging);
            }
            builder.instantiate()
        },
    },
    ImportSet {
        name: "Emscripten",
        modules: &[keel_emscripten::MODULE_NAME],
        provides: |name, ty| ty.is_some_and(|ty| keel_emscripten::provides(name, ty)),
        instantiate: |runtime, module, guest| {
            let mut builder =
                keel_emscripten::export_functions(runtime.host_module(module), guest.compiled)
                    .map_err(|e| keel::Error::Trap(keel::Trap::host(e)))?;
            if let Some(scopes) = guest.logging {
                let logging = keel::logging::HostLogging::new(std::io::stderr(), scopes)
                    .with_functions(module, keel_emscripten::LOGGED_FUNCTIONS);
                builder = builder.with_function_listener_factory(logging);
            }
            builder.instantiate()
        },
    },
];

/// Which import set provides each module the guest imports, in the order first imported; or the
/// error naming the first import none provides.
fn import_sets(
    file: &str,
    compiled: &keel::CompiledModule,
) -> Result<Vec<(String, &'static ImportSet)>, Fail> {
    let types = &compiled.description().types;
    let imports: Vec<(&str, &str, Option<&FuncType>)> = compiled
        .imports()
        .map(|(module, name, ty)| {
            let func = match ty {
                ImportType::Func(i) => types.get(*i as usize),
                _ => None,
            };
            (module, name, func)
        })
        .collect();
    let mut chosen: Vec<(String, &'static ImportSet)> = Vec::new();
    for &(module, first_name, first_ty) in &imports {
        if chosen.iter().any(|(m, _)| m == module) {
            continue;
        }
        let of_module: Vec<_> = imports.iter().filter(|(m, _, _)| *m == module).collect();
        let candidates: Vec<&'static ImportSet> =
            IMPORT_SETS.iter().filter(|set| set.modules.contains(&module)).collect();
        let all = |set: &ImportSet| of_module.iter().all(|&&(_, n, t)| (set.provides)(n, t));
        if let Some(set) = candidates.iter().find(|set| all(set)) {
            chosen.push((module.to_string(), set));
            continue;
        }
        // Name the first import that the set providing the module's first import (else the first
        // set of that module name) lacks.
        let closest = candidates
            .iter()
            .find(|set| (set.provides)(first_name, first_ty))
            .or(candidates.first());
        let missing = match closest {
            Some(set) => of_module.iter().find(|&&&(_, n, t)| !(set.provides)(n, t)),
            None => of_module.first(),
        };
        let (_, name, _) = missing.copied().copied().unwrap_or((module, first_name, first_ty));
        let hint = match closest {
            Some(set) => format!(" (\"{module}\" looks like {}\'s, which lacks it)", set.name),
            None => String::new(),
        };
        return Err(Fail(format!(
            "{file} imports \"{module}\".\"{name}\", which no import set of keel provides{hint}"
        )));
    }
    Ok(chosen)
}

/// Whether `name` is a module name some import set serves.
fn is_import_set_name(name: &str) -> bool {
    IMPORT_SETS.iter().any(|set| set.modules.contains(&name))
}

fn run(args: &[String]) -> Result<ExitCode, Fail> {
    let flags = parse(args)?;
    let file = flags.file.clone().unwrap_or_default();
    let bytes = read_wasm(&file)?;
    let runtime = runtime(&flags)?;
    let compiled =
        runtime.compile(&bytes).map_err(|e| Fail(format!("error compiling {file}: {e}")))?;

    // Instantiate the import sets the guest needs; name the first import nobody provides. A Go
    // `js/wasm` guest (it imports `go` or `gojs`) then runs through keel-gojs, an Emscripten
    // guest (its `env` is Emscripten's) through keel-emscripten.
    let go = keel_gojs::is_go(&compiled);
    let guest = Guest { compiled: &compiled, logging: flags.hostlogging };
    let mut emscripten = false;
    for (module, set) in import_sets(&file, &compiled)? {
        emscripten |= set.name == "Emscripten";
        (set.instantiate)(&runtime, &module, &guest)
            .map_err(|e| Fail(format!("instantiating {module}: {e}")))?;
    }

    let argv0 = Path::new(&file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    // The instance is named after FILE (stack traces read `cat.main`), unless that name is taken
    // by an import set.
    let stem = Path::new(&file).file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = stem.filter(|s| !is_import_set_name(s)).unwrap_or_default();
    let mut config = ModuleConfig::new()
        .with_name(name)
        .with_args(std::iter::once(argv0).chain(flags.guest_args.iter().cloned()))
        .with_stdin(HostStdin)
        .with_stdout(std::io::stdout())
        .with_stderr(std::io::stderr())
        .with_sys_walltime()
        .with_sys_nanotime()
        .with_sys_sleep()
        .with_os_random();
    if flags.env_inherit {
        for (k, v) in std::env::vars() {
            config = config.with_env(k, v);
        }
    }
    for pair in &flags.env {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            Fail(format!("invalid environment variable: {pair} (want KEY=VALUE)"))
        })?;
        config = config.with_env(k, v);
    }
    for spec in &flags.mounts {
        let (host, guest, read_only) = parse_mount(spec)?;
        let fs =
            DirFs::open(&host).map_err(|e| Fail(format!("invalid mount {spec}: {host}: {e}")))?;
        config = if read_only {
            config.with_read_only_mount(&guest, fs)
        } else {
            config.with_mount(&guest, fs)
        };
    }
    for addr in &flags.listen {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Fail(format!("invalid listen address {addr}: {e}")))?;
        config = config.with_listener(listener);
    }
    let exports: Vec<&str> = compiled.exports().map(|(n, _)| n).collect();
    let start = if exports.contains(&"_start") {
        vec!["_start"]
    } else if exports.contains(&"_initialize") {
        vec!["_initialize"]
    } else {
        vec![]
    };
    config = config.with_start_functions(start);

    // --timeout: the module closes when the deadline passes, and the call returns an exit error
    // with EXIT_CODE_DEADLINE_EXCEEDED (wazero's WithCloseOnContextDone).
    let interrupt = InterruptHandle::new();
    let deadline = flags.timeout.map(|t| interrupt.interrupt_after(t));
    if flags.timeout.is_some() {
        config = config.with_interrupt_handle(interrupt).with_close_on_interrupt(true);
    }

    let result = if go {
        keel_gojs::run(&runtime, &compiled, config)
    } else if emscripten {
        match keel_emscripten::run(&runtime, &compiled, config) {
            Ok(0) => Ok(()),
            Ok(code) => Err(keel::Error::Trap(keel::Trap::exit(code))),
            Err(e) => Err(e),
        }
    } else {
        runtime.instantiate(&compiled, config).map(drop)
    };
    drop(deadline);
    let _ = std::io::stdout().flush();
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => match e.exit_code() {
            Some(code) => {
                if code == EXIT_CODE_DEADLINE_EXCEEDED
                    && let Some(t) = flags.timeout
                {
                    eprintln!("keel: error: {e} (timeout {})", format_duration(t));
                }
                Ok(ExitCode::from(code as u8))
            }
            None => {
                eprintln!("error running {file}: {e}");
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// `HOST[:GUEST][:ro]`; GUEST defaults to HOST, as in wazero.
fn parse_mount(spec: &str) -> Result<(String, String, bool), Fail> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(r) => (r, true),
        None => (spec, false),
    };
    let (host, guest) = match rest.split_once(':') {
        Some((h, g)) => (h, g),
        None => (rest, rest),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(Fail(format!("invalid mount {spec} (want HOST[:GUEST][:ro])")));
    }
    Ok((host.to_string(), guest.to_string(), read_only))
}

/// A duration as Go's `time.ParseDuration` reads it: a sequence of decimal numbers, each with a
/// unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `1s`, `500ms`, `1.5s`, `1m30s`; `0` alone.
fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// `d` as Go prints short durations: `1s`, `500ms`, `1.5s`.
fn format_duration(d: Duration) -> String {
    if d.as_secs() > 0 || d.is_zero() {
        format!("{}s", d.as_secs_f64())
    } else if d.as_millis() > 0 && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ms", d.as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wat_errors_are_one_line_with_the_position() {
        let cases = [
            ("(module (func (i32.const 1))", "error parsing f.wat:1:29: expected `)`"),
            (
                "(module\n  (func (bogus)))",
                "error parsing f.wat:2:10: unknown operator or unexpected token",
            ),
            ("(module (func $a) (func $a))", "error parsing f.wat:1:25: duplicate func identifier"),
        ];
        for (src, want) in cases {
            let e = wat::parse_str(src).unwrap_err();
            assert_eq!(wat_error("f.wat", &e), want, "{src}: {e}");
        }
        // Past column 500 wat puts the position on the message's line.
        let long = format!("(module {}(bogus))", " ".repeat(600));
        let e = wat::parse_str(&long).unwrap_err();
        assert_eq!(
            wat_error("f.wat", &e),
            "error parsing f.wat:1:610: expected valid module field"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(format_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
    }
}
