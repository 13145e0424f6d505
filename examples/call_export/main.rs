//! Calls an exported Wasm function from Rust, typed and untyped.
//!
//! Run with `cargo run --example call_export -- 30`.

use keel::{ModuleConfig, Runtime, Val};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(25);

    let runtime = Runtime::new();
    let compiled = runtime.compile(include_bytes!("fib.wasm"))?;
    let module = runtime.instantiate(&compiled, ModuleConfig::new())?;

    // Typed: the signature is checked once, calls are direct.
    let fib = module.typed_func::<i64, i64>("fib")?;
    println!("fib({n}) = {}", fib.call(n)?);

    // Untyped: values are checked against the signature on every call.
    let results = module.func("fib").ok_or("no fib export")?.call(&[Val::I64(10)])?;
    println!("fib(10) = {:?}", results[0]);
    Ok(())
}
