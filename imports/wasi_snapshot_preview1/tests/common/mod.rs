//! What the ABI tests share: a module that re-exports WASI functions, and calling them.

#![allow(dead_code)] // each test file uses its part

use keel::{EngineKind, Module, ModuleConfig, Runtime, RuntimeConfig};

// Rights, oflags, fdflags and lookupflags of preview1.
pub const FD_READ: i64 = 1 << 1;
pub const FD_WRITE: i64 = 1 << 6;
pub const PATH_FILESTAT_SET_SIZE: i64 = 1 << 19;
pub const O_CREAT: i32 = 1;
pub const O_DIRECTORY: i32 = 2;
pub const O_EXCL: i32 = 4;
pub const O_TRUNC: i32 = 8;
pub const FDFLAG_APPEND: i32 = 1;
pub const SYMLINK_FOLLOW: i32 = 1;

pub const ENGINES: &[EngineKind] = &[EngineKind::Interpreter, EngineKind::Compiler];

/// A module importing the WASI functions the tests call, each re-exported as `call_NAME`, with
/// one page of memory.
pub fn module(import: &str) -> String {
    let funcs: &[(&str, &str)] = &[
        ("args_sizes_get", "(param i32 i32)"),
        ("environ_get", "(param i32 i32)"),
        ("clock_time_get", "(param i32 i64 i32)"),
        ("fd_close", "(param i32)"),
        ("fd_write", "(param i32 i32 i32 i32)"),
        ("fd_read", "(param i32 i32 i32 i32)"),
        ("fd_seek", "(param i32 i64 i32 i32)"),
        ("fd_prestat_get", "(param i32 i32)"),
        ("fd_prestat_dir_name", "(param i32 i32 i32)"),
        ("fd_readdir", "(param i32 i32 i32 i64 i32)"),
        ("fd_renumber", "(param i32 i32)"),
        ("fd_filestat_set_times", "(param i32 i64 i64 i32)"),
        ("path_open", "(param i32 i32 i32 i32 i32 i64 i64 i32 i32)"),
        ("poll_oneoff", "(param i32 i32 i32 i32)"),
        ("random_get", "(param i32 i32)"),
        ("sock_accept", "(param i32 i32 i32)"),
        ("sock_recv", "(param i32 i32 i32 i32 i32 i32)"),
        ("sock_send", "(param i32 i32 i32 i32 i32)"),
        ("sock_shutdown", "(param i32 i32)"),
        ("fd_fdstat_set_flags", "(param i32 i32)"),
        ("fd_fdstat_get", "(param i32 i32)"),
        ("fd_pread", "(param i32 i32 i32 i64 i32)"),
        ("fd_pwrite", "(param i32 i32 i32 i64 i32)"),
        ("proc_raise", "(param i32)"),
        ("fd_fdstat_set_rights", "(param i32 i64 i64)"),
        ("fd_tell", "(param i32 i32)"),
        ("fd_filestat_get", "(param i32 i32)"),
        ("path_link", "(param i32 i32 i32 i32 i32 i32 i32)"),
        ("path_symlink", "(param i32 i32 i32 i32 i32)"),
        ("path_create_directory", "(param i32 i32 i32)"),
        ("path_filestat_get", "(param i32 i32 i32 i32 i32)"),
    ];
    let mut wat = String::from("(module\n");
    for (name, params) in funcs {
        wat +=
            &format!("  (import \"{import}\" \"{name}\" (func ${name} {params} (result i32)))\n");
    }
    wat += &format!("  (import \"{import}\" \"proc_exit\" (func $proc_exit (param i32)))\n");
    wat += "  (memory (export \"memory\") 1)\n";
    for (name, params) in funcs {
        let n = params.matches("i32").count() + params.matches("i64").count();
        let gets: String = (0..n).map(|i| format!("(local.get {i}) ")).collect();
        wat += &format!(
            "  (func (export \"call_{name}\") {params} (result i32) (call ${name} {gets}))\n"
        );
    }
    wat += "  (func (export \"call_proc_exit\") (param i32) (call $proc_exit (local.get 0)))\n";
    wat += "  (func (export \"nothing\"))\n)";
    wat
}

pub fn setup(engine: EngineKind, config: ModuleConfig) -> (Runtime, Module) {
    let runtime = Runtime::with_config(RuntimeConfig::default(), engine);
    keel_wasi::instantiate(&runtime).unwrap();
    let wasm = wat::parse_str(module(keel_wasi::MODULE_NAME)).unwrap();
    let m = runtime.instantiate_bytes(&wasm, config.with_start_functions::<&str>([])).unwrap();
    (runtime, m)
}

pub fn call(m: &Module, name: &str, args: &[keel::Val]) -> u16 {
    let out = m.func(&format!("call_{name}")).unwrap().call(args).unwrap();
    match out[0] {
        keel::Val::I32(v) => v as u16,
        ref v => panic!("{v:?}"),
    }
}
