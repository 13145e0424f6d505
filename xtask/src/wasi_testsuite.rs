//! `cargo xtask wasi-testsuite [--engine interpreter|compiler|tiered|all] [--dir DIR] [--keel PATH]
//! [-v|--verbose] [FILTER]`: runs the official WASI test suite (WebAssembly/wasi-testsuite, its
//! prebuilt wasm32-wasip1 tests) through the `keel` binary, as a user would, and as the suite's
//! own specification.md describes:
//!
//! - every `*.wasm` under DIR (default `../shared/wasi-testsuite`) is a test; its `NAME.json`,
//!   when there is one, says what to run and expect (legacy form: `args`, `env`, `root`,
//!   `exit_code`, `stdout`, `stderr`; or `operations`: `run`, `read`, `wait`);
//! - a test with a `root` runs in a fresh temporary copy of that directory, with `*.cleanup`
//!   files removed, preopened as `/` (`--mount=COPY:/`); DIR itself is never written;
//! - the environment is exactly the JSON's (`--env=K=V`); the arguments follow the file;
//! - the exit code must be the one expected, and each `read` of a stream (`stdout`, `stderr`)
//!   must find the next bytes of that stream equal to its payload, as upstream's runner reads
//!   them; a stream the specification names nothing of is not checked.
//!
//! Output: one line per test and engine, the expected failures of
//! `xtask/wasi-testsuite-expected-failures.txt` with their reasons, then
//! `wasi-testsuite: N passed, M failed`. An expected failure that fails counts as passed (and is
//! listed); one that passes is reported, so that the list only shrinks.

use crate::{flag_value, is_flag, repo_root};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const USAGE: &str = "usage: cargo xtask wasi-testsuite [--engine interpreter|compiler|tiered|all] \
                     [--dir DIR] [--keel PATH] [-v|--verbose] [FILTER]";

/// How long one test may run before it is killed and failed.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The checked-in list of expected failures: `ENGINE TEST  reason` per line (`*` for both
/// engines), `#` comments.
const EXPECTED_FAILURES: &str = include_str!("../wasi-testsuite-expected-failures.txt");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Interpreter,
    Compiler,
    Tiered,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Interpreter => "interpreter",
            Engine::Compiler => "compiler",
            Engine::Tiered => "tiered",
        }
    }

    /// The `keel run` flags that pick this engine.
    fn flags(self) -> &'static [&'static str] {
        match self {
            Engine::Interpreter => &["--interpreter"],
            Engine::Compiler => &["--eager"],
            // The default of `keel run`.
            Engine::Tiered => &[],
        }
    }
}

