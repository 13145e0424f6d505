//! Function listeners: a factory on the runtime config gives listeners per function definition;
//! before/after/abort fire for host functions (called from either engine) and for Wasm functions
//! entered through the runtime (from the host, across instances). Host logging formats WASI-like
//! calls through the same machinery.

use std::sync::{Arc, Mutex};

use keel::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
use keel::logging::{HostLogging, LogScopes, LoggedFunction, ParamKind, ResultKind};
use keel::{Caller, EngineKind, FrameInfo, ModuleConfig, Runtime, RuntimeConfig, Trap};

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl FunctionListener for Recorder {
    fn before(
        &self,
        _: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        stack: &[FrameInfo],
    ) {
        let stack: Vec<String> = stack.iter().map(|f| f.to_string()).collect();
        self.0.lock().unwrap().push(format!(
            "before {} {params:?} [{}]",
            def.debug_name(),
            stack.join(" > ")
        ));
    }
    fn after(&self, _: &Caller<'_>, def: &FunctionDefinition, _: &[u64], results: &[u64]) {
        self.0.lock().unwrap().push(format!("after {} {results:?}", def.debug_name()));
    }
    fn abort(&self, _: &Caller<'_>, def: &FunctionDefinition, _: &[u64], error: &Trap) {
        self.0.lock().unwrap().push(format!("abort {} {}", def.debug_name(), error.kind_name()));
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}
impl KindName for Trap {
    fn kind_name(&self) -> String {
        self.to_string().lines().next().unwrap_or_default().to_string()
    }
}

struct Factory(Recorder);

impl FunctionListenerFactory for Factory {
    fn new_listener(&self, def: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
        // Everything but the function named "quiet".
        (def.name.as_deref() != Some("quiet")).then(|| Arc::new(self.0.clone()) as _)
    }
}

const GUEST: &str = r#"(module $guest
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "fail" (func $fail))
  (func (export "run") (param i32) (result i32) (call $add (local.get 0) (i32.const 1)))
  (func (export "crash") (call $fail))
  (func (export "quiet") (result i32) (i32.const 7)))"#;

fn listeners(engine: EngineKind) {
    let rec = Recorder::default();
    let config = RuntimeConfig::default().with_function_listener_factory(Factory(rec.clone()));
    let rt = Runtime::with_config(config, engine);
    rt.host_module("env")
        .func("add", |_: &mut Caller<'_>, a: i32, b: i32| a + b)
        .func("fail", |_: &mut Caller<'_>| -> Result<(), Trap> { Err(Trap::host("no")) })
        .instantiate()
        .unwrap();
    let m = rt.instantiate_bytes(&wat::parse_str(GUEST).unwrap(), ModuleConfig::new()).unwrap();
    assert_eq!(m.typed_func::<i32, i32>("run").unwrap().call(41).unwrap(), 42);
    assert!(m.func("crash").unwrap().call(&[]).is_err());
    assert_eq!(m.typed_func::<(), i32>("quiet").unwrap().call(()).unwrap(), 7);
    let log = rec.0.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "before guest.run [41] [guest.run]",
            "before env.add [41, 1] [guest.run > env.add]",
            "after env.add [42]",
            "after guest.run [42]",
            "before guest.crash [] [guest.crash]",
            "before env.fail [] [guest.crash > env.fail]",
            "abort env.fail host function failed: no",
            "abort guest.crash host function failed: no",
        ],
        "{engine:?}"
    );
}

#[test]
fn listeners_compiler() {
    listeners(EngineKind::Compiler);
}

#[test]
fn listeners_interpreter() {
    // Host functions and entries from the host go through the runtime on both engines.
    listeners(EngineKind::Interpreter);
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGGED: &[LoggedFunction] = &[
    LoggedFunction {
        name: "write",
        scope: LogScopes::FILESYSTEM,
        params: &[
            ("fd", ParamKind::U32),
            ("path", ParamKind::String),
            ("path_len", ParamKind::Len),
            ("nwritten", ParamKind::OutU32),
        ],
        result: ResultKind::Errno,
    },
    LoggedFunction { name: "now", scope: LogScopes::CLOCK, params: &[], result: ResultKind::I32 },
];

fn host_logging(engine: EngineKind, scopes: &str, expect: &str) {
    let buf = Buf::default();
    let factory = HostLogging::new(buf.clone(), LogScopes::parse(scopes).unwrap())
        .with_functions("sys", LOGGED);
    let rt = Runtime::with_config(
        RuntimeConfig::default().with_function_listener_factory(factory),
        engine,
    );
    rt.host_module("sys")
        .func("write", |c: &mut Caller<'_>, fd: i32, _p: i32, len: i32, out: i32| -> i32 {
            let m = c.memory().unwrap();
            m.write(out as u64, &((len + fd) as u32).to_le_bytes());
            if fd == 9 { 8 } else { 0 }
        })
        .func("now", |_: &mut Caller<'_>| -> i32 { 5 })
        .instantiate()
        .unwrap();
    let wat = r#"(module
      (import "sys" "write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "sys" "now" (func $now (result i32)))
      (memory 1) (data (i32.const 100) "a/b.txt")
      (func (export "_start")
        (drop (call $w (i32.const 1) (i32.const 100) (i32.const 7) (i32.const 200)))
        (drop (call $w (i32.const 9) (i32.const 100) (i32.const 1) (i32.const 200)))
        (drop (call $now))))"#;
    rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), ModuleConfig::new()).unwrap();
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(out, expect, "{engine:?} {scopes}");
}

#[test]
fn host_logging_formats_and_scopes() {
    let fs = "==> sys.write(fd=1,path=a/b.txt)\n<== (nwritten=8,errno=ESUCCESS)\n\
              ==> sys.write(fd=9,path=a)\n<== (nwritten=,errno=EBADF)\n";
    for engine in [EngineKind::Compiler, EngineKind::Interpreter] {
        host_logging(engine, "filesystem", fs);
        host_logging(engine, "clock", "==> sys.now()\n<== (5)\n");
        host_logging(engine, "random,sock", "");
        host_logging(engine, "all", &format!("{fs}==> sys.now()\n<== (5)\n"));
    }
}
