//! Function listeners: a factory on the runtime config gives listeners per function definition;
//! before/after/abort fire for host functions (called from either engine) and for Wasm functions
//! entered through the runtime (from the host, across instances). Host logging formats WASI-like
//! calls through the same machinery.

use std::sync::{Arc, Mutex};

use keel::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
use keel::logging::{HostLogging, LogScopes, LoggedFunction, ParamKind, ResultKind};
use keel::{
    Caller, CompileConfig, EngineKind, FrameInfo, ModuleConfig, Runtime, RuntimeConfig, Trap,
};

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
    // The tiered engine compiles at the second call, on the calling thread: the listened calls
    // below cross from bytecode to compiled code in the middle of the sequence.
    let tiering = keel::Tiering { call_threshold: 2, loop_threshold: 2, background: false };
    let config = RuntimeConfig::default()
        .with_function_listener_factory(Factory(rec.clone()))
        .with_tiering(tiering);
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
fn listeners_tiered() {
    listeners(EngineKind::Tiered);
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
            let mut m = c.memory().unwrap();
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

// Calls between Wasm functions that stay inside an engine: with a factory set, both engines
// run listening code, so every call is reported, with its frames, parameters and results.

/// Records every hook as one line: frames as `module.name#index`, values as raw slots.
#[derive(Clone, Default)]
struct Trace {
    log: Arc<Mutex<Vec<String>>>,
    /// Listen to every function but those named here.
    quiet: Arc<[&'static str]>,
    /// `before` panics for functions named here.
    panic_on: Arc<[&'static str]>,
}

fn frame(f: &FrameInfo) -> String {
    format!("{}.{}#{}", f.module, f.func_name.as_deref().unwrap_or("?"), f.func_index)
}

impl Trace {
    fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        self.log.lock().unwrap().split_off(0)
    }
}

impl FunctionListener for Trace {
    fn before(
        &self,
        c: &Caller<'_>,
        def: &FunctionDefinition,
        params: &[u64],
        stack: &[FrameInfo],
    ) {
        let stack: Vec<String> = stack.iter().map(frame).collect();
        // The caller a Wasm function's listener sees is its own instance.
        if !def.is_host {
            assert_eq!(c.module_name(), &*def.module);
        }
        self.push(format!("> {} {params:?} [{}]", def.debug_name(), stack.join(" ")));
        if self.panic_on.contains(&def.name.as_deref().unwrap_or("")) {
            panic!("listener of {} panics", def.debug_name());
        }
    }
    fn after(&self, _: &Caller<'_>, def: &FunctionDefinition, params: &[u64], results: &[u64]) {
        self.push(format!("< {} {params:?} -> {results:?}", def.debug_name()));
    }
    fn abort(&self, _: &Caller<'_>, def: &FunctionDefinition, params: &[u64], error: &Trap) {
        self.push(format!("! {} {params:?} {}", def.debug_name(), error.kind_name()));
    }
}

impl FunctionListenerFactory for Trace {
    fn new_listener(&self, def: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
        let name = def.name.as_deref().unwrap_or("");
        (!self.quiet.contains(&name)).then(|| Arc::new(self.clone()) as _)
    }
}

const CALLS: &str = r#"(module $m
  (import "env" "mid" (func $mid (param i32) (result i32)))
  (type $i2i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $double $fact)
  (func $double (type $i2i) (i32.mul (local.get 0) (i32.const 2)))
  (func $fact (export "fact") (type $i2i)
    (if (result i32) (i32.le_s (local.get 0) (i32.const 1))
      (then (i32.const 1))
      (else (i32.mul (local.get 0) (call $fact (i32.sub (local.get 0) (i32.const 1)))))))
  (func $indirect (export "indirect") (param i32 i32) (result i32)
    (call_indirect (type $i2i) (local.get 0) (local.get 1)))
  (func $multi (param i32) (result i32 i64 f64)
    (local.get 0) (i64.extend_i32_s (local.get 0)) (f64.convert_i32_s (local.get 0)))
  (func $use_multi (export "use_multi") (param i32) (result i32 i64 f64)
    (call $multi (local.get 0)))
  (func $c (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func $b (param i32) (result i32) (call $c (local.get 0)))
  (func $a (export "a") (param i32) (result i32) (i32.add (call $b (local.get 0)) (i32.const 1)))
  (func $leaf (export "leaf") (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
  (func $via_host (export "via_host") (param i32) (result i32) (call $mid (local.get 0)))
  (func $quiet (result i32) (call $double (i32.const 21)))
  (func $through_quiet (export "through_quiet") (result i32) (call $quiet))
  (func $boom (result i32) (i32.const 9))
  (func $calls_boom (export "calls_boom") (result i32) (i32.add (call $boom) (i32.const 1)))
  (func $inf (export "inf") (param i32) (result i32) (call $inf (i32.add (local.get 0) (i32.const 1))))
  (memory 1)
  (func $load (param i32) (result i32) (i32.load (local.get 0)))
  (func $load_chain (export "load_chain") (param i32) (result i32)
    (i32.add (call $load (local.get 0)) (i32.const 1))))"#;

const USER: &str = r#"(module $user
  (import "m" "leaf" (func $leaf (param i32) (result i32)))
  (func $call_leaf (export "call_leaf") (param i32) (result i32) (call $leaf (local.get 0))))"#;

/// A runtime on `engine` with `trace` as its listener factory, `env.mid` (which calls `m.leaf`,
/// or for a negative argument `m.a(0)`, which traps, and returns -1) and the modules `m` and
/// `user`.
fn calls_runtime(engine: EngineKind, trace: &Trace, max_depth: u32) -> (Runtime, keel::Module) {
    let config = RuntimeConfig::default()
        .with_function_listener_factory(trace.clone())
        .with_max_call_depth(max_depth);
    let rt = Runtime::with_config(config, engine);
    let m: Arc<std::sync::OnceLock<keel::Module>> = Arc::default();
    let inner = m.clone();
    rt.host_module("env")
        .func("mid", move |_: &mut Caller<'_>, x: i32| -> i32 {
            let m = inner.get().unwrap();
            if x < 0 {
                assert!(m.typed_func::<i32, i32>("a").unwrap().call(0).is_err());
                return -1;
            }
            m.typed_func::<i32, i32>("leaf").unwrap().call(x).unwrap() * 2
        })
        .instantiate()
        .unwrap();
    let module =
        rt.instantiate_bytes(&wat::parse_str(CALLS).unwrap(), ModuleConfig::new()).unwrap();
    m.set(module.clone()).ok().unwrap();
    rt.instantiate_bytes(&wat::parse_str(USER).unwrap(), ModuleConfig::new()).unwrap();
    (rt, module)
}

fn in_engine_calls(engine: EngineKind) {
    let trace = Trace { quiet: Arc::new(["quiet"]), ..Trace::default() };
    let (rt, m) = calls_runtime(engine, &trace, 10_000);
    let call = |name: &str, arg: i32| m.typed_func::<i32, i32>(name).unwrap().call(arg);

    // Recursion through direct calls.
    assert_eq!(call("fact", 3).unwrap(), 6);
    assert_eq!(
        trace.take(),
        [
            "> m.fact [3] [m.fact#2]",
            "> m.fact [2] [m.fact#2 m.fact#2]",
            "> m.fact [1] [m.fact#2 m.fact#2 m.fact#2]",
            "< m.fact [1] -> [1]",
            "< m.fact [2] -> [2]",
            "< m.fact [3] -> [6]",
        ],
        "{engine:?}"
    );

    // call_indirect to a function of the same instance, then into recursion.
    let indirect = m.typed_func::<(i32, i32), i32>("indirect").unwrap();
    assert_eq!(indirect.call((5, 0)).unwrap(), 10);
    assert_eq!(indirect.call((2, 1)).unwrap(), 2);
    assert_eq!(
        trace.take(),
        [
            "> m.indirect [5, 0] [m.indirect#3]",
            "> m.double [5] [m.indirect#3 m.double#1]",
            "< m.double [5] -> [10]",
            "< m.indirect [5, 0] -> [10]",
            "> m.indirect [2, 1] [m.indirect#3]",
            "> m.fact [2] [m.indirect#3 m.fact#2]",
            "> m.fact [1] [m.indirect#3 m.fact#2 m.fact#2]",
            "< m.fact [1] -> [1]",
            "< m.fact [2] -> [2]",
            "< m.indirect [2, 1] -> [2]",
        ],
        "{engine:?}"
    );

    // Multi-value results, as raw slots: i32 zero-extended, i64, f64 bits.
    let r = m.func("use_multi").unwrap().call(&[keel::Val::I32(-2)]).unwrap();
    assert_eq!(r.len(), 3);
    let slots = format!("{:?}", [0xffff_fffe_u64, (-2i64) as u64, (-2.0f64).to_bits()]);
    assert_eq!(
        trace.take(),
        [
            "> m.use_multi [4294967294] [m.use_multi#5]".to_string(),
            "> m.multi [4294967294] [m.use_multi#5 m.multi#4]".to_string(),
            format!("< m.multi [4294967294] -> {slots}"),
            format!("< m.use_multi [4294967294] -> {slots}"),
        ],
        "{engine:?}"
    );

    // A trap deep in the chain aborts every listened call it unwinds, innermost first.
    let e = call("a", 0).unwrap_err();
    assert_eq!(e.as_trap().and_then(|t| t.code()), Some(keel::TrapCode::IntegerDivisionByZero));
    let div = "wasm trap: integer divide by zero";
    assert_eq!(
        trace.take(),
        [
            "> m.a [0] [m.a#8]".to_string(),
            "> m.b [0] [m.a#8 m.b#7]".to_string(),
            "> m.c [0] [m.a#8 m.b#7 m.c#6]".to_string(),
            format!("! m.c [0] {div}"),
            format!("! m.b [0] {div}"),
            format!("! m.a [0] {div}"),
        ],
        "{engine:?}"
    );

    // An access past the memory (on the compiler, a fault on a guard page where memories are
    // guarded) aborts the calls it ends too.
    let e = call("load_chain", 0x2_0000).unwrap_err();
    assert_eq!(e.as_trap().and_then(|t| t.code()), Some(keel::TrapCode::MemoryOutOfBounds));
    let oob = "wasm trap: out of bounds memory access";
    assert_eq!(
        trace.take(),
        [
            "> m.load_chain [131072] [m.load_chain#17]".to_string(),
            "> m.load [131072] [m.load_chain#17 m.load#16]".to_string(),
            format!("! m.load [131072] {oob}"),
            format!("! m.load_chain [131072] {oob}"),
        ],
        "{engine:?}"
    );

    // A host function in the middle, which calls back into the instance.
    assert_eq!(call("via_host", 5).unwrap(), 210);
    assert_eq!(
        trace.take(),
        [
            "> m.via_host [5] [m.via_host#10]",
            "> env.mid [5] [m.via_host#10 env.mid#0]",
            "> m.leaf [5] [m.via_host#10 env.mid#0 m.leaf#9]",
            "< m.leaf [5] -> [105]",
            "< env.mid [5] -> [210]",
            "< m.via_host [5] -> [210]",
        ],
        "{engine:?}"
    );

    // The host function catches a trap of its nested call: that call's frames are aborted, the
    // outer ones return normally.
    assert_eq!(call("via_host", -1).unwrap(), -1);
    let minus_one = u32::MAX as u64;
    assert_eq!(
        trace.take(),
        [
            format!("> m.via_host [{minus_one}] [m.via_host#10]"),
            format!("> env.mid [{minus_one}] [m.via_host#10 env.mid#0]"),
            "> m.a [0] [m.via_host#10 env.mid#0 m.a#8]".to_string(),
            "> m.b [0] [m.via_host#10 env.mid#0 m.a#8 m.b#7]".to_string(),
            "> m.c [0] [m.via_host#10 env.mid#0 m.a#8 m.b#7 m.c#6]".to_string(),
            format!("! m.c [0] {div}"),
            format!("! m.b [0] {div}"),
            format!("! m.a [0] {div}"),
            format!("< env.mid [{minus_one}] -> [{minus_one}]"),
            format!("< m.via_host [{minus_one}] -> [{minus_one}]"),
        ],
        "{engine:?}"
    );

    // A function the factory gave no listener is not reported, nor in the stack.
    assert_eq!(m.typed_func::<(), i32>("through_quiet").unwrap().call(()).unwrap(), 42);
    assert_eq!(
        trace.take(),
        [
            "> m.through_quiet [] [m.through_quiet#12]",
            "> m.double [21] [m.through_quiet#12 m.double#1]",
            "< m.double [21] -> [42]",
            "< m.through_quiet [] -> [42]",
        ],
        "{engine:?}"
    );

    // Across instances.
    let user = rt.module("user").unwrap();
    assert_eq!(user.typed_func::<i32, i32>("call_leaf").unwrap().call(1).unwrap(), 101);
    assert_eq!(
        trace.take(),
        [
            "> user.call_leaf [1] [user.call_leaf#1]",
            "> m.leaf [1] [user.call_leaf#1 m.leaf#9]",
            "< m.leaf [1] -> [101]",
            "< user.call_leaf [1] -> [101]",
        ],
        "{engine:?}"
    );
    assert!(keel::listener::current_stack().is_empty());
}

#[test]
fn in_engine_calls_compiler() {
    in_engine_calls(EngineKind::Compiler);
}

#[test]
fn in_engine_calls_interpreter() {
    in_engine_calls(EngineKind::Interpreter);
}

/// Runaway recursion: every call reported is aborted with the stack overflow, and nothing is
/// left on the listened stack.
fn stack_overflow(engine: EngineKind) {
    let trace = Trace::default();
    let (_rt, m) = calls_runtime(engine, &trace, 200);
    let e = m.typed_func::<i32, i32>("inf").unwrap().call(0).unwrap_err();
    assert_eq!(e.as_trap().and_then(|t| t.code()), Some(keel::TrapCode::StackOverflow));
    let log = trace.take();
    let entered = log.iter().filter(|l| l.starts_with('>')).count();
    let aborted: Vec<&String> = log.iter().filter(|l| l.starts_with('!')).collect();
    assert!(entered > 10, "{engine:?}: {entered} calls");
    assert_eq!(aborted.len(), entered, "{engine:?}");
    assert!(aborted.iter().all(|l| l.ends_with("wasm trap: call stack exhausted")), "{aborted:?}");
    // Innermost first: the deepest call's argument is the largest.
    assert_eq!(aborted[0], &format!("! m.inf [{}] wasm trap: call stack exhausted", entered - 1));
    assert!(keel::listener::current_stack().is_empty());
}

#[test]
fn stack_overflow_compiler() {
    stack_overflow(EngineKind::Compiler);
}

#[test]
fn stack_overflow_interpreter() {
    stack_overflow(EngineKind::Interpreter);
}

/// A listener that panics: the panic reaches the caller (never unwinding through compiled
/// code), and the listened stack is clean for the next call.
fn listener_panics(engine: EngineKind) {
    let trace = Trace { panic_on: Arc::new(["boom"]), ..Trace::default() };
    let (_rt, m) = calls_runtime(engine, &trace, 10_000);
    let f = m.typed_func::<(), i32>("calls_boom").unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.call(())));
    assert!(r.is_err(), "{engine:?}: the panic was swallowed");
    assert!(keel::listener::current_stack().is_empty());
    trace.take();
    assert_eq!(m.typed_func::<i32, i32>("leaf").unwrap().call(1).unwrap(), 101);
    assert_eq!(trace.take(), ["> m.leaf [1] [m.leaf#9]", "< m.leaf [1] -> [101]"], "{engine:?}");
}

