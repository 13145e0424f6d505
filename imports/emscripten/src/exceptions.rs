//! C++ exceptions in Emscripten's JavaScript ABI (`em++ -fexceptions`), setjmp/longjmp, and
//! `getTempRet0`/`setTempRet0`, with the semantics of Emscripten's library_exceptions.js.
//!
//! A thrown object is preceded in guest memory by the header libc++abi's `__cxa_exception`
//! stands for (16 bytes: reference count, type, destructor, caught, rethrown); a catch block
//! works on a `CatchInfo` (8 bytes from the guest's `malloc`: the thrown pointer and the pointer
//! adjusted to the caught base class). Throwing unwinds to the nearest `invoke_` as a trap
//! carrying [`Unwind`]; the guest then asks `__cxa_find_matching_catch_<n>` which of its `n`
//! clauses catches, through its own `__cxa_can_catch`. The JS glue keeps `exceptionLast`,
//! `exceptionCaught` and `uncaughtExceptionCount` in JavaScript; keel keeps them per instance.

use keel::{Caller, FuncType, Module, Trap, ValType};

use crate::invoke::{Unwind, call_i32};
use crate::mem::{memory, module, read_u8, read_u32, write_bytes, write_u32};
use crate::state::{self, Inner};
use crate::{Callback, Def, I32};

/// An uncaught C++ exception, as it ends a guest: the pointer to the thrown object. A trap
/// whose host error is an [`Unwind`] reads as this; see [`CppException::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CppException {
    /// The thrown object's address in guest memory.
    pub ptr: u32,
}

impl CppException {
    /// The uncaught C++ exception or longjmp that ended a call, if that is what `error` is:
    /// `Some(None)` for a longjmp with no setjmp, `Some(Some(e))` for an exception.
    pub fn of(error: &keel::Error) -> Option<Option<CppException>> {
        match Unwind::of(error.as_trap()?)? {
            Unwind::Exception(ptr) => Some(Some(CppException { ptr })),
            Unwind::Longjmp => Some(None),
        }
    }
}

/// `sizeof(__cxa_exception)` in Emscripten's libc++abi, and its fields' offsets.
const HEADER: u32 = 16;
const REFCOUNT: u32 = 0;
const TYPE: u32 = 4;
const DESTRUCTOR: u32 = 8;
const CAUGHT: u32 = 12;
const RETHROWN: u32 = 13;

pub(crate) const FUNCTIONS: &[Def] = &[
    def("getTempRet0", &[], &[I32], get_temp_ret0),
    def("setTempRet0", &[I32], &[], set_temp_ret0),
    def("_emscripten_throw_longjmp", &[], &[], throw_longjmp),
    def("emscripten_longjmp", &[I32, I32], &[], longjmp),
    def("__cxa_allocate_exception", &[I32], &[I32], allocate_exception),
    def("__cxa_free_exception", &[I32], &[], free_exception),
    def("__cxa_throw", &[I32, I32, I32], &[], throw),
    def("__cxa_rethrow", &[], &[], rethrow),
    def("__cxa_begin_catch", &[I32], &[I32], begin_catch),
    def("__cxa_end_catch", &[], &[], end_catch),
    def("__resumeException", &[I32], &[], resume_exception),
    def("__cxa_uncaught_exceptions", &[], &[I32], uncaught_exceptions),
    def("llvm_eh_typeid_for", &[I32], &[I32], typeid_for),
    def("__cxa_get_exception_ptr", &[I32], &[I32], get_exception_ptr),
    def("__cxa_increment_exception_refcount", &[I32], &[], increment_refcount),
    def("__cxa_decrement_exception_refcount", &[I32], &[], decrement_refcount),
    def("__cxa_current_primary_exception", &[], &[I32], current_primary_exception),
    def("__cxa_rethrow_primary_exception", &[I32], &[], rethrow_primary_exception),
];

const fn def(
    name: &'static str,
    params: &'static [ValType],
    results: &'static [ValType],
    func: crate::HostFn,
) -> Def {
    Def { name, params, results, func }
}

