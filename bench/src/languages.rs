//! The language rows: real language guests from a compiled-nothing start to exit, keel beside
//! node running the same `.wasm` with the guest's own JavaScript glue.
//!
//! - Go (`GOOS=js GOARCH=wasm`, Go 1.23: `imports/gojs/testdata/go1.23/scenarios.wasm`, 3.6 MB):
//!   keel through keel-gojs, node through Go 1.23's own `misc/wasm/wasm_exec_node.js`.
//! - Emscripten (emcc 3.1.6, `imports/emscripten/testdata/NAME.wasm`): keel through keel-wasi
//!   and keel-emscripten, node through the glue emcc made beside it (`NAME.js`), with
//!   `--no-experimental-fetch` (node 20's fetch cannot load a file path, which 3.1.6's glue tries
//!   first).
//!
//! A timed run is everything from the guest's bytes to its exit. On keel, in this process: a
//! fresh runtime (default configuration, so no compilation cache), its import sets, compiling the
//! module from bytes, instantiating it, running it to exit, and dropping all of it. On node: the
//! whole process, from spawning `node` to reaping it (node compiles the module as it starts,
//! with its tiers: Liftoff first, TurboFan for what gets hot). stdout is captured on both sides
//! (keel into memory, node through a pipe). Before each run, untimed, a fresh empty directory is
//! made: node's working directory, and for the guests that write files the directory they are
//! given, mounted on keel at its own host path (as keel-gojs's tests do, so both sides get the
//! same arguments); after the run, untimed, the exit code and stdout are checked and the
//! directory removed.
//!
//! wasmi and wasmtime have no Go or Emscripten import set: their cells say `n/a`. Without node
//! (or, for the Go rows, without Go 1.23's `wasm_exec_node.js`) the node cell says `n/a` and a
//! note says why; keel's columns run anyway.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_sys::{DirFs, MemFs, MemoryWriter};

use crate::engines::{Compiled, Engine, Result};
use crate::large::LargeRunner;
use crate::wasi::scratch_base;
use crate::{Cell, Nanos, Options, Report, initial_cells, median, nanos};

/// Which glue a guest needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Toolchain {
    /// Go's `GOOS=js GOARCH=wasm`: keel-gojs, or node with `wasm_exec_node.js`.
    Go,
    /// Emscripten's `env`: keel-wasi and keel-emscripten, or node with the glue emcc made
    /// (`js`, which loads `file` from its own directory).
    Emscripten { js: &'static str },
}

/// One language guest and how it is run.
pub struct LanguageBenchmark {
    /// Row name.
    pub name: &'static str,
    toolchain: Toolchain,
    /// The guest binary, and its file name (what node is given, or what the glue loads).
    wasm: &'static [u8],
    file: &'static str,
    /// The guest's arguments after its name (`{dir}` stands for the run's fresh directory),
    /// and the exact stdout it must print with them; the exit code must be 0.
    args: &'static [&'static str],
    expected: &'static str,
    /// The same for `--quick`.
    quick_args: &'static [&'static str],
    quick_expected: &'static str,
    /// What the row measures, for `--help`.
    pub about: &'static str,
}

const GO_WASM: &[u8] = include_bytes!("../../imports/gojs/testdata/go1.23/scenarios.wasm");
const EXCEPTIONS_WASM: &[u8] = include_bytes!("../../imports/emscripten/testdata/exceptions.wasm");
const EXCEPTIONS_JS: &str = include_str!("../../imports/emscripten/testdata/exceptions.js");
const SETJMP_WASM: &[u8] = include_bytes!("../../imports/emscripten/testdata/setjmp.wasm");
const SETJMP_JS: &str = include_str!("../../imports/emscripten/testdata/setjmp.js");

