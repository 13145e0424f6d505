//! The errors only an exhausted system gives: an address-space reservation the kernel refuses
//! (`InstantiateError::Resources`) and code memory it refuses (`CompileError::Engine`). Each runs
//! in a child process (this test binary again, on that one test) whose address space is capped
//! with `RLIMIT_AS` at what it already uses, so that the other tests keep theirs.
//!
//! Heap allocation keeps working under the cap: the work runs on a thread of its own whose
//! malloc arena was reserved before the cap, and grows inside that reservation; new mappings
//! (a memory's reservation, code memory) are what the kernel refuses.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::Command;

use keel::{
    CompileError, EngineKind, Error, InstantiateError, ModuleConfig, Runtime, RuntimeConfig,
};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

const CHILD: &str = "KEEL_EXHAUSTION_CHILD";

/// In the parent, runs `test` again in a child and checks that it passed there; in the child,
/// runs `work` on a fresh thread.
fn in_child(test: &str, work: fn()) {
    if std::env::var_os(CHILD).is_some() {
        std::thread::spawn(work).join().unwrap();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
}

/// The process's address space now, from /proc/self/status, in bytes.
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Runs `f` with no room for new mappings, then lifts the cap again.
fn without_new_mappings<T>(f: impl FnOnce() -> T) -> T {
    let before = getrlimit(Resource::As);
    let capped = Rlimit { current: Some(address_space()), maximum: before.maximum };
    setrlimit(Resource::As, capped).unwrap();
    let result = f();
    setrlimit(Resource::As, before).unwrap();
    result
}

#[test]
fn a_refused_reservation_is_a_resources_error() {
    in_child("a_refused_reservation_is_a_resources_error", || {
        let wasm = wat::parse_str("(module (memory 1))").unwrap();
        // Instances kept alive, so that no reservation goes back to the pool for the next
        // engine to take.
        let mut kept = Vec::new();
        for engine in [EngineKind::Interpreter, EngineKind::Compiler] {
            let rt = Runtime::with_config(RuntimeConfig::default(), engine);
            let compiled = rt.compile(&wasm).unwrap();
            let config = || ModuleConfig::new().with_name("");
            match without_new_mappings(|| rt.instantiate(&compiled, config())) {
                Err(Error::Instantiate(InstantiateError::Resources(_))) => {}
                other => panic!("{engine:?}: expected a resources error, got {:?}", other.err()),
            }
            // Nothing of the failed instance stays behind: with room again it instantiates.
            kept.push(rt.instantiate(&compiled, config()).unwrap());
        }
    });
}

#[test]
fn refused_code_memory_is_an_engine_error() {
    in_child("refused_code_memory_is_an_engine_error", || {
        let wasm =
            wat::parse_str("(module (func (export \"f\") (result i32) i32.const 7))").unwrap();
        let rt = Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler);
        let entry = rt.cache_entry(&wasm, &rt.compile(&wasm).unwrap()).unwrap();
        match without_new_mappings(|| rt.load_cache_entry(&wasm, &entry)) {
            Err(Error::Compile(CompileError::Engine(_))) => {}
            other => panic!("expected an engine error, got {:?}", other.err()),
        }
        let compiled = rt.load_cache_entry(&wasm, &entry).unwrap();
        let m = rt.instantiate(&compiled, ModuleConfig::new().with_name("")).unwrap();
        assert_eq!(m.typed_func::<(), i32>("f").unwrap().call(()).unwrap(), 7);
    });
}