#[test]
fn listener_panics_compiler() {
    listener_panics(EngineKind::Compiler);
}

#[test]
fn listener_panics_interpreter() {
    listener_panics(EngineKind::Interpreter);
}

/// v128 parameters and results take two slots each.
fn v128_slots(engine: EngineKind) {
    let trace = Trace::default();
    let config = RuntimeConfig::default().with_function_listener_factory(trace.clone());
    let rt = Runtime::with_config(config, engine);
    let wat = r#"(module $s
      (func $swap (param v128 i32) (result i32 v128) (local.get 1) (local.get 0))
      (func (export "run") (param i32) (result i32)
        (call $swap (v128.const i64x2 0x1111 0x2222) (local.get 0))
        (drop)))"#;
    let m = rt.instantiate_bytes(&wat::parse_str(wat).unwrap(), ModuleConfig::new()).unwrap();
    assert_eq!(m.typed_func::<i32, i32>("run").unwrap().call(7).unwrap(), 7);
    assert_eq!(
        trace.take(),
        [
            "> s.run [7] [s.run#1]",
            "> s.swap [4369, 8738, 7] [s.run#1 s.swap#0]",
            "< s.swap [4369, 8738, 7] -> [7, 4369, 8738]",
            "< s.run [7] -> [7]",
        ],
        "{engine:?}"
    );
}

