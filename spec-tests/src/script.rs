//! Running one `.wast` script: its directives against a fresh runtime.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};

use keel::{CompiledModule, EngineKind, Error, Features, Module, ModuleConfig, TrapCode, Val};
use wast::core::WastArgCore;
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, Wat};

use crate::host::instantiate_spectest;
use crate::panics;
use crate::values::{HostRefs, arg_to_val, check_results, describe_val_like};
use crate::{Outcome, ScriptOptions};

/// Native stack of the thread that runs a script: deep enough for an engine that recurses on the
/// host stack to reach its own call-depth limit (which `assert_exhaustion` expects) first.
const SCRIPT_STACK_BYTES: usize = 512 << 20;

/// Runs the script `source` (named `file` in failure reasons) on a fresh runtime with `engine`
/// and `features`. With `echo`, every step is also printed to stdout for a parent process (see
/// [`crate::worker`]).
pub(crate) fn run_script(
    file: &str,
    source: &str,
    engine: EngineKind,
    features: Features,
    options: &ScriptOptions,
    echo: bool,
) -> Outcome {
    let mut config = keel::RuntimeConfig::default().with_features(features);
    if options.listening {
        config = config.with_function_listener_factory(crate::listening::Checker);
    }
    if engine == EngineKind::Tiered {
        config = config.with_tiering(crate::TIERED_FOR_TESTS);
    }
    let new_runtime = move || keel::Runtime::with_config(config.clone(), engine);
    run_script_on(file, source, Box::new(new_runtime), options, echo)
}

/// Prefix of the lines a worker prints for its parent.
pub(crate) const ECHO_PREFIX: &str = "@spectest ";

/// What a script's thread has done so far, shared with the thread that waits for it.
#[derive(Default)]
struct Progress {
    outcome: Outcome,
    /// `file:line: directive` of the directive running.
    at: String,
    /// Whether the script ran to its end.
    done: bool,
    /// Whether to print each step to stdout too.
    echo: bool,
}

impl Progress {
    fn echo(&self, what: &str, text: &str) {
        if self.echo {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{ECHO_PREFIX}{what} {}", text.replace(['\n', '\r'], " "));
            let _ = out.flush();
        }
    }

    fn start(&mut self, at: String) {
        self.echo("at", &at);
        self.at = at;
    }

    fn pass(&mut self) {
        self.echo("pass", "");
        self.outcome.passed += 1;
    }

    fn fail(&mut self, reason: String) {
        self.echo("fail", &reason);
        self.outcome.failures.push(reason);
    }

    fn finish(&mut self) {
        self.echo("done", "");
        self.done = true;
    }
}

fn lock(progress: &Mutex<Progress>) -> MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the script `source` on the runtime `new_runtime` makes, on a thread of its own with a
/// large stack, for at most `options.timeout`: a script still running then is abandoned (its
/// thread is left behind) with one more failure.
fn run_script_on(
    file: &str,
    source: &str,
    new_runtime: Box<dyn Fn() -> keel::Runtime + Send>,
    options: &ScriptOptions,
    echo: bool,
) -> Outcome {
    let progress =
        Arc::new(Mutex::new(Progress { at: file.to_string(), echo, ..Progress::default() }));
    let (done, finished) = mpsc::channel::<()>();
    let thread = {
        let (file, source, progress) = (file.to_string(), source.to_string(), progress.clone());
        let verbose = options.verbose;
        std::thread::Builder::new()
            .name(format!("wast {file}"))
            .stack_size(SCRIPT_STACK_BYTES)
            .spawn(move || {
                run_on_this_thread(&file, &source, &*new_runtime, verbose, &progress);
                lock(&progress).finish();
                drop(done);
            })
    };
    let thread = match thread {
        Ok(t) => t,
        Err(e) => return Outcome::failed(format!("{file}: cannot start the runner thread: {e}")),
    };
    let timed_out =
        matches!(finished.recv_timeout(options.timeout), Err(RecvTimeoutError::Timeout));
    if !timed_out {
        let _ = thread.join();
    }
    let mut progress = lock(&progress);
    if timed_out {
        let reason = format!(
            "{}: timed out after {} s; the rest of the script did not run",
            progress.at,
            options.timeout.as_secs_f64()
        );
        progress.fail(reason);
    } else if !progress.done {
        let reason = format!("{}: the runner thread panicked", progress.at);
        progress.fail(reason);
    }
    std::mem::take(&mut progress.outcome)
}

