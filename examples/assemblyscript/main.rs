//! AssemblyScript guests (built by asc without WASI: they import `env.abort`, `env.trace`,
//! `env.seed`) on keel-assemblyscript: one traces, one fails an assertion and exits with 255.
//!
//! Run with `cargo run -p keel-assemblyscript --example assemblyscript`.

use keel::{ModuleConfig, Runtime};

const TRACE: &[u8] = include_bytes!("../../imports/assemblyscript/testdata/trace.wasm");
const ABORT: &[u8] = include_bytes!("../../imports/assemblyscript/testdata/abort.wasm");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::new();
    // trace is discarded by default (as wazero); send it to the guest's stdout.
    keel_assemblyscript::FunctionExporter::new().with_trace_to_stdout().instantiate(&runtime)?;

    // Top-level code runs in the start section, so instantiating runs the program.
    let config = ModuleConfig::new().with_stdout(std::io::stdout()).with_name("trace");
    runtime.instantiate_bytes(TRACE, config)?;

    // abort writes its message to the guest's stderr and exits with 255.
    let config = ModuleConfig::new()
        .with_stdout(std::io::stdout())
        .with_stderr(std::io::stderr())
        .with_name("abort");
    match runtime.instantiate_bytes(ABORT, config) {
        Err(e) if e.exit_code() == Some(255) => println!("the guest aborted (exit code 255)"),
        other => println!("unexpected: {:?}", other.map(|_| ())),
    }
    Ok(())
}