#[test]
fn v128_slots_compiler() {
    v128_slots(EngineKind::Compiler);
}

#[test]
fn v128_slots_interpreter() {
    v128_slots(EngineKind::Interpreter);
}

// Overriding the factory: per compile (`CompileConfig`), per instantiation (`ModuleConfig`) and
// per host module (`HostModuleBuilder`).

/// `run` calls `$sq` inside the engine: a listening module reports both.
const SQUARE: &str = r#"(module $sq
  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "run") (param i32) (result i32) (call $square (local.get 0))))"#;

fn square_wasm() -> Vec<u8> {
    wat::parse_str(SQUARE).unwrap()
}

fn call_run(m: &keel::Module, x: i32) -> i32 {
    m.typed_func::<i32, i32>("run").unwrap().call(x).unwrap()
}

/// What `trace` records for one call `run(3)` of the instance named `name`.
fn square_trace(name: &str) -> Vec<String> {
    vec![
        format!("> {name}.run [3] [{name}.run#1]"),
        format!("> {name}.square [3] [{name}.run#1 {name}.square#0]"),
        format!("< {name}.square [3] -> [9]"),
        format!("< {name}.run [3] -> [9]"),
    ]
}

/// A runtime without a factory compiles one module with a factory of its own (listening code:
/// its calls inside the engine are reported) and the same bytes without (plain code).
fn per_compile_factory(engine: EngineKind) {
    let trace = Trace::default();
    let rt = Runtime::with_config(RuntimeConfig::default(), engine);
    assert!(!rt.compile_options().listening);
    let config = CompileConfig::new().with_function_listener_factory(trace.clone());
    assert!(rt.compile_options_with(&config).listening);
    let listening = rt.compile_with(&square_wasm(), &config).unwrap();
    let plain = rt.compile(&square_wasm()).unwrap();
    assert!(listening.compile_options().listening);
    assert!(!plain.compile_options().listening);

    let a = rt.instantiate(&listening, ModuleConfig::new().with_name("a")).unwrap();
    let b = rt.instantiate(&plain, ModuleConfig::new().with_name("b")).unwrap();
    assert_eq!(call_run(&a, 3), 9);
    assert_eq!(trace.take(), square_trace("a"), "{engine:?}");
    assert_eq!(call_run(&b, 3), 9);
    assert!(trace.take().is_empty(), "{engine:?}");
}