fn run_on_this_thread(
    file: &str,
    source: &str,
    new_runtime: &dyn Fn() -> keel::Runtime,
    verbose: bool,
    progress: &Mutex<Progress>,
) {
    let fail = |reason: String| lock(progress).fail(reason);
    let mut lexer = Lexer::new(source);
    // names.wast uses bidirectional-override characters and the like in names.
    lexer.allow_confusing_unicode(true);
    let buffer = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => return fail(parse_failure(file, source, &e)),
    };
    let wast = match panics::catch(|| parser::parse::<Wast<'_>>(&buffer)) {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return fail(parse_failure(file, source, &e)),
        Err(panic) => return fail(format!("{file}: wast panicked: {panic}")),
    };

    let runtime = match panics::catch(new_runtime) {
        Ok(r) => r,
        Err(panic) => return fail(format!("{file}: creating the runtime: {panic}")),
    };
    match panics::catch(|| instantiate_spectest(&runtime, verbose)) {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return fail(format!(
                "{file}: cannot instantiate the spectest module: {}",
                one_line(&e)
            ));
        }
        Err(panic) => return fail(format!("{file}: spectest module: panic: {panic}")),
    }

    let mut script = Script {
        runtime,
        current: None,
        instances: HashMap::new(),
        definitions: HashMap::new(),
        last_definition: None,
        refs: HostRefs::default(),
    };
    for directive in wast.directives {
        let (line, _) = directive.span().linecol_in(source);
        let at = format!("{file}:{}: {}", line + 1, describe(&directive));
        lock(progress).start(at.clone());
        // A panic may leave the current module half-built; later directives on it fail on
        // their own.
        let result = panics::catch(|| script.run(directive))
            .unwrap_or_else(|panic| Err(format!("panic: {panic}")));
        match result {
            Ok(()) => lock(progress).pass(),
            Err(reason) => fail(format!("{at}: {reason}")),
        }
    }
    let _ = panics::catch(|| script.runtime.close());
}

fn parse_failure(file: &str, source: &str, e: &wast::Error) -> String {
    let (line, _) = e.span().linecol_in(source);
    format!("{file}:{}: the script failed to parse: {}", line + 1, e.message())
}

/// A short description of a directive for failure reasons: its kind and what it calls.
fn describe(d: &WastDirective<'_>) -> String {
    fn exec(e: &WastExecute<'_>) -> String {
        match e {
            WastExecute::Invoke(i) => invoke(i),
            WastExecute::Wat(_) => "(module)".into(),
            WastExecute::Get { global, .. } => format!("(get {global:?})"),
        }
    }
    fn invoke(i: &WastInvoke<'_>) -> String {
        let args: Vec<String> = i.args.iter().map(describe_arg).collect();
        if args.is_empty() {
            format!("(invoke {:?})", i.name)
        } else {
            format!("(invoke {:?} {})", i.name, args.join(" "))
        }
    }
    match d {
        WastDirective::Module(_) => "module".into(),
        WastDirective::ModuleDefinition(_) => "module definition".into(),
        WastDirective::ModuleInstance { .. } => "module instance".into(),
        WastDirective::Register { name, .. } => format!("register {name:?}"),
        WastDirective::Invoke(i) => invoke(i),
        WastDirective::AssertReturn { exec: e, .. } => format!("assert_return {}", exec(e)),
        WastDirective::AssertTrap { exec: e, .. } => format!("assert_trap {}", exec(e)),
        WastDirective::AssertExhaustion { call, .. } => {
            format!("assert_exhaustion {}", invoke(call))
        }
        WastDirective::AssertInvalid { .. } => "assert_invalid".into(),
        WastDirective::AssertMalformed { .. } => "assert_malformed".into(),
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable".into(),
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom".into(),
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom".into(),
        WastDirective::AssertException { .. } => "assert_exception".into(),
        WastDirective::AssertSuspension { .. } => "assert_suspension".into(),
        WastDirective::Thread(_) => "thread".into(),
        WastDirective::Wait { .. } => "wait".into(),
    }
}