/// The language rows, in table order.
pub const BENCHMARKS: &[LanguageBenchmark] = &[
    LanguageBenchmark {
        name: "go-hello",
        toolchain: Toolchain::Go,
        wasm: GO_WASM,
        file: "scenarios.wasm",
        args: &["hello"],
        expected: "hello, world\n",
        quick_args: &["hello"],
        quick_expected: "hello, world\n",
        about: "Go 1.23 js/wasm: a hello world (3.6 MB of Wasm) from its bytes to exit, beside node",
    },
    LanguageBenchmark {
        name: "go-smallfiles",
        toolchain: Toolchain::Go,
        wasm: GO_WASM,
        file: "scenarios.wasm",
        args: &["smallfiles", "{dir}", "10000"],
        expected: "bytes read: 180000\n",
        quick_args: &["smallfiles", "{dir}", "100"],
        quick_expected: "bytes read: 1800\n",
        about: "Go 1.23 js/wasm: 10,000 os.WriteFile + os.ReadFile of 18 bytes, beside node",
    },
    LanguageBenchmark {
        name: "em-exceptions",
        toolchain: Toolchain::Emscripten { js: "exceptions.js" },
        wasm: EXCEPTIONS_WASM,
        file: "exceptions.wasm",
        args: &["bench"],
        expected: "100000 exceptions, sum 4999950000, live 0\n",
        quick_args: &[],
        quick_expected: include_str!("../../imports/emscripten/testdata/exceptions.stdout"),
        about: "Emscripten C++: throw and catch 100,000 exceptions (invoke_*), beside node",
    },
    LanguageBenchmark {
        name: "em-setjmp",
        toolchain: Toolchain::Emscripten { js: "setjmp.js" },
        wasm: SETJMP_WASM,
        file: "setjmp.wasm",
        args: &["bench"],
        expected: "first return\nlongjmp from depth 20 returned 120\nnested buffer returned 5\n\
                   100000 round trips, sum 10350000\n",
        quick_args: &[],
        quick_expected: include_str!("../../imports/emscripten/testdata/setjmp.stdout"),
        about: "Emscripten C: 100,000 setjmp/longjmp round trips (invoke_*), beside node",
    },
];

/// The JS glue of an Emscripten guest.
fn glue(js: &str) -> &'static str {
    match js {
        "exceptions.js" => EXCEPTIONS_JS,
        _ => SETJMP_JS,
    }
}

/// How an engine runs the language guests, if it does ([`Engine::language_runner`]).
pub enum Runner<'a> {
    /// In this process, on keel's engine of this kind.
    Keel(EngineKind),
    /// As a node process.
    Node(&'a Node),
}

/// node, as a column: it runs only the language rows (whole programs with their JS glue), never
/// a module handed to it, so it has no cell in the other rows.
pub struct Node {
    /// `node --version`, or why node cannot run.
    version: std::result::Result<String, String>,
    /// Go 1.23's `wasm_exec_node.js`, or why it was not found.
    go_wasm_exec: std::result::Result<PathBuf, String>,
}

/// The Go release that built [`GO_WASM`]: its `wasm_exec_node.js` must be the one node runs.
const GO_RELEASE: &str = "1.23";

impl Node {
    /// Finds node (`node` on the PATH) and Go 1.23's `wasm_exec_node.js`.
    pub fn new() -> Node {
        let version = match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            }
            Ok(out) => Err(format!("`node --version` exited with {}", out.status)),
            Err(e) => Err(format!("`node --version`: {e}")),
        };
        Node { version, go_wasm_exec: find_go_wasm_exec() }
    }
}

/// Go 1.23's `misc/wasm/wasm_exec_node.js`: in Debian's `/usr/lib/go-1.23` (what
/// `scripts/guest-toolchains.sh go` installs), else under the GOROOT of a `go` on the PATH that
/// is Go 1.23.
fn find_go_wasm_exec() -> std::result::Result<PathBuf, String> {
    let in_root = |root: &Path| root.join("misc/wasm/wasm_exec_node.js");
    let debian = in_root(Path::new(&format!("/usr/lib/go-{GO_RELEASE}")));
    if debian.is_file() {
        return Ok(debian);
    }
    let go_env = |key: &str| -> Option<String> {
        let out = Command::new("go").args(["env", key]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if let (Some(version), Some(root)) = (go_env("GOVERSION"), go_env("GOROOT"))
        && (version == format!("go{GO_RELEASE}")
            || version.starts_with(&format!("go{GO_RELEASE}.")))
        && in_root(Path::new(&root)).is_file()
    {
        return Ok(in_root(Path::new(&root)));
    }
    Err(format!(
        "Go {GO_RELEASE}'s wasm_exec_node.js is not in {} nor under a Go {GO_RELEASE} on the PATH \
         (scripts/guest-toolchains.sh go installs it)",
        debian.display()
    ))
}

impl Engine for Node {
    fn name(&self) -> &'static str {
        "node"
    }

    fn is_peer(&self) -> bool {
        true
    }

    fn unavailable(&self) -> Option<String> {
        self.version.as_ref().err().cloned()
    }

    fn runs_modules(&self) -> bool {
        false
    }

    fn language_runner(&self) -> Option<Runner<'_>> {
        Some(Runner::Node(self))
    }

    fn large_runner(&self) -> Option<LargeRunner<'_>> {
        Some(LargeRunner::Node)
    }

    fn compile(&self, _: &[u8]) -> Result<Box<dyn Compiled>> {
        Err("node runs only the language rows".into())
    }
}

