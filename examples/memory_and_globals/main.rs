//! Reads and writes a guest's memory and globals from Rust.
//!
//! Run with `cargo run --example memory_and_globals`.

use keel::{ModuleConfig, Runtime, Val};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::new();
    let module = runtime.instantiate_bytes(include_bytes!("counter.wasm"), ModuleConfig::new())?;

    // Memory: write bytes from the host, let the guest sum them, read them back.
    let memory = module.memory("memory").ok_or("no memory export")?;
    memory.write(100, &[1, 2, 3, 4, 5])?;
    let sum = module.typed_func::<(i32, i32), i32>("sum")?;
    println!("sum of 5 bytes = {}", sum.call((100, 5))?);
    let mut back = [0u8; 5];
    memory.read(100, &mut back)?;
    println!("bytes = {back:?}, memory = {} pages", memory.pages());
    println!("grow by 1 page: was {:?} pages", memory.grow(1));

    // Globals: the guest bumps a counter, the host reads and resets it.
    let count = module.global("count").ok_or("no count export")?;
    let bump = module.typed_func::<(), i32>("bump")?;
    bump.call(())?;
    bump.call(())?;
    println!("count = {:?}", count.get());
    count.set(Val::I32(100))?;
    println!("after set: bump() = {}", bump.call(())?);
    Ok(())
}
