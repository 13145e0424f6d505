//! Libcalls: the runtime entry points compiled code calls for anything that needs the runtime
//! (calls across the boundary, grow, bulk memory and table operations, raising traps). Their
//! addresses sit in a static array that every instance context points to (`VmCtx::libcalls`);
//! the translator calls them indirectly through it, so compiled code holds no absolute address.
//!
//! A libcall that traps records the trap in the instance's state and sets the trap word; the
//! compiled caller checks the word after every libcall that can trap, exactly as after a call.

use std::any::Any;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::CallConv;
use keel_runtime::vm::{FuncData, Instance, listen};
use keel_runtime::{Trap, TrapCode};

use crate::vmctx::{InstanceState, VmCtx};

/// The libcalls, by their index in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Libcall {
    Raise,
    Unwind,
    CallFunc,
    Indirect,
    MemoryGrow,
    MemoryFill,
    MemoryCopy,
    MemoryInit,
    DataDrop,
    TableGet,
    TableSet,
    TableSize,
    TableGrow,
    TableFill,
    TableCopy,
    TableInit,
    ElemDrop,
    ListenBefore,
    ListenAfter,
    CallOwn,
}

/// Parameter and result types of each libcall after the vmctx: `I` = i32, `L` = i64.
impl Libcall {
    fn shape(self) -> (&'static str, &'static str) {
        use Libcall::*;
        match self {
            Raise => ("I", ""),
            Unwind => ("I", ""),
            CallFunc => ("LL", ""),
            Indirect => ("III", "L"),
            MemoryGrow => ("I", "I"),
            MemoryFill => ("III", ""),
            MemoryCopy => ("III", ""),
            MemoryInit => ("IIII", ""),
            DataDrop => ("I", ""),
            TableGet => ("II", "L"),
            TableSet => ("IIL", ""),
            TableSize => ("I", "I"),
            TableGrow => ("ILI", "I"),
            TableFill => ("IILI", ""),
            TableCopy => ("IIIII", ""),
            TableInit => ("IIIII", ""),
            ElemDrop => ("I", ""),
            ListenBefore => ("LL", ""),
            ListenAfter => ("LL", ""),
            CallOwn => ("LL", ""),
        }
    }

    /// Whether the libcall may trap (so the caller must check the trap word).
    pub(crate) fn may_trap(self) -> bool {
        use Libcall::*;
        matches!(
            self,
            Raise
                | CallFunc
                | Indirect
                | MemoryFill
                | MemoryCopy
                | MemoryInit
                | TableGet
                | TableSet
                | TableFill
                | TableCopy
                | TableInit
                | ListenBefore
                | ListenAfter
                | CallOwn
        )
    }

    /// Its Cranelift signature in the host's calling convention.
    pub(crate) fn signature(self, call_conv: CallConv) -> Signature {
        let mut sig = Signature::new(call_conv);
        sig.params.push(AbiParam::new(types::I64));
        let ty = |c| if c == 'I' { types::I32 } else { types::I64 };
        let (params, results) = self.shape();
        sig.params.extend(params.chars().map(|c| AbiParam::new(ty(c))));
        sig.returns.extend(results.chars().map(|c| AbiParam::new(ty(c))));
        sig
    }
}

/// Addresses of the libcalls, in [`Libcall`] order.
pub(crate) fn table() -> &'static [usize] {
    static TABLE: std::sync::OnceLock<[usize; 20]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        [
            raise as *const () as usize,
            unwind as *const () as usize,
            call_func as *const () as usize,
            indirect as *const () as usize,
            memory_grow as *const () as usize,
            memory_fill as *const () as usize,
            memory_copy as *const () as usize,
            memory_init as *const () as usize,
            data_drop as *const () as usize,
            table_get as *const () as usize,
            table_set as *const () as usize,
            table_size as *const () as usize,
            table_grow as *const () as usize,
            table_fill as *const () as usize,
            table_copy as *const () as usize,
            table_init as *const () as usize,
            elem_drop as *const () as usize,
            listen_before as *const () as usize,
            listen_after as *const () as usize,
            call_own as *const () as usize,
        ]
    })
}

thread_local! {
    /// A host function's panic, caught at the libcall boundary (unwinding through compiled code
    /// is impossible) and resumed by the entry trampoline once compiled code has returned.
    pub(crate) static PANIC: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
}

