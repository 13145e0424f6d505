//! The engines a benchmark runs on, behind one small trait: keel's interpreter and compiler, and
//! their peers wasmi and wasmtime. Adding one is one more implementation and one more line in
//! [`all`].
//!
//! Every engine gives its instances the same host function, `env.inc` (`x -> x + 1` on `i32`),
//! which the `call-wasm-to-host` row's guest imports; the other guests import nothing but the
//! WASI rows' guests, which import `wasi_snapshot_preview1` and are run as commands
//! ([`Compiled::run_wasi`]). The language rows (`languages.rs`) run whole Go and Emscripten
//! programs on keel's engines and on node ([`Engine::language_runner`]); node runs nothing else.
//! The large rows (`large.rs`) start large Go programs from their bytes on keel's engines (with
//! keel's default engine, `keel-default`, which runs nothing else), wasmtime and node
//! ([`Engine::large_runner`]).

use std::sync::Arc;

use crate::languages::Runner;
use crate::large::LargeRunner;
use crate::wasi::WasiRun;

/// What an exported entry point returns; every benchmark entry takes one `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `(i32) -> i32`
    I32,
    /// `(i32) -> i64`
    I64,
}

/// Errors, as text: the harness only prints them.
pub type Result<T> = std::result::Result<T, String>;

/// A runtime configuration that compiles and instantiates modules.
pub trait Engine {
    /// The column name in the table, e.g. `keel-interp` or `wasmi`.
    fn name(&self) -> &'static str;
    /// Whether this is a peer that keel's engines are compared against.
    fn is_peer(&self) -> bool;
    /// For a keel engine, the peers its ratio columns compare it with.
    fn compare_with(&self) -> &'static [&'static str] {
        &[]
    }
    /// Why this engine cannot run here (its cells then say `n/a`), or `None` if it can.
    fn unavailable(&self) -> Option<String> {
        None
    }
    /// Whether it runs the modules the harness hands it (every row but the language rows); an
    /// engine that does not has no cell in those rows, and no column in a table of only them.
    fn runs_modules(&self) -> bool {
        true
    }
    /// How it runs the language rows' guests (`languages.rs`), if it does.
    fn language_runner(&self) -> Option<Runner<'_>> {
        None
    }
    /// How it runs the large rows' guests (`large.rs`), if it does.
    fn large_runner(&self) -> Option<LargeRunner<'_>> {
        None
    }
    /// Validates and compiles a binary.
    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>>;
}

/// A compiled module.
pub trait Compiled {
    /// A fresh instance of the module, with nothing imported.
    fn instantiate(&self) -> Result<Box<dyn Instance>>;

    /// Instantiates the module as a WASI command set up as `run` says, and runs its `_start`
    /// to the end: the exit code (`proc_exit`'s, or 0 when `_start` returns).
    fn run_wasi(&self, run: &WasiRun<'_>) -> Result<i32>;
}

/// A module instance.
pub trait Instance {
    /// The exported function `export`, checked against the signature `(i32) -> ret`.
    fn entry(&mut self, export: &str, ret: Ret) -> Result<Box<dyn Entry + '_>>;
}

/// An exported function ready to be called repeatedly.
pub trait Entry {
    /// Calls it; an `i32` result is sign-extended.
    fn call(&mut self, arg: i32) -> Result<i64>;

    /// Calls it `times` times (at least once) with `arg`, returning the last result; the loop
    /// is compiled per engine, so it adds no dynamic dispatch to each call.
    fn call_repeat(&mut self, arg: i32, times: u32) -> Result<i64> {
        let mut result = self.call(arg)?;
        for _ in 1..times {
            result = self.call(arg)?;
        }
        Ok(result)
    }
}

/// Every engine the harness knows, in column order: each keel engine followed by its peer, then
/// keel's default engine (the large rows only), then node, the peer of all three on the language
/// and large rows.
pub fn all() -> Vec<Box<dyn Engine>> {
    vec![
        Box::new(Keel::new(keel::EngineKind::Interpreter)),
        Box::new(Wasmi::new()),
        Box::new(Keel::new(keel::EngineKind::Compiler)),
        Box::new(crate::wasmtime::Wasmtime::new()),
        #[cfg(feature = "tiered")]
        Box::new(Keel::new(keel::EngineKind::Tiered)),
        Box::new(KeelDefault),
        Box::new(crate::languages::Node::new()),
    ]
}

/// `env.inc`, the host function every engine provides.
fn inc(x: i32) -> i32 {
    x.wrapping_add(1)
}

/// keel on one of its engines: one runtime, with the host modules `env` and
/// `wasi_snapshot_preview1` in its namespace, in which every guest instance is anonymous.
pub struct Keel {
    runtime: keel::Runtime,
    kind: keel::EngineKind,
}

impl Keel {
    /// A runtime on `kind` (the interpreter, the eager compiler or the tiered engine), with the
    /// default configuration.
    pub fn new(kind: keel::EngineKind) -> Keel {
        let config = keel::RuntimeConfig::default();
        let runtime = keel::Runtime::with_config(config, kind);
        runtime
            .host_module("env")
            .func("inc", |_: &mut keel::Caller<'_>, x: i32| inc(x))
            .instantiate()
            .expect("the host module env instantiates");
        keel_wasi::instantiate(&runtime).expect("WASI instantiates");
        Keel { runtime, kind }
    }
}

impl Engine for Keel {
    fn name(&self) -> &'static str {
        match self.kind {
            keel::EngineKind::Compiler => "keel-compiler",
            #[cfg(feature = "tiered")]
            keel::EngineKind::Tiered => "keel-tiered",
            _ => "keel-interp",
        }
    }

