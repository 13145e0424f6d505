//! The functions called directly from hand-written modules: string edge cases, null, host
//! logging, and what is not read when output is off.

use keel::logging::LogScopes;
use keel::{EngineKind, Module, ModuleConfig, Runtime, RuntimeConfig, TrapCode};
use keel_assemblyscript::FunctionExporter;

const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler, EngineKind::Tiered];

/// A writer whose bytes the test reads afterwards.
use keel_sys::MemoryWriter as Capture;

/// Strings at 16 ("hi"), 32 (a lone surrogate then "a"), 48 (3 bytes: "a" and an odd byte),
/// 64 ("f.ts"); exports calling abort, trace and seed with any arguments.
const WAT: &str = r#"(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "env" "trace" (func $trace (param i32 i32 f64 f64 f64 f64 f64)))
  (import "env" "seed" (func $seed (result f64)))
  (memory (export "memory") 1)
  (data (i32.const 12) "\04\00\00\00h\00i\00")
  (data (i32.const 28) "\04\00\00\00\3d\d8a\00")
  (data (i32.const 44) "\03\00\00\00a\00b")
  (data (i32.const 60) "\08\00\00\00f\00.\00t\00s\00")
  (func (export "abort") (param i32 i32 i32 i32)
    (call $abort (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "trace") (param i32 i32 f64)
    (call $trace (local.get 0) (local.get 1) (local.get 2) (f64.const 2) (f64.const 3)
      (f64.const 4) (f64.const 5)))
  (func (export "seed") (result f64) (call $seed)))"#;

fn setup(engine: EngineKind, exporter: FunctionExporter) -> (Module, Capture, Capture) {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    exporter.instantiate(&runtime).unwrap();
    let (out, err) = (Capture::default(), Capture::default());
    let config = ModuleConfig::new().with_stdout(out.clone()).with_stderr(err.clone());
    let m = runtime.instantiate_bytes(&wat::parse_str(WAT).unwrap(), config).unwrap();
    (m, out, err)
}

#[test]
fn strings_null_and_lossy() {
    for &engine in ENGINES {
        let (m, out, _) = setup(engine, FunctionExporter::new().with_trace_to_stdout());
        let trace = m.typed_func::<(i32, i32, f64), ()>("trace").unwrap();
        for (ptr, n) in [(16, 0), (32, 1), (48, 2), (0, 5)] {
            trace.call((ptr, n, 1.0)).unwrap();
        }
        assert_eq!(
            out.text(),
            "trace: hi\ntrace: \u{fffd}a 1\ntrace: a\u{fffd} 1,2\ntrace: null 1,2,3,4,5\n",
            "{engine:?}"
        );
    }
}

#[test]
fn abort_closes_the_instance() {
    for &engine in ENGINES {
        let (m, _, err) = setup(engine, FunctionExporter::new());
        let abort = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap();
        let e = abort.call((16, 64, 7, 9)).unwrap_err();
        assert_eq!(e.exit_code(), Some(255), "{e}");
        assert_eq!(err.text(), "hi at f.ts:7:9\n");
        assert!(m.is_closed(), "{engine:?}");
        // A null message and file read as null, as AssemblyScript's loader shows them.
        let (m, _, err) = setup(engine, FunctionExporter::new());
        let abort = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap();
        assert_eq!(abort.call((0, 0, 0, 0)).unwrap_err().exit_code(), Some(255));
        assert_eq!(err.text(), "null at null:0:0\n");
    }
}

#[test]
fn output_off_reads_nothing() {
    for &engine in ENGINES {
        // Bad pointers trap when the message is written...
        let (m, _, _) = setup(engine, FunctionExporter::new().with_trace_to_stderr());
        let trace = m.typed_func::<(i32, i32, f64), ()>("trace").unwrap();
        let e = trace.call((-8, 0, 0.0)).unwrap_err();
        assert_eq!(e.as_trap().and_then(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
        let abort = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap();
        let e = abort.call((16, 65540, 0, 0)).unwrap_err();
        assert_eq!(e.as_trap().and_then(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
        // ... and are not read when it is not.
        let off = FunctionExporter::new().with_abort_message_disabled();
        let (m, out, err) = setup(engine, off);
        m.typed_func::<(i32, i32, f64), ()>("trace").unwrap().call((-8, 0, 0.0)).unwrap();
        let abort = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap();
        assert_eq!(abort.call((-8, -8, 0, 0)).unwrap_err().exit_code(), Some(255));
        assert_eq!((out.text(), err.text()), (String::new(), String::new()));
    }
}

#[test]
fn host_logging_scopes() {
    for &engine in ENGINES {
        let log = Capture::default();
        let factory = keel_assemblyscript::host_logging(log.clone(), LogScopes::ALL);
        let config = RuntimeConfig::default().with_function_listener_factory(factory);
        let runtime = Runtime::with_config(config, engine);
        keel_assemblyscript::instantiate(&runtime).unwrap();
        let config = ModuleConfig::new().with_random_source(Fixed);
        let m = runtime.instantiate_bytes(&wat::parse_str(WAT).unwrap(), config).unwrap();
        let seed = m.typed_func::<(), f64>("seed").unwrap().call(()).unwrap();
        assert_eq!(seed.to_bits(), 0x1bbf_64b1_967f_8c53);
        m.typed_func::<(i32, i32, f64), ()>("trace").unwrap().call((16, 1, 0.5)).unwrap();
        let abort = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap();
        assert_eq!(abort.call((16, 64, 1, 2)).unwrap_err().exit_code(), Some(255));
        assert_eq!(
            log.text(),
            "==> env.seed()\n<== (rand=4.958153677776298e-175)\n\
             ==> env.trace(message=16,nArgs=1,arg0=0.5,arg1=2,arg2=3,arg3=4,arg4=5)\n<== ()\n\
             ==> env.abort(message=16,fileName=64,lineNumber=1,columnNumber=2)\n",
            "{engine:?}"
        );
    }
    // proc logs abort only; random, seed only.
    for (scopes, want) in [(LogScopes::PROC, "abort"), (LogScopes::RANDOM, "seed")] {
        let log = Capture::default();
        let factory = keel_assemblyscript::host_logging(log.clone(), scopes);
        let runtime = Runtime::with_config(
            RuntimeConfig::default().with_function_listener_factory(factory),
            EngineKind::Interpreter,
        );
        keel_assemblyscript::instantiate(&runtime).unwrap();
        let m =
            runtime.instantiate_bytes(&wat::parse_str(WAT).unwrap(), ModuleConfig::new()).unwrap();
        m.typed_func::<(), f64>("seed").unwrap().call(()).unwrap();
        m.typed_func::<(i32, i32, f64), ()>("trace").unwrap().call((16, 0, 0.0)).unwrap();
        let _ = m.typed_func::<(i32, i32, i32, i32), ()>("abort").unwrap().call((16, 64, 1, 2));
        let text = log.text();
        let logged: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("==> env."))
            .map(|l| l.split('(').next().unwrap())
            .collect();
        assert_eq!(logged, [want], "{scopes:?}: {text}");
    }
}

/// The bytes of wazero's seed test (`538c7f96b164bf1b`).
struct Fixed;

impl keel_sys::random::RandomSource for Fixed {
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let bytes = [0x53, 0x8c, 0x7f, 0x96, 0xb1, 0x64, 0xbf, 0x1b];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = bytes[i % 8];
        }
        Ok(())
    }
}