/// The instance and compiler state of a context.
///
/// # Safety
/// `vmctx` must be the context of a live instance whose engine data is an `InstanceState`,
/// passed by compiled code running under that instance's exec lock.
unsafe fn state<'a>(vmctx: *mut VmCtx) -> (&'a Instance, &'a InstanceState) {
    // SAFETY: the caller guarantees `vmctx` is a live context; its `instance` field points to
    // the instance that owns it, and its `state` to that instance's engine data, set by the
    // entry that is running (compiled code only runs below an entry into its instance).
    unsafe { (&*(*vmctx).instance, &*(*vmctx).state) }
}

fn raise_code(st: &InstanceState, code: TrapCode) {
    st.raise(Trap::from(code));
}

fn code_from_u32(code: u32) -> TrapCode {
    crate::translate::TRAP_CODES.get(code as usize).copied().unwrap_or(TrapCode::Unreachable)
}

// Every libcall below is called only by compiled code with its own live context (see `state`).
// SAFETY of each `unsafe { state(vmctx) }`: that calling contract.

extern "C" fn raise(vmctx: *mut VmCtx, code: u32) {
    // SAFETY: see above.
    let (_, st) = unsafe { state(vmctx) };
    raise_code(st, code_from_u32(code));
}

extern "C" fn unwind(vmctx: *mut VmCtx, func_index: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    st.push_frame(instance.frame_info(func_index));
}

extern "C" fn call_func(vmctx: *mut VmCtx, func: u64, values: *mut u64) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    // SAFETY: `func` comes from the context's function array or a table, so it is a live
    // `FuncData` (instances keep what they reference alive).
    let func = unsafe { FuncData::from_raw(func) };
    let n = func.value_slots();
    // SAFETY: the translator passes a stack array of at least `value_slots` slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values, n) };
    // SAFETY: validated compiled code wrote the parameters with the callee's types (a call's
    // type is checked against the callee's signature) in a `value_slots` array.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        func.call_raw(Some(instance), values)
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(trap)) => st.raise(trap),
        Err(payload) => {
            PANIC.with(|p| *p.borrow_mut() = Some(payload));
            st.raise(Trap::host("a host function panicked"));
        }
    }
}

/// Tiered code: a call of a function of the calling instance that has no compiled code yet (from
/// the stub its code-array entry holds), run by the instance's code (the tiered engine, which interprets it or, if it got compiled
/// meanwhile, runs that). The exec lock is held already, and the native stack is bounded by the
/// compiled frames around it, so this skips `FuncData::call_raw`'s entry.
extern "C" fn call_own(vmctx: *mut VmCtx, func: u64, values: *mut u64) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    // SAFETY: `func` is computed by a stub (`translate_stub`) from the context's own-function
    // array and `callee`, which tiered code sets to a defined function's index before each call
    // of its entry (a validated index, or one derived from a table entry checked to be one of
    // this instance's functions), so it is a live `FuncData` of this instance.
    let func = unsafe { FuncData::from_raw(func) };
    let n = func.value_slots();
    // SAFETY: the translator passes a stack array of at least `value_slots` slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values, n) };
    let keel_runtime::vm::FuncKind::Wasm { def_index } = func.kind else {
        st.raise(Trap::host("internal error: CallOwn of a host function"));
        return;
    };
    let Some(code) = instance.code() else {
        st.raise(Trap::host("internal error: CallOwn without code"));
        return;
    };
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| code.call(instance, def_index, values)));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(trap)) => st.raise(trap),
        Err(payload) => {
            PANIC.with(|p| *p.borrow_mut() = Some(payload));
            st.raise(Trap::host("a host function panicked"));
        }
    }
}

extern "C" fn indirect(vmctx: *mut VmCtx, table: u32, elem: u32, type_index: u32) -> u64 {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    let raw = match instance.table(table).get(elem) {
        None => {
            raise_code(st, TrapCode::TableOutOfBounds);
            return 0;
        }
        Some(0) => {
            raise_code(st, TrapCode::IndirectCallToNull);
            return 0;
        }
        Some(raw) => raw,
    };
    // SAFETY: a non-null funcref in a table is a live `FuncData`.
    let func = unsafe { FuncData::from_raw(raw) };
    if func.sig != instance.sig_id(type_index) {
        raise_code(st, TrapCode::BadSignature);
        return 0;
    }
    raw
}

