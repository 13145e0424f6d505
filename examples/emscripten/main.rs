//! Runs a program built by Emscripten (`emcc app.c -o app.js` makes `app.wasm` beside the JS
//! glue, which keel does not need; `-sSTANDALONE_WASM` builds run too):
//! `cargo run -p keel-emscripten --example emscripten -- FILE.wasm [ARGS...]`, with the
//! current directory mounted at `/`, real clocks, and the exit code of the guest. Without FILE it
//! runs the C++ exceptions guest of the tests.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/exceptions.wasm").to_string()
    });
    let runtime = keel::Runtime::new();
    let compiled = runtime.compile(&std::fs::read(&file)?)?;
    // Emscripten guests write, read and exit through WASI, beside their own `env`.
    keel_emscripten::instantiate_wasi(&runtime, &compiled)?;
    keel_emscripten::instantiate_for(&runtime, &compiled)?;
    let config = keel::ModuleConfig::new()
        .with_args(std::iter::once(file.clone()).chain(args))
        .with_stdout(std::io::stdout())
        .with_stderr(std::io::stderr())
        .with_mount("/", keel_sys::DirFs::open(".")?)
        .with_sys_walltime()
        .with_sys_nanotime()
        .with_sys_sleep()
        .with_os_random();
    let code = keel_emscripten::run(&runtime, &compiled, config)?;
    std::process::exit(code as i32)
}
