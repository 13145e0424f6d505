//! wasmtime, the peer of keel's compiler, through its C API.
//!
//! Building the `wasmtime` crate takes over half an hour on two cores, so the harness does not:
//! it loads the prebuilt C API library that the `wasmtime` PyPI wheel ships
//! (`wasmtime/linux-x86_64/_libwasmtime.so` and the like; `bench/install-wasmtime.sh` installs
//! the pinned version) with `libloading` at run time, and declares the few C API functions it
//! calls itself. The library is found through `KEEL_BENCH_WASMTIME_LIB` (a path to the library),
//! else by asking `python3` where its `wasmtime` package is. When neither gives a library, the
//! engine is unavailable and its column says so.
//!
//! The configuration is wasmtime's default (`wasm_engine_new`): Cranelift at `speed`, parallel
//! compilation, guard pages and signal-based traps, no compilation cache. Calls use the C API's
//! fast path, `wasmtime_func_call_unchecked` over raw value slots, after checking the
//! signature once; the host function `env.inc` is defined with
//! `wasmtime_linker_define_func_unchecked`, the same raw form.
//!
//! WASI guests run on wasmtime's own WASI preview1 (`wasmtime_linker_define_wasi` in the shared
//! linker), each store getting a `wasi_config_t` of its own (arguments, a preopened directory,
//! stdout into a file); `_start` is called through `wasmtime_func_call`, and an exit
//! (`proc_exit`) comes back as an error carrying its status (`wasmtime_error_exit_status`).
//! The large rows run a command from its bytes ([`Wasmtime::run_command`]): stdin from a file
//! (`wasi_config_set_stdin_file`), stdout through a callback (`wasi_config_set_stdout_custom`)
//! that records when the guest first writes.

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;
use std::sync::Arc;

use libloading::Library;

use crate::engines::{Compiled, Engine, Entry, Instance, Result, Ret};
use crate::large::{Capture, LargeRunner};
use crate::wasi::WasiRun;

/// The PyPI version of `wasmtime` the recorded results were measured with (also pinned in
/// `bench/install-wasmtime.sh`).
pub const PINNED_VERSION: &str = "50.0.1";

// Opaque C API types.
#[repr(C)]
struct WasmEngine(c_void);
#[repr(C)]
struct WasmtimeModule(c_void);
#[repr(C)]
struct WasmtimeStore(c_void);
#[repr(C)]
struct WasmtimeContext(c_void);
#[repr(C)]
struct WasmtimeLinker(c_void);
#[repr(C)]
struct WasmtimeError(c_void);
#[repr(C)]
struct WasmTrap(c_void);
#[repr(C)]
struct WasmFunctype(c_void);
#[repr(C)]
struct WasmValtype(c_void);
#[repr(C)]
struct WasmtimeCaller(c_void);
#[repr(C)]
struct WasiConfig(c_void);
/// `wasmtime_val_t`, only ever passed as an empty array here.
#[repr(C)]
struct WasmtimeVal(c_void);

/// `wasm_byte_vec_t` (also `wasm_name_t`, `wasm_message_t`).
#[repr(C)]
struct ByteVec {
    size: usize,
    data: *mut u8,
}

/// `wasm_valtype_vec_t`.
#[repr(C)]
struct ValtypeVec {
    size: usize,
    data: *mut *mut WasmValtype,
}

/// `wasmtime_func_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct WasmtimeFunc {
    store_id: u64,
    private: *mut c_void,
}

/// `wasmtime_instance_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct WasmtimeInstance {
    store_id: u64,
    private: usize,
}

/// `wasmtime_extern_t`: a kind byte and a 24-byte union (32 bytes, 8-aligned).
#[repr(C)]
struct WasmtimeExtern {
    kind: u8,
    of: ExternUnion,
}

#[repr(C)]
#[derive(Clone, Copy)]
union ExternUnion {
    func: WasmtimeFunc,
    other: [u64; 3],
}

/// `wasmtime_val_raw_t`: 16 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
union ValRaw {
    i32: i32,
    i64: i64,
    v128: [u8; 16],
}

