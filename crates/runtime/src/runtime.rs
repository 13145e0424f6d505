//! The runtime: compiles binaries, and holds host modules and module instances in one namespace
//! by name, from which imports are resolved — as wazero's Runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keel_decode::Features;
use keel_sys::random::RandomSource;
use keel_sys::{Clock, Fs, Random, Sleep, Stdin, SysConfig, SysContext};
use std::io::Write;

use std::path::PathBuf;

use crate::cache::{self, CacheDir, CacheKey, CacheStats, ModuleCache};
use crate::engine::{CompileOptions, CompiledCode, Engine};
use crate::error::{CompileError, Error, LinkError, UsageError};
use crate::host::HostModuleBuilder;
use crate::interrupt::InterruptHandle;
use crate::listener::{FunctionListenerFactory, Listeners, SharedListenerFactory};
use crate::module::{CompiledModule, Module};
use crate::trap::Result;
use crate::vm::{Instance, InstanceOptions, Limits, MAX_PAGES, Reservation, Resolved, Store};

/// How a runtime compiles and runs modules.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Features modules may use (default: Wasm 2.0).
    pub features: Features,
    /// Largest memory, in 64 KiB pages (default and maximum: 65536, i.e. 4 GiB).
    pub memory_limit_pages: u64,
    /// Deepest Wasm call stack in frames before a StackOverflow trap.
    pub max_call_depth: u32,
    /// Largest value stack of one call from the host, in 64-bit slots (interpreter).
    pub max_stack_slots: usize,
    /// How much address space each memory reserves up front (default: its whole maximum). A
    /// smaller reservation also caps growth, since a memory's base never moves; see
    /// [`Reservation`].
    pub memory_reservation: Reservation,
    /// Directory of the compilation cache (default: none). Any number of runtimes and processes
    /// may share one; see docs/cache.md.
    pub cache_dir: Option<PathBuf>,
    /// Asked once per function definition for a listener (default: none, at no cost), unless a
    /// compile, instantiation or host module overrides it; see [`crate::listener`].
    pub function_listener_factory: Option<SharedListenerFactory>,
    /// When the tiered engine compiles a function (its thresholds) and where.
    pub tiering: Tiering,
}

/// The tiered engine's settings: a function is compiled after `call_threshold` calls, or after
/// `loop_threshold` iterations of its loops (and the running loop then continues in compiled
/// code); see docs/tiering.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiering {
    /// Calls of a function before it is compiled (at least 1).
    pub call_threshold: u32,
    /// Loop iterations in a function before it is compiled (at least 1).
    pub loop_threshold: u32,
    /// Compile on background threads (the default) rather than on the thread that made the
    /// function hot, there and then: deterministic, for tests.
    pub background: bool,
}

impl Default for Tiering {
    fn default() -> Self {
        Tiering { call_threshold: 1_000, loop_threshold: 10_000, background: true }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let limits = Limits::default();
        RuntimeConfig {
            features: Features::V2,
            memory_limit_pages: MAX_PAGES,
            max_call_depth: limits.max_call_depth,
            max_stack_slots: limits.max_stack_slots,
            memory_reservation: Reservation::Maximum,
            cache_dir: None,
            function_listener_factory: None,
            tiering: Tiering::default(),
        }
    }
}

impl RuntimeConfig {
    /// Sets the features.
    pub fn with_features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// Sets the memory limit in pages (capped at 65536).
    pub fn with_memory_limit_pages(mut self, pages: u64) -> Self {
        self.memory_limit_pages = pages.min(MAX_PAGES);
        self
    }

    /// Sets the tiered engine's thresholds and where it compiles (see [`Tiering`]).
    pub fn with_tiering(mut self, tiering: Tiering) -> Self {
        self.tiering = tiering;
        self
    }

    /// Sets how much address space each memory reserves (see [`Reservation`]).
    pub fn with_memory_reservation(mut self, reservation: Reservation) -> Self {
        self.memory_reservation = reservation;
        self
    }

