//! The `spectest` host module that the spec scripts import from.

use keel::{Caller, Limits, MemoryType, Runtime, TableType, Val, ValType};

/// Instantiates the standard `spectest` module into `runtime`: the `print*` functions (silent,
/// or printing their arguments to stderr when `verbose`), the immutable globals `global_i32`,
/// `global_i64` (666), `global_f32` and `global_f64` (666.6), a funcref `table` (10 to 20
/// elements) and a `memory` (1 to 2 pages).
pub fn instantiate_spectest(runtime: &Runtime, verbose: bool) -> keel::Result<keel::Module> {
    let say = move |what: String| {
        if verbose {
            eprintln!("spectest: {what}");
        }
    };
    runtime
        .host_module("spectest")
        .func("print", move |_: &mut Caller<'_>| say("print()".into()))
        .func("print_i32", move |_: &mut Caller<'_>, x: i32| say(format!("print_i32({x})")))
        .func("print_i64", move |_: &mut Caller<'_>, x: i64| say(format!("print_i64({x})")))
        .func("print_f32", move |_: &mut Caller<'_>, x: f32| say(format!("print_f32({x})")))
        .func("print_f64", move |_: &mut Caller<'_>, x: f64| say(format!("print_f64({x})")))
        .func("print_i32_f32", move |_: &mut Caller<'_>, x: i32, y: f32| {
            say(format!("print_i32_f32({x}, {y})"))
        })
        .func("print_f64_f64", move |_: &mut Caller<'_>, x: f64, y: f64| {
            say(format!("print_f64_f64({x}, {y})"))
        })
        .global("global_i32", Val::I32(666), false)
        .global("global_i64", Val::I64(666), false)
        .global("global_f32", Val::from(666.6f32), false)
        .global("global_f64", Val::from(666.6f64), false)
        .table(
            "table",
            TableType { element: ValType::FuncRef, limits: Limits { min: 10, max: Some(20) } },
            Val::FuncRef(None),
        )
        .memory(
            "memory",
            MemoryType { limits: Limits { min: 1, max: Some(2) }, shared: false, memory64: false },
        )
        .instantiate()
}
