//! `cargo xtask bench [FILTER] [OPTIONS]`: runs the benchmark harness of `bench/`.
//!
//! The harness is its own cargo workspace (so that its peers, wasmi and later wasmtime, are
//! never part of the main build); this builds it in release mode with its own target directory,
//! `bench/target`, and streams its output. The arguments go to the harness unchanged: see
//! `cargo xtask bench --help` and docs/performance.md.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The task.
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let root = repo_root();
    let bench = root.join("bench");
    let manifest = bench.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} is missing", manifest.display()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--release", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(bench.join("target"))
        .arg("--")
        .args(args)
        .current_dir(&root)
        // The main workspace's settings for the xtask build must not leak into this one.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The repository root: the parent of xtask's manifest directory.
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}