/// `__cxa_find_matching_catch_<n>(type1, ..., type(n-2)) -> i32`, for any `n >= 2`: LLVM counts
/// two more than the clauses' types (the import's type must be `n - 2` i32 parameters and an
/// i32 result).
pub(crate) fn find_matching_catch(name: &str, ty: &FuncType) -> Option<Callback> {
    let n: usize = name.strip_prefix("__cxa_find_matching_catch_")?.parse().ok()?;
    let n = n.checked_sub(2)?;
    let want = FuncType::new(vec![ValType::I32; n], [ValType::I32]);
    (ty == &want).then(|| -> Callback {
        std::sync::Arc::new(move |c: &mut Caller<'_>, v: &mut [u64]| find_matching(c, v, n))
    })
}

fn get_temp_ret0(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    v[0] = state::of(caller, "getTempRet0")?.lock().temp_ret0 as u32 as u64;
    Ok(())
}

fn set_temp_ret0(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    state::of(caller, "setTempRet0")?.lock().temp_ret0 = v[0] as u32 as i32;
    Ok(())
}

fn throw_longjmp(_: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    Err(Trap::host(Unwind::Longjmp))
}

/// `emscripten_longjmp(env, value)` of emcc before 2.0.x: what 3.1's libc does in Wasm —
/// `setThrew(env, value)`, then unwind.
fn longjmp(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "emscripten_longjmp")?;
    call_i32(&module, "setThrew", &[v[0] as i32, v[1] as i32])?;
    Err(Trap::host(Unwind::Longjmp))
}

/// The exception header of the thrown object at `ptr`.
fn header(ptr: u32) -> u32 {
    ptr.wrapping_sub(HEADER)
}

fn allocate_exception(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_allocate_exception")?;
    let size =
        (v[0] as u32).checked_add(HEADER).ok_or_else(|| Trap::host("exception too large"))?;
    let p = call_i32(&module, "malloc", &[size as i32])? as u32;
    v[0] = if p == 0 { 0 } else { (p + HEADER) as u64 };
    Ok(())
}

fn free_exception(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_free_exception")?;
    free(&module, header(v[0] as u32))
}

fn free(module: &Module, ptr: u32) -> Result<(), Trap> {
    call_i32(module, "free", &[ptr as i32]).map(drop)
}

/// `__cxa_throw(ptr, type, destructor)`: fills the header and unwinds.
fn throw(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (ptr, ty, destructor) = (v[0] as u32, v[1] as u32, v[2] as u32);
    let module = module(caller, "__cxa_throw")?;
    let mem = memory(&module)?;
    let h = header(ptr);
    write_u32(&mem, h + REFCOUNT, 0)?;
    write_u32(&mem, h + TYPE, ty)?;
    write_u32(&mem, h + DESTRUCTOR, destructor)?;
    write_bytes(&mem, h + CAUGHT, &[0, 0])?;
    let state = state::of(caller, "__cxa_throw")?;
    let mut st = state.lock();
    st.exception_last = ptr;
    st.uncaught_exceptions += 1;
    Err(Trap::host(Unwind::Exception(ptr)))
}

/// `__cxa_rethrow()`: throws the exception of the innermost catch block again.
fn rethrow(caller: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_rethrow")?;
    let mem = memory(&module)?;
    let state = state::of(caller, "__cxa_rethrow")?;
    let catch_info = state.lock().exception_caught.pop();
    let Some(catch_info) = catch_info else {
        return Err(abort(caller, "no exception to throw"));
    };
    let ptr = read_u32(&mem, catch_info)?;
    let h = header(ptr);
    if read_u8(&mem, h + RETHROWN)? == 0 {
        state.lock().exception_caught.push(catch_info);
        write_bytes(&mem, h + CAUGHT, &[0])?;
        write_bytes(&mem, h + RETHROWN, &[1])?;
        state.lock().uncaught_exceptions += 1;
    } else {
        free(&module, catch_info)?;
    }
    state.lock().exception_last = ptr;
    Err(Trap::host(Unwind::Exception(ptr)))
}