    /// Caches compiled code in `dir` (created when first written): a later compile of the same
    /// binary with the same keel version, engine, target and features loads the code instead of
    /// compiling it. Damaged or foreign entries are ignored and rewritten. Engines that cannot
    /// store their code (the interpreter) ignore the cache.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets the function listener factory (wazero's `FunctionListenerFactoryKey`): modules are
    /// compiled as listening code, and their instances and host modules ask it for a listener
    /// per function, unless [`CompileConfig`], [`ModuleConfig`] or
    /// [`HostModuleBuilder`] says otherwise. See [`crate::listener`] and
    /// [`crate::logging::HostLogging`].
    pub fn with_function_listener_factory(
        mut self,
        factory: impl FunctionListenerFactory + 'static,
    ) -> Self {
        self.function_listener_factory = Some(SharedListenerFactory::new(factory));
        self
    }

    /// Sets the deepest call stack.
    pub fn with_max_call_depth(mut self, depth: u32) -> Self {
        self.max_call_depth = depth;
        self
    }
}

/// What one compile may change of the runtime's configuration, as wazero reads settings from the
/// context passed to `CompileModule`.
#[derive(Debug, Clone, Default)]
pub struct CompileConfig {
    /// The listener factory of the module (default: the runtime's). The module is compiled as
    /// listening code exactly when the factory in effect is some; its instances ask that factory
    /// for their functions' listeners unless their [`ModuleConfig`] overrides it.
    pub listeners: Listeners,
}

impl CompileConfig {
    /// A default configuration: everything as the runtime's.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles listening code whose instances ask `factory` for their functions' listeners,
    /// whether or not the runtime has a factory.
    pub fn with_function_listener_factory(
        mut self,
        factory: impl FunctionListenerFactory + 'static,
    ) -> Self {
        self.listeners = Listeners::Factory(SharedListenerFactory::new(factory));
        self
    }

    /// Compiles plain code, with no listener hook, even when the runtime has a factory.
    pub fn without_function_listeners(mut self) -> Self {
        self.listeners = Listeners::Off;
        self
    }
}

/// What one instance sees: its name, the functions run after instantiation, and its view of the
/// system (arguments, environment, stdio, file systems, clocks, random), which import sets such as
/// WASI read through [`Caller::sys`](crate::Caller::sys). Nothing of the system is granted by
/// default (see [`keel_sys::SysConfig`]).
#[derive(Debug, Clone)]
pub struct ModuleConfig {
    /// Name in the runtime's namespace; `None` takes the name section's module name, and an empty
    /// name makes the instance anonymous (not importable, any number may exist).
    pub name: Option<String>,
    /// Exported functions called, in order, after the start section (default `["_start"]`);
    /// missing ones are skipped.
    pub start_functions: Vec<String>,
    /// The guest's view of the system.
    pub sys: SysConfig,
    /// The interrupt handle the instance uses (default: a new one per instance; see
    /// [`Module::interrupt_handle`]).
    pub interrupt: Option<InterruptHandle>,
    /// Whether an interrupt closes the module and makes the call return an exit error (wazero's
    /// `WithCloseOnContextDone`); default false: the call returns an `Interrupted` trap.
    pub close_on_interrupt: bool,
    /// The factory asked for the listeners of the instance's functions (default: the one the
    /// module was compiled with). A factory needs listening code: see
    /// [`ModuleConfig::with_function_listener_factory`].
    pub listeners: Listeners,
}

impl Default for ModuleConfig {
    fn default() -> Self {
        ModuleConfig {
            name: None,
            start_functions: vec!["_start".into()],
            sys: SysConfig::default(),
            interrupt: None,
            close_on_interrupt: false,
            listeners: Listeners::Inherit,
        }
    }
}