extern "C" fn memory_grow(vmctx: *mut VmCtx, delta: u32) -> u32 {
    // SAFETY: see above.
    let (instance, _) = unsafe { state(vmctx) };
    match instance.memory(0).grow(delta as u64) {
        Some(old) => old as u32,
        None => u32::MAX,
    }
}

extern "C" fn memory_fill(vmctx: *mut VmCtx, dst: u32, value: u32, len: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    if !instance.memory(0).fill(dst as u64, value as u8, len as u64) {
        raise_code(st, TrapCode::MemoryOutOfBounds);
    }
}

extern "C" fn memory_copy(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    let m = instance.memory(0);
    if !m.copy_from(dst as u64, m, src as u64, len as u64) {
        raise_code(st, TrapCode::MemoryOutOfBounds);
    }
}

extern "C" fn memory_init(vmctx: *mut VmCtx, segment: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    if let Err(code) = instance.memory_init(0, segment, dst as u64, src, len) {
        raise_code(st, code);
    }
}

extern "C" fn data_drop(vmctx: *mut VmCtx, segment: u32) {
    // SAFETY: see above.
    let (instance, _) = unsafe { state(vmctx) };
    instance.data_drop(segment);
}

extern "C" fn table_get(vmctx: *mut VmCtx, table: u32, index: u32) -> u64 {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    instance.table(table).get(index).unwrap_or_else(|| {
        raise_code(st, TrapCode::TableOutOfBounds);
        0
    })
}

extern "C" fn table_set(vmctx: *mut VmCtx, table: u32, index: u32, value: u64) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    if !instance.table(table).set(index, value) {
        raise_code(st, TrapCode::TableOutOfBounds);
    }
}

extern "C" fn table_size(vmctx: *mut VmCtx, table: u32) -> u32 {
    // SAFETY: see above.
    let (instance, _) = unsafe { state(vmctx) };
    instance.table(table).size()
}

extern "C" fn table_grow(vmctx: *mut VmCtx, table: u32, init: u64, delta: u32) -> u32 {
    // SAFETY: see above.
    let (instance, _) = unsafe { state(vmctx) };
    instance.table(table).grow(delta, init).unwrap_or(u32::MAX)
}

extern "C" fn table_fill(vmctx: *mut VmCtx, table: u32, dst: u32, value: u64, len: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    if !instance.table(table).fill(dst, value, len) {
        raise_code(st, TrapCode::TableOutOfBounds);
    }
}

extern "C" fn table_copy(vmctx: *mut VmCtx, dst_t: u32, src_t: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    let (d, s) = (dst as u64 + len as u64, src as u64 + len as u64);
    let (dt, s_t) = (instance.table(dst_t), instance.table(src_t));
    if d > dt.size() as u64 || s > s_t.size() as u64 || !dt.copy_from(dst, s_t, src, len) {
        raise_code(st, TrapCode::TableOutOfBounds);
    }
}

extern "C" fn table_init(
    vmctx: *mut VmCtx,
    table: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    if let Err(code) = instance.table_init(table, segment, dst, src, len) {
        raise_code(st, code);
    }
}

extern "C" fn elem_drop(vmctx: *mut VmCtx, segment: u32) {
    // SAFETY: see above.
    let (instance, _) = unsafe { state(vmctx) };
    instance.elem_drop(segment);
}

/// Runs a listener hook; a panic in it is kept for the entry to resume (it cannot unwind through
/// compiled code) and stops the guest with a trap.
fn listener_hook(st: &InstanceState, hook: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(hook)) {
        PANIC.with(|p| {
            p.borrow_mut().get_or_insert(payload);
        });
        st.raise(Trap::host("a function listener panicked"));
    }
}

/// A function of listening code starts: `func` is its `FuncData`, `values` its parameters.
extern "C" fn listen_before(vmctx: *mut VmCtx, func: u64, values: *mut u64) {
    // SAFETY: see above.
    let (instance, st) = unsafe { state(vmctx) };
    // SAFETY: compiled code passes the address of its own function's `FuncData`.
    let func = unsafe { FuncData::from_raw(func) };
    let Some(l) = func.listening.as_deref() else {
        return;
    };
    let n: usize = func.ty.params.iter().map(|t| t.slots()).sum();
    // SAFETY: the translator passes an array of at least the parameters' slots.
    let params = unsafe { std::slice::from_raw_parts(values, n) };
    listener_hook(st, || listen::enter(l, Some(instance), params));
}

