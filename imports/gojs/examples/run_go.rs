//! Runs a `GOOS=js GOARCH=wasm` program: `cargo run -p keel-gojs --example run_go -- FILE.wasm [ARGS...]`,
//! with the current directory mounted at `/`, real clocks, and the exit code of the guest.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: run_go FILE.wasm [ARGS...]")?;
    let runtime = keel::Runtime::new();
    keel_gojs::instantiate(&runtime)?;
    let compiled = runtime.compile(&std::fs::read(&file)?)?;
    let config = keel::ModuleConfig::new()
        .with_args(std::iter::once(file.clone()).chain(args))
        .with_stdout(std::io::stdout())
        .with_stderr(std::io::stderr())
        .with_mount("/", keel_sys::DirFs::open(".")?)
        .with_sys_walltime()
        .with_sys_nanotime()
        .with_sys_sleep()
        .with_os_random();
    match keel_gojs::run(&runtime, &compiled, config) {
        Err(e) if e.exit_code().is_some() => std::process::exit(e.exit_code().unwrap() as i32),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}
