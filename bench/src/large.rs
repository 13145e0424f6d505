//! The large rows: starting large real programs from their bytes, keel beside its peers.
//!
//! The guests are Go's own `cmd/gofmt` (about 4.6 MB of Wasm) and `cmd/compile` (about 39 MB),
//! built at bench time by Go 1.23 for `GOOS=js GOARCH=wasm` and for `GOOS=wasip1 GOARCH=wasm`:
//! too big to commit, and any Go 1.23 builds the same program. They are built once, into
//! `large-guests/` of the harness's cargo target directory, with Go's cache and `GOPATH` there
//! too (nothing outside it is touched), and rebuilt only when missing. Without Go 1.23 every
//! cell of these rows says `n/a` and a note says why.
//!
//! Each guest runs one small command: `gofmt` formats a few lines read from stdin, `compile -V`
//! prints its version. Every engine gets the same arguments (`argv[0]` is the file name) and
//! reads stdin from the same host file; stdout is captured; the exit code and stdout are checked
//! after every run, untimed. The engines:
//!
//! - keel's interpreter, compiler and default engine (`keel-default`: `EngineKind::Auto`), in
//!   this process: a fresh runtime with the default configuration (no compilation cache), the
//!   import set (keel-gojs for js, keel-wasi for wasip1), compiling from the bytes,
//!   instantiating, running to exit, dropping all of it. stdout is a writer that records the
//!   instant of its first write.
//! - wasmtime (wasip1 builds), in this process through its C API ([`Wasmtime::run_command`]):
//!   compiling from the bytes, a store, `_start`, freeing all of it; stdout is a callback that
//!   records the instant of its first call.
//! - node (js builds), a process running the guest with the building Go's own
//!   `misc/wasm/wasm_exec_node.js`; the first output is the first byte read from its stdout
//!   pipe, the exit is when it has been reaped.
//!
//! Three rows per guest:
//!
//! - `large-GUEST-first-output`: from the start until the guest's first byte of stdout;
//! - `large-GUEST-exit`: from the start until it has exited and everything is dropped (the same
//!   runs as the first-output row: both instants are taken in each run);
//! - `large-GUEST-peak-rss`: the peak resident memory of a process that runs the guest once
//!   from its bytes to exit, in MB: for keel and wasmtime a child process of this binary
//!   ([`CHILD_ARG`]), for node the node process (see [`child_main`] for how it is read).
//!
//! There is no warm-up run (each run is a cold start of a program anyway) and the engines take
//! turns run by run. `--quick` runs only the `gofmt` guests, once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_sys::{MemFs, MemoryWriter};

use crate::engines::Engine;
use crate::languages::Outcome;
use crate::wasi::scratch_base;
use crate::wasmtime::Wasmtime;
use crate::{Cell, Nanos, Options, Report, median, nanos};

/// How an engine runs the large rows' guests ([`Engine::large_runner`]).
pub enum LargeRunner<'a> {
    /// In this process, on keel's engine of this kind (js and wasip1 builds).
    Keel(EngineKind),
    /// In this process, through wasmtime's C API (wasip1 builds).
    Wasmtime(&'a Wasmtime),
    /// As a node process with Go's `wasm_exec_node.js` (js builds).
    Node,
}

/// The target a guest is built for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goos {
    /// `GOOS=js`: keel-gojs, or node with `wasm_exec_node.js`.
    Js,
    /// `GOOS=wasip1`: keel-wasi, or wasmtime's WASI preview1.
    Wasip1,
}

impl Goos {
    fn name(self) -> &'static str {
        match self {
            Goos::Js => "js",
            Goos::Wasip1 => "wasip1",
        }
    }
}

/// One large guest and the command it runs.
struct LargeGuest {
    /// The guest's part of the row names: `large-{name}-first-output` and so on.
    name: &'static str,
    /// The Go package built, and the file name of the result (also `argv[0]`).
    package: &'static str,
    file: &'static str,
    goos: Goos,
    /// The arguments after `argv[0]`.
    args: &'static [&'static str],
    /// The exact stdout every engine must print; `{go}` stands for the Go version that built it
    /// (`go1.23.5`).
    expected: &'static str,
    /// Whether `--quick` runs it.
    quick: bool,
    /// What it runs, for `--help`.
    about: &'static str,
}