/// `wasmtime_extern_kind_t` of a function.
const EXTERN_FUNC: u8 = 0;
/// `wasm_valkind_t` of i32 and i64.
const WASM_I32: u8 = 0;
const WASM_I64: u8 = 1;

type UncheckedCallback = unsafe extern "C" fn(
    env: *mut c_void,
    caller: *mut WasmtimeCaller,
    args_and_results: *mut ValRaw,
    len: usize,
) -> *mut WasmTrap;
type Finalizer = Option<unsafe extern "C" fn(*mut c_void)>;
/// `wasi_config_set_stdout_custom`'s callback: the bytes written, returning how many it took.
type WriteCallback = unsafe extern "C" fn(data: *mut c_void, buf: *const u8, len: usize) -> isize;

/// Declares the C functions used, as a struct of function pointers loaded by name.
macro_rules! api {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        #[allow(non_snake_case)]
        struct Fns {
            $($name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Fns {
            /// Every function of the table, from `lib`.
            fn load(lib: &Library) -> std::result::Result<Fns, String> {
                // SAFETY: each symbol is a function of the wasmtime C API whose signature is the
                // one declared here (from wasmtime's C headers).
                unsafe {
                    Ok(Fns {
                        $($name: *lib
                            .get(concat!(stringify!($name), "\0").as_bytes())
                            .map_err(|e| format!("{}: {e}", stringify!($name)))?,)*
                    })
                }
            }
        }
    };
}

api! {
    wasm_engine_new: fn() -> *mut WasmEngine;
    wasm_engine_delete: fn(*mut WasmEngine);
    wasmtime_module_new: fn(*mut WasmEngine, *const u8, usize, *mut *mut WasmtimeModule) -> *mut WasmtimeError;
    wasmtime_module_delete: fn(*mut WasmtimeModule);
    wasmtime_store_new: fn(*mut WasmEngine, *mut c_void, Finalizer) -> *mut WasmtimeStore;
    wasmtime_store_context: fn(*mut WasmtimeStore) -> *mut WasmtimeContext;
    wasmtime_store_delete: fn(*mut WasmtimeStore);
    wasmtime_linker_new: fn(*mut WasmEngine) -> *mut WasmtimeLinker;
    wasmtime_linker_delete: fn(*mut WasmtimeLinker);
    wasmtime_linker_define_func_unchecked: fn(*mut WasmtimeLinker, *const c_char, usize, *const c_char, usize, *const WasmFunctype, UncheckedCallback, *mut c_void, Finalizer) -> *mut WasmtimeError;
    wasmtime_linker_instantiate: fn(*const WasmtimeLinker, *mut WasmtimeContext, *const WasmtimeModule, *mut WasmtimeInstance, *mut *mut WasmTrap) -> *mut WasmtimeError;
    wasmtime_instance_export_get: fn(*mut WasmtimeContext, *const WasmtimeInstance, *const c_char, usize, *mut WasmtimeExtern) -> bool;
    wasmtime_func_type: fn(*const WasmtimeContext, *const WasmtimeFunc) -> *mut WasmFunctype;
    wasmtime_func_call_unchecked: fn(*mut WasmtimeContext, *const WasmtimeFunc, *mut ValRaw, usize, *mut *mut WasmTrap) -> *mut WasmtimeError;
    wasm_functype_new: fn(*mut ValtypeVec, *mut ValtypeVec) -> *mut WasmFunctype;
    wasm_functype_params: fn(*const WasmFunctype) -> *const ValtypeVec;
    wasm_functype_results: fn(*const WasmFunctype) -> *const ValtypeVec;
    wasm_functype_delete: fn(*mut WasmFunctype);
    wasm_valtype_new: fn(u8) -> *mut WasmValtype;
    wasm_valtype_kind: fn(*const WasmValtype) -> u8;
    wasm_valtype_vec_new: fn(*mut ValtypeVec, usize, *const *mut WasmValtype);
    wasmtime_error_message: fn(*const WasmtimeError, *mut ByteVec);
    wasmtime_error_delete: fn(*mut WasmtimeError);
    wasm_trap_message: fn(*const WasmTrap, *mut ByteVec);
    wasm_trap_delete: fn(*mut WasmTrap);
    wasm_byte_vec_delete: fn(*mut ByteVec);
    wasmtime_linker_define_wasi: fn(*mut WasmtimeLinker) -> *mut WasmtimeError;
    wasi_config_new: fn() -> *mut WasiConfig;
    wasi_config_delete: fn(*mut WasiConfig);
    wasi_config_set_argv: fn(*mut WasiConfig, usize, *const *const c_char) -> bool;
    wasi_config_set_stdout_file: fn(*mut WasiConfig, *const c_char) -> bool;
    wasi_config_set_stdout_custom: fn(*mut WasiConfig, WriteCallback, *mut c_void, Finalizer);
    wasi_config_set_stdin_file: fn(*mut WasiConfig, *const c_char) -> bool;
    wasi_config_preopen_dir: fn(*mut WasiConfig, *const c_char, *const c_char, bool) -> bool;
    wasmtime_context_set_wasi: fn(*mut WasmtimeContext, *mut WasiConfig) -> *mut WasmtimeError;
    wasmtime_func_call: fn(*mut WasmtimeContext, *const WasmtimeFunc, *const WasmtimeVal, usize, *mut WasmtimeVal, usize, *mut *mut WasmTrap) -> *mut WasmtimeError;
    wasmtime_error_exit_status: fn(*const WasmtimeError, *mut c_int) -> bool;
}

/// The loaded library and its functions; shared by everything made from it.
struct Api {
    fns: Fns,
    /// Kept loaded as long as any function pointer of `fns` may be called.
    _lib: Library,
}

impl Api {
    /// The text of a byte vector the C API filled in, which is then freed.
    fn take_message(&self, vec: &mut ByteVec) -> String {
        let text = if vec.data.is_null() {
            String::new()
        } else {
            // SAFETY: the C API filled `vec` with `size` bytes at `data`.
            let bytes = unsafe { std::slice::from_raw_parts(vec.data, vec.size) };
            String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string()
        };
        // SAFETY: `vec` was filled by the C API and is freed once.
        unsafe { (self.fns.wasm_byte_vec_delete)(vec) };
        text
    }

    /// Turns an error and a trap returned by a call into a `Result`, freeing them.
    fn check(&self, error: *mut WasmtimeError, trap: *mut WasmTrap) -> Result<()> {
        let mut vec = ByteVec { size: 0, data: ptr::null_mut() };
        if !error.is_null() {
            // SAFETY: a non-null error returned by the C API, owned by us.
            unsafe { (self.fns.wasmtime_error_message)(error, &mut vec) };
            let message = self.take_message(&mut vec);
            // SAFETY: as above; freed once.
            unsafe { (self.fns.wasmtime_error_delete)(error) };
            return Err(message);
        }
        if !trap.is_null() {
            // SAFETY: a non-null trap returned by the C API, owned by us.
            unsafe { (self.fns.wasm_trap_message)(trap, &mut vec) };
            let message = self.take_message(&mut vec);
            // SAFETY: as above; freed once.
            unsafe { (self.fns.wasm_trap_delete)(trap) };
            return Err(format!("trap: {message}"));
        }
        Ok(())
    }

    /// A function type of i32 parameters and results.
    fn i32_functype(&self, params: usize, results: usize) -> *mut WasmFunctype {
        let fns = &self.fns;
        let vec = |n: usize| {
            // SAFETY: `wasm_valtype_new` returns owned value types; `wasm_valtype_vec_new` takes
            // them over.
            unsafe {
                let types: Vec<*mut WasmValtype> =
                    (0..n).map(|_| (fns.wasm_valtype_new)(WASM_I32)).collect();
                let mut v = ValtypeVec { size: 0, data: ptr::null_mut() };
                (fns.wasm_valtype_vec_new)(&mut v, n, types.as_ptr());
                v
            }
        };
        let (mut p, mut r) = (vec(params), vec(results));
        // SAFETY: `wasm_functype_new` takes over both vectors.
        unsafe { (fns.wasm_functype_new)(&mut p, &mut r) }
    }
}

/// Where the library is, from `KEEL_BENCH_WASMTIME_LIB` or python's `wasmtime` package.
fn locate() -> std::result::Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("KEEL_BENCH_WASMTIME_LIB") {
        return Ok(PathBuf::from(path));
    }
    let script = "import wasmtime, os; print(os.path.dirname(wasmtime.__file__))";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("running python3: {e}"))?;
    if !out.status.success() {
        return Err("python3 has no `wasmtime` package".into());
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    find_library(&dir, 2).ok_or_else(|| format!("no wasmtime library under {}", dir.display()))
}

