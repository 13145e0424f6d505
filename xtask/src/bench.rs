//! `cargo xtask bench`.

use std::process::ExitCode;

pub fn run(_args: &[String]) -> Result<ExitCode, String> {
    Err("not implemented yet".into())
}
