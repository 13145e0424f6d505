//! The compilation cache: hits, misses, damaged and foreign entries, concurrent writers.

use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use keel::cache::{self, CacheKey, HEADER_LEN};
use keel::listener::{FunctionDefinition, FunctionListener, FunctionListenerFactory};
use keel::{
    Caller, CompileConfig, CompileOptions, EngineKind, Features, FrameInfo, ModuleConfig, Runtime,
    RuntimeConfig,
};

/// Several signatures (several trampolines), memory, a table, float rounding (a libcall
/// relocation on hosts without the instruction).
const WAT: &str = r#"(module
    (memory 1)
    (table 2 funcref)
    (elem (i32.const 0) $sq $half)
    (type $i2i (func (param i32) (result i32)))
    (func $sq (type $i2i) (i32.mul (local.get 0) (local.get 0)))
    (func $half (type $i2i) (i32.shr_u (local.get 0) (i32.const 1)))
    (func (export "run") (param i32 i32) (result i32)
      (call_indirect (type $i2i) (local.get 0) (local.get 1)))
    (func (export "floor") (param f64) (result f64) (f64.floor (local.get 0)))
    (func (export "store") (param i64) (result i64)
      (i64.store (i32.const 8) (local.get 0))
      (i64.load (i32.const 8))))"#;

fn wasm() -> Vec<u8> {
    wat::parse_str(WAT).unwrap()
}

/// A fresh, empty directory for one test, removed with the returned `TempDir`.
fn fresh_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("keel-cache-test-{name}-")).tempdir().unwrap()
}

fn runtime(dir: &Path, engine: EngineKind) -> Runtime {
    Runtime::with_config(RuntimeConfig::default().with_cache_dir(dir), engine)
}

/// Checks that the module compiled by `rt` runs correctly.
fn check_runs(rt: &Runtime, wasm: &[u8]) {
    check_runs_compiled(rt, &rt.compile(wasm).unwrap());
}

/// Checks that `compiled` runs correctly.
fn check_runs_compiled(rt: &Runtime, compiled: &keel::CompiledModule) {
    let m = rt.instantiate(compiled, ModuleConfig::new().with_name("")).unwrap();
    let run = m.typed_func::<(i32, i32), i32>("run").unwrap();
    assert_eq!(run.call((7, 0)).unwrap(), 49);
    assert_eq!(run.call((7, 1)).unwrap(), 3);
    assert_eq!(m.typed_func::<f64, f64>("floor").unwrap().call(-2.5).unwrap(), -3.0);
    assert_eq!(m.typed_func::<i64, i64>("store").unwrap().call(-5).unwrap(), -5);
}

