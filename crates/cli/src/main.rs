#![forbid(unsafe_code)]
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

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ErrorKind};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use keel::decode::ImportType;
use keel::logging::LogScopes;
use keel::{
    EXIT_CODE_DEADLINE_EXCEEDED, EngineKind, FuncType, InterruptHandle, ModuleConfig, Runtime,
    RuntimeConfig,
};
use keel_sys::{DirFs, HostStdin};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args).unwrap_or_else(|e| e.exit()) {
        Action::Run(flags) => run(&flags),
        Action::Compile(flags) => compile(&flags),
        Action::Version => {
            println!("keel {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(Fail(msg)) => {
            eprintln!("keel: {msg}");
            ExitCode::from(1)
        }
    }
}

/// An error of running or compiling: printed as one line, exit code 1. (Usage errors are clap's,
/// exit code 2.)
struct Fail(String);

/// `keel`'s command line as clap reads it, after [`normalise`]; [`parse`] checks the values.
#[derive(Parser, Debug)]
#[command(
    name = "keel",
    about = "Run and compile WebAssembly modules.",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run a WebAssembly module
    #[command(args_override_self = true)]
    Run {
        #[command(flatten)]
        flags: FlagArgs,
        #[arg(value_name = "FILE", help = FILE_HELP)]
        file: String,
        /// Arguments for the guest, passed as they are (even those that look like flags; one `--`
        /// right after FILE is dropped)
        #[arg(value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Validate and compile a module
    #[command(args_override_self = true)]
    Compile {
        #[command(flatten)]
        flags: FlagArgs,
        #[arg(value_name = "FILE", help = FILE_HELP)]
        file: String,
    },
    /// Print keel's version
    Version,
}

const FILE_HELP: &str =
    "A WebAssembly binary or, when it does not start with \\0asm, WebAssembly text (.wat)";

/// The flags of `run` and `compile` (before FILE), as strings: [`parse`] checks them into
/// [`Flags`]. `compile` accepts them all but shows only those it uses in its help.
#[derive(Args, Debug)]
struct FlagArgs {
    /// Expose the host directory HOST at guest path GUEST (default: HOST); repeatable; :ro makes
    /// it read-only
    #[arg(long, value_name = "HOST[:GUEST][:ro]")]
    mount: Vec<String>,
    /// Set an environment variable; repeatable
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Pass the host's environment too
    #[arg(long, num_args = 0..=1, require_equals = true, value_name = "BOOL",
          default_value = "false", default_missing_value = "true",
          value_parser = BoolishValueParser::new(), hide_possible_values = true,
          hide_default_value = true)]
    env_inherit: bool,
    /// Run on the interpreter rather than the compiler
    #[arg(long, num_args = 0..=1, require_equals = true, value_name = "BOOL",
          default_value = "false", default_missing_value = "true",
          value_parser = BoolishValueParser::new(), hide_possible_values = true,
          hide_default_value = true)]
    interpreter: bool,
    /// Compile every function before running (the compiler alone) rather than start on the
    /// interpreter and compile what gets hot in the background (tiered, the default)
    #[arg(long, num_args = 0..=1, require_equals = true, value_name = "BOOL",
          default_value = "false", default_missing_value = "true",
          value_parser = BoolishValueParser::new(), hide_possible_values = true,
          hide_default_value = true)]
    eager: bool,
    /// Log host-function calls of these scopes to stderr, comma-separated: all, clock,
    /// filesystem, memory, poll, proc, random, sock
    #[arg(long, value_name = "SCOPES")]
    hostlogging: Option<String>,
    /// Keep compiled code in DIR and reuse it (run and compile)
    #[arg(long, value_name = "DIR")]
    cachedir: Option<String>,
    /// Stop the guest after DURATION (e.g. 1s, 500ms, 1m30s); it exits with code 255 (wazero's
    /// deadline-exceeded 0xefffffff, truncated)
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Preopen a TCP listener (from the fd after the mounts); repeatable
    #[arg(long, value_name = "HOST:PORT")]
    listen: Vec<String>,
}

/// Flags of `run` that `compile` accepts (one parser for both, as before) but does not use, so
/// leaves out of its help.
const RUN_ONLY_FLAGS: &[&str] =
    &["mount", "env", "env_inherit", "eager", "hostlogging", "timeout", "listen"];

