#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! keel-gojs: Go's `GOOS=js GOARCH=wasm` guests on keel, without a JavaScript engine.
//!
//! Go compiles for `js/wasm` against the JavaScript glue of its release (`wasm_exec.js`): the
//! module imports `runtime.*` and `syscall/js.*` functions from module `go` (Go 1.11–1.20) or
//! `gojs` (Go 1.21 and later), and reaches the JavaScript world — `fs`, `process`, `crypto`,
//! `Date`... — through `syscall/js`. keel-gojs provides both modules and that world, on the
//! guest's keel-sys view (arguments, environment, stdio, mounts, clocks, random), and runs the
//! guest as wasm_exec.js does: `run(argc, argv)`, then its timers through `resume` until Go
//! exits.
//!
//! ```no_run
//! use keel::{ModuleConfig, Runtime};
//!
//! let runtime = Runtime::new();
//! keel_gojs::instantiate(&runtime)?;
//! let compiled = runtime.compile(&std::fs::read("hello.wasm")?)?;
//! let config = ModuleConfig::new().with_args(["hello"]).with_stdout(std::io::stdout());
//! match keel_gojs::run(&runtime, &compiled, config) {
//!     Err(e) if e.exit_code().is_some() => std::process::exit(e.exit_code().unwrap() as i32),
//!     Err(e) => eprintln!("{e}"),
//!     Ok(()) => {}
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See docs/go.md for what the world holds and how it differs from node.

mod builtins;
mod fs;
mod imports;
mod logging;
mod value;
mod world;

use keel::{CompiledModule, Module, ModuleConfig, Runtime, Trap, Val};

use crate::value::{Obj, Value};
use crate::world::{Ctx, Throw};

pub use logging::logger;

/// The module Go 1.11–1.20 import from.
pub const MODULE_NAME_LEGACY: &str = "go";
/// The module Go 1.21 and later import from.
pub const MODULE_NAME: &str = "gojs";

/// Where wasm_exec.js writes the arguments and environment, and where Go's data starts (its
/// linker's `wasmMinDataAddr`): they must fit in between.
const ARGS_START: u64 = 4096;
const ARGS_END: u64 = 4096 + 8192;

/// Instantiates both modules (`go` and `gojs`) into `runtime`, so that a guest of any Go
/// release links. Call once per runtime, before [`run`].
pub fn instantiate(runtime: &Runtime) -> keel::Result<()> {
    for name in [MODULE_NAME_LEGACY, MODULE_NAME] {
        instantiate_as(runtime, name)?;
    }
    Ok(())
}

/// Instantiates the Go imports into `runtime` under one module name, [`MODULE_NAME`] or
/// [`MODULE_NAME_LEGACY`] (what [`instantiate`] does for both).
pub fn instantiate_as(runtime: &Runtime, name: &str) -> keel::Result<Module> {
    imports::export(runtime.host_module(name)).instantiate()
}

/// Whether keel-gojs provides the import `name` (of module `go` or `gojs`).
pub fn provides(name: &str) -> bool {
    name == "debug" || imports::IMPORTS.iter().any(|(n, _)| *n == name)
}

/// Whether `compiled` is a Go `js/wasm` guest: it imports from `go` or `gojs`.
pub fn is_go(compiled: &CompiledModule) -> bool {
    compiled.imports().any(|(m, _, _)| m == MODULE_NAME || m == MODULE_NAME_LEGACY)
}

/// Runs a Go guest as node runs it with wasm_exec.js: instantiates it with `config` (its start
/// functions are ignored), lays out its arguments and environment as wasm_exec.js does, calls
/// `run(argc, argv)`, then fires its timers in deadline order through `resume` until Go exits.
///
/// Go always exits through `runtime.wasmExit`, so this returns the guest's exit as an error
/// whose [`keel::Error::exit_code`] is its code — 0 included, as WASI's `proc_exit(0)`; a Go
/// panic exits 2 after printing its trace to the guest's stderr; a deadlock (no goroutine can
/// run and no timer is pending) makes Go print "all goroutines are asleep" and exit 2. Any other
/// error is a trap or an instantiation failure.
pub fn run(runtime: &Runtime, compiled: &CompiledModule, config: ModuleConfig) -> keel::Result<()> {
    let args = config.sys.args.clone();
    let mut env = config.sys.env.clone();
    // wasm_exec.js passes the environment sorted by key (Object.keys(env).sort()).
    env.sort_by(|a, b| a.0.cmp(&b.0));
    let module = runtime.instantiate(compiled, config.with_start_functions::<&str>([]))?;
    let argv = lay_out_args(&module, &args, &env)?;
    let run = module.func("run").ok_or_else(|| usage("the Go guest exports no run"))?;
    run.call(&[Val::I32(args.len() as i32), Val::I32(argv as i32)])?;
    event_loop(&module)
}

