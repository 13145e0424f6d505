//! A Wasm module calling Rust closures: one reads a string from the caller's memory, one adds.
//!
//! Run with `cargo run --example host_function`.

use keel::{Caller, ModuleConfig, Runtime, Trap};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::new();
    runtime
        .host_module("env")
        .func("log", |caller: &mut Caller<'_>, ptr: u32, len: u32| -> Result<(), Trap> {
            let memory = caller.memory().ok_or_else(|| Trap::host("caller has no memory"))?;
            let mut bytes = vec![0; len as usize];
            if !memory.read(ptr as u64, &mut bytes) {
                return Err(Trap::host("log: string out of bounds"));
            }
            println!("guest says: {}", String::from_utf8_lossy(&bytes));
            Ok(())
        })
        .func("add", |_: &mut Caller<'_>, a: i32, b: i32| a.wrapping_add(b))
        .instantiate()?;

    let module = runtime.instantiate_bytes(include_bytes!("log.wasm"), ModuleConfig::new())?;
    let run = module.typed_func::<(i32, i32), i32>("run")?;
    println!("run(40, 2) = {}", run.call((40, 2))?);
    Ok(())
}