fn describe_arg(arg: &WastArg<'_>) -> String {
    match arg {
        WastArg::Core(WastArgCore::I32(x)) => format!("(i32.const {x})"),
        WastArg::Core(WastArgCore::I64(x)) => format!("(i64.const {x})"),
        WastArg::Core(WastArgCore::F32(x)) => format!("(f32.const 0x{:08x})", x.bits),
        WastArg::Core(WastArgCore::F64(x)) => format!("(f64.const 0x{:016x})", x.bits),
        WastArg::Core(WastArgCore::V128(x)) => {
            format!("(v128.const 0x{:032x})", u128::from_le_bytes(x.to_le_bytes()))
        }
        WastArg::Core(WastArgCore::RefNull(_)) => "(ref.null)".into(),
        WastArg::Core(WastArgCore::RefExtern(n)) => format!("(ref.extern {n})"),
        other => format!("{other:?}"),
    }
}

/// An error on one line (traps carry their stack trace on further lines).
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How the spec scripts instantiate modules: anonymous, and no `_start` call.
fn module_config() -> ModuleConfig {
    ModuleConfig::new().with_name("").with_start_functions(Vec::<String>::new())
}

/// The state of one script.
struct Script {
    runtime: keel::Runtime,
    /// The module that unnamed invokes and `register`s refer to: the last one instantiated, or
    /// none after a module that failed.
    current: Option<Module>,
    /// Instances by their script name (`$name`).
    instances: HashMap<String, Option<Module>>,
    /// Module definitions (`module definition`) by their script name; `None` for one that did
    /// not compile.
    definitions: HashMap<String, Option<CompiledModule>>,
    last_definition: Option<CompiledModule>,
    refs: HostRefs,
}

type Check = Result<(), String>;