    fn is_peer(&self) -> bool {
        false
    }

    fn compare_with(&self) -> &'static [&'static str] {
        match self.kind {
            keel::EngineKind::Compiler => &["wasmtime", "node"],
            #[cfg(feature = "tiered")]
            keel::EngineKind::Tiered => &["wasmtime", "node"],
            _ => &["wasmi", "node"],
        }
    }

    fn language_runner(&self) -> Option<Runner<'_>> {
        Some(Runner::Keel(self.kind))
    }

    fn large_runner(&self) -> Option<LargeRunner<'_>> {
        Some(LargeRunner::Keel(self.kind))
    }

    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        let module = self.runtime.compile(wasm).map_err(|e| e.to_string())?;
        Ok(Box::new(KeelCompiled { runtime: self.runtime.clone(), module }))
    }
}

/// keel as `Runtime::new()` gives it: the default configuration and the default engine kind
/// (`EngineKind::Auto`, which chooses the engine: the tiered one where the compiler runs). A
/// column of the large rows only: the other rows time keel's two engines by name.
pub struct KeelDefault;

impl Engine for KeelDefault {
    fn name(&self) -> &'static str {
        "keel-default"
    }

    fn is_peer(&self) -> bool {
        false
    }

    fn compare_with(&self) -> &'static [&'static str] {
        &["wasmtime", "node"]
    }

    fn runs_modules(&self) -> bool {
        false
    }

    fn large_runner(&self) -> Option<LargeRunner<'_>> {
        Some(LargeRunner::Keel(keel::EngineKind::Auto))
    }

    fn compile(&self, _: &[u8]) -> Result<Box<dyn Compiled>> {
        Err("keel-default runs only the large rows".into())
    }
}

struct KeelCompiled {
    runtime: keel::Runtime,
    module: keel::CompiledModule,
}

impl Compiled for KeelCompiled {
    fn instantiate(&self) -> Result<Box<dyn Instance>> {
        // An empty name keeps the instance out of the namespace, so any number may exist.
        let config = keel::ModuleConfig::new().with_name("");
        let module = self.runtime.instantiate(&self.module, config).map_err(|e| e.to_string())?;
        Ok(Box::new(KeelInstance(module)))
    }

    fn run_wasi(&self, run: &WasiRun<'_>) -> Result<i32> {
        let stdout = std::fs::File::create(run.stdout)
            .map_err(|e| format!("{}: {e}", run.stdout.display()))?;
        let mut config = keel::ModuleConfig::new()
            .with_name("")
            .with_args(run.args.iter().copied())
            .with_stdout(stdout);
        if let Some(dir) = run.mount {
            let fs = keel_sys::DirFs::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            config = config.with_mount("/", fs);
        }
        // Instantiation runs `_start`; `proc_exit` ends it with an error carrying the code.
        match self.runtime.instantiate(&self.module, config) {
            Ok(_) => Ok(0),
            Err(e) => e.exit_code().map(|code| code as i32).ok_or_else(|| e.to_string()),
        }
    }
}

struct KeelInstance(keel::Module);

impl Instance for KeelInstance {
    fn entry(&mut self, export: &str, ret: Ret) -> Result<Box<dyn Entry + '_>> {
        let e = |e: keel::Error| e.to_string();
        Ok(match ret {
            Ret::I32 => Box::new(KeelEntry(self.0.typed_func::<i32, i32>(export).map_err(e)?)),
            Ret::I64 => Box::new(KeelEntry(self.0.typed_func::<i32, i64>(export).map_err(e)?)),
        })
    }
}

struct KeelEntry<R>(keel::TypedFunc<i32, R>);

impl<R: keel::WasmResults + Into<i64>> Entry for KeelEntry<R> {
    fn call(&mut self, arg: i32) -> Result<i64> {
        self.0.call(arg).map(Into::into).map_err(|e| e.to_string())
    }
}