/// The first file under `dir` (to `depth` levels) named like wasmtime's shared library.
fn find_library(dir: &Path, depth: u32) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in &entries {
        let name = path.file_name()?.to_string_lossy();
        let lib = [".so", ".dylib", ".dll"].iter().any(|ext| name.ends_with(ext));
        if lib && name.contains("wasmtime") && path.is_file() {
            return Some(path.clone());
        }
    }
    if depth > 0 {
        return entries.iter().filter(|p| p.is_dir()).find_map(|p| find_library(p, depth - 1));
    }
    None
}

/// wasmtime's default configuration, through its C API; see the module docs.
pub struct Wasmtime {
    state: std::result::Result<Arc<Shared>, String>,
}

/// The engine and the linker that defines `env.inc`.
struct Shared {
    api: Api,
    engine: *mut WasmEngine,
    linker: *mut WasmtimeLinker,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: both were created by `Wasmtime::new` and are freed once, after every module
        // and store made from them (which hold an `Arc<Shared>`).
        unsafe {
            (self.api.fns.wasmtime_linker_delete)(self.linker);
            (self.api.fns.wasm_engine_delete)(self.engine);
        }
    }
}

/// `env.inc`: `x -> x + 1`, over raw value slots.
unsafe extern "C" fn inc(
    _env: *mut c_void,
    _caller: *mut WasmtimeCaller,
    values: *mut ValRaw,
    _len: usize,
) -> *mut WasmTrap {
    // SAFETY: wasmtime passes one slot holding the i32 argument, which takes the result.
    unsafe { (*values).i32 = (*values).i32.wrapping_add(1) };
    ptr::null_mut()
}

