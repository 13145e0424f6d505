#![forbid(unsafe_code)]
//! `cargo xtask`: keel's developer tasks.
//!
//! - `cargo xtask spectest [--engine interpreter|compiler|tiered|all] [--suite v1|v2|simd|<proposal>|all] [FILTER]`
//! - `cargo xtask bench [FILTER]`
//! - `cargo xtask testdata`
//! - `cargo xtask gotest [--go PATH]... [PKG...]`
//! - `cargo xtask wasi-testsuite [--engine interpreter|compiler|tiered|all] [--dir DIR] [FILTER]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod gotest;
mod spectest;
mod testdata;
mod wasi_testsuite;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "spectest" => spectest::run(&rest),
        "bench" => bench::run(&rest),
        "gotest" => gotest::run(&rest),
        "testdata" => testdata::run(&rest),
        "wasi-testsuite" => wasi_testsuite::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <spectest|bench|testdata|wasi-testsuite|gotest> [ARGS...]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: the parent of xtask's manifest directory.
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Whether `arg` is the flag `flag`, as `--flag` or `--flag=VALUE`.
fn is_flag(arg: &str, flag: &str) -> bool {
    arg == flag || arg.strip_prefix(flag).is_some_and(|rest| rest.starts_with('='))
}

/// The value of the flag `flag` that `arg` is: after its `=`, or else the next argument.
fn flag_value<'a>(
    arg: &str,
    flag: &str,
    rest: &mut impl Iterator<Item = &'a String>,
    usage: &str,
) -> Result<String, String> {
    match arg.strip_prefix(flag).and_then(|rest| rest.strip_prefix('=')) {
        Some(v) => Ok(v.to_string()),
        None => rest.next().cloned().ok_or_else(|| format!("{flag} needs a value\n{usage}")),
    }
}