impl Script {
    /// Runs one directive: `Ok` when its check passed, else why it failed.
    fn run(&mut self, directive: WastDirective<'_>) -> Check {
        match directive {
            WastDirective::Module(mut module) => {
                let id = module.name();
                // Cleared first, so that a panic leaves no stale current module behind.
                self.set_current(id, None);
                let result = self.encode(&mut module).and_then(|bytes| self.instantiate(&bytes));
                self.set_current(id, result.as_ref().ok().cloned());
                result.map(drop)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let id = module.name();
                let compiled = self.encode(&mut module).and_then(|bytes| self.compile(&bytes));
                if let Some(id) = id {
                    self.definitions.insert(id.name().to_string(), compiled.clone().ok());
                }
                self.last_definition = compiled.as_ref().ok().cloned();
                compiled.map(drop)
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                self.set_current(instance, None);
                let compiled = match module {
                    Some(id) => match self.definitions.get(id.name()) {
                        Some(Some(c)) => Ok(c.clone()),
                        Some(None) => Err(format!("module definition ${} failed", id.name())),
                        None => Err(format!("no module definition ${}", id.name())),
                    },
                    None => self
                        .last_definition
                        .clone()
                        .ok_or_else(|| "no module definition (or the last one failed)".to_string()),
                };
                let result = compiled.and_then(|c| {
                    self.runtime
                        .instantiate(&c, module_config())
                        .map_err(|e| format!("instantiation failed: {}", one_line(&e)))
                });
                self.set_current(instance, result.as_ref().ok().cloned());
                result.map(drop)
            }
            WastDirective::Register { name, module, .. } => {
                let m = self.module(module)?;
                self.runtime.register(name, &m).map_err(|e| one_line(&e))
            }
            WastDirective::Invoke(call) => match self.invoke(&call)? {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("call failed: {}", one_line(&e))),
            },
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec)? {
                Ok(values) => check_results(&results, &values),
                Err(e) => Err(format!("expected results, got: {}", one_line(&e))),
            },
            WastDirective::AssertTrap { exec, message, .. } => {
                let result = self.execute(exec)?;
                expect_trap(message, result, |code| trap_matches(message, code))
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let result = self.invoke(&call)?;
                expect_trap(message, result, |code| code == TrapCode::StackOverflow)
            }
            WastDirective::AssertInvalid { module, message, .. } => {
                self.expect_rejected(module, "invalid", message)
            }
            WastDirective::AssertMalformed { module, message, .. } => {
                self.expect_rejected(module, "malformed", message)
            }
            WastDirective::AssertUnlinkable { module, message, .. } => {
                let bytes = self.encode(&mut QuoteWat::Wat(module))?;
                let compiled = self.compile(&bytes)?;
                let link_error = matches!(message, "unknown import" | "incompatible import type");
                match self.runtime.instantiate(&compiled, module_config()) {
                    Ok(_) => Err(format!("expected a link error (\"{message}\"), but it linked")),
                    Err(Error::Link(_)) => Ok(()),
                    // Wasm 1.0's segment checks report other messages ("data segment does not
                    // fit"), which a 2.0 runtime reports as instantiation traps.
                    Err(_) if !link_error => Ok(()),
                    Err(e) => {
                        Err(format!("expected a link error (\"{message}\"), got: {}", one_line(&e)))
                    }
                }
            }
            WastDirective::AssertInvalidCustom { mut module, .. }
            | WastDirective::AssertMalformedCustom { mut module, .. } => {
                // keel does not interpret custom sections: the module must still compile.
                let bytes = self.encode(&mut module)?;
                self.compile(&bytes).map(drop)
            }
            WastDirective::AssertException { .. } => {
                Err("unsupported directive (exception handling)".into())
            }
            WastDirective::AssertSuspension { .. } => {
                Err("unsupported directive (stack switching)".into())
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Err("unsupported directive (threads)".into())
            }
        }
    }

    fn set_current(&mut self, id: Option<Id<'_>>, module: Option<Module>) {
        if let Some(id) = id {
            self.instances.insert(id.name().to_string(), module.clone());
        }
        self.current = module;
    }

    /// The module `id` names, or the current one.
    fn module(&self, id: Option<Id<'_>>) -> Result<Module, String> {
        match id {
            Some(id) => match self.instances.get(id.name()) {
                Some(Some(m)) => Ok(m.clone()),
                Some(None) => Err(format!("module ${} failed to instantiate", id.name())),
                None => Err(format!("no module ${}", id.name())),
            },
            None => self.current.clone().ok_or_else(|| "no current module".to_string()),
        }
    }

    /// The binary of a module in text, binary or quote form.
    fn encode(&self, module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
        if matches!(module, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..)) {
            return Err("components are not supported".into());
        }
        module.encode().map_err(|e| format!("the module text failed to encode: {}", e.message()))
    }

    fn compile(&self, bytes: &[u8]) -> Result<CompiledModule, String> {
        self.runtime
            .compile(bytes)
            .map_err(|e| format!("the module did not compile: {}", one_line(&e)))
    }

    fn instantiate(&self, bytes: &[u8]) -> Result<Module, String> {
        let compiled = self.compile(bytes)?;
        self.runtime
            .instantiate(&compiled, module_config())
            .map_err(|e| format!("instantiation failed: {}", one_line(&e)))
    }

    /// Calls an export: `Err` when the call cannot be made at all, else the call's result.
    fn invoke(&mut self, call: &WastInvoke<'_>) -> Result<keel::Result<Vec<Val>>, String> {
        let module = self.module(call.module)?;
        let func = module
            .func(call.name)
            .ok_or_else(|| format!("the module exports no function {:?}", call.name))?;
        let args = call
            .args
            .iter()
            .map(|a| arg_to_val(a, &mut self.refs))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(func.call(&args))
    }

    /// Runs an action: an invoke, a global's value, or a module's instantiation (no results).
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<keel::Result<Vec<Val>>, String> {
        match exec {
            WastExecute::Invoke(call) => self.invoke(&call),
            WastExecute::Get { module, global, .. } => {
                let m = self.module(module)?;
                let g = m
                    .global(global)
                    .ok_or_else(|| format!("the module exports no global {global:?}"))?;
                Ok(Ok(vec![g.get()]))
            }
            WastExecute::Wat(module) => {
                let bytes = self.encode(&mut QuoteWat::Wat(module))?;
                let compiled = self.compile(&bytes)?;
                Ok(self.runtime.instantiate(&compiled, module_config()).map(|_| Vec::new()))
            }
        }
    }

    /// `assert_invalid` and `assert_malformed`: the module must be rejected when decoded. Text
    /// that `wast` itself rejects never reaches keel and counts as rejected.
    fn expect_rejected(&self, mut module: QuoteWat<'_>, what: &str, message: &str) -> Check {
        if matches!(module, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..)) {
            return Err("components are not supported".into());
        }
        let Ok(bytes) = module.encode() else { return Ok(()) };
        let expected = format!("expected the module to be rejected as {what} (\"{message}\")");
        match self.runtime.compile(&bytes) {
            Err(Error::Decode(_)) => Ok(()),
            Err(e) => Err(format!("{expected}, got another error: {}", one_line(&e))),
            Ok(_) => Err(format!("{expected}, but it compiled")),
        }
    }
}

