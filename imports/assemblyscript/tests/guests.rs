//! Runs the AssemblyScript guests of testdata/ (built by asc 0.28; rebuilt by `cargo xtask
//! testdata`) on both engines, with exact output and exit codes; then the bad calls.

use std::path::Path;

use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig, TrapCode};
use keel_assemblyscript::{FunctionExporter, TraceOutput};

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A writer whose bytes the test reads afterwards.
use keel_sys::MemoryWriter as Capture;

/// Random bytes 1, 2, 3, ... (so a seed is 0x0807060504030201).
struct Counting(u8);

impl keel_sys::random::RandomSource for Counting {
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

/// What a run printed and how it ended: the exit code (0 when instantiation returned), or the
/// trap's message.
struct Run {
    stdout: String,
    stderr: String,
    exit: Result<u32, String>,
}

fn run_with(engine: EngineKind, name: &str, exporter: FunctionExporter, wasi: bool) -> Run {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    exporter.instantiate(&runtime).unwrap();
    if wasi {
        keel_wasi::instantiate(&runtime).unwrap();
    }
    let (stdout, stderr) = (Capture::default(), Capture::default());
    let config = ModuleConfig::new()
        .with_stdout(stdout.clone())
        .with_stderr(stderr.clone())
        .with_random_source(Counting(0));
    let exit = match runtime.instantiate_bytes(&guest(name), config) {
        Ok(_) => Ok(0),
        Err(e) => e.exit_code().ok_or_else(|| e.to_string()),
    };
    Run { stdout: stdout.text(), stderr: stderr.text(), exit }
}

fn run(engine: EngineKind, name: &str, exporter: FunctionExporter) -> Run {
    run_with(engine, name, exporter, false)
}

const TRACE: &str = "\
trace: zero
trace: one 42
trace: five 1,2.5,-3,0.1,1e+21
trace: large 123456,1.234567e+06,1e+06,1.5e+300,1.7976931348623157e+308
trace: small 0.0001,1e-05,1.25e-07,5e-324,-0
trace: special NaN,+Inf,-Inf
trace: unicode: héllo, 世界, 🎉
";

#[test]
fn trace_goes_where_configured() {
    for &engine in ENGINES {
        let r = run(engine, "trace", FunctionExporter::new().with_trace_to_stdout());
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit),
            (TRACE, "", Ok(0)),
            "{engine:?}"
        );
        let r = run(engine, "trace", FunctionExporter::new().with_trace_to_stderr());
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit),
            ("", TRACE, Ok(0)),
            "{engine:?}"
        );
        // Nowhere by default, as wazero.
        let r = run(engine, "trace", FunctionExporter::new());
        assert_eq!((r.stdout.as_str(), r.stderr.as_str(), r.exit), ("", "", Ok(0)), "{engine:?}");
    }
}

#[test]
fn abort_writes_its_message_and_exits_255() {
    for &engine in ENGINES {
        let r = run(engine, "abort", FunctionExporter::new().with_trace_to_stdout());
        assert_eq!(r.exit, Ok(255), "{engine:?}");
        assert_eq!(r.stdout, "trace: before the assertion\n", "{engine:?}");
        assert_eq!(
            r.stderr, "the answer is not 43 at imports/assemblyscript/testdata/abort.ts:5:1\n",
            "{engine:?}"
        );
        let r = run(engine, "abort", FunctionExporter::new().with_abort_message_disabled());
        assert_eq!((r.stdout.as_str(), r.stderr.as_str(), r.exit), ("", "", Ok(255)), "{engine:?}");
    }
}