/// The command line clap parses (clap's own, with `compile`'s help trimmed).
fn cli_command() -> clap::Command {
    Cli::command().mut_subcommand("compile", |mut compile| {
        for id in RUN_ONLY_FLAGS {
            compile = compile.mut_arg(id, |a| a.hide(true));
        }
        compile
    })
}

/// What the command line asks for.
#[derive(Debug)]
enum Action {
    Run(Flags),
    Compile(Flags),
    Version,
}

/// Parsed flags of `run` and `compile`.
#[derive(Default, Debug)]
struct Flags {
    mounts: Vec<Mount>,
    env: Vec<(String, String)>,
    env_inherit: bool,
    interpreter: bool,
    eager: bool,
    listen: Vec<String>,
    cachedir: Option<String>,
    timeout: Option<Duration>,
    hostlogging: Option<LogScopes>,
    file: String,
    guest_args: Vec<String>,
}

/// One `--mount=HOST[:GUEST][:ro]`.
#[derive(Debug, PartialEq)]
struct Mount {
    /// As written, for messages.
    spec: String,
    host: String,
    guest: String,
    read_only: bool,
}

/// `keel`'s arguments (without the program name): what to do, or clap's error (usage errors exit
/// 2; `--help` is an "error" that prints the help and exits 0). Values that are strings to clap
/// but that keel cannot use (`--timeout=1x`) are reported as Go's flag package does, `invalid
/// value "1x" for flag -timeout: ...`, with the usage line.
fn parse(args: &[String]) -> Result<Action, clap::Error> {
    let mut cmd = cli_command();
    cmd.build();
    let args = normalise(&cmd, args);
    let argv = std::iter::once("keel".to_string()).chain(args);
    let matches = cmd.try_get_matches_from_mut(argv).map_err(|e| without_escape_tip(e, &cmd))?;
    let (raw, file, guest_args, name) = match Cli::from_arg_matches(&matches)?.command {
        Commands::Version => return Ok(Action::Version),
        Commands::Run { flags, file, args } => (flags, file, args, "run"),
        Commands::Compile { flags, file } => (flags, file, Vec::new(), "compile"),
    };
    let sub = cmd.find_subcommand_mut(name).expect("a subcommand of keel");
    let mut invalid = |flag: &str, value: &str, why: &dyn std::fmt::Display| {
        sub.error(
            ErrorKind::ValueValidation,
            format!("invalid value \"{value}\" for flag -{flag}: {why}"),
        )
    };
    let mut flags = Flags {
        env_inherit: raw.env_inherit,
        interpreter: raw.interpreter,
        // `compile` compiles whole: what it is for is the cache, and tiered code is not cached.
        eager: raw.eager || name == "compile",
        listen: raw.listen,
        cachedir: raw.cachedir,
        file,
        guest_args,
        ..Flags::default()
    };
    for spec in raw.mount {
        let mount =
            parse_mount(&spec).ok_or_else(|| invalid("mount", &spec, &"want HOST[:GUEST][:ro]"))?;
        flags.mounts.push(mount);
    }
    for pair in raw.env {
        let (k, v) =
            pair.split_once('=').ok_or_else(|| invalid("env", &pair, &"want KEY=VALUE"))?;
        flags.env.push((k.to_string(), v.to_string()));
    }
    if let Some(v) = raw.timeout {
        let d = parse_duration(&v).ok_or_else(|| invalid("timeout", &v, &"parse error"))?;
        flags.timeout = (!d.is_zero()).then_some(d);
    }
    if let Some(v) = raw.hostlogging {
        let scopes = LogScopes::parse(&v).map_err(|e| invalid("hostlogging", &v, &e))?;
        flags.hostlogging = Some(scopes);
    }
    Ok(match name {
        "run" => Action::Run(flags),
        _ => Action::Compile(flags),
    })
}

/// clap's error for an unknown flag without its tip "to pass '--x' as a value, use '-- --x'",
/// which here would make `--x` FILE (the guest's flags go after FILE).
fn without_escape_tip(e: clap::Error, cmd: &clap::Command) -> clap::Error {
    if e.kind() != ErrorKind::UnknownArgument {
        return e;
    }
    let mut plain = clap::Error::new(ErrorKind::UnknownArgument).with_cmd(cmd);
    for kind in [ContextKind::InvalidArg, ContextKind::SuggestedArg, ContextKind::Usage] {
        if let Some(value) = e.get(kind) {
            plain.insert(kind, value.clone());
        }
    }
    plain
}