impl ModuleConfig {
    /// A default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the instance's name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the start functions (none: `[]`).
    pub fn with_start_functions<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.start_functions = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the arguments, `argv[0]` included (default: none).
    pub fn with_args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.sys.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an environment variable (default: none).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.sys.env.push((key.into(), value.into()));
        self
    }

    /// Sets standard input (default: empty).
    pub fn with_stdin(mut self, stdin: impl Stdin + 'static) -> Self {
        self.sys.stdin = Some(Arc::new(Mutex::new(Box::new(stdin))));
        self
    }

    /// Sets standard output (default: discarded).
    pub fn with_stdout(mut self, stdout: impl Write + Send + 'static) -> Self {
        self.sys.stdout = Some(Arc::new(Mutex::new(Box::new(stdout))));
        self
    }

    /// Sets standard error (default: discarded).
    pub fn with_stderr(mut self, stderr: impl Write + Send + 'static) -> Self {
        self.sys.stderr = Some(Arc::new(Mutex::new(Box::new(stderr))));
        self
    }

    /// Mounts `fs` at the guest path `/` (default: no file system).
    pub fn with_fs(self, fs: impl Fs + 'static) -> Self {
        self.with_mount("/", fs)
    }

    /// Mounts `fs` at `guest_path` (`/`, `/tmp`, ...); mounts are preopened from fd 3 in order.
    pub fn with_mount(mut self, guest_path: &str, fs: impl Fs + 'static) -> Self {
        self.sys.mount(guest_path, Arc::new(fs), false);
        self
    }

    /// Mounts `fs` read-only at `guest_path`: every change is refused with `EROFS`.
    pub fn with_read_only_mount(mut self, guest_path: &str, fs: impl Fs + 'static) -> Self {
        self.sys.mount(guest_path, Arc::new(fs), true);
        self
    }

    /// Uses the host's wall clock instead of the fake one.
    pub fn with_sys_walltime(mut self) -> Self {
        self.sys.walltime = Clock::Sys;
        self
    }

    /// Uses the host's monotonic clock instead of the fake one.
    pub fn with_sys_nanotime(mut self) -> Self {
        self.sys.nanotime = Clock::Sys;
        self
    }

    /// Really sleeps (`poll_oneoff` timeouts) instead of returning at once.
    pub fn with_sys_sleep(mut self) -> Self {
        self.sys.sleep = Sleep::Sys;
        self
    }

    /// Uses `clock` (nanoseconds since the Unix epoch) as the wall clock.
    pub fn with_walltime(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.sys.walltime = Clock::Custom(Arc::new(clock));
        self
    }

    /// Uses `clock` (nanoseconds) as the monotonic clock.
    pub fn with_nanotime(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.sys.nanotime = Clock::Custom(Arc::new(clock));
        self
    }

    /// Uses `sleep` (nanoseconds) to sleep.
    pub fn with_nanosleep(mut self, sleep: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.sys.sleep = Sleep::Custom(Arc::new(sleep));
        self
    }

    /// Uses the OS's random source instead of the deterministic one.
    pub fn with_os_random(mut self) -> Self {
        self.sys.random = Random::Os;
        self
    }

    /// Uses `source` for random bytes.
    pub fn with_random_source(mut self, source: impl RandomSource + 'static) -> Self {
        self.sys.random = Random::Custom(Arc::new(Mutex::new(Box::new(source))));
        self
    }

    /// Preopens a TCP listener: the guest accepts connections on it with `sock_accept`
    /// (descriptors after the mounts', in call order).
    pub fn with_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.sys.listeners.push(Arc::new(listener));
        self
    }

    /// Uses `handle` as the instance's interrupt handle, so that it can be interrupted before
    /// instantiation returns (start functions included), and so that several instances can share
    /// one handle.
    pub fn with_interrupt_handle(mut self, handle: InterruptHandle) -> Self {
        self.interrupt = Some(handle);
        self
    }

    /// On interrupt, closes the module and ends the call with an exit error carrying
    /// [`EXIT_CODE_INTERRUPTED`](crate::EXIT_CODE_INTERRUPTED) or
    /// [`EXIT_CODE_DEADLINE_EXCEEDED`](crate::EXIT_CODE_DEADLINE_EXCEEDED), as wazero's
    /// `WithCloseOnContextDone`.
    pub fn with_close_on_interrupt(mut self, close: bool) -> Self {
        self.close_on_interrupt = close;
        self
    }

    /// Asks `factory`, instead of the compiled module's factory, for the listeners of this
    /// instance's functions. The module must have been compiled as listening code (with a
    /// factory on the runtime or in its [`CompileConfig`]): plain code has no hook to report
    /// from, so instantiating it with a factory is an [`Error::Usage`].
    pub fn with_function_listener_factory(
        mut self,
        factory: impl FunctionListenerFactory + 'static,
    ) -> Self {
        self.listeners = Listeners::Factory(SharedListenerFactory::new(factory));
        self
    }

    /// Gives this instance's functions no listener, even when the module was compiled with a
    /// factory (its listening code then reports nothing).
    pub fn without_function_listeners(mut self) -> Self {
        self.listeners = Listeners::Off;
        self
    }

    /// Replaces the whole view of the system.
    pub fn with_sys(mut self, sys: SysConfig) -> Self {
        self.sys = sys;
        self
    }
}