/// A function of listening code returns: `func` is its `FuncData`, `values` its results.
extern "C" fn listen_after(vmctx: *mut VmCtx, func: u64, values: *mut u64) {
    // SAFETY: see above.
    let (_, st) = unsafe { state(vmctx) };
    // SAFETY: as in `listen_before`.
    let func = unsafe { FuncData::from_raw(func) };
    let n: usize = func.ty.results.iter().map(|t| t.slots()).sum();
    // SAFETY: the translator passes an array of at least the results' slots.
    let results = unsafe { std::slice::from_raw_parts(values, n) };
    listener_hook(st, || listen::leave(results));
}

// Float rounding for targets without native instructions: Cranelift calls these through
// relocations (`ExternalName::LibCall`), which the loader resolves to these addresses.

pub(crate) extern "C" fn floor_f32(x: f32) -> f32 {
    x.floor()
}
pub(crate) extern "C" fn floor_f64(x: f64) -> f64 {
    x.floor()
}
pub(crate) extern "C" fn ceil_f32(x: f32) -> f32 {
    x.ceil()
}
pub(crate) extern "C" fn ceil_f64(x: f64) -> f64 {
    x.ceil()
}
pub(crate) extern "C" fn trunc_f32(x: f32) -> f32 {
    x.trunc()
}
pub(crate) extern "C" fn trunc_f64(x: f64) -> f64 {
    x.trunc()
}
pub(crate) extern "C" fn nearest_f32(x: f32) -> f32 {
    x.round_ties_even()
}
pub(crate) extern "C" fn nearest_f64(x: f64) -> f64 {
    x.round_ties_even()
}
pub(crate) extern "C" fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}
pub(crate) extern "C" fn fma_f64(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}

/// `pshufb` for x86_64 CPUs without SSSE3 (Cranelift lowers `i8x16.swizzle` and some shuffles
/// to it): byte `i` of the result is `a[b[i] & 15]`, or 0 when bit 7 of `b[i]` is set.
///
/// `__m128i` travels in an xmm register under the C ABI on x86_64 (SSE2 is baseline there), as
/// Cranelift passes an `i8x16`.
#[cfg(target_arch = "x86_64")]
#[allow(improper_ctypes_definitions)]
pub(crate) extern "C" fn x86_pshufb(
    a: std::arch::x86_64::__m128i,
    b: std::arch::x86_64::__m128i,
) -> std::arch::x86_64::__m128i {
    // SAFETY: `__m128i` and `[u8; 16]` have the same size, and every bit pattern is valid for
    // both.
    use std::arch::x86_64::__m128i;
    let (a, b) = unsafe {
        (std::mem::transmute::<__m128i, [u8; 16]>(a), std::mem::transmute::<__m128i, [u8; 16]>(b))
    };
    let r: [u8; 16] =
        std::array::from_fn(|i| if b[i] & 0x80 != 0 { 0 } else { a[(b[i] & 15) as usize] });
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 16], __m128i>(r) }
}

/// Never called: only x86_64 code refers to `pshufb`, and only an x86_64 host loads x86_64 code.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) extern "C" fn x86_pshufb() {
    unreachable!("x86 code loaded on another architecture")
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    #[test]
    fn pshufb_selects_bytes_and_zeroes_on_bit_7() {
        let a: [u8; 16] = std::array::from_fn(|i| 100 + i as u8);
        let mut b: [u8; 16] = std::array::from_fn(|i| (15 - i) as u8);
        b[0] = 0x80;
        b[1] = 0x13; // only the low 4 bits count
        // SAFETY: same size, any bit pattern is valid.
        let r = unsafe {
            std::mem::transmute::<std::arch::x86_64::__m128i, [u8; 16]>(super::x86_pshufb(
                std::mem::transmute::<[u8; 16], std::arch::x86_64::__m128i>(a),
                std::mem::transmute::<[u8; 16], std::arch::x86_64::__m128i>(b),
            ))
        };
        assert_eq!(r[0], 0);
        assert_eq!(r[1], 103);
        assert_eq!(r[2..], std::array::from_fn::<u8, 14, _>(|i| 100 + (13 - i) as u8));
    }
}