#[test]
fn per_compile_factory_compiler() {
    per_compile_factory(EngineKind::Compiler);
}

#[test]
fn per_compile_factory_interpreter() {
    per_compile_factory(EngineKind::Interpreter);
}

/// A runtime with a factory compiles a module without listeners: plain code, nothing reported,
/// while a module compiled as usual reports to the runtime's factory.
fn compile_without_listeners(engine: EngineKind) {
    let trace = Trace::default();
    let rt = Runtime::with_config(
        RuntimeConfig::default().with_function_listener_factory(trace.clone()),
        engine,
    );
    let off = CompileConfig::new().without_function_listeners();
    assert!(!rt.compile_options_with(&off).listening);
    let plain = rt.compile_with(&square_wasm(), &off).unwrap();
    assert!(!plain.compile_options().listening);
    let m = rt.instantiate(&plain, ModuleConfig::new().with_name("p")).unwrap();
    assert_eq!(call_run(&m, 3), 9);
    assert!(trace.take().is_empty(), "{engine:?}");

    let usual = rt.compile(&square_wasm()).unwrap();
    let m = rt.instantiate(&usual, ModuleConfig::new().with_name("l")).unwrap();
    assert_eq!(call_run(&m, 3), 9);
    assert_eq!(trace.take(), square_trace("l"), "{engine:?}");
}