impl Wasmtime {
    /// Loads the library and makes an engine; if either fails, the engine is unavailable.
    pub fn new() -> Wasmtime {
        Wasmtime { state: Wasmtime::load().map(Arc::new) }
    }

    fn load() -> std::result::Result<Shared, String> {
        let path = locate()?;
        // SAFETY: loading wasmtime's C API library runs no initialisers with preconditions.
        let lib = unsafe { Library::new(&path) }.map_err(|e| format!("{}: {e}", path.display()))?;
        let fns = Fns::load(&lib).map_err(|e| format!("{}: {e}", path.display()))?;
        let api = Api { fns, _lib: lib };
        // SAFETY: plain constructors of the C API; their results are owned by `Shared`.
        let (engine, linker) = unsafe {
            let engine = (api.fns.wasm_engine_new)();
            (engine, (api.fns.wasmtime_linker_new)(engine))
        };
        let shared = Shared { api, engine, linker };
        // SAFETY: the linker is live.
        let error = unsafe { (shared.api.fns.wasmtime_linker_define_wasi)(linker) };
        shared.api.check(error, ptr::null_mut())?;
        let ty = shared.api.i32_functype(1, 1);
        // SAFETY: the linker is live; the names are valid for their lengths; `ty` is borrowed
        // and freed after.
        let error = unsafe {
            let e = (shared.api.fns.wasmtime_linker_define_func_unchecked)(
                linker,
                c"env".as_ptr(),
                3,
                c"inc".as_ptr(),
                3,
                ty,
                inc,
                ptr::null_mut(),
                None,
            );
            (shared.api.fns.wasm_functype_delete)(ty);
            e
        };
        shared.api.check(error, ptr::null_mut())?;
        Ok(shared)
    }
}

impl Default for Wasmtime {
    fn default() -> Self {
        Wasmtime::new()
    }
}

impl Engine for Wasmtime {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn is_peer(&self) -> bool {
        true
    }

    fn unavailable(&self) -> Option<String> {
        self.state.as_ref().err().map(|e| {
            format!(
                "{e} (install it with bench/install-wasmtime.sh, wasmtime=={PINNED_VERSION} \
                 from PyPI, or set KEEL_BENCH_WASMTIME_LIB)"
            )
        })
    }

