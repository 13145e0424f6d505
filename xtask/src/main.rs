//! `cargo xtask`: keel's developer tasks.
//!
//! - `cargo xtask spectest [--engine interpreter|compiler|all] [--suite v1|v2|simd|<proposal>|all] [FILTER]`
//! - `cargo xtask bench [FILTER]`
//! - `cargo xtask testdata`
//! - `cargo xtask wasi-testsuite [--engine interpreter|compiler|all] [--dir DIR] [FILTER]`

use std::process::ExitCode;

mod bench;
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
        "testdata" => testdata::run(&rest),
        "wasi-testsuite" => wasi_testsuite::run(&rest),
        _ => {
            eprintln!("usage: cargo xtask <spectest|bench|testdata|wasi-testsuite> [ARGS...]");
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
