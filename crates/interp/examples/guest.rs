//! Runs one exported `(i32) -> i32|i64` function of a module on the interpreter, for profiling:
//! `cargo run --release -p keel-interp --example guest -- FILE.wasm EXPORT ARG [TIMES]`.

use std::sync::Arc;

use keel_interp::Interpreter;
use keel_runtime::{ModuleConfig, Runtime, RuntimeConfig, Val};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: guest FILE EXPORT ARG [TIMES]");
    let export = args.next().expect("an export");
    let arg: i32 = args.next().expect("an argument").parse().expect("an i32");
    let times: u32 = args.next().map_or(1, |t| t.parse().expect("a count"));
    let wasm = std::fs::read(&path).expect("readable file");
    let rt = Runtime::with_engine(RuntimeConfig::default(), Arc::new(Interpreter));
    // The bench's `calls.wasm` imports `env.inc`.
    rt.host_module("env")
        .func("inc", |_: &mut keel_runtime::Caller<'_>, x: i32| x.wrapping_add(1))
        .instantiate()
        .expect("the host module env instantiates");
    let m = rt.instantiate_bytes(&wasm, ModuleConfig::new().with_name("guest")).expect("instance");
    let f = m.func(&export).expect("export");
    let mut r = Vec::new();
    for _ in 0..times {
        r = f.call(&[Val::I32(arg)]).expect("no trap");
    }
    println!("{r:?}");
}