struct Options {
    engines: Vec<Engine>,
    dir: PathBuf,
    keel: Option<PathBuf>,
    filter: Option<String>,
    verbose: bool,
}

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let Some(options) = parse_args(args)? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    // Absolute, since tests run in directories of their own.
    let keel = match &options.keel {
        Some(k) => k.clone(),
        None => build_keel()?,
    };
    let keel = std::fs::canonicalize(&keel).map_err(|e| format!("{}: {e}", keel.display()))?;
    let dir = std::fs::canonicalize(&options.dir)
        .map_err(|e| format!("{}: {e}", options.dir.display()))?;
    let expected = parse_expected_failures(EXPECTED_FAILURES)?;
    let mut tests = find_tests(&dir)?;
    if let Some(f) = &options.filter {
        tests.retain(|t| t.name.contains(f.as_str()));
    }
    if tests.is_empty() {
        return Err(format!("no tests found under {}", dir.display()));
    }

    let (mut passed, mut failed) = (0usize, 0usize);
    let mut unexpected_passes = Vec::new();
    let mut listed = Vec::new();
    let mut per_engine = Vec::new();
    for &engine in &options.engines {
        let (passed_before, failed_before) = (passed, failed);
        for test in &tests {
            let start = Instant::now();
            let outcome = run_test(&keel, engine, test);
            let ms = start.elapsed().as_millis();
            let reason = expected.iter().find(|e| e.matches(engine, &test.name));
            match (outcome, reason) {
                (Ok(()), None) => {
                    passed += 1;
                    println!("ok    {:<11} {} ({ms} ms)", engine.name(), test.name);
                }
                (Ok(()), Some(_)) => {
                    passed += 1;
                    println!(
                        "ok    {:<11} {} ({ms} ms) (listed as failing)",
                        engine.name(),
                        test.name
                    );
                    unexpected_passes.push(format!("{} {}", engine.name(), test.name));
                }
                (Err(why), Some(e)) => {
                    passed += 1;
                    println!("xfail {:<11} {} ({ms} ms): {}", engine.name(), test.name, e.reason);
                    if options.verbose {
                        println!("{}", indent(&why));
                    }
                    listed.push(format!("{} {}: {}", engine.name(), test.name, e.reason));
                }
                (Err(why), None) => {
                    failed += 1;
                    println!("FAIL  {:<11} {} ({ms} ms)", engine.name(), test.name);
                    println!("{}", indent(&why));
                }
            }
        }
        per_engine.push((engine, passed - passed_before, failed - failed_before));
    }
    println!();
    println!("expected failures ({}):", listed.len());
    for l in &listed {
        println!("  {l}");
    }
    if !unexpected_passes.is_empty() {
        println!("listed as failing but passed (take them off the list):");
        for p in &unexpected_passes {
            println!("  {p}");
        }
    }
    for (engine, p, f) in per_engine {
        println!("{}: {p} passed, {f} failed", engine.name());
    }
    println!("wasi-testsuite: {passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The first lines of a long output (a panic's message comes first, its trace after).
fn excerpt(s: &str) -> String {
    const LINES: usize = 8;
    let lines: Vec<&str> = s.lines().collect();
    let mut out: Vec<String> = lines.iter().take(LINES).map(|l| format!("  {l}")).collect();
    if lines.len() > LINES {
        out.push(format!("  ... {} more lines", lines.len() - LINES));
    }
    out.join("\n")
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut engine = "all".to_string();
    let mut dir = None;
    let mut keel = None;
    let mut filter = None;
    let mut verbose = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| flag_value(arg, flag, &mut args, USAGE);
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-v" | "--verbose" => verbose = true,
            a if is_flag(a, "--engine") => engine = value("--engine")?,
            a if is_flag(a, "--dir") => dir = Some(value("--dir")?.into()),
            a if is_flag(a, "--keel") => keel = Some(value("--keel")?.into()),
            a if a.starts_with('-') => return Err(format!("unknown flag {a}\n{USAGE}")),
            a if filter.is_none() => filter = Some(a.to_string()),
            a => return Err(format!("more than one FILTER given ({a})\n{USAGE}")),
        }
    }
    let engines = match engine.as_str() {
        "all" => vec![Engine::Interpreter, Engine::Compiler, Engine::Tiered],
        "interpreter" | "interp" => vec![Engine::Interpreter],
        "compiler" | "cranelift" => vec![Engine::Compiler],
        "tiered" => vec![Engine::Tiered],
        other => return Err(format!("unknown engine {other}\n{USAGE}")),
    };
    let dir = dir.unwrap_or_else(|| repo_root().join("../shared/wasi-testsuite"));
    Ok(Some(Options { engines, dir, keel, filter, verbose }))
}

/// Builds the `keel` binary (the dev profile, which `cargo test` shares) and returns its path.
fn build_keel() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "keel-cli", "--bin", "keel"])
        .current_dir(repo_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building keel failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    Ok(target.join("debug").join("keel"))
}

/// One expected failure: an engine (or every engine) and a test name.
struct ExpectedFailure {
    engine: Option<Engine>,
    test: String,
    reason: String,
}

impl ExpectedFailure {
    fn matches(&self, engine: Engine, test: &str) -> bool {
        self.engine.is_none_or(|e| e == engine) && self.test == test
    }
}

