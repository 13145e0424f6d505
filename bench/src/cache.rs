//! The `cache` row: compile-and-instantiate of the largest guest (the Go program) on keel's
//! compiler with a cold compilation cache (an empty directory each time) and a warm one. The
//! target (issue 6) is warm at least 10x faster than cold. keel's compiler only: the other
//! columns have no such cache here.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keel::decode::ImportType;
use keel::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};

/// The guest: `guests/gojson.wasm` if present, else the largest `.wasm` in `guests/`
/// (`--quick`: the smallest, a smoke test).
fn guest(quick: bool) -> Result<(String, Vec<u8>), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("guests");
    let go = dir.join("gojson.wasm");
    let path = if go.exists() && !quick {
        go
    } else {
        let mut all: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
            .collect();
        all.sort();
        let pick = if quick { all.first() } else { all.last() };
        pick.ok_or("no guest")?.1.clone()
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    Ok((name, bytes))
}

/// Compiles and instantiates `wasm` in a fresh runtime caching in `dir`, every import a stub,
/// no start function run.
fn compile_and_instantiate(wasm: &[u8], dir: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let config = RuntimeConfig::default().with_cache_dir(dir);
    let rt = Runtime::with_config(config, EngineKind::Compiler);
    let compiled = rt.compile(wasm).map_err(|e| e.to_string())?;
    let desc = compiled.description().clone();
    let mut modules: Vec<&str> = compiled.imports().map(|(m, _, _)| m).collect();
    modules.dedup();
    for module in modules {
        let mut host = rt.host_module(module);
        for (m, name, ty) in compiled.imports() {
            if let (true, ImportType::Func(t)) = (m == module, ty) {
                let ty = desc.types[*t as usize].clone();
                host = host.func_raw(name, ty, |_, _| Ok(()));
            }
        }
        host.instantiate().map_err(|e| e.to_string())?;
    }
    let config = ModuleConfig::new().with_name("").with_start_functions(Vec::<String>::new());
    rt.instantiate(&compiled, config).map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the row: `runs` cold and `runs` warm samples (at least 1 and 3). Returns the line to
/// print, or an error.
pub fn run(runs: usize, quick: bool) -> Result<String, String> {
    let (name, wasm) = guest(quick)?;
    let root = std::env::temp_dir().join(format!("keel-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let result = (|| {
        let mut cold = Vec::new();
        for i in 0..runs.max(1) {
            cold.push(compile_and_instantiate(&wasm, &root.join(format!("cold{i}")))?);
        }
        let warm_dir = root.join("warm");
        compile_and_instantiate(&wasm, &warm_dir)?;
        let mut warm = Vec::new();
        for _ in 0..runs.max(3) {
            warm.push(compile_and_instantiate(&wasm, &warm_dir)?);
        }
        let (cold, warm) = (median(cold), median(warm));
        Ok(format!(
            "cache: compile + instantiate {name} ({:.1} MB) on keel-compiler: cold {:.1} ms, \
             warm {:.1} ms, {:.0}x (target: >= 10x)",
            wasm.len() as f64 / 1e6,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3,
            cold.as_secs_f64() / warm.as_secs_f64()
        ))
    })();
    let _ = std::fs::remove_dir_all(&root);
    result
}