/// Checks that `result` is a trap whose code `ok` accepts.
fn expect_trap(
    message: &str,
    result: keel::Result<Vec<Val>>,
    ok: impl Fn(TrapCode) -> bool,
) -> Check {
    match result {
        Ok(values) => {
            let got: Vec<String> = values.iter().map(|v| describe_val_like(v, None)).collect();
            Err(format!("expected trap \"{message}\", got results [{}]", got.join(", ")))
        }
        Err(Error::Trap(trap)) if trap.code().is_some_and(&ok) => Ok(()),
        Err(e) => Err(format!("expected trap \"{message}\", got: {}", one_line(&e))),
    }
}

/// Whether a trap with `code` is the one the spec's `message` describes.
fn trap_matches(message: &str, code: TrapCode) -> bool {
    let ours = code.message();
    // "uninitialized element 7", "uninitialized" and the like name the same trap.
    if message.starts_with(ours) || ours.starts_with(message) {
        return true;
    }
    // call_indirect past the end of the table ("undefined" in older proposal repositories).
    let undefined = "undefined element";
    if undefined.starts_with(message) || message.starts_with(undefined) {
        return matches!(code, TrapCode::TableOutOfBounds | TrapCode::IndirectCallToNull);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_messages() {
        assert!(trap_matches("integer overflow", TrapCode::IntegerOverflow));
        assert!(trap_matches("uninitialized element 7", TrapCode::IndirectCallToNull));
        assert!(trap_matches("uninitialized", TrapCode::IndirectCallToNull));
        assert!(trap_matches("undefined element", TrapCode::TableOutOfBounds));
        assert!(trap_matches("undefined", TrapCode::TableOutOfBounds));
        assert!(!trap_matches("undefined element", TrapCode::Unreachable));
        assert!(!trap_matches("integer overflow", TrapCode::IntegerDivisionByZero));
        assert!(!trap_matches("out of bounds memory access", TrapCode::TableOutOfBounds));
    }
}

#[cfg(test)]
mod mock_engine_tests {
    //! The runner's bookkeeping checked on stand-in engines whose every function traps with
    //! `unreachable`, hangs or panics, so that it does not depend on the real engines.

    use std::sync::Arc;
    use std::time::Duration;

    use keel_runtime::vm::Instance;
    use keel_runtime::{CompileOptions, CompiledCode, Engine, Trap};

    use super::*;

    /// What every function of the mock engine does.
    #[derive(Clone, Copy)]
    enum Mock {
        Trap,
        Hang,
        Panic,
    }

    impl Engine for Mock {
        fn name(&self) -> &'static str {
            "mock"
        }
        fn compile(
            &self,
            _: &Arc<keel_decode::Module>,
            _: CompileOptions,
        ) -> Result<Arc<dyn CompiledCode>, Error> {
            Ok(Arc::new(*self))
        }
    }

    // SAFETY: the mock never touches the instance.
    #[allow(unsafe_code)]
    unsafe impl CompiledCode for Mock {
        fn call(&self, _: &Instance, _: u32, _: &mut [u64]) -> Result<(), Trap> {
            match self {
                Mock::Trap => Err(TrapCode::Unreachable.into()),
                Mock::Hang => {
                    std::thread::sleep(Duration::from_secs(5));
                    Err(TrapCode::Interrupted.into())
                }
                Mock::Panic => panic!("engine bug"),
            }
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn run_on(mock: Mock, source: &str, timeout: Duration) -> Outcome {
        let new_runtime =
            move || keel::Runtime::with_engine(keel::RuntimeConfig::default(), Arc::new(mock));
        let options = ScriptOptions { timeout, ..ScriptOptions::default() };
        run_script_on("test.wast", source, Box::new(new_runtime), &options, false)
    }

    fn run(source: &str) -> Outcome {
        run_on(Mock::Trap, source, ScriptOptions::DEFAULT_TIMEOUT)
    }

    #[test]
    fn panics_and_hangs_are_failures() {
        let source = r#"
            (module (func (export "f")))
            (invoke "f")
            (assert_return (invoke "f"))
            (module (global (export "g") i32 (i32.const 1)))
            (assert_return (get "g") (i32.const 1))
        "#;
        let outcome = run_on(Mock::Panic, source, ScriptOptions::DEFAULT_TIMEOUT);
        assert_eq!(outcome.passed, 3, "{outcome:?}");
        assert_eq!(outcome.failures.len(), 2, "{outcome:?}");
        assert!(outcome.failures[0].starts_with("test.wast:3: (invoke \"f\"): panic: "));
        assert!(outcome.failures[0].contains("engine bug"), "{outcome:?}");

        let outcome = run_on(Mock::Hang, source, Duration::from_millis(300));
        assert_eq!(outcome.passed, 1, "{outcome:?}");
        assert_eq!(
            outcome.failures,
            ["test.wast:3: (invoke \"f\"): timed out after 0.3 s; the rest of the script did not \
              run"]
        );
    }

    #[test]
    fn passing_checks() {
        let outcome = run(r#"
            (module $A
              (global (export "g") i32 (i32.const 42))
              (global (export "f32") (mut f32) (f32.const nan:0x600000))
              (memory (export "m") 1)
              (func (export "f") (result i32) unreachable))
            (register "A" $A)
            (assert_return (get "g") (i32.const 42))
            (assert_return (get $A "g") (i32.const 42))
            (assert_return (get $A "f32") (f32.const nan:arithmetic))
            (module $B
              (import "A" "g" (global i32))
              (import "spectest" "print_i32" (func (param i32)))
              (import "spectest" "table" (table 10 20 funcref))
              (import "spectest" "memory" (memory 1 2))
              (import "spectest" "global_i32" (global $i i32))
              (import "spectest" "global_f64" (global $f f64))
              (global (export "i") i32 (global.get $i))
              (global (export "f") f64 (global.get $f)))
            (assert_return (get "i") (i32.const 666))
            (assert_return (get $B "f") (f64.const 666.6))
            (assert_return (get $A "g") (either (i32.const 1) (i32.const 42)))
            (assert_unlinkable (module (import "A" "nope" (func))) "unknown import")
            (assert_unlinkable (module (import "A" "g" (global i64))) "incompatible import type")
            (assert_trap (module (memory 1) (data (i32.const 65536) "a"))
              "out of bounds memory access")
            (assert_trap (invoke $A "f") "unreachable")
            (assert_malformed (module quote "(func") "unexpected token")
            (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
            (assert_invalid (module (func (result i32))) "type mismatch")
            (module definition $D (global (export "h") i64 (i64.const 7)))
            (module instance $I $D)
            (assert_return (get $I "h") (i64.const 7))
            (assert_return (get "h") (i64.const 7))
        "#);
        assert_eq!(outcome.failures, Vec::<String>::new());
        assert_eq!(outcome.passed, 20);
    }

    #[test]
    fn failing_checks_give_reasons() {
        let outcome = run(r#"
            (module (global (export "g") i32 (i32.const 42))
              (func (export "f") (param i32) (result i32) unreachable))
            (assert_return (get "g") (i32.const 41))
            (assert_trap (invoke "f" (i32.const 1)) "integer overflow")
            (assert_invalid (module (func)) "type mismatch")
            (assert_return (invoke "nope"))
            (module (import "nope" "nope" (func)))
            (assert_return (get "g") (i32.const 42))
        "#);
        assert_eq!(outcome.passed, 1);
        let expected = [
            "test.wast:4: assert_return (get \"g\"): expected [i32.const 41], got [i32.const 42]",
            "test.wast:5: assert_trap (invoke \"f\" (i32.const 1)): expected trap \"integer \
             overflow\", got: wasm trap: unreachable",
            "test.wast:6: assert_invalid: expected the module to be rejected as invalid (\"type \
             mismatch\"), but it compiled",
            "test.wast:7: assert_return (invoke \"nope\"): the module exports no function \"nope\"",
            "test.wast:8: module: instantiation failed: link error: import \"nope\".\"nope\": \
             unknown import: module \"nope\" is not instantiated",
            "test.wast:9: assert_return (get \"g\"): no current module",
        ];
        assert_eq!(outcome.failures, expected);
    }

    #[test]
    fn unparsable_scripts_fail_once() {
        let outcome = run("(module (func)\n(assert_return");
        assert_eq!(outcome.passed, 0);
        assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
        assert!(outcome.failures[0].starts_with("test.wast:"), "{:?}", outcome.failures);
    }
}