#[test]
fn compile_without_listeners_compiler() {
    compile_without_listeners(EngineKind::Compiler);
}

#[test]
fn compile_without_listeners_interpreter() {
    compile_without_listeners(EngineKind::Interpreter);
}

/// Instances of one listening module: the first asks the module's factory, the second its own,
/// the third none; each instance's calls go to its own listeners only.
fn per_instance_factory(engine: EngineKind) {
    let (compiled_with, own) = (Trace::default(), Trace::default());
    let rt = Runtime::with_config(RuntimeConfig::default(), engine);
    let config = CompileConfig::new().with_function_listener_factory(compiled_with.clone());
    let listening = rt.compile_with(&square_wasm(), &config).unwrap();
    let a = rt.instantiate(&listening, ModuleConfig::new().with_name("a")).unwrap();
    let b = rt
        .instantiate(
            &listening,
            ModuleConfig::new().with_name("b").with_function_listener_factory(own.clone()),
        )
        .unwrap();
    let c = rt
        .instantiate(&listening, ModuleConfig::new().with_name("c").without_function_listeners())
        .unwrap();
    for m in [&a, &b, &c, &a] {
        assert_eq!(call_run(m, 3), 9);
    }
    let twice_a: Vec<String> = [square_trace("a"), square_trace("a")].concat();
    assert_eq!(compiled_with.take(), twice_a, "{engine:?}");
    assert_eq!(own.take(), square_trace("b"), "{engine:?}");
}

