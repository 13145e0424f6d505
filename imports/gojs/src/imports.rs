//! The imports of a `GOOS=js GOARCH=wasm` module: `runtime.*` and `syscall/js.*`, each taking
//! Go's stack pointer `sp`, with its arguments and results on Go's stack at `sp + 8 ...` in the
//! layout of wasm_exec.js. An import that may have run Go in between (a call, a constructor)
//! reads `sp` again from the guest (`getsp`) before it writes its results, as wasm_exec.js does.
//! A stack pointer, pointer or length outside the guest's memory is a trap.

use std::sync::Arc;

use keel::{Caller, FuncType, HostModuleBuilder, Trap, TrapCode, ValType};

use crate::value::{Kind, Obj, Value};
use crate::world::{Ctx, GoState, Throw};

/// An import: the caller's context and Go's `sp`.
type Import = fn(&mut Ctx<'_>, u32) -> Result<(), Trap>;

/// Every import, by name.
pub(crate) const IMPORTS: &[(&str, Import)] = &[
    ("runtime.wasmExit", wasm_exit),
    ("runtime.wasmWrite", wasm_write),
    ("runtime.resetMemoryDataView", |_, _| Ok(())),
    ("runtime.nanotime1", nanotime),
    ("runtime.walltime", walltime),
    ("runtime.walltime1", walltime),
    ("runtime.scheduleTimeoutEvent", schedule_timeout),
    ("runtime.clearTimeoutEvent", clear_timeout),
    ("runtime.getRandomData", random_data),
    ("syscall/js.finalizeRef", finalize_ref),
    ("syscall/js.stringVal", string_val),
    ("syscall/js.valueGet", value_get),
    ("syscall/js.valueSet", value_set),
    ("syscall/js.valueDelete", value_delete),
    ("syscall/js.valueIndex", value_index),
    ("syscall/js.valueSetIndex", value_set_index),
    ("syscall/js.valueCall", value_call),
    ("syscall/js.valueInvoke", value_invoke),
    ("syscall/js.valueNew", value_new),
    ("syscall/js.valueLength", value_length),
    ("syscall/js.valuePrepareString", value_prepare_string),
    ("syscall/js.valueLoadString", value_load_string),
    ("syscall/js.valueInstanceOf", value_instance_of),
    ("syscall/js.copyBytesToGo", copy_bytes_to_go),
    ("syscall/js.copyBytesToJS", copy_bytes_to_js),
];

/// Adds every import (and old Go's `debug`) to `builder`.
pub(crate) fn export(mut builder: HostModuleBuilder) -> HostModuleBuilder {
    for &(name, import) in IMPORTS {
        builder =
            builder.func_raw(name, FuncType::new([ValType::I32], []), move |caller, values| {
                let sp = values[0] as u32;
                with_ctx(caller, |ctx| import(ctx, sp))
            });
    }
    // Go 1.11-1.20's `debug(value)`: wasm_exec.js logs it to the console.
    builder.func_raw("debug", FuncType::new([ValType::I32], []), |caller, values| {
        let v = values[0] as u32 as i32;
        with_ctx(caller, |ctx| {
            let _ = ctx.sys.lock().write_out(false, format!("{v}\n").as_bytes());
            Ok(())
        })
    })
}

/// Runs `f` with the calling guest's world.
fn with_ctx(
    caller: &mut Caller<'_>,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<(), Trap>,
) -> Result<(), Trap> {
    let sys = caller.sys().ok_or_else(|| Trap::host("a Go import called from outside a guest"))?;
    let module =
        caller.module().ok_or_else(|| Trap::host("a Go import called from outside a guest"))?;
    let state = state_of(sys);
    let mut ctx = Ctx { state: &state, module: &module, sys };
    f(&mut ctx)
}

/// The guest's world, made at its first import call.
pub(crate) fn state_of(sys: &keel_sys::SysContext) -> Arc<GoState> {
    sys.lock().extension(|st| crate::builtins::world(st))
}

/// Ends the guest with `code`: `runtime.wasmExit`, `process.exit`.
pub(crate) fn exit(ctx: &mut Ctx<'_>, code: u32) -> Trap {
    ctx.state.world().exited = Some(code);
    ctx.module.close();
    Trap::exit(code)
}

fn oob() -> Trap {
    Trap::from(TrapCode::MemoryOutOfBounds)
}

// Guest memory, checked: out of range is a trap.

fn read(ctx: &Ctx<'_>, addr: u64, buf: &mut [u8]) -> Result<(), Trap> {
    let memory = ctx.module.memory("mem").ok_or_else(oob)?;
    memory.read(addr, buf).map_err(|_| oob())
}

fn write(ctx: &Ctx<'_>, addr: u64, data: &[u8]) -> Result<(), Trap> {
    let memory = ctx.module.memory("mem").ok_or_else(oob)?;
    memory.write(addr, data).map_err(|_| oob())
}

fn get_u64(ctx: &Ctx<'_>, addr: u64) -> Result<u64, Trap> {
    let mut b = [0; 8];
    read(ctx, addr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn get_i64(ctx: &Ctx<'_>, addr: u64) -> Result<i64, Trap> {
    get_u64(ctx, addr).map(|v| v as i64)
}

fn get_u32(ctx: &Ctx<'_>, addr: u64) -> Result<u32, Trap> {
    let mut b = [0; 4];
    read(ctx, addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn set_u64(ctx: &Ctx<'_>, addr: u64, v: u64) -> Result<(), Trap> {
    write(ctx, addr, &v.to_le_bytes())
}

fn set_u32(ctx: &Ctx<'_>, addr: u64, v: u32) -> Result<(), Trap> {
    write(ctx, addr, &v.to_le_bytes())
}

fn set_u8(ctx: &Ctx<'_>, addr: u64, v: u8) -> Result<(), Trap> {
    write(ctx, addr, &[v])
}

/// A Go slice or string header at `addr`: (pointer, length), checked against the memory.
fn slice(ctx: &Ctx<'_>, addr: u64) -> Result<(u64, usize), Trap> {
    let (ptr, len) = (get_u64(ctx, addr)?, get_u64(ctx, addr + 8)?);
    let memory = ctx.module.memory("mem").ok_or_else(oob)?;
    if ptr.checked_add(len).is_none_or(|end| end > memory.size()) {
        return Err(oob());
    }
    Ok((ptr, len as usize))
}

fn load_bytes(ctx: &Ctx<'_>, addr: u64) -> Result<Vec<u8>, Trap> {
    let (ptr, len) = slice(ctx, addr)?;
    let mut buf = vec![0; len];
    read(ctx, ptr, &mut buf)?;
    Ok(buf)
}

fn load_string(ctx: &Ctx<'_>, addr: u64) -> Result<String, Trap> {
    Ok(String::from_utf8_lossy(&load_bytes(ctx, addr)?).into_owned())
}

fn load_value(ctx: &Ctx<'_>, addr: u64) -> Result<Value, Trap> {
    let bits = get_u64(ctx, addr)?;
    ctx.state
        .load(bits)
        .ok_or_else(|| Trap::host(format!("syscall/js: invalid reference {:#x}", bits)))
}

fn store_value(ctx: &Ctx<'_>, addr: u64, v: &Value) -> Result<(), Trap> {
    let bits = ctx.state.store(v);
    set_u64(ctx, addr, bits)
}

fn load_values(ctx: &Ctx<'_>, addr: u64) -> Result<Vec<Value>, Trap> {
    let (ptr, len) = slice(ctx, addr)?;
    if len > (1 << 20) {
        return Err(oob());
    }
    (0..len as u64).map(|i| load_value(ctx, ptr + i * 8)).collect()
}

/// `sp + offset`, checked for overflow (the accessors check the range).
fn at(sp: u32, offset: u64) -> u64 {
    sp as u64 + offset
}

// runtime.*

fn wasm_exit(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let code = get_u32(ctx, at(sp, 8))?;
    Err(exit(ctx, code))
}

fn wasm_write(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let fd = get_i64(ctx, at(sp, 8))?;
    let p = get_u64(ctx, at(sp, 16))?;
    let n = get_u32(ctx, at(sp, 24))? as usize;
    let mut buf = vec![0; n];
    read(ctx, p, &mut buf)?;
    let _ = ctx.sys.lock().write_out(fd != 1, &buf);
    Ok(())
}

fn nanotime(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let ns = ctx.sys.lock().nanotime();
    set_u64(ctx, at(sp, 8), ns)
}

fn walltime(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let ns = ctx.sys.lock().walltime();
    set_u64(ctx, at(sp, 8), ns / 1_000_000_000)?;
    set_u32(ctx, at(sp, 16), (ns % 1_000_000_000) as u32)
}

fn schedule_timeout(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let delay_ms = get_i64(ctx, at(sp, 8))?.max(0) as u64;
    let now = ctx.sys.lock().nanotime();
    let id = {
        let mut w = ctx.state.world();
        let id = w.next_timer;
        w.next_timer = w.next_timer.wrapping_add(1).max(1);
        w.timers.insert(id, now.saturating_add(delay_ms.saturating_mul(1_000_000)));
        id
    };
    set_u32(ctx, at(sp, 16), id as u32)
}

fn clear_timeout(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let id = get_u32(ctx, at(sp, 8))? as i32;
    ctx.state.world().timers.remove(&id);
    Ok(())
}

fn random_data(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let (ptr, len) = slice(ctx, at(sp, 8))?;
    let mut buf = vec![0; len];
    ctx.sys.lock().random(&mut buf).map_err(|e| Trap::host(format!("random source: {e}")))?;
    write(ctx, ptr, &buf)
}

// syscall/js.*

fn finalize_ref(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let id = get_u32(ctx, at(sp, 8))?;
    ctx.state.release(id);
    Ok(())
}

fn string_val(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let s = load_string(ctx, at(sp, 8))?;
    store_value(ctx, at(sp, 24), &Value::str(s))
}

/// The object `v` is, or a trap: Go checks the type before it asks, so a guest asking this of
/// a primitive is not Go's `syscall/js` (JavaScript would throw out of the import too).
fn object(v: &Value, what: &str) -> Result<Obj, Trap> {
    v.as_obj().cloned().ok_or_else(|| {
        Trap::host(format!("TypeError: {what} called on non-object {}", v.to_js_string()))
    })
}

fn value_get(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = object(&load_value(ctx, at(sp, 8))?, "Reflect.get")?;
    let key = load_string(ctx, at(sp, 16))?;
    let result = v.get(&key);
    store_value(ctx, at(sp, 32), &result)
}

fn value_set(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = object(&load_value(ctx, at(sp, 8))?, "Reflect.set")?;
    let key = load_string(ctx, at(sp, 16))?;
    let x = load_value(ctx, at(sp, 32))?;
    v.set(&key, x);
    Ok(())
}

fn value_delete(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = object(&load_value(ctx, at(sp, 8))?, "Reflect.deleteProperty")?;
    let key = load_string(ctx, at(sp, 16))?;
    v.delete(&key);
    Ok(())
}

fn value_index(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = object(&load_value(ctx, at(sp, 8))?, "Reflect.get")?;
    let i = get_i64(ctx, at(sp, 16))?;
    store_value(ctx, at(sp, 24), &v.get(&i.to_string()))
}

fn value_set_index(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = object(&load_value(ctx, at(sp, 8))?, "Reflect.set")?;
    let i = get_i64(ctx, at(sp, 16))?;
    let x = load_value(ctx, at(sp, 24))?;
    v.set(&i.to_string(), x);
    Ok(())
}

/// Stores a call's outcome at `sp' + offset` (sp read again: the call may have run Go): the
/// result and 1, or the thrown value and 0. A trap goes on unwinding.
fn store_outcome(
    ctx: &mut Ctx<'_>,
    offset: u64,
    outcome: Result<Value, Throw>,
) -> Result<(), Trap> {
    let (v, ok) = match outcome {
        Ok(v) => (v, 1),
        Err(Throw::Js(e)) => (e, 0),
        Err(Throw::Trap(t)) => return Err(t),
    };
    let sp = ctx.sp()?;
    store_value(ctx, at(sp, offset), &v)?;
    set_u8(ctx, at(sp, offset + 8), ok)
}

fn value_call(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let name = load_string(ctx, at(sp, 16))?;
    let args = load_values(ctx, at(sp, 32))?;
    let outcome = match &v {
        Value::Object(o) => {
            let m = o.get(&name);
            if m.as_obj().is_some_and(|f| matches!(f.kind(), Kind::Function(_))) {
                ctx.apply(&m, &v, &args)
            } else {
                Err(ctx.state.type_error(format!("{}.{name} is not a function", describe(&v))))
            }
        }
        _ => Err(ctx.state.type_error(format!(
            "Cannot read properties of {} (reading '{name}')",
            v.to_js_string()
        ))),
    };
    match &outcome {
        Ok(v) => crate::logging::call_result(Ok(v)),
        Err(Throw::Js(e)) => crate::logging::call_result(Err(e)),
        Err(Throw::Trap(_)) => {}
    }
    store_outcome(ctx, 56, outcome)
}

/// How an error message names a value: an object by its constructor, as V8 roughly does.
fn describe(v: &Value) -> String {
    match v {
        Value::Object(o) => match o.kind() {
            Kind::Function(_) => o.get("name").to_js_string(),
            _ => "object".into(),
        },
        v => v.to_js_string(),
    }
}

fn value_invoke(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let args = load_values(ctx, at(sp, 16))?;
    let outcome = ctx.apply(&v, &Value::Undefined, &args);
    store_outcome(ctx, 40, outcome)
}

fn value_new(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let args = load_values(ctx, at(sp, 16))?;
    let outcome = ctx.construct(&v, &args);
    store_outcome(ctx, 40, outcome)
}

fn value_length(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let len = match &v {
        Value::String(s) => s.encode_utf16().count() as f64,
        Value::Object(o) => o.get("length").to_number(),
        _ => f64::NAN,
    };
    // parseInt: NaN reads as 0 once stored as an int.
    let len = if len.is_finite() { len.trunc() as i64 } else { 0 };
    set_u64(ctx, at(sp, 16), len as u64)
}

fn value_prepare_string(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let bytes = v.to_js_string().into_bytes();
    let len = bytes.len();
    let array = Obj::bytes(bytes, Some(ctx.state.ctors.uint8array.clone()));
    store_value(ctx, at(sp, 16), &Value::Object(array))?;
    set_u64(ctx, at(sp, 24), len as u64)
}

fn value_load_string(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let (ptr, len) = slice(ctx, at(sp, 16))?;
    let bytes = v.as_obj().and_then(|o| o.with_bytes(|b| b.clone())).unwrap_or_default();
    let n = len.min(bytes.len());
    write(ctx, ptr, &bytes[..n])
}

fn value_instance_of(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let v = load_value(ctx, at(sp, 8))?;
    let t = load_value(ctx, at(sp, 16))?;
    let yes = match (v.as_obj().and_then(Obj::ctor), t.as_obj()) {
        (Some(c), Some(t)) => c.same(t),
        _ => false,
    };
    set_u8(ctx, at(sp, 24), yes as u8)
}

fn copy_bytes_to_go(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let (ptr, len) = slice(ctx, at(sp, 8))?;
    let src = load_value(ctx, at(sp, 32))?;
    let Some(bytes) = src.as_obj().and_then(|o| o.with_bytes(|b| b.clone())) else {
        return set_u8(ctx, at(sp, 48), 0);
    };
    let n = len.min(bytes.len());
    write(ctx, ptr, &bytes[..n])?;
    set_u64(ctx, at(sp, 40), n as u64)?;
    set_u8(ctx, at(sp, 48), 1)
}

fn copy_bytes_to_js(ctx: &mut Ctx<'_>, sp: u32) -> Result<(), Trap> {
    let dst = load_value(ctx, at(sp, 8))?;
    let src = load_bytes(ctx, at(sp, 16))?;
    let copied = dst.as_obj().and_then(|o| {
        o.with_bytes(|b| {
            let n = b.len().min(src.len());
            b[..n].copy_from_slice(&src[..n]);
            n
        })
    });
    match copied {
        Some(n) => {
            set_u64(ctx, at(sp, 40), n as u64)?;
            set_u8(ctx, at(sp, 48), 1)
        }
        None => set_u8(ctx, at(sp, 48), 0),
    }
}
