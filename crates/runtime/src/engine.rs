//! The boundary between the runtime and an engine.
//!
//! An engine compiles a validated module once into [`CompiledCode`]; the runtime then runs any
//! defined function of any instance of that module through it. Everything an engine needs at run
//! time (memories, tables, globals, function references, segments, limits) it reads from the
//! [`Instance`](crate::vm::Instance) it is handed.

use std::any::Any;
use std::sync::Arc;

use crate::error::{CompileError, Error};
use crate::trap::Trap;
use crate::vm::Instance;

/// How the runtime wants a module's code, besides the features it was validated with. Part of
/// the compilation cache's key: code compiled with other options is other code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CompileOptions {
    /// Report every call of a Wasm function to its listener, calls that stay inside the engine
    /// included: each function tests its `FuncData::listening` at entry and, when set, reports
    /// its entry ([`vm::listen::enter`](crate::vm::listen::enter)) and each return
    /// ([`vm::listen::leave`](crate::vm::listen::leave)), and each entry from the runtime runs in
    /// a [`vm::listen::Scope`](crate::vm::listen::Scope). The runtime sets it when a listener
    /// factory is in effect for the compile (the runtime's, or its
    /// [`CompileConfig`](crate::CompileConfig)'s); without it, the code has no listener hook at
    /// all. Other code may call listening code only through the runtime
    /// ([`FuncData::call_raw`](crate::vm::FuncData::call_raw)), whose entry keeps the scope.
    pub listening: bool,
}

impl CompileOptions {
    /// The options as text, for the cache key: `plain` or `listening`.
    pub fn variant(&self) -> &'static str {
        if self.listening { "listening" } else { "plain" }
    }
}

/// A way to run Wasm: the interpreter or the compiler.
pub trait Engine: Send + Sync + 'static {
    /// A short name: "interpreter" or "compiler".
    fn name(&self) -> &'static str;

    /// Compiles every defined function of `module` as `options` ask. Errors are
    /// [`Error::Compile`]. The runtime reports host-function calls to listeners itself, but
    /// leaves Wasm functions to their code: an engine must compile listening code when
    /// [`CompileOptions::listening`] is set, or their calls go unreported.
    fn compile(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error>;

    /// What, besides the binary, keel's version, the engine's name and the features, decides the
    /// code this engine produces: the target triple, the CPU features and the code generator's
    /// settings. Part of the compilation cache's key. `None` (the default): the engine's code is
    /// not cached.
    fn cache_id(&self) -> Option<String> {
        None
    }

    /// The engine name in cache keys: [`Engine::name`] (the default), or the name of the
    /// engine whose entries this one shares (the tiered engine reads the eager compiler's).
    fn cache_name(&self) -> &'static str {
        self.name()
    }

    /// Compiles `module` as [`Engine::compile`] when the runtime has a cache directory and the
    /// cache has no whole-module entry for it: `cache` is the module's own corner of the cache,
    /// for an engine that stores code as it produces it (the tiered engine). The default
    /// ignores it.
    fn compile_with_cache(
        &self,
        module: &Arc<keel_decode::Module>,
        options: CompileOptions,
        cache: crate::cache::ModuleCache,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        let _ = cache;
        self.compile(module, options)
    }

    /// `code` (compiled by this engine) as bytes for the compilation cache, or `None` when it
    /// cannot be stored (the default).
    fn serialize(&self, code: &dyn CompiledCode) -> Option<Vec<u8>> {
        let _ = code;
        None
    }

    /// Loads code that [`Engine::serialize`] stored for `module`, compiled with `options`. The
    /// bytes passed the cache's checksum, but the loader still checks every count, offset and
    /// length against the bytes, the module and the options before using it, and fails with
    /// [`Error::Compile`] rather than misbehave.
    fn deserialize(
        &self,
        module: &Arc<keel_decode::Module>,
        bytes: &[u8],
        options: CompileOptions,
    ) -> Result<Arc<dyn CompiledCode>, Error> {
        let _ = (module, bytes, options);
        Err(CompileError::NotCacheable { engine: self.name() }.into())
    }
}

/// A module's code, compiled by an engine.
///
/// # Safety
/// `call` is handed the instance's state — memories, tables, globals, through the `vm` types,
/// whose accessors read and write plain memory — because the caller holds the instance's exec
/// lock for the length of the call. An implementation may touch that state only on the calling
/// thread and only until `call` returns: it must not keep a reference or an `Arc` of the
/// instance or of anything in it past the call, nor hand one to another thread during it.
/// That is what makes the `vm` module's safe accessors sound; implementing this trait is where
/// an engine promises it.
pub unsafe trait CompiledCode: Send + Sync + 'static {
    /// Runs defined function `def_index` of `instance`. `values` holds the parameters on entry
    /// (one slot each, two for v128) and receives the results; it is at least as long as either.
    /// The caller holds `instance`'s lock set.
    fn call(&self, instance: &Instance, def_index: u32, values: &mut [u64]) -> Result<(), Trap>;

    /// The code as `Any`, so an engine can recognise its own code when a call crosses instances.
    fn as_any(&self) -> &dyn Any;
}

/// How many threads an engine should compile a module's functions on: the host's parallelism,
/// asked once per process (the query reads cgroup files on Linux, too slow for every compile).
pub fn compile_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