#[test]
fn per_instance_factory_compiler() {
    per_instance_factory(EngineKind::Compiler);
}

#[test]
fn per_instance_factory_interpreter() {
    per_instance_factory(EngineKind::Interpreter);
}

/// Plain code has no hook to report from: a factory given to its instance is a usage error that
/// says how to fix it, and nothing is instantiated.
fn factory_on_plain_code(engine: EngineKind) {
    let rt = Runtime::with_config(RuntimeConfig::default(), engine);
    let plain = rt.compile(&square_wasm()).unwrap();
    let config =
        ModuleConfig::new().with_name("p").with_function_listener_factory(Trace::default());
    match rt.instantiate(&plain, config) {
        Err(keel::Error::Usage(keel::UsageError::PlainCode { module })) => {
            assert_eq!(module, "p");
        }
        other => panic!("{engine:?}: expected a usage error, got {other:?}"),
    }
    assert!(rt.module("p").is_none());
    // Without listeners, plain code instantiates as always.
    let config = ModuleConfig::new().with_name("p").without_function_listeners();
    assert_eq!(call_run(&rt.instantiate(&plain, config).unwrap(), 3), 9);
}

#[test]
fn factory_on_plain_code_compiler() {
    factory_on_plain_code(EngineKind::Compiler);
}

#[test]
fn factory_on_plain_code_interpreter() {
    factory_on_plain_code(EngineKind::Interpreter);
}

const ADDER: &str = r#"(module $guest
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (func (export "run") (param i32) (result i32) (call $add (local.get 0) (i32.const 1))))"#;

fn env_with_add(b: keel::HostModuleBuilder) {
    b.func("add", |_: &mut Caller<'_>, a: i32, b: i32| a + b).instantiate().unwrap();
}

/// A host module's functions are listened to by the factory of its builder, with or without
/// one on the runtime; and a host module can opt out of the runtime's factory.
fn host_module_factory(engine: EngineKind) {
    let trace = Trace::default();
    let rt = Runtime::with_config(RuntimeConfig::default(), engine);
    env_with_add(rt.host_module("env").with_function_listener_factory(trace.clone()));
    let m = rt.instantiate_bytes(&wat::parse_str(ADDER).unwrap(), ModuleConfig::new()).unwrap();
    assert_eq!(call_run(&m, 41), 42);
    // The guest is plain code: only the host function reports.
    assert_eq!(
        trace.take(),
        ["> env.add [41, 1] [env.add#0]", "< env.add [41, 1] -> [42]"],
        "{engine:?}"
    );

    let rt = Runtime::with_config(
        RuntimeConfig::default().with_function_listener_factory(trace.clone()),
        engine,
    );
    env_with_add(rt.host_module("env").without_function_listeners());
    let m = rt.instantiate_bytes(&wat::parse_str(ADDER).unwrap(), ModuleConfig::new()).unwrap();
    assert_eq!(call_run(&m, 41), 42);
    assert_eq!(
        trace.take(),
        ["> guest.run [41] [guest.run#1]", "< guest.run [41] -> [42]"],
        "{engine:?}"
    );
}

#[test]
fn host_module_factory_compiler() {
    host_module_factory(EngineKind::Compiler);
}

#[test]
fn host_module_factory_interpreter() {
    host_module_factory(EngineKind::Interpreter);
}

/// Listening code `callee`, called by plain code `caller`, called by listening code `outer`.
const CALLEE: &str = r#"(module $callee
  (func $quot (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0)))
  (func (export "div") (param i32) (result i32) (call $quot (local.get 0))))"#;