/// wasmi, the peer interpreter: default features but `wat`, eager compilation (so that compile
/// times compare like with like; lazy translation would move that work into the first call).
/// WASI through `wasmi_wasi` (wasi-common's preview1 on cap-std), in a linker of its own since
/// its store carries the WASI context.
pub struct Wasmi {
    engine: wasmi::Engine,
    linker: Arc<wasmi::Linker<()>>,
    wasi_linker: Arc<wasmi::Linker<wasmi_wasi::WasiCtx>>,
}

impl Wasmi {
    /// A wasmi engine with eager compilation.
    pub fn new() -> Wasmi {
        let mut config = wasmi::Config::default();
        config.compilation_mode(wasmi::CompilationMode::Eager);
        let engine = wasmi::Engine::new(&config);
        let mut linker = wasmi::Linker::new(&engine);
        linker.func_wrap("env", "inc", inc).expect("env.inc is defined once");
        let linker = Arc::new(linker);
        let mut wasi_linker = wasmi::Linker::new(&engine);
        wasmi_wasi::add_to_linker(&mut wasi_linker, |ctx| ctx).expect("WASI is defined once");
        Wasmi { engine, linker, wasi_linker: Arc::new(wasi_linker) }
    }
}

impl Default for Wasmi {
    fn default() -> Self {
        Wasmi::new()
    }
}

impl Engine for Wasmi {
    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn is_peer(&self) -> bool {
        true
    }

    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        let module = wasmi::Module::new(&self.engine, wasm).map_err(|e| e.to_string())?;
        Ok(Box::new(WasmiCompiled {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            wasi_linker: self.wasi_linker.clone(),
            module,
        }))
    }
}

struct WasmiCompiled {
    engine: wasmi::Engine,
    linker: Arc<wasmi::Linker<()>>,
    wasi_linker: Arc<wasmi::Linker<wasmi_wasi::WasiCtx>>,
    module: wasmi::Module,
}

impl Compiled for WasmiCompiled {
    fn instantiate(&self) -> Result<Box<dyn Instance>> {
        // One store per instance: a wasmi store frees its instances only when it is dropped.
        let mut store = wasmi::Store::new(&self.engine, ());
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| e.to_string())?;
        Ok(Box::new(WasmiInstance { store, instance }))
    }

    fn run_wasi(&self, run: &WasiRun<'_>) -> Result<i32> {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let mut wasi = wasmi_wasi::WasiCtxBuilder::new();
        for arg in run.args {
            wasi.arg(arg).map_err(|x| e(&x))?;
        }
        let stdout = std::fs::File::create(run.stdout)
            .map_err(|x| format!("{}: {x}", run.stdout.display()))?;
        let stdout = cap_std::fs::File::from_std(stdout);
        wasi.stdout(Box::new(wasmi_wasi::sync::file::File::from_cap_std(stdout)));
        if let Some(dir) = run.mount {
            let dir = wasmi_wasi::Dir::open_ambient_dir(dir, wasmi_wasi::ambient_authority())
                .map_err(|x| format!("{}: {x}", dir.display()))?;
            wasi.preopened_dir(dir, "/").map_err(|x| e(&x))?;
        }
        let mut store = wasmi::Store::new(&self.engine, wasi.build());
        let instance =
            self.wasi_linker.instantiate_and_start(&mut store, &self.module).map_err(|x| e(&x))?;
        let start = instance.get_typed_func::<(), ()>(&store, "_start").map_err(|x| e(&x))?;
        match start.call(&mut store, ()) {
            Ok(()) => Ok(0),
            Err(x) => x.i32_exit_status().ok_or_else(|| e(&x)),
        }
    }
}

struct WasmiInstance {
    store: wasmi::Store<()>,
    instance: wasmi::Instance,
}

impl Instance for WasmiInstance {
    fn entry(&mut self, export: &str, ret: Ret) -> Result<Box<dyn Entry + '_>> {
        let e = |e: wasmi::Error| e.to_string();
        let store = &mut self.store;
        Ok(match ret {
            Ret::I32 => {
                let func = self.instance.get_typed_func::<i32, i32>(&*store, export).map_err(e)?;
                Box::new(WasmiEntry { store, func })
            }
            Ret::I64 => {
                let func = self.instance.get_typed_func::<i32, i64>(&*store, export).map_err(e)?;
                Box::new(WasmiEntry { store, func })
            }
        })
    }
}

struct WasmiEntry<'a, R> {
    store: &'a mut wasmi::Store<()>,
    func: wasmi::TypedFunc<i32, R>,
}

impl<R: wasmi::WasmResults + Into<i64>> Entry for WasmiEntry<'_, R> {
    fn call(&mut self, arg: i32) -> Result<i64> {
        self.func.call(&mut *self.store, arg).map(Into::into).map_err(|e| e.to_string())
    }
}
