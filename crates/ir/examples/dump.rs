//! Prints the bytecode of every defined function of a `.wasm` or `.wat` file:
//! `cargo run -p keel-ir --example dump -- FILE [FUNC_INDEX]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: dump FILE [FUNC_INDEX]");
    let only: Option<u32> = args.next().map(|a| a.parse().expect("a function index"));
    let bytes = std::fs::read(&path).expect("readable file");
    let wasm = wat::parse_bytes(&bytes).expect("wasm or wat").into_owned();
    let module = keel_decode::decode(&wasm, keel_decode::Features::V2).expect("valid module");
    for def in 0..module.num_defined_functions() {
        let index = module.num_imported_functions + def;
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let name = module.names.function(index).unwrap_or("?");
        match keel_ir::translate_function(&module, def) {
            Ok(f) => {
                println!(
                    "func {index} {name}: params {} results {} frame {} init {}",
                    f.num_params,
                    f.num_results,
                    f.frame_size,
                    f.init.len()
                );
                for (i, instr) in f.code.iter().enumerate() {
                    println!("  {i:4}  {instr:?}");
                }
            }
            Err(e) => println!("func {index} {name}: error: {e}"),
        }
    }
}