/// What every guest reads from stdin (only `gofmt` reads it).
const STDIN: &str = "package main\nfunc  main( ) {\n\tprintln( \"hi\" )\n}\n";
/// What `gofmt` makes of [`STDIN`].
const GOFMT_EXPECTED: &str = "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n";

/// The large guests, in table order.
const GUESTS: &[LargeGuest] = &[
    LargeGuest {
        name: "gofmt-js",
        package: "cmd/gofmt",
        file: "gofmt.wasm",
        goos: Goos::Js,
        args: &[],
        expected: GOFMT_EXPECTED,
        quick: true,
        about: "Go's gofmt (js/wasm, ~4.7 MB) formatting 4 lines from stdin",
    },
    LargeGuest {
        name: "compile-js",
        package: "cmd/compile",
        file: "compile.wasm",
        goos: Goos::Js,
        args: &["-V"],
        expected: "compile.wasm version {go}\n",
        quick: false,
        about: "Go's compiler (js/wasm, ~39 MB): compile -V",
    },
    LargeGuest {
        name: "vet-js",
        package: "cmd/vet",
        file: "vet.wasm",
        goos: Goos::Js,
        args: &["-V=full"],
        expected: "vet.wasm version {go}\n",
        quick: false,
        about: "Go's vet (js/wasm, ~12 MB): vet -V=full",
    },
    LargeGuest {
        name: "gofmt-wasip1",
        package: "cmd/gofmt",
        file: "gofmt.wasm",
        goos: Goos::Wasip1,
        args: &[],
        expected: GOFMT_EXPECTED,
        quick: true,
        about: "Go's gofmt (wasip1, ~4.6 MB) formatting 4 lines from stdin",
    },
    LargeGuest {
        name: "compile-wasip1",
        package: "cmd/compile",
        file: "compile.wasm",
        goos: Goos::Wasip1,
        args: &["-V"],
        expected: "compile.wasm version {go}\n",
        quick: false,
        about: "Go's compiler (wasip1, ~39 MB): compile -V",
    },
];

/// The three measurements per guest, as row-name suffixes with what they measure.
const MEASURES: &[(&str, &str)] = &[
    ("first-output", "time from its bytes to its first byte of stdout"),
    ("exit", "time from its bytes to exit"),
    ("peak-rss", "peak RSS (MB) of a process running it"),
];

/// The name of one row.
fn row_name(guest: &LargeGuest, measure: &str) -> String {
    format!("large-{}-{measure}", guest.name)
}

/// Every large row with what it measures, for `--help`.
pub fn rows() -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for g in GUESTS {
        for (measure, what) in MEASURES {
            rows.push((row_name(g, measure), format!("{}: {what}", g.about)));
        }
    }
    rows
}

/// Everything a guest writes to stdout, and when it first wrote: the stdout of the in-process
/// engines (keel's writer, wasmtime's callback). Clones share it.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Captured>>);

/// What a [`Capture`] holds.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    first: Option<Instant>,
}

impl Capture {
    /// Records `bytes` written (the instant first, so the lock is not part of it).
    pub fn record(&self, bytes: &[u8]) {
        let now = Instant::now();
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if c.first.is_none() && !bytes.is_empty() {
            c.first = Some(now);
        }
        c.bytes.extend_from_slice(bytes);
    }