/// `keel`'s arguments in the form clap reads, keeping the grammar of Go's flag package (wazero's
/// CLI) that keel has always taken: a flag is written with one dash or two (`-mount=x`,
/// `--mount=x`); a flag with a value takes the next argument whatever it looks like (`--env -x`);
/// flags end at `--` or at the first argument that is not one, FILE, and everything after FILE is
/// the guest's but one `--` right after it.
///
/// So each flag before FILE is written `--name[=value]` (`-h` stays short), a value given as the
/// next argument is joined to its flag with `=`, and a `--` goes before FILE: clap then takes
/// FILE and the guest's arguments as they are. An unknown flag and what follows are left as they
/// are, for clap to report.
fn normalise(cmd: &clap::Command, args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut args = args.iter();
    let Some(command) = args.next() else { return out };
    out.push(dashes(command));
    // Only run and compile have flags and FILE (not version, nor clap's `help`).
    let sub = cmd.find_subcommand(command);
    let Some(sub) = sub.filter(|s| matches!(s.get_name(), "run" | "compile")) else {
        out.extend(args.cloned());
        return out;
    };
    while let Some(arg) = args.next() {
        let file = if arg == "--" {
            args.next()
        } else if !arg.starts_with('-') || arg == "-" {
            Some(arg)
        } else {
            let flag = dashes(arg);
            let name = flag.trim_start_matches('-');
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            let Some(known) = sub.get_arguments().find(|a| {
                a.get_long() == Some(name) || a.get_short().is_some_and(|c| name == c.to_string())
            }) else {
                out.push(flag);
                break;
            };
            let separate_value =
                known.get_action().takes_values() && !known.is_require_equals_set();
            if separate_value
                && !flag.contains('=')
                && let Some(value) = args.next()
            {
                out.push(format!("{flag}={value}"));
            } else {
                out.push(flag);
            }
            continue;
        };
        out.push("--".to_string());
        out.extend(file.cloned());
        let mut rest = args.as_slice();
        if rest.first().is_some_and(|a| a == "--") {
            rest = &rest[1..];
        }
        out.extend_from_slice(rest);
        return out;
    }
    out.extend(args.cloned());
    out
}

/// A flag with two dashes, or one when its name is one letter (`-help` is `--help`, `--h` is
/// `-h`); other arguments as they are.
fn dashes(arg: &str) -> String {
    let body = arg.trim_start_matches('-');
    let name_len = body.find('=').unwrap_or(body.len());
    match name_len {
        _ if body.len() == arg.len() => arg.to_string(),
        0 => arg.to_string(),
        1 => format!("-{body}"),
        _ => format!("--{body}"),
    }
}