/// How a run ended: the exit code (or what ended it otherwise), stdout and stderr.
pub struct Outcome {
    /// The exit code, or what ended the run otherwise.
    pub exit: std::result::Result<u32, String>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Outcome {
    /// Whether it exited 0 printing exactly `expected`; else what went wrong.
    pub fn check(&self, expected: &str) -> std::result::Result<(), String> {
        let stderr = self.stderr.trim_end();
        match &self.exit {
            Ok(0) if self.stdout == expected => Ok(()),
            Ok(0) => Err(format!("stdout {:?}, expected {expected:?}", self.stdout)),
            Ok(code) => {
                Err(format!("exited with {code}; stdout {:?}; stderr {stderr:?}", self.stdout))
            }
            Err(e) => Err(format!("{e}; stdout {:?}; stderr {stderr:?}", self.stdout)),
        }
    }
}

/// Everything one run needs: the guest, its arguments (`argv[1..]`) and the fresh directory.
struct Run<'a> {
    b: &'a LanguageBenchmark,
    args: &'a [String],
    dir: &'a Path,
    /// Where the node side's copy of the guest (and its glue) lies.
    node_files: &'a Path,
}

/// Runs `run` on keel's engine `kind`, from the guest's bytes to its exit, all of it dropped
/// before returning.
fn run_keel(kind: EngineKind, run: &Run<'_>) -> Outcome {
    let (stdout, stderr) = (MemoryWriter::default(), MemoryWriter::default());
    let argv = std::iter::once(run.b.file).chain(run.args.iter().map(String::as_str));
    let config = ModuleConfig::new()
        .with_name("")
        .with_args(argv)
        .with_stdout(stdout.clone())
        .with_stderr(stderr.clone());
    let exit = match run.b.toolchain {
        Toolchain::Go => run_go(kind, run, config),
        Toolchain::Emscripten { .. } => run_emscripten(kind, run.b.wasm, config),
    };
    Outcome { exit, stdout: stdout.text(), stderr: stderr.text() }
}

/// A Go guest through keel-gojs: a root file system of its own (empty, in memory) with the
/// run's directory mounted at its host path.
fn run_go(
    kind: EngineKind,
    run: &Run<'_>,
    config: ModuleConfig,
) -> std::result::Result<u32, String> {
    let dir = run.dir.to_str().ok_or("the scratch directory's path is not UTF-8")?;
    let fs = DirFs::open(run.dir).map_err(|e| format!("{dir}: {e}"))?;
    let config = config.with_mount("/", MemFs::new()).with_mount(dir, fs);
    let runtime = Runtime::with_config(RuntimeConfig::default(), kind);
    keel_gojs::instantiate(&runtime).map_err(|e| format!("keel_gojs::instantiate: {e}"))?;
    let compiled = runtime.compile(run.b.wasm).map_err(|e| format!("compile: {e}"))?;
    match keel_gojs::run(&runtime, &compiled, config) {
        Ok(()) => Err("keel_gojs::run returned without the guest exiting".into()),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    }
}

/// An Emscripten guest through keel-emscripten (and keel-wasi, as emcc imports it).
fn run_emscripten(
    kind: EngineKind,
    wasm: &[u8],
    config: ModuleConfig,
) -> std::result::Result<u32, String> {
    let runtime = Runtime::with_config(RuntimeConfig::default(), kind);
    let compiled = runtime.compile(wasm).map_err(|e| format!("compile: {e}"))?;
    keel_emscripten::instantiate_wasi(&runtime, &compiled)
        .map_err(|e| format!("keel_emscripten::instantiate_wasi: {e}"))?;
    keel_emscripten::instantiate_for(&runtime, &compiled)
        .map_err(|e| format!("keel_emscripten::instantiate_for: {e}"))?;
    keel_emscripten::run(&runtime, &compiled, config).map_err(|e| e.to_string())
}