fn entry_path(rt: &Runtime, dir: &Path, wasm: &[u8]) -> PathBuf {
    dir.join(rt.cache_key(wasm).unwrap().file_name())
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn compiler_miss_then_hit() {
    let dir_tmp = fresh_dir("hit");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let cold = runtime(&dir, EngineKind::Compiler);
    check_runs(&cold, &wasm);
    let s = cold.cache_stats();
    assert_eq!((s.hits, s.misses, s.writes, s.rejected), (0, 1, 1, 0), "{s:?}");
    assert_eq!(entries(&dir), vec![cold.cache_key(&wasm).unwrap().file_name()]);

    // A second runtime (as another process would) loads the entry.
    let warm = runtime(&dir, EngineKind::Compiler);
    check_runs(&warm, &wasm);
    let s = warm.cache_stats();
    assert_eq!((s.hits, s.misses, s.writes, s.rejected), (1, 0, 0, 0), "{s:?}");

    // The loaded code is the compiled code, byte for byte.
    let fresh = Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler);
    let a = fresh.cache_entry(&wasm, &fresh.compile(&wasm).unwrap()).unwrap();
    let b = warm.cache_entry(&wasm, &warm.compile(&wasm).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(std::fs::read(entry_path(&warm, &dir, &wasm)).unwrap(), a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn key_separates_binaries_features_and_engines() {
    let dir_tmp = fresh_dir("key");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let other = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let rt = runtime(&dir, EngineKind::Compiler);
    rt.compile(&wasm).unwrap();
    rt.compile(&other).unwrap();
    let v1 = Runtime::with_config(
        RuntimeConfig::default().with_cache_dir(&dir).with_features(Features::V1),
        EngineKind::Compiler,
    );
    v1.compile(&wasm).unwrap();
    assert_eq!(v1.cache_stats().misses, 1);
    assert_eq!(entries(&dir).len(), 3);
    assert_ne!(rt.cache_key(&wasm), v1.cache_key(&wasm));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts the calls of one function's listener.
#[derive(Clone, Default)]
struct CallCounter(Arc<Mutex<Vec<String>>>);

impl FunctionListener for CallCounter {
    fn before(&self, _: &Caller<'_>, def: &FunctionDefinition, _: &[u64], _: &[FrameInfo]) {
        self.0.lock().unwrap().push(def.debug_name());
    }
    fn after(&self, _: &Caller<'_>, _: &FunctionDefinition, _: &[u64], _: &[u64]) {}
}

impl FunctionListenerFactory for CallCounter {
    fn new_listener(&self, _: &FunctionDefinition) -> Option<Arc<dyn FunctionListener>> {
        Some(Arc::new(self.clone()))
    }
}

/// With a listener factory, the compiler compiles a listening variant: another entry under
/// another key, which a runtime without a factory never loads (nor the other way round).
#[test]
fn listening_code_has_its_own_entry() {
    let dir_tmp = fresh_dir("listening");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let counter = CallCounter::default();
    let listening = || {
        let config = RuntimeConfig::default()
            .with_cache_dir(&dir)
            .with_function_listener_factory(counter.clone());
        Runtime::with_config(config, EngineKind::Compiler)
    };
    let plain = runtime(&dir, EngineKind::Compiler);
    check_runs(&plain, &wasm);
    let l = listening();
    assert_ne!(plain.cache_key(&wasm), l.cache_key(&wasm));
    check_runs(&l, &wasm);
    assert_eq!(l.cache_stats().misses, 1);
    assert_eq!(entries(&dir).len(), 2);
    // The calls through the table stay inside compiled code, and are reported too.
    let expected = [".run", ".sq", ".run", ".half", ".floor", ".store"];
    assert_eq!(counter.0.lock().unwrap().split_off(0), expected);

    // Loaded from the cache, each variant still behaves as its own.
    let l = listening();
    check_runs(&l, &wasm);
    assert_eq!((l.cache_stats().hits, l.cache_stats().misses), (1, 0));
    assert_eq!(counter.0.lock().unwrap().split_off(0), expected);
    let plain = runtime(&dir, EngineKind::Compiler);
    check_runs(&plain, &wasm);
    assert_eq!(plain.cache_stats().hits, 1);
    assert!(counter.0.lock().unwrap().is_empty());

    // A listening entry under the plain key is refused by the loader, never run as plain code.
    let l_entry = std::fs::read(entry_path(&l, &dir, &wasm)).unwrap();
    let l_payload = cache::decode(&l_entry, &l.cache_key(&wasm).unwrap()).unwrap();
    let forged = cache::encode(&plain.cache_key(&wasm).unwrap(), l_payload);
    assert!(plain.load_cache_entry(&wasm, &forged).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// One runtime without a factory compiles the same bytes with and without a per-compile factory:
/// two entries, under the keys of the two variants, and each compile loads its own.
#[test]
fn per_compile_factory_has_its_own_entry() {
    let dir_tmp = fresh_dir("per-compile");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let counter = CallCounter::default();
    let listening = CompileConfig::new().with_function_listener_factory(counter.clone());
    let expected = [".run", ".sq", ".run", ".half", ".floor", ".store"];
    let check_both = |rt: &Runtime| {
        let m = rt.compile_with(&wasm, &listening).unwrap();
        assert!(m.compile_options().listening);
        check_runs_compiled(rt, &m);
        assert_eq!(counter.0.lock().unwrap().split_off(0), expected);
        let m = rt.compile(&wasm).unwrap();
        assert!(!m.compile_options().listening);
        check_runs_compiled(rt, &m);
        assert!(counter.0.lock().unwrap().is_empty());
    };

    let cold = runtime(&dir, EngineKind::Compiler);
    let (plain_key, listening_key) =
        (cold.cache_key(&wasm).unwrap(), cold.cache_key_with(&wasm, &listening).unwrap());
    assert_ne!(plain_key, listening_key);
    assert_eq!(cold.cache_key_with(&wasm, &CompileConfig::new()).unwrap(), plain_key);
    check_both(&cold);
    let s = cold.cache_stats();
    assert_eq!((s.hits, s.misses, s.writes), (0, 2, 2), "{s:?}");
    let mut names = vec![plain_key.file_name(), listening_key.file_name()];
    names.sort();
    assert_eq!(entries(&dir), names);

    // Each entry holds its own variant: what `cache_entry` gives for each compiled module.
    let l = cold.compile_with(&wasm, &listening).unwrap();
    let l_entry = std::fs::read(dir.join(listening_key.file_name())).unwrap();
    assert_eq!(cold.cache_entry(&wasm, &l).unwrap(), l_entry);
    let p = cold.compile(&wasm).unwrap();
    let p_entry = std::fs::read(dir.join(plain_key.file_name())).unwrap();
    assert_eq!(cold.cache_entry(&wasm, &p).unwrap(), p_entry);

    // Another runtime loads each variant from its own entry.
    let warm = runtime(&dir, EngineKind::Compiler);
    check_both(&warm);
    let s = warm.cache_stats();
    assert_eq!((s.hits, s.misses, s.writes), (2, 0, 0), "{s:?}");

    // Loading an entry directly: each configuration accepts its own variant only.
    let loaded = warm.load_cache_entry_with(&wasm, &l_entry, &listening).unwrap();
    assert!(loaded.compile_options().listening);
    check_runs_compiled(&warm, &loaded);
    assert_eq!(counter.0.lock().unwrap().split_off(0), expected);
    assert!(warm.load_cache_entry(&wasm, &p_entry).is_ok());
    assert!(warm.load_cache_entry(&wasm, &l_entry).is_err());
    assert!(warm.load_cache_entry_with(&wasm, &p_entry, &listening).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interpreter_does_not_cache() {
    let dir_tmp = fresh_dir("interp");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let rt = runtime(&dir, EngineKind::Interpreter);
    check_runs(&rt, &wasm);
    check_runs(&rt, &wasm);
    assert_eq!(rt.cache_stats(), keel::CacheStats::default());
    assert!(rt.cache_key(&wasm).is_none());
    assert!(entries(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every kind of damage: the entry is refused, the module compiles and runs, and the entry is
/// rewritten intact.
#[test]
fn damaged_entries_are_ignored_and_rewritten() {
    let dir_tmp = fresh_dir("damage");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wasm();
    let rt = runtime(&dir, EngineKind::Compiler);
    rt.compile(&wasm).unwrap();
    let path = entry_path(&rt, &dir, &wasm);
    let good = std::fs::read(&path).unwrap();
    let key = rt.cache_key(&wasm).unwrap();
    let payload = cache::decode(&good, &key).unwrap().to_vec();

    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in
        [0, 1, 7, 8, 12, 43, 44, 52, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 1, HEADER_LEN + 100]
            .into_iter()
            .chain([good.len() / 2, good.len() - 8, good.len() - 1])
    {
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec()));
    }
    for at in [0, 7, 8, 11, 12, 43, 44, 51, 52, HEADER_LEN - 1].into_iter().chain([
        HEADER_LEN,
        HEADER_LEN + 3,
        HEADER_LEN + 200,
        good.len() / 2,
        good.len() - 1,
    ]) {
        let mut e = good.clone();
        e[at] ^= 0x01;
        cases.push((format!("bit flipped at {at}"), e));
    }
    let mut e = good.clone();
    e[8..12].copy_from_slice(&(cache::FORMAT_VERSION + 1).to_le_bytes());
    cases.push(("next format version".into(), e));
    let plain = CompileOptions::default();
    let foreign =
        CacheKey::new(&wasm, "compiler", "riscv64gc-unknown-linux-gnu", Features::V2, plain);
    cases.push(("foreign target".into(), cache::encode(&foreign, &payload)));
    let old = CacheKey::new(&wasm, "interpreter", "x", Features::V2, plain);
    cases.push(("other engine".into(), cache::encode(&old, &payload)));
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    cases.push(("trailing bytes".into(), longer));
    cases.push(("empty file".into(), Vec::new()));
    // Valid checksum around a payload the loader must refuse.
    let mut short = payload.clone();
    short.truncate(payload.len() - 1);
    cases.push(("payload one byte short".into(), cache::encode(&key, &short)));
    let mut big_count = payload.clone();
    big_count[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("huge code length".into(), cache::encode(&key, &big_count)));

    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let rt = runtime(&dir, EngineKind::Compiler);
        check_runs(&rt, &wasm);
        let s = rt.cache_stats();
        assert_eq!((s.hits, s.rejected, s.misses, s.writes), (0, 1, 1, 1), "{what}: {s:?}");
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: entry not rewritten");
    }

    // A directory where the entry should be: read fails (a miss), the write fails (counted),
    // the compile succeeds.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let rt = runtime(&dir, EngineKind::Compiler);
    check_runs(&rt, &wasm);
    let s = rt.cache_stats();
    assert_eq!((s.hits, s.misses, s.writes, s.write_errors), (0, 1, 0, 1), "{s:?}");
    assert!(path.is_dir());
    // No temporary file is left behind.
    assert_eq!(entries(&dir).len(), 1, "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The loader, fed payloads with a valid checksum but damaged contents, refuses them or loads
/// them without any out-of-bounds access (the code bytes themselves are only vouched for by the
/// checksum, so these are loaded, never run).
#[test]
fn loader_checks_payload_structure() {
    let wasm = wasm();
    let rt = Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler);
    let compiled = rt.compile(&wasm).unwrap();
    let good = rt.cache_entry(&wasm, &compiled).unwrap();
    let key = rt.cache_key(&wasm).unwrap();
    let payload = cache::decode(&good, &key).unwrap().to_vec();
    assert!(rt.load_cache_entry(&wasm, &good).is_ok());
    for cut in 0..payload.len() {
        let e = cache::encode(&key, &payload[..cut]);
        assert!(rt.load_cache_entry(&wasm, &e).is_err(), "payload truncated at {cut}");
    }
    // The variant byte: plain code is 0; listening code (1) or anything else is refused.
    assert_eq!(payload[0], 0);
    for variant in [1u8, 2, 0xff] {
        let mut p = payload.clone();
        p[0] = variant;
        assert!(rt.load_cache_entry(&wasm, &cache::encode(&key, &p)).is_err(), "variant {variant}");
    }
    let code_len = u32::from_le_bytes(payload[1..5].try_into().unwrap()) as usize;
    // Every byte after the code (counts, offsets, trampoline indices, relocations).
    for at in 5 + code_len..payload.len() {
        for bit in [0x01u8, 0x80] {
            let mut p = payload.clone();
            p[at] ^= bit;
            let _ = rt.load_cache_entry(&wasm, &cache::encode(&key, &p));
        }
    }
    // Another module's binary with this entry: refused by the key echo.
    let other = wat::parse_str("(module (func (export \"f\")))").unwrap();
    assert!(rt.load_cache_entry(&other, &good).is_err());
}

#[test]
fn concurrent_compiles_share_one_directory() {
    let dir_tmp = fresh_dir("threads");
    let dir = dir_tmp.path().to_path_buf();
    let modules: Vec<Vec<u8>> = vec![
        wasm(),
        wat::parse_str("(module (func (export \"f\") (result i32) (i32.const 1)))").unwrap(),
    ];
    std::thread::scope(|s| {
        for t in 0..6 {
            let (dir, modules) = (&dir, &modules);
            s.spawn(move || {
                for round in 0..3 {
                    let rt = runtime(dir, EngineKind::Compiler);
                    let wasm = &modules[(t + round) % 2];
                    let compiled = rt.compile(wasm).unwrap();
                    let m = rt.instantiate(&compiled, ModuleConfig::new().with_name("")).unwrap();
                    if (t + round) % 2 == 0 {
                        let run = m.typed_func::<(i32, i32), i32>("run").unwrap();
                        assert_eq!(run.call((9, 0)).unwrap(), 81);
                    } else {
                        assert_eq!(m.typed_func::<(), i32>("f").unwrap().call(()).unwrap(), 1);
                    }
                }
            });
        }
    });
    // Two intact entries, no temporary files.
    let names = entries(&dir);
    assert_eq!(names.len(), 2, "{names:?}");
    let rt = runtime(&dir, EngineKind::Compiler);
    for wasm in &modules {
        let entry = std::fs::read(entry_path(&rt, &dir, wasm)).unwrap();
        assert!(rt.load_cache_entry(wasm, &entry).is_ok());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_binary_is_an_error_even_with_an_entry() {
    let dir_tmp = fresh_dir("invalid");
    let dir = dir_tmp.path().to_path_buf();
    let rt = runtime(&dir, EngineKind::Compiler);
    assert!(rt.compile(b"\0asm\x01\0\0\0\x01").is_err());
    assert!(entries(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Times decoding (validation included), each engine's compile and a cache hit on a large
/// module: `KEEL_MEASURE_WASM=path cargo test -p keel --test cache measure -- --ignored
/// --nocapture` (default: bench/guests/gojson.wasm). The figures in docs/cache.md come from it.
#[test]
#[ignore]
fn measure_large_module() {
    use std::time::Instant;
    let path = std::env::var("KEEL_MEASURE_WASM").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/guests/gojson.wasm").into()
    });
    let wasm = std::fs::read(&path).unwrap();
    let best = |f: &mut dyn FnMut()| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let decode = best(&mut || {
        keel::decode::decode(&wasm, Features::V2).unwrap();
    });
    let interp = Runtime::with_config(RuntimeConfig::default(), EngineKind::Interpreter);
    let interp_compile = best(&mut || {
        interp.compile(&wasm).unwrap();
    });
    let dir_tmp = fresh_dir("measure");
    let dir = dir_tmp.path().to_path_buf();
    let compiler = Runtime::with_config(RuntimeConfig::default(), EngineKind::Compiler);
    let t = Instant::now();
    let compiled = compiler.compile(&wasm).unwrap();
    let cold = t.elapsed();
    let entry = compiler.cache_entry(&wasm, &compiled).unwrap();
    let cached = runtime(&dir, EngineKind::Compiler);
    cached.compile(&wasm).unwrap();
    let warm = best(&mut || {
        runtime(&dir, EngineKind::Compiler).compile(&wasm).unwrap();
    });
    let key = best(&mut || {
        compiler.cache_key(&wasm).unwrap();
    });
    println!("module: {path}, {} bytes", wasm.len());
    println!("decode + validate: {decode:?}");
    println!("interpreter compile (decode included): {interp_compile:?}");
    println!("compiler compile (decode included): {cold:?}");
    println!("compiler cache hit (decode included): {warm:?} (key: {key:?})");
    println!("cache entry: {} bytes", entry.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn module_without_code_is_cached() {
    let dir_tmp = fresh_dir("empty");
    let dir = dir_tmp.path().to_path_buf();
    let wasm = wat::parse_str("(module (memory 1))").unwrap();
    runtime(&dir, EngineKind::Compiler).compile(&wasm).unwrap();
    let rt = runtime(&dir, EngineKind::Compiler);
    let compiled = rt.compile(&wasm).unwrap();
    assert_eq!(rt.cache_stats().hits, 1);
    rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
