//! The heap and the end of the program: `emscripten_resize_heap` (malloc asking for more
//! memory), `emscripten_notify_memory_growth`, `emscripten_memcpy_big`,
//! `emscripten_get_heap_max`, and `abort`, `__assert_fail` and `exit`, with the semantics of
//! Emscripten's library.js.

use keel::{Caller, Trap};

use crate::mem::{memory, module, read_bytes, read_cstr, write_bytes};
use crate::{Def, I32};

const PAGE: u64 = 65536;
/// What `emscripten_get_heap_max` answers for a growable memory of no smaller maximum: one page
/// short of 4 GiB, as Emscripten's JS (so that heap sizes fit an i32 without wrapping to 0).
const HEAP_MAX: u64 = 4 * 1024 * 1024 * 1024 - PAGE;
/// Emscripten's defaults for growing the heap: by 20% at least, by at most 96 MiB more than
/// asked for.
const GEOMETRIC_STEP: f64 = 0.2;
const GEOMETRIC_CAP: u64 = 96 * 1024 * 1024;

pub(crate) const FUNCTIONS: &[Def] = &[
    Def { name: "emscripten_resize_heap", params: &[I32], results: &[I32], func: resize_heap },
    Def {
        name: "emscripten_notify_memory_growth",
        params: &[I32],
        results: &[],
        func: notify_memory_growth,
    },
    Def {
        name: "emscripten_memcpy_big",
        params: &[I32, I32, I32],
        results: &[I32],
        func: memcpy_big,
    },
    Def { name: "emscripten_memcpy_big", params: &[I32, I32, I32], results: &[], func: memcpy_big },
    Def { name: "emscripten_get_heap_max", params: &[], results: &[I32], func: get_heap_max },
    Def { name: "abort", params: &[], results: &[], func: abort },
    Def { name: "__assert_fail", params: &[I32, I32, I32, I32], results: &[], func: assert_fail },
    Def { name: "exit", params: &[I32], results: &[], func: exit },
];

/// Why an Emscripten guest stopped: `abort()`, a failed `assert`, a heap that cannot grow.
/// The host error of the trap that ends the call; `Display` is Emscripten's `Aborted(...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Aborted({0})")]
pub struct Aborted(pub String);

/// Emscripten's `abort(what)`: `Aborted(what)` and a newline on the guest's stderr, and a trap
/// that ends the program.
pub(crate) fn aborted(caller: &Caller<'_>, what: &str) -> Trap {
    let e = Aborted(what.to_string());
    if let Some(sys) = caller.sys() {
        let _ = sys.lock().write_out(true, format!("{e}\n").as_bytes());
    }
    Trap::host(e)
}

/// The largest the heap may grow to: the memory's declared maximum, capped at [`HEAP_MAX`].
fn heap_max(mem: &keel::Memory) -> u64 {
    let max = mem.ty().limits.max.map_or(u64::MAX, |pages| pages.saturating_mul(PAGE));
    max.min(HEAP_MAX)
}

/// Whether the guest was linked to grow its memory at all (`-sALLOW_MEMORY_GROWTH`): emcc
/// otherwise declares a maximum equal to the initial size.
fn can_grow(mem: &keel::Memory) -> bool {
    let ty = mem.ty();
    ty.limits.max != Some(ty.limits.min)
}

fn get_heap_max(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let mem = memory(&module(caller, "emscripten_get_heap_max")?)?;
    v[0] = if can_grow(&mem) { heap_max(&mem) } else { mem.size() };
    Ok(())
}

/// `emscripten_resize_heap(requestedSize) -> bool`: grows the memory to at least
/// `requestedSize` bytes, geometrically as Emscripten does; false when it cannot (malloc then
/// returns NULL). A guest linked without memory growth aborts with "OOM", as its glue does.
fn resize_heap(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let requested = v[0] as u32 as u64;
    let mem = memory(&module(caller, "emscripten_resize_heap")?)?;
    if !can_grow(&mem) {
        return Err(aborted(caller, "OOM"));
    }
    let old = mem.size();
    v[0] = 0;
    if requested <= old || requested > heap_max(&mem) {
        return Ok(());
    }
    for cut_down in [1.0, 2.0, 4.0] {
        let over_grown = (old as f64 * (1.0 + GEOMETRIC_STEP / cut_down)) as u64;
        let over_grown = over_grown.min(requested + GEOMETRIC_CAP);
        let new_size = requested.max(over_grown).next_multiple_of(PAGE).min(heap_max(&mem));
        let pages = (new_size.saturating_sub(mem.size())).div_ceil(PAGE);
        if mem.grow(pages).is_some() {
            v[0] = 1;
            return Ok(());
        }
    }
    Ok(())
}

/// The guest grew its memory itself (a standalone build's `memory.grow`): nothing to refresh,
/// keel has no views to renew. Logged under `--hostlogging=memory`.
fn notify_memory_growth(_: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    Ok(())
}

/// `emscripten_memcpy_big(dest, src, num)`: a copy within the memory (overlap allowed); out of
/// range is a trap where JavaScript's `copyWithin` would clamp.
fn memcpy_big(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (dest, src, num) = (v[0] as u32, v[1] as u32, v[2] as u32);
    let mem = memory(&module(caller, "emscripten_memcpy_big")?)?;
    let data = read_bytes(&mem, src, num)?;
    write_bytes(&mem, dest, &data)?;
    v[0] = dest as u64;
    Ok(())
}

fn abort(caller: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    Err(aborted(caller, ""))
}

/// `__assert_fail(condition, filename, line, function)`.
fn assert_fail(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let mem = memory(&module(caller, "__assert_fail")?)?;
    let text = |ptr: u64, none: &str| -> Result<String, Trap> {
        match ptr as u32 {
            0 => Ok(none.to_string()),
            p => Ok(String::from_utf8_lossy(&read_cstr(&mem, p)?).into_owned()),
        }
    };
    let condition = text(v[0], "")?;
    let file = text(v[1], "unknown filename")?;
    let function = text(v[3], "unknown function")?;
    let what = format!("Assertion failed: {condition}, at: {file},{},{function}", v[2] as u32);
    Err(aborted(caller, &what))
}

/// `exit(status)`, which Emscripten's libc routes to its glue: the program ends with `status`.
fn exit(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    caller.close_module();
    Err(Trap::exit(v[0] as u32))
}