/// The node command for `run`, its working directory the run's directory, its environment
/// empty (as keel's guests get none).
fn node_command(node: &Node, run: &Run<'_>) -> std::result::Result<Command, String> {
    let mut command = Command::new("node");
    match run.b.toolchain {
        Toolchain::Go => {
            let wasm_exec = node.go_wasm_exec.as_ref().map_err(String::clone)?;
            command.arg(wasm_exec).arg(run.node_files.join(run.b.file));
        }
        Toolchain::Emscripten { js } => {
            command.arg("--no-experimental-fetch").arg(run.node_files.join(js));
        }
    }
    command
        .args(run.args)
        .current_dir(run.dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(command)
}

/// Runs `command` to its exit.
fn run_node(mut command: Command) -> Outcome {
    match command.output() {
        Ok(out) => Outcome {
            exit: out
                .status
                .code()
                .map(|c| c as u32)
                .ok_or_else(|| format!("node: {}", out.status)),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => Outcome {
            exit: Err(format!("spawning node: {e}")),
            stdout: String::new(),
            stderr: String::new(),
        },
    }
}

/// The row's temporary directory: the node side's copy of the guest, and a fresh directory per
/// run. Removed when dropped.
struct Scratch {
    root: PathBuf,
    node_files: PathBuf,
    runs: u32,
}

impl Scratch {
    fn new(b: &LanguageBenchmark) -> std::result::Result<Scratch, String> {
        let root = scratch_base().join(format!("keel-bench-{}-{}", b.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let node_files = root.join("guest");
        let write = |name: &str, bytes: &[u8]| {
            let path = node_files.join(name);
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
        };
        std::fs::create_dir_all(&node_files)
            .map_err(|e| format!("{}: {e}", node_files.display()))?;
        write(b.file, b.wasm)?;
        if let Toolchain::Emscripten { js } = b.toolchain {
            write(js, glue(js).as_bytes())?;
        }
        Ok(Scratch { root, node_files, runs: 0 })
    }

    /// A new empty directory for one run.
    fn fresh_dir(&mut self) -> std::result::Result<PathBuf, String> {
        self.runs += 1;
        let dir = self.root.join(format!("run{}", self.runs));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Times one language row: `opts.runs` samples after one warm-up, each one run from the guest's
/// bytes to its exit, the engines taking turns.
pub fn run_benchmark(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    b: &LanguageBenchmark,
    opts: &Options,
) -> Vec<Cell> {
    let (args, expected) =
        if opts.quick { (b.quick_args, b.quick_expected) } else { (b.args, b.expected) };
    let mut cells = initial_cells(engines);
    let mut live: Vec<(usize, Runner<'_>, Vec<Nanos>)> = Vec::new();
    for (i, engine) in engines.iter().enumerate() {
        match engine.language_runner() {
            None => cells[i] = Cell::NotApplicable,
            // Its column says `n/a`, and a note says why.
            Some(_) if engine.unavailable().is_some() => cells[i] = Cell::Unavailable,
            Some(Runner::Node(node)) if b.toolchain == Toolchain::Go => match &node.go_wasm_exec {
                Ok(_) => {
                    cells[i] = Cell::Failed;
                    live.push((i, Runner::Node(node), Vec::new()));
                }
                Err(why) => {
                    cells[i] = Cell::Unavailable;
                    report.note(format!("node: not available for {}: {why}", b.name));
                }
            },
            Some(runner) => {
                cells[i] = Cell::Failed;
                live.push((i, runner, Vec::new()));
            }
        }
    }
    let mut scratch = match Scratch::new(b) {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(format!("{}: {e}", b.name));
            return cells;
        }
    };
    for sample in 0..=opts.runs {
        let mut k = 0;
        while k < live.len() {
            let (i, runner, samples) = &mut live[k];
            let result = scratch.fresh_dir().and_then(|dir| {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| if *a == "{dir}" { dir.display().to_string() } else { a.to_string() })
                    .collect();
                let run = Run { b, args: &args, dir: &dir, node_files: &scratch.node_files };
                let (elapsed, outcome) = match runner {
                    Runner::Keel(kind) => {
                        let start = Instant::now();
                        let outcome = run_keel(*kind, &run);
                        (start.elapsed(), outcome)
                    }
                    Runner::Node(node) => {
                        let command = node_command(node, &run)?;
                        let start = Instant::now();
                        let outcome = run_node(command);
                        (start.elapsed(), outcome)
                    }
                };
                let _ = std::fs::remove_dir_all(&dir);
                outcome.check(expected).map(|()| nanos(elapsed))
            });
            match result {
                Ok(elapsed) => {
                    if sample > 0 {
                        samples.push(elapsed);
                    }
                    k += 1;
                }
                Err(e) => {
                    let what = format!("{} {}", b.file, args.join(" "));
                    cells[*i] = report.fail(b.name, &*engines[*i], format!("{what}: {e}"));
                    live.remove(k);
                }
            }
        }
    }
    for (i, _, samples) in live {
        cells[i] = Cell::Time(median(&samples), samples);
    }
    cells
}