fn runtime(flags: &Flags) -> Result<Runtime, Fail> {
    let engine = match (flags.interpreter, flags.eager) {
        (true, _) => EngineKind::Interpreter,
        (false, true) => EngineKind::Compiler,
        (false, false) => EngineKind::Auto,
    };
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

fn compile(flags: &Flags) -> Result<ExitCode, Fail> {
    let file = flags.file.as_str();
    let bytes = read_wasm(file)?;
    let runtime = runtime(flags)?;
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
        // For an Emscripten guest, fd_seek as emcc imports it (i64 in halves without BigInt).
        instantiate: |runtime, module, guest| {
            let builder = runtime.host_module(module);
            if keel_emscripten::is_emscripten(guest.compiled) {
                keel_emscripten::export_wasi_functions(builder, guest.compiled).instantiate()
            } else {
                keel_wasi::FunctionExporter::new().export_functions(builder).instantiate()
            }
        },
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

fn run(flags: &Flags) -> Result<ExitCode, Fail> {
    let file = flags.file.clone();
    let bytes = read_wasm(&file)?;
    let runtime = runtime(flags)?;
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
    for (k, v) in &flags.env {
        config = config.with_env(k, v);
    }
    for Mount { spec, host, guest, read_only } in &flags.mounts {
        let fs =
            DirFs::open(host).map_err(|e| Fail(format!("invalid mount {spec}: {host}: {e}")))?;
        config = if *read_only {
            config.with_read_only_mount(guest, fs)
        } else {
            config.with_mount(guest, fs)
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
fn parse_mount(spec: &str) -> Option<Mount> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(r) => (r, true),
        None => (spec, false),
    };
    let (host, guest) = match rest.split_once(':') {
        Some((h, g)) => (h, g),
        None => (rest, rest),
    };
    if host.is_empty() || guest.is_empty() {
        return None;
    }
    let (host, guest) = (host.to_string(), guest.to_string());
    Some(Mount { spec: spec.to_string(), host, guest, read_only })
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

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn normalised(args: &[&str]) -> Vec<String> {
        let mut cmd = cli_command();
        cmd.build();
        normalise(&cmd, &strings(args))
    }

    #[test]
    fn clap_accepts_the_definition() {
        cli_command().debug_assert();
    }

    #[test]
    fn flags_are_normalised_for_clap() {
        // One dash or two; a value joined to its flag, whatever it looks like; `--` before FILE.
        assert_eq!(
            normalised(&["run", "-mount=a", "--env", "-x=1", "-interpreter", "f", "--", "-v"]),
            ["run", "--mount=a", "--env=-x=1", "--interpreter", "--", "f", "-v"]
        );
        // A boolean flag does not take the next argument; `--h` is `-h`, `-help` is `--help`.
        assert_eq!(
            normalised(&["run", "--env-inherit", "true"]),
            ["run", "--env-inherit", "--", "true"]
        );
        assert_eq!(normalised(&["compile", "--h"]), ["compile", "-h"]);
        assert_eq!(normalised(&["-help"]), ["--help"]);
        // `--` ends the flags; one `--` after FILE is dropped, later ones are the guest's.
        assert_eq!(normalised(&["run", "--", "-f", "--", "--"]), ["run", "--", "-f", "--"]);
        assert_eq!(normalised(&["run", "-", "-x"]), ["run", "--", "-", "-x"]);
        // An unknown flag, and what follows, are left for clap to report.
        assert_eq!(
            normalised(&["run", "-bogus", "-env", "x", "f"]),
            ["run", "--bogus", "-env", "x", "f"]
        );
        // A flag missing its value is left so.
        assert_eq!(normalised(&["run", "-cachedir"]), ["run", "--cachedir"]);
        assert_eq!(normalised(&["version", "-x"]), ["version", "-x"]);
        assert_eq!(normalised(&["help", "run"]), ["help", "run"]);
    }

    #[test]
    fn flags_parse_with_their_defaults() {
        let Ok(Action::Run(flags)) = parse(&strings(&["run", "f.wasm"])) else { panic!() };
        assert!(flags.mounts.is_empty() && flags.env.is_empty() && flags.listen.is_empty());
        assert!(!flags.env_inherit && !flags.interpreter);
        assert!(flags.cachedir.is_none() && flags.timeout.is_none() && flags.hostlogging.is_none());
        assert_eq!((flags.file.as_str(), flags.guest_args.len()), ("f.wasm", 0));

        let args = [
            "run",
            "--mount=/a",
            "-mount",
            "/b:/c:ro",
            "--env=K=V=W",
            "--env-inherit",
            "--interpreter=false",
            "--interpreter=true",
            "--listen=127.0.0.1:0",
            "--cachedir=d",
            "--cachedir",
            "e",
            "--timeout=1m30s",
            "--hostlogging=filesystem,proc",
            "f.wasm",
            "x",
        ];
        let Ok(Action::Run(flags)) = parse(&strings(&args)) else { panic!() };
        let mount = |spec: &str, host: &str, guest: &str, read_only| Mount {
            spec: spec.into(),
            host: host.into(),
            guest: guest.into(),
            read_only,
        };
        assert_eq!(
            flags.mounts,
            [mount("/a", "/a", "/a", false), mount("/b:/c:ro", "/b", "/c", true)]
        );
        assert_eq!(flags.env, [("K".to_string(), "V=W".to_string())]);
        assert!(flags.env_inherit && flags.interpreter);
        assert_eq!(flags.listen, ["127.0.0.1:0"]);
        // The last of a repeated flag wins, as in Go.
        assert_eq!(flags.cachedir.as_deref(), Some("e"));
        assert_eq!(flags.timeout, Some(Duration::from_secs(90)));
        assert_eq!(flags.hostlogging, Some(LogScopes::parse("filesystem,proc").unwrap()));
        assert_eq!(flags.guest_args, ["x"]);

        // --timeout=0 is no timeout; compile takes run's flags.
        let Ok(Action::Compile(flags)) =
            parse(&strings(&["compile", "-timeout=0", "-env", "A=", "f"]))
        else {
            panic!()
        };
        assert_eq!((flags.timeout, flags.env.len()), (None, 1));
        assert!(matches!(parse(&strings(&["version"])), Ok(Action::Version)));
        let e = parse(&strings(&["run", "-timeout=5", "f"])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert_eq!(e.exit_code(), 2);
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