fn parse_expected_failures(text: &str) -> Result<Vec<ExpectedFailure>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(engine), Some(test), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("expected-failures line {}: want `ENGINE TEST REASON`", n + 1));
        };
        let engine = match engine {
            "*" => None,
            "interpreter" => Some(Engine::Interpreter),
            "compiler" => Some(Engine::Compiler),
            "tiered" => Some(Engine::Tiered),
            e => return Err(format!("expected-failures line {}: unknown engine {e}", n + 1)),
        };
        let reason = reason.trim().to_string();
        if reason.is_empty() {
            return Err(format!("expected-failures line {}: give a reason", n + 1));
        }
        out.push(ExpectedFailure { engine, test: test.to_string(), reason });
    }
    Ok(out)
}

/// A test case: its module and what its JSON asks for.
struct Test {
    /// `SUITE/NAME`, e.g. `rust/path_link` (the suite is the language directory).
    name: String,
    wasm: PathBuf,
    operations: Vec<Operation>,
}

/// The steps of a test, in the operation-based form of the specification (the legacy form
/// is read into it).
#[derive(Debug, Clone, PartialEq)]
enum Operation {
    Run {
        args: Vec<String>,
        env: BTreeMap<String, String>,
        root: Option<PathBuf>,
    },
    Read {
        stream: Stream,
        payload: String,
    },
    Wait {
        exit_code: i64,
    },
    /// `connect`, `send`, `recv`: sockets, which no wasip1 test uses; a test that has one fails.
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Every `*.wasm` below `dir` (sorted), with its specification.
fn find_tests(dir: &Path) -> Result<Vec<Test>, String> {
    let mut wasms = Vec::new();
    walk(dir, &mut wasms).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    wasms.sort();
    let mut tests = Vec::new();
    for wasm in wasms {
        let json = wasm.with_extension("json");
        let spec = if json.exists() {
            let text = std::fs::read_to_string(&json)
                .map_err(|e| format!("reading {}: {e}", json.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?
        } else {
            Value::Object(Default::default())
        };
        let dir = wasm.parent().expect("a file has a parent");
        let operations = operations(&spec, dir).map_err(|e| format!("{}: {e}", json.display()))?;
        let suite = suite_of(&wasm);
        let stem = wasm.file_stem().expect("a .wasm file").to_string_lossy();
        tests.push(Test { name: format!("{suite}/{stem}"), wasm, operations });
    }
    Ok(tests)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "wasm") {
            out.push(path);
        }
    }
    Ok(())
}

/// The language directory of a test (`tests/LANG/testsuite/...`), or its parent's name.
fn suite_of(wasm: &Path) -> String {
    let parts: Vec<_> = wasm.components().map(|c| c.as_os_str().to_string_lossy()).collect();
    match parts.iter().position(|p| p == "testsuite") {
        Some(i) if i > 0 => parts[i - 1].to_string(),
        _ => wasm
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// A specification as its list of operations.
fn operations(spec: &Value, dir: &Path) -> Result<Vec<Operation>, String> {
    let obj = spec.as_object().ok_or("the specification is not a JSON object")?;
    let run = |o: &serde_json::Map<String, Value>| -> Result<Operation, String> {
        let args = match o.get("args") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or("args is not an array")?
                .iter()
                .map(|a| a.as_str().map(String::from).ok_or("an argument is not a string"))
                .collect::<Result<_, _>>()?,
        };
        let mut env = BTreeMap::new();
        if let Some(v) = o.get("env") {
            for (k, v) in v.as_object().ok_or("env is not an object")? {
                env.insert(k.clone(), v.as_str().ok_or("an env value is not a string")?.into());
            }
        }
        let root = match o.get("root") {
            None | Some(Value::Null) => None,
            Some(v) => Some(dir.join(v.as_str().ok_or("root is not a string")?)),
        };
        Ok(Operation::Run { args, env, root })
    };
    let string = |o: &serde_json::Map<String, Value>, key: &str| -> Result<String, String> {
        match o.get(key) {
            None => Ok(String::new()),
            Some(v) => v.as_str().map(String::from).ok_or(format!("{key} is not a string")),
        }
    };
    let exit_code = |o: &serde_json::Map<String, Value>| -> Result<i64, String> {
        match o.get("exit_code") {
            None => Ok(0),
            Some(v) => v.as_i64().ok_or_else(|| "exit_code is not an integer".to_string()),
        }
    };
    let Some(ops) = obj.get("operations") else {
        // The legacy form: run, then each stream it names, then the exit code (as upstream's
        // runner reads it: a stream the specification does not name is not checked).
        let mut ops = vec![run(obj)?];
        for (key, stream) in [("stdout", Stream::Stdout), ("stderr", Stream::Stderr)] {
            if obj.get(key).is_some_and(|v| !v.is_null()) {
                ops.push(Operation::Read { stream, payload: string(obj, key)? });
            }
        }
        ops.push(Operation::Wait { exit_code: exit_code(obj)? });
        return Ok(ops);
    };
    let mut out = Vec::new();
    for op in ops.as_array().ok_or("operations is not an array")? {
        let o = op.as_object().ok_or("an operation is not an object")?;
        let kind = o.get("type").and_then(Value::as_str).ok_or("an operation has no type")?;
        out.push(match kind {
            "run" => run(o)?,
            "wait" => Operation::Wait { exit_code: exit_code(o)? },
            "read" => {
                let stream = match o.get("id").and_then(Value::as_str).unwrap_or("stdout") {
                    "stdout" => Stream::Stdout,
                    "stderr" => Stream::Stderr,
                    s => return Err(format!("read of unknown stream {s}")),
                };
                Operation::Read { stream, payload: string(o, "payload")? }
            }
            other => Operation::Unsupported(other.to_string()),
        });
    }
    Ok(out)
}

/// What one `keel run` did.
struct Outcome {
    exit_code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `test` on `engine`; the error says what differed.
fn run_test(keel: &Path, engine: Engine, test: &Test) -> Result<(), String> {
    let mut outcome: Option<Outcome> = None;
    // How far each stream has been read: a read takes the next bytes, as many as it expects.
    let (mut stdout_at, mut stderr_at) = (0, 0);
    let mut failures = Vec::new();
    // Kept until the test ends, then removed.
    let mut scratch: Option<TempDir> = None;
    for op in &test.operations {
        match op {
            Operation::Run { args, env, root } => {
                let mut cmd = Command::new(keel);
                cmd.arg("run").args(engine.flags());
                if let Some(root) = root {
                    let tmp = TempDir::new(&test.name)?;
                    let copy = tmp.path.join(root.file_name().unwrap_or_default());
                    copy_tree(root, &copy)
                        .map_err(|e| format!("copying {}: {e}", root.display()))?;
                    remove_cleanup_files(&copy)
                        .map_err(|e| format!("cleaning {}: {e}", copy.display()))?;
                    cmd.arg(format!("--mount={}:/", copy.display()));
                    cmd.current_dir(&tmp.path);
                    scratch = Some(tmp);
                }
                for (k, v) in env {
                    cmd.arg(format!("--env={k}={v}"));
                }
                cmd.arg(&test.wasm).arg("--").args(args);
                outcome = Some(run_with_timeout(cmd)?);
            }
            Operation::Read { stream, payload } => {
                let o = outcome.as_ref().ok_or("a read before any run")?;
                let (name, all, at) = match stream {
                    Stream::Stdout => ("stdout", &o.stdout, &mut stdout_at),
                    Stream::Stderr => ("stderr", &o.stderr, &mut stderr_at),
                };
                let end = (*at + payload.len()).min(all.len());
                let got = &all[*at..end];
                *at = end;
                if got != payload.as_bytes() {
                    failures.push(format!(
                        "{name}: expected {:?}, got:\n{}",
                        payload,
                        excerpt(&String::from_utf8_lossy(got))
                    ));
                }
            }
            Operation::Wait { exit_code } => {
                let o = outcome.as_ref().ok_or("a wait before any run")?;
                if o.exit_code.map(i64::from) != Some(*exit_code) {
                    let got = o.exit_code.map_or("none (killed)".into(), |c| c.to_string());
                    failures.push(format!("exit code: expected {exit_code}, got {got}"));
                }
            }
            Operation::Unsupported(kind) => {
                failures.push(format!("operation {kind:?} is not supported by this runner"));
            }
        }
    }
    drop(scratch);
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
}

/// Runs `cmd` with its output captured, killing it after [`TEST_TIMEOUT`].
fn run_with_timeout(mut cmd: Command) -> Result<Outcome, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run keel: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s);
        }
        if start.elapsed() > TEST_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    Ok(Outcome { exit_code: status.and_then(|s| s.code()), stdout, stderr })
}