    fn large_runner(&self) -> Option<LargeRunner<'_>> {
        Some(LargeRunner::Wasmtime(self))
    }

    fn compile(&self, wasm: &[u8]) -> Result<Box<dyn Compiled>> {
        Ok(Box::new(self.module(wasm)?))
    }
}

impl Wasmtime {
    /// Validates and compiles `wasm` (`wasmtime_module_new`).
    fn module(&self, wasm: &[u8]) -> Result<WasmtimeCompiled> {
        let shared = self.state.as_ref().map_err(Clone::clone)?;
        let mut module = ptr::null_mut();
        // SAFETY: the engine is live; `wasm` is valid for its length.
        let error = unsafe {
            (shared.api.fns.wasmtime_module_new)(
                shared.engine,
                wasm.as_ptr(),
                wasm.len(),
                &mut module,
            )
        };
        shared.api.check(error, ptr::null_mut())?;
        Ok(WasmtimeCompiled { shared: shared.clone(), module })
    }

    /// Runs the WASI command `wasm` from its bytes to its exit: compiles it, runs `_start` with
    /// `args` (`argv`, the program name first), stdin read from the file `stdin` and stdout
    /// into `stdout`, and frees everything; returns the exit code.
    pub fn run_command(
        &self,
        wasm: &[u8],
        args: &[&str],
        stdin: &Path,
        stdout: &Capture,
    ) -> Result<i32> {
        let module = self.module(wasm)?;
        let fns = &module.shared.api.fns;
        let args = args.iter().map(|a| c_string(a)).collect::<Result<Vec<_>>>()?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let stdin = c_string(&stdin.to_string_lossy())?;
        // SAFETY: a plain constructor; the config is owned here until `run_start` takes it.
        let config = unsafe { (fns.wasi_config_new)() };
        // The callback's data: a handle of its own, freed by the finalizer with the config.
        let data = Box::into_raw(Box::new(stdout.clone())).cast::<c_void>();
        // SAFETY: `config` is live; the strings outlive the calls, which copy them; `data` is a
        // `Box<Capture>` that only `capture_write` reads and `capture_free` frees.
        let configured = unsafe {
            (fns.wasi_config_set_stdout_custom)(config, capture_write, data, Some(capture_free));
            (fns.wasi_config_set_argv)(config, argv.len(), argv.as_ptr())
                && (fns.wasi_config_set_stdin_file)(config, stdin.as_ptr())
        };
        if !configured {
            // SAFETY: not handed to a context, so still ours to free (with the callback's data).
            unsafe { (fns.wasi_config_delete)(config) };
            return Err("wasi_config: bad arguments or stdin file".into());
        }
        module.run_start(config)
    }
}

/// A C string of `s`.
fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|e| e.to_string())
}

/// `wasi_config_set_stdout_custom`'s callback: hands the bytes to the [`Capture`] at `data`.
unsafe extern "C" fn capture_write(data: *mut c_void, buf: *const u8, len: usize) -> isize {
    if len == 0 {
        return 0;
    }
    // SAFETY: `data` is the `Box<Capture>` made by `run_command`, alive until `capture_free`;
    // wasmtime passes `len` readable bytes at `buf`.
    let (capture, bytes) =
        unsafe { (&*data.cast::<Capture>(), std::slice::from_raw_parts(buf, len)) };
    capture.record(bytes);
    len as isize
}

/// Frees the callback's data with the WASI configuration.
unsafe extern "C" fn capture_free(data: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `run_command`, freed once by wasmtime.
    drop(unsafe { Box::from_raw(data.cast::<Capture>()) });
}

struct WasmtimeCompiled {
    shared: Arc<Shared>,
    module: *mut WasmtimeModule,
}

impl Drop for WasmtimeCompiled {
    fn drop(&mut self) {
        // SAFETY: created by `wasmtime_module_new`, freed once; stores hold their own reference.
        unsafe { (self.shared.api.fns.wasmtime_module_delete)(self.module) };
    }
}