/// The pointer a catch clause receives: the thrown pointer itself when a pointer was thrown,
/// else the object adjusted to the caught class.
fn exception_ptr(module: &Module, catch_info: u32) -> Result<u32, Trap> {
    let mem = memory(module)?;
    let base = read_u32(&mem, catch_info)?;
    let ty = read_u32(&mem, header(base) + TYPE)?;
    if call_i32(module, "__cxa_is_pointer_type", &[ty as i32])? != 0 {
        return read_u32(&mem, base);
    }
    match read_u32(&mem, catch_info + 4)? {
        0 => Ok(base),
        adjusted => Ok(adjusted),
    }
}

/// `__cxa_begin_catch(catchInfo) -> ptr`.
fn begin_catch(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let catch_info = v[0] as u32;
    let module = module(caller, "__cxa_begin_catch")?;
    let mem = memory(&module)?;
    let h = header(read_u32(&mem, catch_info)?);
    let state = state::of(caller, "__cxa_begin_catch")?;
    if read_u8(&mem, h + CAUGHT)? == 0 {
        write_bytes(&mem, h + CAUGHT, &[1])?;
        state.lock().uncaught_exceptions -= 1;
    }
    write_bytes(&mem, h + RETHROWN, &[0])?;
    state.lock().exception_caught.push(catch_info);
    add_ref(&module, h)?;
    v[0] = exception_ptr(&module, catch_info)? as u64;
    Ok(())
}

fn add_ref(module: &Module, h: u32) -> Result<(), Trap> {
    let mem = memory(module)?;
    let n = read_u32(&mem, h + REFCOUNT)?;
    write_u32(&mem, h + REFCOUNT, n.wrapping_add(1))
}

/// Drops a reference to the exception at `ptr`; the last one (unless it is being rethrown)
/// runs its destructor and frees it.
fn dec_ref(module: &Module, ptr: u32) -> Result<(), Trap> {
    let mem = memory(module)?;
    let h = header(ptr);
    let n = read_u32(&mem, h + REFCOUNT)?;
    write_u32(&mem, h + REFCOUNT, n.wrapping_sub(1))?;
    if n == 1 && read_u8(&mem, h + RETHROWN)? == 0 {
        let destructor = read_u32(&mem, h + DESTRUCTOR)?;
        if destructor != 0 {
            let table = module
                .table("__indirect_function_table")
                .ok_or_else(|| Trap::host("the guest exports no __indirect_function_table"))?;
            match table.get(destructor) {
                Some(keel::Val::FuncRef(Some(f))) => {
                    // In Wasm, destructors return `this` (as on ARM): type (i32) -> i32.
                    let mut slots = [ptr as u64];
                    f.call_raw(&mut slots)?;
                }
                _ => {
                    return Err(Trap::new(keel::TrapKind::Code(
                        keel::TrapCode::IndirectCallToNull,
                    )));
                }
            }
        }
        free(module, h)?;
    }
    Ok(())
}

/// `__cxa_end_catch()`: leaves the innermost catch block.
fn end_catch(caller: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_end_catch")?;
    call_i32(&module, "setThrew", &[0, 0])?;
    let state = state::of(caller, "__cxa_end_catch")?;
    let catch_info = state.lock().exception_caught.pop();
    let Some(catch_info) = catch_info else {
        return Err(abort(caller, "__cxa_end_catch with no exception caught"));
    };
    let ptr = read_u32(&memory(&module)?, catch_info)?;
    dec_ref(&module, ptr)?;
    free(&module, catch_info)?;
    state.lock().exception_last = 0;
    Ok(())
}