#[test]
fn seed_reads_the_random_source() {
    for &engine in ENGINES {
        let r = run(engine, "seed", FunctionExporter::new().with_trace(TraceOutput::Stdout));
        assert_eq!(r.exit, Ok(0), "{engine:?}");
        let lines: Vec<&str> = r.stdout.lines().collect();
        // 0x0807060504030201: the high and the low half.
        assert_eq!(lines[0], "trace: seed 1.34678021e+08,6.7305985e+07", "{engine:?}");
        // Math.random, seeded by the second seed (bytes 9..16) through AssemblyScript's
        // xoroshiro128+: the same value on both engines, in [0, 1).
        let random: f64 = lines[1].strip_prefix("trace: random ").unwrap().parse().unwrap();
        assert!((0.0..1.0).contains(&random), "{random}");
        assert_eq!(lines.len(), 2);
    }
    let a = run(EngineKind::Interpreter, "seed", FunctionExporter::new().with_trace_to_stdout());
    let b = run(EngineKind::Compiler, "seed", FunctionExporter::new().with_trace_to_stdout());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn top_level_code_runs_in_the_start_section() {
    for &engine in ENGINES {
        let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
        FunctionExporter::new().with_trace_to_stdout().instantiate(&runtime).unwrap();
        let out = Capture::default();
        // No start functions: the start section still runs.
        let config = ModuleConfig::new().with_stdout(out.clone()).with_start_functions::<&str>([]);
        let m = runtime.instantiate_bytes(&guest("start"), config).unwrap();
        assert_eq!(out.text(), "trace: start section 55\n", "{engine:?}");
        assert_eq!(m.typed_func::<(i32, i32), i32>("add").unwrap().call((2, 40)).unwrap(), 42);
    }
}

#[test]
fn export_start_runs_top_level_code_in_start() {
    for &engine in ENGINES {
        // With the default start functions (_start), as WASI commands.
        let r = run(engine, "export_start", FunctionExporter::new().with_trace_to_stdout());
        assert_eq!((r.stdout.as_str(), r.exit), ("trace: _start 26\n", Ok(0)), "{engine:?}");
        // Without: nothing has run until _start is called.
        let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
        FunctionExporter::new().with_trace_to_stdout().instantiate(&runtime).unwrap();
        let out = Capture::default();
        let config = ModuleConfig::new().with_stdout(out.clone()).with_start_functions::<&str>([]);
        let m = runtime.instantiate_bytes(&guest("export_start"), config).unwrap();
        assert_eq!(out.text(), "");
        m.typed_func::<(), ()>("_start").unwrap().call(()).unwrap();
        assert_eq!(out.text(), "trace: _start 26\n", "{engine:?}");
    }
}

#[test]
fn wasi_shim_guest_runs_on_wasi_alone() {
    for &engine in ENGINES {
        let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
        keel_wasi::instantiate(&runtime).unwrap();
        let (stdout, stderr) = (Capture::default(), Capture::default());
        let config = ModuleConfig::new().with_stdout(stdout.clone()).with_stderr(stderr.clone());
        let e = runtime.instantiate_bytes(&guest("wasi_shim"), config).unwrap_err();
        assert_eq!(e.exit_code(), Some(3), "{engine:?}: {e}");
        assert_eq!(stdout.text(), "hello from AssemblyScript\none, two, three (3)\n", "{engine:?}");
        assert_eq!(stderr.text(), "to stderr\n", "{engine:?}");
    }
    let compiled = Runtime::new().compile(&guest("wasi_shim")).unwrap();
    assert!(compiled.imports().all(|(m, _, _)| m == keel_wasi::MODULE_NAME));
}

/// Calls the export `name` of the bad guest, trace to stdout.
fn bad(engine: EngineKind, name: &str) -> (keel::Error, String) {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    FunctionExporter::new().with_trace_to_stdout().instantiate(&runtime).unwrap();
    let (stdout, stderr) = (Capture::default(), Capture::default());
    let config = ModuleConfig::new().with_stdout(stdout.clone()).with_stderr(stderr.clone());
    let m = runtime.instantiate_bytes(&guest("bad"), config).unwrap();
    let e = m.typed_func::<(), ()>(name).unwrap().call(()).unwrap_err();
    (e, stdout.text() + &stderr.text())
}

#[test]
fn trace_with_too_many_or_negative_arguments_traps() {
    for &engine in ENGINES {
        for (export, n) in [("traceSix", 6), ("traceNegative", -1)] {
            let (e, out) = bad(engine, export);
            let trap = e.as_trap().unwrap_or_else(|| panic!("{e}"));
            assert!(matches!(trap.kind(), keel::TrapKind::Host(_)), "{e}");
            let first = e.to_string();
            let first = first.lines().next().unwrap();
            assert!(first.contains(&format!("trace: {n} arguments, not in 0..=5")), "{first}");
            assert_eq!(out, "", "{engine:?} {export}");
        }
    }
}

#[test]
fn strings_out_of_memory_trap() {
    for &engine in ENGINES {
        for export in ["abortOutOfMemory", "abortLowPointer", "traceLongString"] {
            let (e, out) = bad(engine, export);
            let code = e.as_trap().and_then(|t| t.code());
            assert_eq!(code, Some(TrapCode::MemoryOutOfBounds), "{engine:?} {export}: {e}");
            assert_eq!(out, "", "{engine:?} {export}");
        }
    }
}