static NEXT_RUNTIME_ID: AtomicUsize = AtomicUsize::new(1);

struct RuntimeInner {
    id: usize,
    engine: Arc<dyn Engine>,
    config: RuntimeConfig,
    cache: Option<Arc<CacheDir>>,
    // Before the store, so that the store outlives the instances it names.
    namespace: Mutex<HashMap<String, Arc<Instance>>>,
    store: Arc<Store>,
}

/// Compiles, links and instantiates modules. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime running code with `engine`.
    pub fn with_engine(config: RuntimeConfig, engine: Arc<dyn Engine>) -> Runtime {
        let limits = Limits {
            memory_pages: config.memory_limit_pages,
            max_call_depth: config.max_call_depth,
            max_stack_slots: config.max_stack_slots,
            memory_reservation: config.memory_reservation,
        };
        let cache = config.cache_dir.clone().map(|d| Arc::new(CacheDir::new(d)));
        Runtime {
            inner: Arc::new(RuntimeInner {
                id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
                engine,
                config,
                cache,
                namespace: Mutex::new(HashMap::new()),
                store: Store::new(limits),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The engine's name: "interpreter" or "compiler".
    pub fn engine_name(&self) -> &'static str {
        self.inner.engine.name()
    }

    /// The shared store (for engines and import sets).
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// How the compilation cache has been used (all zero without a cache directory).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.as_ref().map(|d| d.stats()).unwrap_or_default()
    }

    /// How [`Runtime::compile`] has the engine compile modules: a listening variant when the
    /// runtime has a listener factory (so that listeners see calls inside the engine too).
    pub fn compile_options(&self) -> CompileOptions {
        self.compile_options_with(&CompileConfig::default())
    }

    /// How [`Runtime::compile_with`] has the engine compile modules with `config`: a listening
    /// variant when a listener factory is in effect.
    pub fn compile_options_with(&self, config: &CompileConfig) -> CompileOptions {
        CompileOptions { listening: self.listener_factory_with(config).is_some() }
    }

    /// The listener factory in effect for a compile with `config`.
    fn listener_factory_with(&self, config: &CompileConfig) -> Option<SharedListenerFactory> {
        config.listeners.resolve(self.inner.config.function_listener_factory.as_ref())
    }

    /// The cache key of `bytes` as [`Runtime::compile`] looks it up: this runtime's engine,
    /// target, features and compile options. `None` when the engine does not cache its code.
    pub fn cache_key(&self, bytes: &[u8]) -> Option<CacheKey> {
        self.cache_key_with(bytes, &CompileConfig::default())
    }

    /// The cache key of `bytes` as [`Runtime::compile_with`] looks it up with `config`.
    pub fn cache_key_with(&self, bytes: &[u8], config: &CompileConfig) -> Option<CacheKey> {
        self.cache_key_for(bytes, self.compile_options_with(config))
    }

    fn cache_key_for(&self, bytes: &[u8], options: CompileOptions) -> Option<CacheKey> {
        let engine = &self.inner.engine;
        let id = engine.cache_id()?;
        let features = self.inner.config.features;
        Some(CacheKey::new(bytes, engine.cache_name(), &id, features, options))
    }

    /// Validates and compiles a binary, as [`Runtime::compile_with`] with the default
    /// [`CompileConfig`].
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledModule> {
        self.compile_with(bytes, &CompileConfig::default())
    }

    /// Validates and compiles a binary, with `config` overriding the runtime's listener factory.
    /// With a cache directory, loads the code from the cache when an intact entry exists, and
    /// stores it after compiling otherwise. The binary is always decoded and validated: the
    /// cache only replaces the engine's compile.
    pub fn compile_with(&self, bytes: &[u8], config: &CompileConfig) -> Result<CompiledModule> {
        let module = Arc::new(keel_decode::decode(bytes, self.inner.config.features)?);
        let engine = &self.inner.engine;
        let factory = self.listener_factory_with(config);
        let options = CompileOptions { listening: factory.is_some() };
        let cached = match &self.inner.cache {
            Some(dir) => self.cache_key_for(bytes, options).map(|key| (dir, key)),
            None => None,
        };
        let Some((dir, key)) = cached else {
            let code = engine.compile(&module, options)?;
            return Ok(self.compiled(module, code, factory));
        };
        if let Some(entry) = dir.read(&key) {
            match self.load_entry(&module, &key, &entry, options) {
                Ok(code) => {
                    dir.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(self.compiled(module, code, factory));
                }
                Err(_) => {
                    dir.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        dir.misses.fetch_add(1, Ordering::Relaxed);
        let code =
            engine.compile_with_cache(&module, options, ModuleCache::new(dir.clone(), key))?;
        if let Some(payload) = engine.serialize(&*code) {
            // A cache is an optimisation: a failed write is counted, not an error.
            let _ = dir.write(&key, &cache::encode(&key, &payload));
        }
        Ok(self.compiled(module, code, factory))
    }

    /// The cache entry that compiling `bytes` stores for `compiled` (compiled from `bytes`, as
    /// plain or listening code: the entry's key is that variant's), or `None` when the engine
    /// does not cache its code.
    pub fn cache_entry(&self, bytes: &[u8], compiled: &CompiledModule) -> Option<Vec<u8>> {
        let key = self.cache_key_for(bytes, compiled.compile_options())?;
        let payload = self.inner.engine.serialize(&*compiled.code)?;
        Some(cache::encode(&key, &payload))
    }

    /// Validates `bytes` and loads its code from `entry`, a cache entry, as a cache hit of
    /// [`Runtime::compile`] does; see [`Runtime::load_cache_entry_with`].
    pub fn load_cache_entry(&self, bytes: &[u8], entry: &[u8]) -> Result<CompiledModule> {
        self.load_cache_entry_with(bytes, entry, &CompileConfig::default())
    }

    /// Validates `bytes` and loads its code from `entry`, a cache entry, as a cache hit of
    /// [`Runtime::compile_with`] with `config` does; fails (and never loads anything) when the
    /// entry is damaged, foreign, of the other variant or refused by the engine's loader. For
    /// tools and the fuzzer; compiling does this itself.
    pub fn load_cache_entry_with(
        &self,
        bytes: &[u8],
        entry: &[u8],
        config: &CompileConfig,
    ) -> Result<CompiledModule> {
        let module = Arc::new(keel_decode::decode(bytes, self.inner.config.features)?);
        let factory = self.listener_factory_with(config);
        let options = CompileOptions { listening: factory.is_some() };
        let key = self
            .cache_key_for(bytes, options)
            .ok_or_else(|| Error::from(UsageError::NotCacheable { engine: self.engine_name() }))?;
        let code = self.load_entry(&module, &key, entry, options)?;
        Ok(self.compiled(module, code, factory))
    }

    fn load_entry(
        &self,
        module: &Arc<keel_decode::Module>,
        key: &CacheKey,
        entry: &[u8],
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>> {
        let payload = cache::decode(entry, key).map_err(|e| CompileError::Cache(e.to_string()))?;
        self.inner.engine.deserialize(module, payload, options)
    }

    fn compiled(
        &self,
        module: Arc<keel_decode::Module>,
        code: Arc<dyn CompiledCode>,
        listener_factory: Option<SharedListenerFactory>,
    ) -> CompiledModule {
        CompiledModule { module, code, runtime_id: self.inner.id, listener_factory }
    }

    /// Instantiates `compiled`, resolving its imports by module name from the namespace, and
    /// registers it under its name.
    pub fn instantiate(&self, compiled: &CompiledModule, config: ModuleConfig) -> Result<Module> {
        if compiled.runtime_id != self.inner.id {
            return Err(UsageError::ForeignRuntime { what: "module compiled" }.into());
        }
        let module = &compiled.module;
        let name = config.name.clone().or_else(|| module.names.module.clone()).unwrap_or_default();
        let listener_factory = config.listeners.resolve(compiled.listener_factory.as_ref());
        if listener_factory.is_some() && !compiled.compile_options().listening {
            return Err(UsageError::PlainCode { module: name }.into());
        }
        let imports = {
            let ns = self.namespace();
            if !name.is_empty() && ns.contains_key(&name) {
                return Err(UsageError::NameTaken { name }.into());
            }
            module
                .imports
                .iter()
                .map(|import| {
                    let from = ns.get(&import.module).ok_or_else(|| {
                        let (module, field) = (import.module.clone(), import.name.clone());
                        LinkError::UnknownModule { module, field }
                    })?;
                    from.resolve_export(&import.name).ok_or_else(|| {
                        let (module, field) = (import.module.clone(), import.name.clone());
                        Error::from(LinkError::UnknownExport { module, field })
                    })
                })
                .collect::<Result<Vec<Resolved>>>()?
        };
        let instance = Instance::instantiate(
            &name,
            &self.inner.store,
            module,
            compiled.code.clone(),
            imports,
            InstanceOptions {
                sys: Some(SysContext::new(&config.sys)),
                interrupt: config.interrupt.clone(),
                close_on_interrupt: config.close_on_interrupt,
                listener_factory,
            },
        )?;
        let m = Module::new(self.inner.store.clone(), instance);
        for start in &config.start_functions {
            if let Some(f) = m.func(start) {
                f.call(&[])?;
            }
        }
        if !name.is_empty() {
            let mut ns = self.namespace();
            if ns.contains_key(&name) {
                return Err(UsageError::NameTaken { name }.into());
            }
            ns.insert(name, m.instance().clone());
        }
        Ok(m)
    }

    /// Compiles and instantiates a binary in one step.
    pub fn instantiate_bytes(&self, bytes: &[u8], config: ModuleConfig) -> Result<Module> {
        let compiled = self.compile(bytes)?;
        self.instantiate(&compiled, config)
    }

    /// Starts a host module named `name`.
    pub fn host_module(&self, name: impl Into<String>) -> HostModuleBuilder {
        HostModuleBuilder::new(self.clone(), name.into())
    }

    pub(crate) fn add_instance(&self, instance: Arc<Instance>) -> Result<Module> {
        let mut ns = self.namespace();
        let name = instance.name().to_string();
        if ns.contains_key(&name) {
            return Err(UsageError::NameTaken { name }.into());
        }
        ns.insert(name, instance.clone());
        Ok(Module::new(self.inner.store.clone(), instance))
    }

    /// The instance named `name`.
    pub fn module(&self, name: &str) -> Option<Module> {
        let instance = self.namespace().get(name).cloned()?;
        Some(Module::new(self.inner.store.clone(), instance))
    }

    /// Makes `module` importable under `name` too (the spec tests' `register`), replacing what
    /// that name referred to before; modules that already imported from the old one keep it.
    /// An error for a module of another runtime: an instance only imports from its own store.
    pub fn register(&self, name: impl Into<String>, module: &Module) -> Result<()> {
        if !module.instance().belongs_to(&self.inner.store) {
            return Err(UsageError::ForeignRuntime { what: "module registered" }.into());
        }
        self.namespace().insert(name.into(), module.instance().clone());
        Ok(())
    }

    /// Closes the module named `name` and frees its name.
    pub fn close_module(&self, name: &str) {
        if let Some(instance) = self.namespace().remove(name) {
            instance.close();
        }
    }

    /// Closes every module.
    pub fn close(&self) {
        for (_, instance) in self.namespace().drain() {
            instance.close();
        }
    }

    fn namespace(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Instance>>> {
        self.inner.namespace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("engine", &self.engine_name()).finish()
    }
}