const CALLER: &str = r#"(module $caller
  (import "callee" "div" (func $div (param i32) (result i32)))
  (func (export "go") (param i32) (result i32) (call $div (local.get 0))))"#;
const OUTER: &str = r#"(module $outer
  (import "caller" "go" (func $go (param i32) (result i32)))
  (func (export "top") (param i32) (result i32) (call $go (local.get 0))))"#;

/// Listening and plain code calling each other across instances: every listened call is
/// reported once, a trap aborts the listened calls it unwinds (plain frames between them
/// included), and the listened stack is empty after each call.
fn mixed_code(engine: EngineKind) {
    let trace = Trace::default();
    let rt = Runtime::with_config(RuntimeConfig::default(), engine);
    let listening = CompileConfig::new().with_function_listener_factory(trace.clone());
    let instantiate = |wat: &str, config: &CompileConfig| {
        let compiled = rt.compile_with(&wat::parse_str(wat).unwrap(), config).unwrap();
        rt.instantiate(&compiled, ModuleConfig::new()).unwrap()
    };
    instantiate(CALLEE, &listening);
    let caller = instantiate(CALLER, &CompileConfig::new());
    let outer = instantiate(OUTER, &listening);
    let go = caller.typed_func::<i32, i32>("go").unwrap();
    let top = outer.typed_func::<i32, i32>("top").unwrap();

    for _ in 0..2 {
        assert!(go.call(0).is_err());
        assert!(keel::listener::current_stack().is_empty(), "{engine:?}");
        let trap = "wasm trap: integer divide by zero";
        assert_eq!(
            trace.take(),
            [
                "> callee.div [0] [callee.div#1]".to_string(),
                "> callee.quot [0] [callee.div#1 callee.quot#0]".into(),
                format!("! callee.quot [0] {trap}"),
                format!("! callee.div [0] {trap}"),
            ],
            "{engine:?}"
        );
        assert_eq!(go.call(2).unwrap(), 5);
        assert_eq!(
            trace.take(),
            [
                "> callee.div [2] [callee.div#1]",
                "> callee.quot [2] [callee.div#1 callee.quot#0]",
                "< callee.quot [2] -> [5]",
                "< callee.div [2] -> [5]",
            ],
            "{engine:?}"
        );

        assert!(top.call(0).is_err());
        assert!(keel::listener::current_stack().is_empty(), "{engine:?}");
        assert_eq!(
            trace.take(),
            [
                "> outer.top [0] [outer.top#1]".to_string(),
                "> callee.div [0] [outer.top#1 callee.div#1]".into(),
                "> callee.quot [0] [outer.top#1 callee.div#1 callee.quot#0]".into(),
                format!("! callee.quot [0] {trap}"),
                format!("! callee.div [0] {trap}"),
                format!("! outer.top [0] {trap}"),
            ],
            "{engine:?}"
        );
        assert_eq!(top.call(2).unwrap(), 5);
        assert_eq!(
            trace.take(),
            [
                "> outer.top [2] [outer.top#1]",
                "> callee.div [2] [outer.top#1 callee.div#1]",
                "> callee.quot [2] [outer.top#1 callee.div#1 callee.quot#0]",
                "< callee.quot [2] -> [5]",
                "< callee.div [2] -> [5]",
                "< outer.top [2] -> [5]",
            ],
            "{engine:?}"
        );
    }
}

#[test]
fn mixed_code_compiler() {
    mixed_code(EngineKind::Compiler);
}

#[test]
fn mixed_code_interpreter() {
    mixed_code(EngineKind::Interpreter);
}