impl Compiled for WasmtimeCompiled {
    fn instantiate(&self) -> Result<Box<dyn Instance>> {
        let fns = &self.shared.api.fns;
        // One store per instance, as for wasmi: a store frees its instances when it is dropped.
        // SAFETY: the engine is live; the store is owned by the returned instance.
        let store = unsafe { (fns.wasmtime_store_new)(self.shared.engine, ptr::null_mut(), None) };
        let mut instance = WasmtimeInstanceBox {
            shared: self.shared.clone(),
            store,
            // SAFETY: `store` is live.
            context: unsafe { (fns.wasmtime_store_context)(store) },
            instance: WasmtimeInstance { store_id: 0, private: 0 },
        };
        let mut out = WasmtimeInstance { store_id: 0, private: 0 };
        let mut trap = ptr::null_mut();
        // SAFETY: linker, context and module are live.
        let error = unsafe {
            (fns.wasmtime_linker_instantiate)(
                self.shared.linker,
                instance.context,
                self.module,
                &mut out,
                &mut trap,
            )
        };
        self.shared.api.check(error, trap)?;
        instance.instance = out;
        Ok(Box::new(instance))
    }

    fn run_wasi(&self, run: &WasiRun<'_>) -> Result<i32> {
        let fns = &self.shared.api.fns;
        let path = |p: &Path| c_string(&p.to_string_lossy());
        let args = run.args.iter().map(|a| c_string(a)).collect::<Result<Vec<_>>>()?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let stdout = path(run.stdout)?;
        let mount = run.mount.map(path).transpose()?;
        // SAFETY: a plain constructor; the config is owned here until `run_start` takes it.
        let config = unsafe { (fns.wasi_config_new)() };
        // SAFETY: `config` is live; the strings outlive the calls, which copy them.
        let configured = unsafe {
            (fns.wasi_config_set_argv)(config, argv.len(), argv.as_ptr())
                && (fns.wasi_config_set_stdout_file)(config, stdout.as_ptr())
                && mount.as_ref().is_none_or(|dir| {
                    (fns.wasi_config_preopen_dir)(config, dir.as_ptr(), c"/".as_ptr(), true)
                })
        };
        if !configured {
            // SAFETY: not handed to a context, so still ours to free.
            unsafe { (fns.wasi_config_delete)(config) };
            return Err("wasi_config: bad arguments, stdout file or directory".into());
        }
        self.run_start(config)
    }
}

impl WasmtimeCompiled {
    /// Instantiates the module in a store of its own with the WASI configuration `config`
    /// (which it takes over), runs `_start` and frees the store: the exit code (`proc_exit`'s,
    /// or 0 when `_start` returns).
    fn run_start(&self, config: *mut WasiConfig) -> Result<i32> {
        let api = &self.shared.api;
        let fns = &api.fns;
        // SAFETY: the engine is live; the store is freed below, after its last use.
        let store = unsafe { (fns.wasmtime_store_new)(self.shared.engine, ptr::null_mut(), None) };
        let result = (|| {
            // SAFETY: `store` is live; the context takes `config` over.
            let context = unsafe { (fns.wasmtime_store_context)(store) };
            api.check(
                unsafe { (fns.wasmtime_context_set_wasi)(context, config) },
                ptr::null_mut(),
            )?;
            let mut instance = WasmtimeInstance { store_id: 0, private: 0 };
            let mut trap = ptr::null_mut();
            // SAFETY: linker, context and module are live.
            let error = unsafe {
                (fns.wasmtime_linker_instantiate)(
                    self.shared.linker,
                    context,
                    self.module,
                    &mut instance,
                    &mut trap,
                )
            };
            api.check(error, trap)?;
            let mut item = WasmtimeExtern { kind: 0xff, of: ExternUnion { other: [0; 3] } };
            let name = "_start";
            // SAFETY: the context and instance are live; the name is valid for its length.
            let found = unsafe {
                (fns.wasmtime_instance_export_get)(
                    context,
                    &instance,
                    name.as_ptr().cast(),
                    name.len(),
                    &mut item,
                )
            };
            if !found || item.kind != EXTERN_FUNC {
                return Err("no exported function _start".into());
            }
            let mut trap = ptr::null_mut();
            // SAFETY: the kind says the union holds a function of this store; no arguments or
            // results (the checked call verifies the signature).
            let error = unsafe {
                let start = item.of.func;
                (fns.wasmtime_func_call)(
                    context,
                    &start,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                    0,
                    &mut trap,
                )
            };
            let mut status: c_int = 0;
            // SAFETY: a non-null error returned by the call, still owned by us.
            if !error.is_null() && unsafe { (fns.wasmtime_error_exit_status)(error, &mut status) } {
                // SAFETY: as above; freed once.
                unsafe { (fns.wasmtime_error_delete)(error) };
                return Ok(status);
            }
            api.check(error, trap).map(|()| 0)
        })();
        // SAFETY: created above, freed once; nothing made from it is used after.
        unsafe { (fns.wasmtime_store_delete)(store) };
        result
    }
}