    /// The instant of the first non-empty write, and everything written as text.
    fn take(&self) -> (Option<Instant>, String) {
        let c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (c.first, String::from_utf8_lossy(&c.bytes).into_owned())
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.record(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The Go that builds the guests.
struct GoToolchain {
    /// The `go` command.
    go: PathBuf,
    /// `go1.23.5`, say.
    version: String,
    /// Its `misc/wasm/wasm_exec_node.js`, for node.
    wasm_exec: PathBuf,
}

/// The Go release that builds the guests.
const GO_RELEASE: &str = "1.23";

/// Go 1.23: Debian's `/usr/lib/go-1.23/bin/go` (what `scripts/guest-toolchains.sh go`
/// installs), else a `go` on the PATH that is Go 1.23.
fn find_go() -> Result<GoToolchain, String> {
    let query = |go: &Path| -> Option<(String, PathBuf)> {
        let out = Command::new(go).args(["env", "GOVERSION", "GOROOT"]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let (version, root) = (lines.next()?.trim(), lines.next()?.trim());
        let release = version.strip_prefix("go")?;
        let ours = release == GO_RELEASE || release.starts_with(&format!("{GO_RELEASE}."));
        (out.status.success() && ours).then(|| (version.to_string(), PathBuf::from(root)))
    };
    let debian = PathBuf::from(format!("/usr/lib/go-{GO_RELEASE}/bin/go"));
    for go in [debian.clone(), PathBuf::from("go")] {
        if let Some((version, root)) = query(&go) {
            let wasm_exec = root.join("misc/wasm/wasm_exec_node.js");
            return Ok(GoToolchain { go, version, wasm_exec });
        }
    }
    Err(format!(
        "Go {GO_RELEASE} is not installed ({} nor a Go {GO_RELEASE} `go` on the PATH; \
         scripts/guest-toolchains.sh go installs it)",
        debian.display()
    ))
}

/// Where the guests are cached: `large-guests/` in the cargo target directory this binary was
/// built in (the nearest directory above it holding cargo's `CACHEDIR.TAG`), else in
/// `bench/target`.
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(|exe| exe.ancestors().skip(1).find(|d| d.join("CACHEDIR.TAG").is_file()))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("large-guests")
}

/// The guest's binary: built by `go` into the cache unless it is there already.
fn build(go: &GoToolchain, guest: &LargeGuest) -> Result<PathBuf, String> {
    let cache = cache_dir();
    let dir = cache.join(&go.version).join(guest.goos.name());
    let wasm = dir.join(guest.file);
    if wasm.is_file() {
        return Ok(wasm);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    eprintln!(
        "keel-bench: building {} for {}/wasm with {} into {} (once; cmd/compile takes minutes)",
        guest.package,
        guest.goos.name(),
        go.version,
        dir.display()
    );
    // Written under another name and renamed, so that a build cut short is never taken.
    let partial = dir.join(format!("{}.partial", guest.file));
    let out = Command::new(&go.go)
        .args(["build", "-trimpath", "-o"])
        .arg(&partial)
        .arg(guest.package)
        .current_dir(&cache)
        // Go's settings all here, so that nothing outside the cache is read or written.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GOOS", guest.goos.name())
        .env("GOARCH", "wasm")
        .env("GOTOOLCHAIN", "local")
        .env("GOENV", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", cache.join("gocache"))
        .env("GOPATH", cache.join("gopath"))
        .output()
        .map_err(|e| format!("running {}: {e}", go.go.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("go build {} failed: {}", guest.package, stderr.trim_end()));
    }
    std::fs::rename(&partial, &wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    Ok(wasm)
}

/// One guest, ready to run: its bytes, its file, what it reads and what it must print.
struct Ready<'a> {
    guest: &'a LargeGuest,
    wasm: Vec<u8>,
    path: PathBuf,
    /// The host file every engine reads stdin from.
    stdin: PathBuf,
    expected: String,
    /// node's `wasm_exec_node.js`.
    wasm_exec: PathBuf,
}

impl Ready<'_> {
    /// `argv`: the file name, then the guest's arguments.
    fn argv(&self) -> Vec<&str> {
        std::iter::once(self.guest.file).chain(self.guest.args.iter().copied()).collect()
    }
}

/// When one run produced its first output and when it ended, and how it ended.
struct Timed {
    start: Instant,
    first: Option<Instant>,
    end: Instant,
    outcome: Outcome,
}

/// Runs `ready` once on `runner`, from its bytes to exit.
fn run_once(runner: &LargeRunner<'_>, ready: &Ready<'_>) -> Result<Timed, String> {
    match runner {
        LargeRunner::Keel(kind) => {
            let stdin = std::fs::File::open(&ready.stdin)
                .map_err(|e| format!("{}: {e}", ready.stdin.display()))?;
            let (stdout, stderr) = (Capture::default(), MemoryWriter::default());
            let config = ModuleConfig::new()
                .with_name("")
                .with_args(ready.argv())
                .with_stdin(stdin)
                .with_stdout(stdout.clone())
                .with_stderr(stderr.clone());
            let start = Instant::now();
            let exit = match ready.guest.goos {
                Goos::Js => run_keel_gojs(*kind, &ready.wasm, config),
                Goos::Wasip1 => run_keel_wasi(*kind, &ready.wasm, config),
            };
            let end = Instant::now();
            let (first, stdout) = stdout.take();
            let outcome = Outcome { exit, stdout, stderr: stderr.text() };
            Ok(Timed { start, first, end, outcome })
        }
        LargeRunner::Wasmtime(wasmtime) => {
            let stdout = Capture::default();
            let start = Instant::now();
            let exit = wasmtime.run_command(&ready.wasm, &ready.argv(), &ready.stdin, &stdout);
            let end = Instant::now();
            let (first, stdout) = stdout.take();
            let exit = exit.map(|code| code as u32);
            Ok(Timed {
                start,
                first,
                end,
                outcome: Outcome { exit, stdout, stderr: String::new() },
            })
        }
        LargeRunner::Node => {
            let child = spawn_child(node_command(ready)?)?;
            Ok(child.timed)
        }
    }
}

/// A js/wasm guest through keel-gojs, over an empty in-memory root (as keel-gojs's tests do).
fn run_keel_gojs(kind: EngineKind, wasm: &[u8], config: ModuleConfig) -> Result<u32, String> {
    let runtime = Runtime::with_config(RuntimeConfig::default(), kind);
    keel_gojs::instantiate(&runtime).map_err(|e| format!("keel_gojs::instantiate: {e}"))?;
    let compiled = runtime.compile(wasm).map_err(|e| format!("compile: {e}"))?;
    match keel_gojs::run(&runtime, &compiled, config.with_mount("/", MemFs::new())) {
        Ok(()) => Err("keel_gojs::run returned without the guest exiting".into()),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    }
}

/// A wasip1 guest through keel-wasi: instantiating runs `_start`; `proc_exit` ends it with an
/// error carrying the code.
fn run_keel_wasi(kind: EngineKind, wasm: &[u8], config: ModuleConfig) -> Result<u32, String> {
    let runtime = Runtime::with_config(RuntimeConfig::default(), kind);
    keel_wasi::instantiate(&runtime).map_err(|e| format!("keel_wasi::instantiate: {e}"))?;
    let compiled = runtime.compile(wasm).map_err(|e| format!("compile: {e}"))?;
    match runtime.instantiate(&compiled, config) {
        Ok(_) => Ok(0),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    }
}

/// node running a js/wasm guest: in the stdin file's directory, with an empty environment (as
/// keel's guests get none).
fn node_command(ready: &Ready<'_>) -> Result<Command, String> {
    let stdin =
        std::fs::File::open(&ready.stdin).map_err(|e| format!("{}: {e}", ready.stdin.display()))?;
    let mut command = Command::new("node");
    command
        .arg(&ready.wasm_exec)
        .arg(&ready.path)
        .args(ready.guest.args)
        .current_dir(ready.stdin.parent().unwrap_or(Path::new("/")))
        .env_clear()
        .stdin(stdin);
    Ok(command)
}

/// A child process run to its end.
struct Child {
    timed: Timed,
    /// Its peak resident set size in bytes (`ru_maxrss`).
    max_rss: u64,
}

/// Runs `command` to its end, its stdout and stderr captured: the first byte read from its
/// stdout pipe is its first output, its end when it has been reaped (by `wait4`, which also
/// gives its peak memory).
fn spawn_child(mut command: Command) -> Result<Child, String> {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {:?}: {e}", command.get_program()))?;
    // stderr on a thread of its own, so that neither pipe can fill up and stall the child.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (mut bytes, mut first, mut buf) = (Vec::new(), None, [0u8; 4096]);
    loop {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                first.get_or_insert_with(Instant::now);
                bytes.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the child's stdout: {e}")),
        }
    }
    let (status, max_rss) = wait4(child.id())?;
    let end = Instant::now();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    let exit = if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status) as u32)
    } else {
        Err(format!("ended by signal {}", libc::WTERMSIG(status)))
    };
    let outcome = Outcome { exit, stdout: String::from_utf8_lossy(&bytes).into_owned(), stderr };
    Ok(Child { timed: Timed { start, first, end, outcome }, max_rss })
}