fn usage(msg: &str) -> keel::Error {
    keel::Error::Trap(Trap::host(msg.to_string()))
}

/// Writes argv and the environment from offset 4096 as wasm_exec.js does: each string
/// NUL-terminated and 8-aligned, then the pointers (8 bytes each) to the arguments, a 0, to the
/// `KEY=VALUE` strings, a 0. Returns the address of the pointer array.
fn lay_out_args(module: &Module, args: &[String], env: &[(String, String)]) -> keel::Result<u64> {
    let memory = module.memory("mem").ok_or_else(|| usage("the Go guest exports no memory mem"))?;
    let mut offset = ARGS_START;
    let mut bytes = Vec::new();
    let mut ptrs = Vec::new();
    let mut string = |s: &str, ptrs: &mut Vec<u64>| {
        ptrs.push(offset);
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
        let len = (s.len() as u64 + 1).next_multiple_of(8);
        bytes.resize((offset - ARGS_START + len) as usize, 0);
        offset += len;
    };
    if args.iter().map(String::len).sum::<usize>()
        + env.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        > ARGS_END as usize
    {
        return Err(usage("total length of command line and environment variables exceeds limit"));
    }
    for a in args {
        string(a, &mut ptrs);
    }
    ptrs.push(0);
    for (k, v) in env {
        string(&format!("{k}={v}"), &mut ptrs);
    }
    ptrs.push(0);
    let argv = offset;
    for p in &ptrs {
        bytes.extend_from_slice(&p.to_le_bytes());
        offset += 8;
    }
    if offset >= ARGS_END {
        // wasm_exec.js's own error, before Go runs.
        return Err(usage("total length of command line and environment variables exceeds limit"));
    }
    memory.write(ARGS_START, &bytes)?;
    Ok(argv)
}

/// After `run` returned: Go waits for its timers (goroutines asleep in time.Sleep, tickers,
/// timeouts) or has deadlocked. Fires the earliest timer, after waiting for its deadline on the
/// guest's clocks (a fake clock jumps to it), and resumes Go, until Go exits.
fn event_loop(module: &Module) -> keel::Result<()> {
    let sys = module.sys().ok_or_else(|| usage("the Go guest has no system context"))?;
    let state = imports::state_of(sys);
    let mut ctx = Ctx { state: &state, module, sys };
    loop {
        let next = {
            let w = state.world();
            w.timers.iter().min_by_key(|(id, deadline)| (**deadline, **id)).map(|(id, d)| (*id, *d))
        };
        let Some((id, deadline)) = next else {
            // Nothing can wake Go: make it report its deadlock, as wasm_exec_node.js does when
            // node's event loop empties (a pending event of id 0).
            let event = Obj::plain();
            event.set("id", Value::num(0));
            state.go.set("_pendingEvent", Value::Object(event));
            resume(&mut ctx)?;
            if state.world().timers.is_empty() {
                return Ok(());
            }
            continue;
        };
        {
            let mut st = sys.lock();
            let now = st.nanotime();
            if deadline > now {
                let wait = deadline - now;
                if st.sleep_is_real() {
                    st.sleep(wait);
                } else {
                    st.skip_fake_time(wait);
                }
            }
        }
        state.world().timers.remove(&id);
        resume(&mut ctx)?;
    }
}

fn resume(ctx: &mut Ctx<'_>) -> keel::Result<()> {
    match ctx.resume() {
        Ok(()) => Ok(()),
        Err(Throw::Trap(t)) => Err(keel::Error::Trap(t)),
        Err(Throw::Js(v)) => Err(usage(&v.to_js_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_module_names_are_go() {
        assert_eq!(imports::IMPORTS.len(), 25);
        assert!(imports::IMPORTS.iter().any(|(n, _)| *n == "runtime.walltime1"));
    }
}