struct WasmtimeInstanceBox {
    shared: Arc<Shared>,
    store: *mut WasmtimeStore,
    context: *mut WasmtimeContext,
    instance: WasmtimeInstance,
}

impl Drop for WasmtimeInstanceBox {
    fn drop(&mut self) {
        // SAFETY: created by `wasmtime_store_new`, freed once.
        unsafe { (self.shared.api.fns.wasmtime_store_delete)(self.store) };
    }
}

impl Instance for WasmtimeInstanceBox {
    fn entry(&mut self, export: &str, ret: Ret) -> Result<Box<dyn Entry + '_>> {
        let api = &self.shared.api;
        let mut item = WasmtimeExtern { kind: 0xff, of: ExternUnion { other: [0; 3] } };
        // SAFETY: the context and instance are live; the name is valid for its length.
        let found = unsafe {
            (api.fns.wasmtime_instance_export_get)(
                self.context,
                &self.instance,
                export.as_ptr().cast(),
                export.len(),
                &mut item,
            )
        };
        if !found || item.kind != EXTERN_FUNC {
            return Err(format!("no exported function {export}"));
        }
        // SAFETY: the kind says the union holds a function.
        let func = unsafe { item.of.func };
        let result = match ret {
            Ret::I32 => WASM_I32,
            Ret::I64 => WASM_I64,
        };
        // The unchecked call needs the right signature: check it once here.
        // SAFETY: `func` belongs to this store; the type is owned and freed here, and the
        // vectors it returns are borrowed from it.
        let kinds = |vec: *const ValtypeVec| unsafe {
            let vec = &*vec;
            (0..vec.size).map(|k| (api.fns.wasm_valtype_kind)(*vec.data.add(k))).collect::<Vec<_>>()
        };
        let (params, results) = unsafe {
            let ty = (api.fns.wasmtime_func_type)(self.context, &func);
            let signature = (
                kinds((api.fns.wasm_functype_params)(ty)),
                kinds((api.fns.wasm_functype_results)(ty)),
            );
            (api.fns.wasm_functype_delete)(ty);
            signature
        };
        if params != [WASM_I32] || results != [result] {
            return Err(format!("{export}: signature is not (i32) -> {ret:?}"));
        }
        Ok(Box::new(WasmtimeEntry { instance: self, func, ret }))
    }
}

struct WasmtimeEntry<'a> {
    instance: &'a mut WasmtimeInstanceBox,
    func: WasmtimeFunc,
    ret: Ret,
}

impl Entry for WasmtimeEntry<'_> {
    fn call(&mut self, arg: i32) -> Result<i64> {
        let api = &self.instance.shared.api;
        let mut slot = ValRaw { v128: [0; 16] };
        slot.i32 = arg;
        let mut trap = ptr::null_mut();
        // SAFETY: the signature was checked to be `(i32) -> i32|i64`, so one slot holds the
        // argument and then the result.
        let error = unsafe {
            (api.fns.wasmtime_func_call_unchecked)(
                self.instance.context,
                &self.func,
                &mut slot,
                1,
                &mut trap,
            )
        };
        api.check(error, trap)?;
        // SAFETY: the slot holds the result of the checked type.
        Ok(unsafe {
            match self.ret {
                Ret::I32 => i64::from(slot.i32),
                Ret::I64 => slot.i64,
            }
        })
    }
}