/// Waits for the child `pid` and reaps it: its wait status and peak resident set size in
/// bytes. (`std::process::Child::wait` does not give the child's resource usage.)
fn wait4(pid: u32) -> Result<(i32, u64), String> {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value for `wait4` to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped; both out-pointers are valid.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r == pid as libc::pid_t {
            // Linux gives `ru_maxrss` in KiB.
            return Ok((status, usage.ru_maxrss as u64 * 1024));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {e}"));
        }
    }
}

/// The hidden first argument that makes this binary a child that runs one large guest once
/// and reports the peak memory of doing it: `CHILD_ARG ENGINE WASM STDIN EXPECTED WASM_EXEC
/// ARGV...`.
pub const CHILD_ARG: &str = "--large-child";

/// The child of [`CHILD_ARG`]: runs the guest at `WASM` (the goos from the directory it is
/// built in) once on `ENGINE`, checks its exit code and stdout, and prints
/// `peak-rss-bytes N`; exits 1 with what went wrong on stderr otherwise.
///
/// Why a fresh process, and which figure: a process's `ru_maxrss` keeps the high-water mark of
/// the memory it had before `exec`, and a child spawned by the harness shares the harness's
/// memory until then (vfork), so `wait4` in the harness would report the harness's own peak.
/// An in-process engine's figure is therefore this process's `VmHWM` (its own memory since
/// `exec`); node's is `wait4`'s `ru_maxrss` of a node spawned from here, whose inherited mark is
/// this small process's, a few MB.
pub fn child_main(args: &[String]) -> ExitCode {
    let result = (|| {
        let [engine, wasm, stdin, expected, wasm_exec, argv @ ..] = args else {
            return Err(format!("{CHILD_ARG}: ENGINE WASM STDIN EXPECTED WASM_EXEC ARGV..."));
        };
        let path = PathBuf::from(wasm);
        let goos =
            if path.parent().is_some_and(|d| d.ends_with("js")) { Goos::Js } else { Goos::Wasip1 };
        let guest = GUESTS
            .iter()
            .find(|g| g.goos == goos && argv.first().is_some_and(|f| f == g.file))
            .ok_or("no such guest")?;
        let mut ready = Ready {
            guest,
            wasm: Vec::new(),
            path,
            stdin: PathBuf::from(stdin),
            expected: expected.clone(),
            wasm_exec: PathBuf::from(wasm_exec),
        };
        if engine == "node" {
            // node reads the file itself: its bytes are not loaded here, to keep this small.
            let child = spawn_child(node_command(&ready)?)?;
            child.timed.outcome.check(&ready.expected)?;
            return Ok(child.max_rss);
        }
        let wasmtime;
        let runner = match engine.as_str() {
            "keel-interp" => LargeRunner::Keel(EngineKind::Interpreter),
            "keel-compiler" => LargeRunner::Keel(EngineKind::Compiler),
            #[cfg(feature = "tiered")]
            "keel-tiered" => LargeRunner::Keel(EngineKind::Tiered),
            "keel-default" => LargeRunner::Keel(EngineKind::Auto),
            "wasmtime" => {
                wasmtime = Wasmtime::new();
                if let Some(why) = wasmtime.unavailable() {
                    return Err(why);
                }
                LargeRunner::Wasmtime(&wasmtime)
            }
            other => return Err(format!("no engine {other}")),
        };
        ready.wasm = std::fs::read(&ready.path).map_err(|e| format!("{wasm}: {e}"))?;
        run_once(&runner, &ready)?.outcome.check(&ready.expected)?;
        peak_of_self()
    })();
    match result {
        Ok(bytes) => {
            println!("peak-rss-bytes {bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// This process's peak resident set size since `exec`, in bytes (`VmHWM` of
/// `/proc/self/status`).
fn peak_of_self() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(kib * 1024)
}

/// The peak resident memory of a process running `ready` once on `engine`, in bytes, from a
/// child of this binary ([`child_main`]).
fn peak_rss(engine: &dyn Engine, ready: &Ready<'_>) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this binary: {e}"))?;
    let mut command = Command::new(exe);
    command
        .arg(CHILD_ARG)
        .arg(engine.name())
        .arg(&ready.path)
        .arg(&ready.stdin)
        .arg(&ready.expected)
        .arg(&ready.wasm_exec)
        .args(ready.argv())
        .stdin(Stdio::null());
    let outcome = spawn_child(command)?.timed.outcome;
    let stderr = outcome.stderr.trim_end();
    match outcome.exit {
        Ok(0) => outcome
            .stdout
            .trim()
            .strip_prefix("peak-rss-bytes ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("the child printed {:?}", outcome.stdout)),
        Ok(code) => Err(format!("the child exited with {code}: {stderr}")),
        Err(e) => Err(format!("the child: {e}: {stderr}")),
    }
}

/// Whether `runner` runs guests built for `goos`.
fn runs(runner: &LargeRunner<'_>, goos: Goos) -> bool {
    match runner {
        LargeRunner::Keel(_) => true,
        LargeRunner::Wasmtime(_) => goos == Goos::Wasip1,
        LargeRunner::Node => goos == Goos::Js,
    }
}

/// The scratch directory of the large rows: the stdin file. Removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the wanted large rows and adds them to `report`.
pub fn run(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    opts: &Options,
    wanted: &dyn Fn(&str) -> bool,
) {
    let rows_wanted = |g: &LargeGuest| MEASURES.iter().any(|(m, _)| wanted(&row_name(g, m)));
    let guests: Vec<&LargeGuest> = GUESTS.iter().filter(|g| rows_wanted(g)).collect();
    if guests.is_empty() {
        return;
    }
    if opts.quick && guests.iter().any(|g| !g.quick) {
        report.note("large rows: --quick runs only the gofmt guests, once".into());
    }
    let guests: Vec<&LargeGuest> = guests.into_iter().filter(|g| !opts.quick || g.quick).collect();
    let go = find_go();
    let scratch = Scratch(scratch_base().join(format!("keel-bench-large-{}", std::process::id())));
    let stdin = scratch.0.join("stdin.go");
    let made = std::fs::create_dir_all(&scratch.0).and_then(|()| std::fs::write(&stdin, STDIN));
    if let Err(e) = made {
        report.errors.push(format!("large rows: {}: {e}", scratch.0.display()));
        return;
    }
    let mut built = Vec::new();
    for guest in guests {
        let mut cells: Vec<Cell> = Vec::new();
        let mut live = Vec::new();
        for (i, engine) in engines.iter().enumerate() {
            cells.push(match engine.large_runner() {
                Some(runner) if runs(&runner, guest.goos) => {
                    if engine.unavailable().is_some() || go.is_err() {
                        Cell::Unavailable
                    } else {
                        live.push((i, runner));
                        Cell::Failed
                    }
                }
                _ => Cell::NotApplicable,
            });
        }
        let ready = match &go {
            Err(why) => {
                report.note(format!("large rows: {why}"));
                None
            }
            Ok(go) => match build(go, guest).and_then(|path| {
                let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok((path, wasm))
            }) {
                Ok((path, wasm)) => {
                    built.push(format!("{} {:.1} MB", guest.name, wasm.len() as f64 / 1e6));
                    let expected = guest.expected.replace("{go}", &go.version);
                    let wasm_exec = go.wasm_exec.clone();
                    Some(Ready { guest, wasm, path, stdin: stdin.clone(), expected, wasm_exec })
                }
                Err(e) => {
                    report.errors.push(format!("large-{}: {e}", guest.name));
                    live.clear();
                    None
                }
            },
        };
        let (first, exit) = time_runs(report, engines, opts, ready.as_ref(), &cells, &live);
        for (measure, row) in [("first-output", first), ("exit", exit)] {
            if wanted(&row_name(guest, measure)) {
                report.rows.push((row_name(guest, measure), row));
            }
        }
        if wanted(&row_name(guest, "peak-rss")) {
            let mut row = cells.clone();
            for (i, _) in live.iter().filter(|_| ready.is_some()) {
                let ready = ready.as_ref().expect("filtered on");
                row[*i] = match peak_rss(&*engines[*i], ready) {
                    // One run: the figure barely moves from run to run.
                    Ok(bytes) => Cell::Megabytes(bytes as f64 / 1e6, vec![bytes as f64 / 1e6]),
                    Err(e) => report.fail(&row_name(guest, "peak-rss"), &*engines[*i], e),
                };
            }
            report.rows.push((row_name(guest, "peak-rss"), row));
        }
    }
    if let Ok(go) = &go
        && !built.is_empty()
    {
        report.note(format!(
            "large rows: guests built by {} (cached in {}): {}",
            go.version,
            cache_dir().display(),
            built.join(", ")
        ));
    }
    report.note(
        "large rows: no warm-up run; first-output and exit are two instants of the same runs; \
         peak-rss is one run per engine, the peak RSS of a process running the guest (for keel \
         and wasmtime a child of this harness, which holds the module's bytes too)"
            .into(),
    );
}

/// Times `opts.runs` runs of `ready` (quick: one) on every live engine, the engines taking
/// turns: the first-output row and the exit row, from the row's initial `cells`.
fn time_runs(
    report: &mut Report,
    engines: &[Box<dyn Engine>],
    opts: &Options,
    ready: Option<&Ready<'_>>,
    cells: &[Cell],
    live: &[(usize, LargeRunner<'_>)],
) -> (Vec<Cell>, Vec<Cell>) {
    let (mut first_row, mut exit_row) = (cells.to_vec(), cells.to_vec());
    let Some(ready) = ready else {
        return (first_row, exit_row);
    };
    let runs = if opts.quick { 1 } else { opts.runs };
    let mut samples: Vec<(usize, &LargeRunner<'_>, Vec<Nanos>, Vec<Nanos>)> =
        live.iter().map(|(i, r)| (*i, r, Vec::new(), Vec::new())).collect();
    let name = ready.guest.name;
    for _ in 0..runs {
        let mut k = 0;
        while k < samples.len() {
            let (i, runner, firsts, exits) = &mut samples[k];
            let result = run_once(runner, ready).and_then(|t| {
                t.outcome.check(&ready.expected)?;
                let first = t.first.ok_or("the guest wrote nothing to stdout")?;
                Ok((nanos(first - t.start), nanos(t.end - t.start)))
            });
            match result {
                Ok((first, exit)) => {
                    firsts.push(first);
                    exits.push(exit);
                    k += 1;
                }
                Err(e) => {
                    let what = format!("{} {}", ready.argv().join(" "), ready.guest.goos.name());
                    let cell = report.fail(
                        &format!("large-{name}"),
                        &*engines[*i],
                        format!("{what}: {e}"),
                    );
                    first_row[*i] = cell.clone();
                    exit_row[*i] = cell;
                    samples.remove(k);
                }
            }
        }
    }
    for (i, _, firsts, exits) in samples {
        first_row[i] = Cell::Time(median(&firsts), firsts);
        exit_row[i] = Cell::Time(median(&exits), exits);
    }
    (first_row, exit_row)
}