/// Copies a directory tree, symbolic links as links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Removes the `*.cleanup` files a previous run may have left (the specification's step).
fn remove_cleanup_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            remove_cleanup_files(&path)?;
        } else if path.extension().is_some_and(|e| e == "cleanup") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// A directory in the system's temporary directory, removed with everything in it on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(test: &str) -> Result<TempDir, String> {
        let tag = test.replace('/', "-");
        for n in 0..1000u32 {
            let path = std::env::temp_dir().join(format!(
                "keel-wasi-testsuite-{}-{}-{tag}-{n}",
                std::process::id(),
                nanos()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
        Err("cannot create a temporary directory".into())
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_specification_becomes_operations() {
        let spec: Value = serde_json::from_str(
            r#"{"args": ["a", "b"], "env": {"K": "v"}, "root": "fs-tests.dir", "exit_code": 3,
                "stdout": "out"}"#,
        )
        .unwrap();
        let ops = operations(&spec, Path::new("/t")).unwrap();
        assert_eq!(
            ops,
            vec![
                Operation::Run {
                    args: vec!["a".into(), "b".into()],
                    env: [("K".to_string(), "v".to_string())].into(),
                    root: Some("/t/fs-tests.dir".into()),
                },
                Operation::Read { stream: Stream::Stdout, payload: "out".into() },
                Operation::Wait { exit_code: 3 },
            ]
        );
    }

    #[test]
    fn default_specification_expects_a_quiet_success() {
        let ops = operations(&Value::Object(Default::default()), Path::new("/t")).unwrap();
        assert_eq!(ops[0], Operation::Run { args: vec![], env: BTreeMap::new(), root: None });
        assert_eq!(ops[1], Operation::Wait { exit_code: 0 });
        assert_eq!(ops.len(), 2, "streams the specification does not name are not read");
    }

    #[test]
    fn operation_based_specification() {
        let spec: Value = serde_json::from_str(
            r#"{"operations": [{"type": "run", "args": ["x"]},
                               {"type": "read", "id": "stderr", "payload": "e"},
                               {"type": "wait", "exit_code": 1},
                               {"type": "connect"}]}"#,
        )
        .unwrap();
        let ops = operations(&spec, Path::new("/t")).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[1], Operation::Read { stream: Stream::Stderr, payload: "e".into() });
        assert_eq!(ops[2], Operation::Wait { exit_code: 1 });
        assert_eq!(ops[3], Operation::Unsupported("connect".into()));
    }

    #[test]
    fn expected_failures_parse() {
        let list = parse_expected_failures(
            "# comment\n\n* rust/x  needs sockets\ncompiler c/y  a reason\n",
        )
        .unwrap();
        assert!(list[0].matches(Engine::Interpreter, "rust/x"));
        assert!(list[0].matches(Engine::Compiler, "rust/x"));
        assert!(!list[1].matches(Engine::Interpreter, "c/y"));
        assert_eq!(list[1].reason, "a reason");
        assert!(parse_expected_failures("* rust/x\n").is_err());
        assert!(parse_expected_failures("jit rust/x why\n").is_err());
    }

    #[test]
    fn the_checked_in_list_parses() {
        parse_expected_failures(EXPECTED_FAILURES).unwrap();
    }
}