/// `__cxa_find_matching_catch_<n>(types...) -> catchInfo`, the matching type in tempRet0.
fn find_matching(caller: &mut Caller<'_>, v: &mut [u64], n: usize) -> Result<(), Trap> {
    let module = module(caller, "__cxa_find_matching_catch")?;
    let state = state::of(caller, "__cxa_find_matching_catch")?;
    let thrown = state.lock().exception_last;
    let types: Vec<u32> = v[..n].iter().map(|t| *t as u32).collect();
    let mut answer = |st: &mut Inner, catch_info: u32, ty: u32| {
        st.temp_ret0 = ty as i32;
        v[0] = catch_info as u64;
    };
    if thrown == 0 {
        answer(&mut state.lock(), 0, 0);
        return Ok(());
    }
    let mem = memory(&module)?;
    let thrown_type = read_u32(&mem, header(thrown) + TYPE)?;
    let catch_info = call_i32(&module, "malloc", &[8])? as u32;
    write_u32(&mem, catch_info, thrown)?;
    write_u32(&mem, catch_info + 4, thrown)?;
    if thrown_type == 0 {
        answer(&mut state.lock(), catch_info, 0);
        return Ok(());
    }
    for caught in types {
        if caught == 0 || caught == thrown_type {
            break;
        }
        let args = [caught as i32, thrown_type as i32, (catch_info + 4) as i32];
        if call_i32(&module, "__cxa_can_catch", &args)? != 0 {
            answer(&mut state.lock(), catch_info, caught);
            return Ok(());
        }
    }
    answer(&mut state.lock(), catch_info, thrown_type);
    Ok(())
}

/// `__resumeException(catchInfo)`: no clause here caught it; unwind on.
fn resume_exception(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let catch_info = v[0] as u32;
    let module = module(caller, "__resumeException")?;
    let ptr = read_u32(&memory(&module)?, catch_info)?;
    let state = state::of(caller, "__resumeException")?;
    {
        let mut st = state.lock();
        if st.exception_last == 0 {
            st.exception_last = ptr;
        }
    }
    free(&module, catch_info)?;
    Err(Trap::host(Unwind::Exception(ptr)))
}

fn uncaught_exceptions(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    v[0] = state::of(caller, "__cxa_uncaught_exceptions")?.lock().uncaught_exceptions as u32 as u64;
    Ok(())
}

fn typeid_for(_: &mut Caller<'_>, _: &mut [u64]) -> Result<(), Trap> {
    Ok(()) // the type itself, already in v[0]
}

fn get_exception_ptr(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_get_exception_ptr")?;
    v[0] = exception_ptr(&module, v[0] as u32)? as u64;
    Ok(())
}

fn increment_refcount(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    if ptr != 0 {
        add_ref(&module(caller, "__cxa_increment_exception_refcount")?, header(ptr))?;
    }
    Ok(())
}

fn decrement_refcount(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    if ptr != 0 {
        dec_ref(&module(caller, "__cxa_decrement_exception_refcount")?, ptr)?;
    }
    Ok(())
}

fn current_primary_exception(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let module = module(caller, "__cxa_current_primary_exception")?;
    let state = state::of(caller, "__cxa_current_primary_exception")?;
    let top = state.lock().exception_caught.last().copied();
    v[0] = match top {
        None => 0,
        Some(catch_info) => {
            let ptr = read_u32(&memory(&module)?, catch_info)?;
            add_ref(&module, header(ptr))?;
            ptr as u64
        }
    };
    Ok(())
}

fn rethrow_primary_exception(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    if ptr == 0 {
        return Ok(());
    }
    let module = module(caller, "__cxa_rethrow_primary_exception")?;
    let mem = memory(&module)?;
    let catch_info = call_i32(&module, "malloc", &[8])? as u32;
    write_u32(&mem, catch_info, ptr)?;
    write_u32(&mem, catch_info + 4, 0)?;
    state::of(caller, "__cxa_rethrow_primary_exception")?.lock().exception_caught.push(catch_info);
    write_bytes(&mem, header(ptr) + RETHROWN, &[1])?;
    rethrow(caller, v)
}

/// What Emscripten's `abort(what)` does: `Aborted(what)` on stderr, and the program ends.
pub(crate) fn abort(caller: &Caller<'_>, what: &str) -> Trap {
    crate::memory::aborted(caller, what)
}
