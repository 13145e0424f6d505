//! keel against AssemblyScript's own JS glue under node: every guest of testdata/ runs under keel
//! (both engines, trace to stdout, where node's `console.log` writes it) and under node by
//! `testdata/node_run.mjs`, which instantiates the same `.wasm` through asc's generated bindings
//! (`testdata/NAME.js`, `--bindings raw`). Where the semantics are the same the outputs and exit
//! codes are equal; every difference is one of [`Expect`]'s, described in docs/assemblyscript.md
//! ("Compared with node").
//!
//! Needs node 20 or later (`$NODE`, else `node` on `PATH`); without it the test prints a note and
//! passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use keel_assemblyscript::FunctionExporter;
use keel_sys::MemoryWriter as Capture;

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// What a run printed and how it ended: `Ok(exit code)` (0 when everything returned), or
/// `Err(message)` for a trap (keel) or a signal (node).
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    stdout: String,
    stderr: String,
    exit: Result<i32, String>,
}

/// `guest` under keel on `engine`, its `export` called after instantiation when given. The
/// runtime has keel-assemblyscript as `env` (trace to stdout) and keel-wasi; the random source is
/// the default deterministic one, and `_start` is called when exported (the default start
/// functions).
fn keel(engine: EngineKind, guest: &str, export: Option<&str>) -> Outcome {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    FunctionExporter::new().with_trace_to_stdout().instantiate(&runtime).unwrap();
    keel_wasi::instantiate(&runtime).unwrap();
    let (stdout, stderr) = (Capture::default(), Capture::default());
    let config = ModuleConfig::new().with_stdout(stdout.clone()).with_stderr(stderr.clone());
    let path = testdata().join(format!("{guest}.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let result = runtime.instantiate_bytes(&wasm, config).and_then(|m| match export {
        Some(name) => m.typed_func::<(), ()>(name)?.call(()),
        None => Ok(()),
    });
    let exit = match result {
        Ok(()) => Ok(0),
        Err(e) => e.exit_code().map(|c| c as i32).ok_or_else(|| e.to_string()),
    };
    Outcome { stdout: stdout.text(), stderr: stderr.text(), exit }
}

/// `guest` under node with asc's glue, by node_run.mjs.
fn node(node: &Path, guest: &str, export: Option<&str>) -> Outcome {
    let dir = testdata();
    let mut command = Command::new(node);
    // node:wasi's ExperimentalWarning would be on stderr.
    command.arg("--no-warnings").arg(dir.join("node_run.mjs"));
    command.arg(dir.join(format!("{guest}.wasm"))).args(export);
    let out = command.output().unwrap_or_else(|e| panic!("{}: {e}", node.display()));
    Outcome {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        exit: out.status.code().ok_or_else(|| out.status.to_string()),
    }
}

/// node 20 or later, or None with the reason.
fn find_node() -> Result<PathBuf, String> {
    let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    let out = Command::new(&node)
        .arg("--version")
        .output()
        .map_err(|e| format!("{} not found ({e})", node.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("{} --version printed {version:?}", node.display()))?;
    if major < 20 {
        return Err(format!("{} is {version}, older than 20", node.display()));
    }
    Ok(node)
}

/// A number as the glue's `console.log(message, ...numbers)` shows it: JavaScript's
/// Number::toString (plain from 1e-6 up to 1e21, else `d.ddde±x`; `Infinity`), except that node's
/// `util.inspect` shows negative zero as `-0`.
fn js_number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}Infinity");
    }
    if x == 0.0 {
        return format!("{sign}0");
    }
    // Shortest round-trip digits d1.d2d3...e(n - 1).
    let exp = format!("{:e}", x.abs());
    let (mantissa, e) = exp.split_once('e').unwrap();
    let digits = mantissa.replace('.', "");
    let k = digits.len() as i32;
    let n = e.parse::<i32>().unwrap() + 1;
    let body = if k <= n && n <= 21 {
        digits + &"0".repeat((n - k) as usize)
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat(-n as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        format!("{first}{point}e{}{}", if n > 0 { "+" } else { "-" }, (n - 1).abs())
    };
    format!("{sign}{body}")
}

