//! Times decoding (with validation) and translation of modules, for profiling the translator:
//! `cargo run --release -p keel-interp --example compile -- TIMES FILE.wasm...`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_interp::Interpreter;
use keel_runtime::{CompileOptions, Engine};

fn main() {
    let mut args = std::env::args().skip(1);
    let times: u32 = args.next().expect("usage: compile TIMES FILE...").parse().expect("count");
    let files: Vec<Vec<u8>> = args.map(|p| std::fs::read(p).expect("readable file")).collect();
    let (mut decode, mut translate) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..times {
        for wasm in &files {
            let t0 = Instant::now();
            let module = Arc::new(keel_decode::decode(wasm, keel_decode::Features::V2).unwrap());
            let t1 = Instant::now();
            Interpreter.compile(&module, CompileOptions::default()).unwrap();
            translate += t1.elapsed();
            decode += t1 - t0;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / times as f64;
    println!("per round: decode {:.1} µs, translate {:.1} µs", per(decode), per(translate));
}
