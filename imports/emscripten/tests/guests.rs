//! Runs the Emscripten guests of testdata/ (built by Debian's emcc 3.1.6; rebuilt by `cargo
//! xtask testdata emscripten`) on both engines and checks their output exactly: against the
//! committed `NAME.stdout`, which is what the same program prints built natively (checked again
//! here when g++ is installed), and against node running the same `.wasm` with the JS glue emcc
//! made for it (when node is installed).

use std::path::{Path, PathBuf};
use std::process::Command;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_emscripten::CppException;
use keel_sys::MemoryWriter;

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn testdata(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(file)
}

/// How a run ended and what it printed.
#[derive(Debug)]
struct Run {
    stdout: String,
    stderr: String,
    /// The exit code, or the error that ended the run.
    exit: Result<u32, keel::Error>,
}

fn run(engine: EngineKind, wasm: &str, args: &[&str]) -> Run {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    let bytes = std::fs::read(testdata(wasm)).unwrap();
    let compiled = runtime.compile(&bytes).unwrap();
    keel_emscripten::instantiate_wasi(&runtime, &compiled).unwrap();
    keel_emscripten::instantiate_for(&runtime, &compiled).unwrap();
    let (stdout, stderr) = (MemoryWriter::default(), MemoryWriter::default());
    let config = ModuleConfig::new()
        .with_args(std::iter::once("guest").chain(args.iter().copied()))
        .with_stdout(stdout.clone())
        .with_stderr(stderr.clone());
    let exit = keel_emscripten::run(&runtime, &compiled, config);
    Run { stdout: stdout.text(), stderr: stderr.text(), exit }
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(testdata(&format!("{name}.stdout"))).unwrap()
}

/// node running `NAME.js` (the glue emcc made beside `NAME.wasm`), if node is installed: its
/// stdout and exit code. node 20's fetch cannot load a file path, which 3.1.6's glue tries first.
fn node(name: &str, args: &[&str]) -> Option<(String, i32)> {
    let out = Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(testdata(&format!("{name}.js")))
        .args(args)
        .output()
        .ok()?;
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code().unwrap_or(-1)))
}

/// The program built natively with g++/gcc and run, if the compiler is installed: its stdout.
fn native(source: &str, args: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("native");
    let (compiler, std) =
        if source.ends_with(".cpp") { ("g++", "-std=c++17") } else { ("gcc", "-std=c11") };
    let built = Command::new(compiler)
        .args(["-O2", std])
        .arg(testdata(source))
        .arg("-o")
        .arg(&exe)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("{compiler} not available: {source} not compared with a native build");
        return None;
    }
    let out = Command::new(&exe).args(args).output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A portable guest: keel on both engines, node with the glue and the native build all print
/// `NAME.stdout` and exit 0; keel prints `NAME.stderr` (if there is one, else nothing) to stderr.
fn portable(name: &str, source: &str) {
    let want = expected(name);
    let want_err = std::fs::read_to_string(testdata(&format!("{name}.stderr"))).unwrap_or_default();
    for &engine in ENGINES {
        let r = run(engine, &format!("{name}.wasm"), &[]);
        let got = (r.stdout.as_str(), r.stderr.as_str());
        assert_eq!(got, (want.as_str(), want_err.as_str()), "{name} {engine:?}");
        assert_eq!(r.exit.unwrap(), 0, "{name} {engine:?}");
    }
    match node(name, &[]) {
        Some(got) => assert_eq!(got, (want.clone(), 0), "{name} under node"),
        None => eprintln!("node not available: {name} not compared with Emscripten's glue"),
    }
    if let Some(got) = native(source, &[]) {
        assert_eq!(got, want, "{name} built natively");
    }
}

#[test]
fn cpp_exceptions_equal_node_and_native() {
    portable("exceptions", "exceptions.cpp");
}

#[test]
fn setjmp_longjmp_equal_node_and_native() {
    portable("setjmp", "setjmp.c");
}

#[test]
fn memory_grows_past_the_initial_heap() {
    portable("memory", "memory.c");
}

#[test]
fn stl_containers_and_iostream() {
    portable("stl", "stl.cpp");
}

#[test]
fn an_uncaught_exception_ends_the_program_with_an_error() {
    for &engine in ENGINES {
        let r = run(engine, "exceptions.wasm", &["uncaught"]);
        assert!(r.stdout.ends_with("throwing with no catch\n"), "{engine:?}: {}", r.stdout);
        let err = r.exit.unwrap_err();
        assert!(matches!(CppException::of(&err), Some(Some(_))), "{engine:?}: {err}");
    }
    // node too ends with a non-zero code (7: its handler of uncaught exceptions rethrows).
    if let Some((stdout, code)) = node("exceptions", &["uncaught"]) {
        assert!(stdout.ends_with("throwing with no catch\n"));
        assert_ne!(code, 0);
    }
}

#[test]
fn many_exceptions_and_longjmps_leave_nothing_behind() {
    for &engine in ENGINES {
        let r = run(engine, "exceptions.wasm", &["bench"]);
        assert_eq!(r.stdout, "100000 exceptions, sum 4999950000, live 0\n", "{engine:?}");
        let r = run(engine, "setjmp.wasm", &["bench"]);
        assert!(r.stdout.ends_with("100000 round trips, sum 10350000\n"), "{engine:?}");
    }
}

/// emcc 3.1.6's `-sSTANDALONE_WASM` links libc++abi's stubs, whose `__cxa_allocate_exception`
/// aborts: the standalone build of the same program ends at its first throw, on every runtime.
#[test]
fn a_standalone_build_ends_at_its_first_throw() {
    for &engine in ENGINES {
        let r = run(engine, "exceptions_standalone.wasm", &[]);
        assert_eq!(r.stdout, "throw through frames:\n", "{engine:?}");
        assert_ne!(r.exit.unwrap_or(0), 0, "{engine:?}");
    }
}