/// keel's trace output as the glue prints the same calls: keel writes `trace: MESSAGE` and the
/// arguments joined by `,` in Go's format (`trace: five 1,2.5,1e+21`); the glue writes
/// `console.log(message, ...args)`, no prefix, arguments joined by spaces as JavaScript numbers
/// (`five 1 2.5 1e+21`). Other lines are kept. (A trace line's last word is its arguments when it
/// reads as numbers, which holds for these guests' messages.)
fn glue_trace(keel_stdout: &str) -> String {
    let mut out = String::new();
    for line in keel_stdout.lines() {
        let line = match line.strip_prefix("trace: ") {
            None => line.to_string(),
            Some(rest) => {
                let numbers: Option<Vec<f64>> = rest
                    .rsplit_once(' ')
                    .and_then(|(_, args)| args.split(',').map(|a| a.parse().ok()).collect());
                match numbers {
                    Some(numbers) => {
                        let message = rest.rsplit_once(' ').unwrap().0;
                        let args: Vec<String> = numbers.into_iter().map(js_number).collect();
                        format!("{message} {}", args.join(" "))
                    }
                    None => rest.to_string(),
                }
            }
        };
        out += &line;
        out.push('\n');
    }
    out
}

/// How node's run of a guest relates to keel's.
#[derive(Debug)]
enum Expect {
    /// The same: node's stdout is keel's through [`glue_trace`]; stderr and exit code equal.
    Same,
    /// abort: keel writes `MESSAGE at FILE:LINE:COLUMN` and exits 255 (wazero's abort); the glue
    /// throws `Error(MESSAGE in FILE:LINE:COLUMN)`, node_run.mjs prints it and exits 1. The output
    /// before the abort is [`Expect::Same`]'s.
    Abort,
    /// Top-level code in the start section that traces or aborts: the glue reads strings through
    /// the instance's exported memory, which does not exist while the start section runs, so
    /// node fails at the first trace (a `ReferenceError`, exit 1, nothing printed). keel runs it;
    /// it does the same as `twin`, the same source built with `--exportStart _start`, when there
    /// is one.
    StartSection { twin: Option<&'static str> },
    /// seed: keel's is the instance's random source, the glue's `Date.now() * Math.random()`, so
    /// the traced values differ; the lines are the same words with as many numbers, and
    /// `Math.random()` is in [0, 1) on both.
    Seed,
    /// A bad call (bad.ts): keel traps with a message containing `trap` (nothing printed); the
    /// glue reads no bounds, passes `n` to `slice`, and prints `stdout`, `stderr`, exits `exit`.
    Bad { trap: &'static str, stdout: &'static str, stderr: &'static str, exit: i32 },
}

const MEMORY: &str = "out of bounds memory access";

/// Every guest of testdata/ (with its export for bad.ts) and how node's run relates to keel's.
const CASES: &[(&str, Option<&str>, Expect)] = &[
    ("abort", None, Expect::StartSection { twin: Some("abort_exported") }),
    ("trace", None, Expect::StartSection { twin: Some("trace_exported") }),
    ("seed", None, Expect::StartSection { twin: Some("seed_exported") }),
    ("start", None, Expect::StartSection { twin: None }),
    ("abort_exported", None, Expect::Abort),
    ("trace_exported", None, Expect::Same),
    ("seed_exported", None, Expect::Seed),
    ("export_start", None, Expect::Same),
    ("wasi_shim", None, Expect::Same),
    (
        "bad",
        Some("traceSix"),
        Expect::Bad {
            trap: "trace: 6 arguments, not in 0..=5",
            stdout: "six 1 2 3 4 5\n",
            stderr: "",
            exit: 0,
        },
    ),
    (
        "bad",
        Some("traceNegative"),
        Expect::Bad {
            trap: "trace: -1 arguments, not in 0..=5",
            // slice(0, -1): the first four of the five arguments, zeros as asc passes them.
            stdout: "negative 0 0 0 0\n",
            stderr: "",
            exit: 0,
        },
    ),
    (
        "bad",
        Some("abortOutOfMemory"),
        // The length read past the end is undefined: the message reads as "".
        Expect::Bad { trap: MEMORY, stdout: "", stderr: "Error:  in bad.ts:1:1\n", exit: 1 },
    ),
    (
        "bad",
        Some("abortLowPointer"),
        Expect::Bad { trap: MEMORY, stdout: "", stderr: "Error:  in bad.ts:2:2\n", exit: 1 },
    ),
    (
        "bad",
        Some("traceLongString"),
        // Typed arrays clamp: the two code units left in memory, both zero.
        Expect::Bad { trap: MEMORY, stdout: "\0\0\n", stderr: "", exit: 0 },
    ),
];

fn check(node_path: &Path, guest: &str, export: Option<&str>, expect: &Expect) {
    let what = format!("{guest}{}", export.map(|e| format!(" {e}")).unwrap_or_default());
    let k = keel(ENGINES[0], guest, export);
    for &engine in &ENGINES[1..] {
        assert_eq!(
            keel(engine, guest, export),
            k,
            "{what}: {engine:?} differs from {:?}",
            ENGINES[0]
        );
    }
    let n = node(node_path, guest, export);
    match expect {
        Expect::Same => {
            let expected = Outcome { stdout: glue_trace(&k.stdout), ..k.clone() };
            assert_eq!(n, expected, "{what}: node (left), keel (right)");
        }
        Expect::Abort => {
            assert_eq!(k.exit, Ok(255), "{what}: keel");
            let (message, place) = k.stderr.trim_end().rsplit_once(" at ").expect(&k.stderr);
            let expected = Outcome {
                stdout: glue_trace(&k.stdout),
                stderr: format!("Error: {message} in {place}\n"),
                exit: Ok(1),
            };
            assert_eq!(n, expected, "{what}: node (left), keel (right)");
        }
        Expect::StartSection { twin } => {
            let expected = Outcome {
                stdout: String::new(),
                stderr: "ReferenceError: Cannot access 'memory' before initialization\n".into(),
                exit: Ok(1),
            };
            assert_eq!(n, expected, "{what}: node");
            assert!(matches!(k.exit, Ok(0 | 255)), "{what}: keel {k:?}");
            if let Some(twin) = twin {
                assert_eq!(k, keel(ENGINES[0], twin, None), "{what}: keel, against {twin}");
            } else {
                assert!(!k.stdout.is_empty(), "{what}: keel traced nothing");
            }
        }
        Expect::Seed => {
            assert_eq!((&n.stderr, &n.exit), (&k.stderr, &k.exit), "{what}: node, keel");
            let glue = glue_trace(&k.stdout);
            let (kl, nl): (Vec<_>, Vec<_>) = (glue.lines().collect(), n.stdout.lines().collect());
            assert_eq!(kl.len(), nl.len(), "{what}: {glue:?} {:?}", n.stdout);
            for (kl, nl) in kl.iter().zip(&nl) {
                let words = |l: &str| -> (String, Vec<f64>) {
                    let mut w = l.split(' ');
                    (w.next().unwrap().into(), w.map(|x| x.parse().unwrap()).collect())
                };
                let ((kw, kn), (nw, nn)) = (words(kl), words(nl));
                assert_eq!((&kw, kn.len()), (&nw, nn.len()), "{what}: {kl:?} {nl:?}");
                if kw == "random" {
                    assert!(
                        (0.0..1.0).contains(&kn[0]) && (0.0..1.0).contains(&nn[0]),
                        "{kl} {nl}"
                    );
                }
            }
        }
        Expect::Bad { trap, stdout, stderr, exit } => {
            let message = k.exit.as_ref().expect_err(&what);
            assert!(message.contains(trap), "{what}: keel's trap: {message}");
            assert_eq!((k.stdout.as_str(), k.stderr.as_str()), ("", ""), "{what}: keel");
            let expected =
                Outcome { stdout: stdout.to_string(), stderr: stderr.to_string(), exit: Ok(*exit) };
            assert_eq!(n, expected, "{what}: node");
        }
    }
}

#[test]
fn guests_equal_asc_glue_under_node() {
    let node = match find_node() {
        Ok(node) => node,
        Err(why) => {
            eprintln!("note: skipping the node comparison: {why}");
            return;
        }
    };
    for (guest, export, expect) in CASES {
        check(&node, guest, *export, expect);
    }
    // Every guest is a case.
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(guest) = name.strip_suffix(".wasm") {
            assert!(CASES.iter().any(|(g, _, _)| *g == guest), "{guest} has no case");
        }
    }
}

#[test]
fn js_numbers() {
    let cases = [
        (42.0, "42"),
        (2.5, "2.5"),
        (-3.0, "-3"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456.0, "123456"),
        (1234567.0, "1234567"),
        (1.5e300, "1.5e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        (0.0001, "0.0001"),
        (0.000001, "0.000001"),
        (1.25e-7, "1.25e-7"),
        (5e-324, "5e-324"),
        (-0.0, "-0"),
        (0.0, "0"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (-1.5e-9, "-1.5e-9"),
        (123.456, "123.456"),
    ];
    for (x, js) in cases {
        assert_eq!(js_number(x), js, "{x:e}");
    }
}
