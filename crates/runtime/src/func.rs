//! Functions as the API sees them: [`Func`] and its typed form [`TypedFunc`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_decode::FuncType;

use crate::error::{Error, UsageError};
use crate::owner::InstanceOwner;
use crate::trap::Result;
use crate::typed::{WasmParams, WasmResults};
use crate::value::{ExternRef, Val, ValType};
use crate::vm::{FuncData, Instance, Store};

/// A function: exported by a module, defined by the host, or taken from a table.
#[derive(Clone)]
pub struct Func {
    owner: InstanceOwner,
    data: *const FuncData,
}

// SAFETY: `data` points into `owner`'s instance or into an instance it keeps alive; FuncData and
// Instance are Send + Sync.
unsafe impl Send for Func {}
// SAFETY: as above.
unsafe impl Sync for Func {}

impl Func {
    pub(crate) fn new(owner: InstanceOwner, data: *const FuncData) -> Func {
        Func { owner, data }
    }

    pub(crate) fn data(&self) -> &FuncData {
        // SAFETY: see the `Send` impl.
        unsafe { &*self.data }
    }

    /// The function a raw funcref slot refers to; `None` for null.
    ///
    /// # Safety
    /// `raw` must be 0 or a funcref produced by this runtime whose function is alive.
    pub unsafe fn from_raw(raw: u64) -> Option<Func> {
        if raw == 0 {
            return None;
        }
        // SAFETY: guaranteed by the caller.
        let data = unsafe { FuncData::from_raw(raw) };
        let ptr = data.instance() as *const Instance;
        // SAFETY: every Instance lives in an `Arc` (built by `Arc::new_cyclic`), and it is alive,
        // so taking one more strong reference is sound.
        let instance = unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        };
        // A live function's store is alive: whatever reached the raw reference (a handle, or Wasm
        // that one called) owns it.
        let store = instance.store().expect("the store of a live function is alive");
        Some(Func { owner: InstanceOwner::new(store, instance), data })
    }

    /// The raw funcref slot for this function. Its store keeps the function alive from now on,
    /// since Wasm may hold the value.
    pub fn to_raw(&self) -> u64 {
        let raw = self.data().to_raw();
        // Only the instance: the store owning itself would never be freed.
        self.owner.store().keep_alive(raw, || Box::new(self.owner.instance().clone()));
        raw
    }

    /// Whether the function belongs to the runtime whose store is `store`.
    pub(crate) fn belongs_to(&self, store: &Arc<Store>) -> bool {
        Arc::ptr_eq(self.owner.store(), store)
    }

    /// Its signature.
    pub fn ty(&self) -> &FuncType {
        &self.data().ty
    }

    /// Whether two handles name the same function.
    pub fn ptr_eq(&self, other: &Func) -> bool {
        std::ptr::eq(self.data, other.data)
    }

    /// Calls the function with `args`, checked against its signature, and returns its results.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>> {
        let ty = self.ty();
        if args.len() != ty.params.len()
            || args.iter().zip(ty.params.iter()).any(|(a, t)| a.ty() != *t)
        {
            let given = args.iter().map(|a| a.ty()).collect();
            return Err(UsageError::ArgumentTypes { ty: ty.clone(), given }.into());
        }
        let store = self.owner.store();
        let mut values = vec![0u64; self.data().value_slots()];
        let mut at = 0;
        for a in args {
            at += write_val(store, a, &mut values[at..])?;
        }
        // SAFETY: `value_slots` slots, the parameters written from `Val`s of the right types
        // (checked above) by `write_val`, which keeps every reference alive in the store.
        unsafe { self.data().call_raw(None, &mut values) }.map_err(Error::Trap)?;
        let mut results = Vec::with_capacity(ty.results.len());
        let mut at = 0;
        for t in ty.results.iter() {
            // SAFETY: the values were written by the callee according to its signature.
            results.push(unsafe { read_val(*t, &values[at..]) });
            at += t.slots();
        }
        Ok(results)
    }

    /// Calls the function like [`Func::call`], interrupting it at `deadline` (through the interrupt
    /// handle of the function's instance): past it, the call returns an `Interrupted` trap, or an
    /// exit error with [`EXIT_CODE_DEADLINE_EXCEEDED`](crate::EXIT_CODE_DEADLINE_EXCEEDED) when
    /// the module closes on interrupt.
    pub fn call_with_deadline(&self, args: &[Val], deadline: Instant) -> Result<Vec<Val>> {
        let guard = self.data().instance().interrupt_handle().interrupt_at(deadline);
        let result = self.call(args);
        guard.finish();
        result
    }

    /// Calls the function like [`Func::call`], interrupting it after `timeout`.
    pub fn call_with_timeout(&self, args: &[Val], timeout: Duration) -> Result<Vec<Val>> {
        self.call_with_deadline(args, Instant::now() + timeout)
    }

    /// Calls the function with raw slots (see [`crate::value`]): parameters in, results out.
    /// `values` must be at least as long as the larger of the two; types are not checked, which
    /// makes this the fast path for import sets that know the signature. Numeric parameters only:
    /// a raw reference is a pointer, so a function with a reference parameter is an
    /// [`Error::Usage`] here (call it with [`Func::call`]).
    pub fn call_raw(&self, values: &mut [u64]) -> Result<()> {
        self.call_raw_with(None, values)
    }

    /// [`Func::call_raw`] on behalf of the Wasm caller of a host function: a host function
    /// reached this way (a trampoline calling a table entry that is an import, say) sees that
    /// caller's instance in its [`Caller`], as it would had the guest called it directly.
    pub fn call_raw_from(&self, caller: &crate::vm::Caller<'_>, values: &mut [u64]) -> Result<()> {
        self.call_raw_with(caller.instance(), values)
    }

    fn call_raw_with(&self, caller: Option<&Instance>, values: &mut [u64]) -> Result<()> {
        let data = self.data();
        if values.len() < data.value_slots() {
            return Err(UsageError::TooFewSlots { needed: data.value_slots() }.into());
        }
        if data.has_reference_params() {
            return Err(UsageError::RawReferences { ty: self.ty().clone() }.into());
        }
        // SAFETY: enough slots (checked above) and no reference parameter (checked above):
        // any bits are a valid number.
        unsafe { data.call_raw(caller, values) }.map_err(Error::Trap)
    }

    /// The typed form of this function, if its signature is `P -> R`.
    pub fn typed<P: WasmParams, R: WasmResults>(&self) -> Result<TypedFunc<P, R>> {
        let ty = self.ty();
        if &*ty.params != P::types().as_slice() || &*ty.results != R::types().as_slice() {
            let (params, results) = (P::types(), R::types());
            return Err(UsageError::SignatureMismatch { ty: ty.clone(), params, results }.into());
        }
        Ok(TypedFunc { func: self.clone(), slots: self.data().value_slots(), _ty: PhantomData })
    }
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Func({})", self.ty())
    }
}

/// Writes `v`, a value handed to Wasm of `store`'s runtime, into raw slots; returns how many it
/// took. A function of another runtime is refused: its signature ids and its lifetime are those
/// of another store.
pub(crate) fn write_val(store: &Arc<Store>, v: &Val, out: &mut [u64]) -> Result<usize> {
    match v {
        Val::I32(x) => out[0] = *x as u32 as u64,
        Val::I64(x) => out[0] = *x as u64,
        Val::F32(x) => out[0] = *x as u64,
        Val::F64(x) => out[0] = *x,
        Val::V128(x) => {
            out[0] = *x as u64;
            out[1] = (*x >> 64) as u64;
            return Ok(2);
        }
        Val::FuncRef(None) | Val::ExternRef(None) => out[0] = 0,
        Val::FuncRef(Some(f)) => {
            if !f.belongs_to(store) {
                return Err(UsageError::ForeignRuntime { what: "function handed to Wasm" }.into());
            }
            out[0] = f.to_raw();
        }
        Val::ExternRef(Some(e)) => {
            store.keep_alive(e.to_raw(), || Box::new(e.clone()));
            out[0] = e.to_raw();
        }
    }
    Ok(1)
}

/// Reads a value of type `ty` from raw slots.
///
/// # Safety
/// For reference types the slot must hold a reference produced by this runtime that is alive.
pub(crate) unsafe fn read_val(ty: ValType, slots: &[u64]) -> Val {
    match ty {
        ValType::I32 => Val::I32(slots[0] as u32 as i32),
        ValType::I64 => Val::I64(slots[0] as i64),
        ValType::F32 => Val::F32(slots[0] as u32),
        ValType::F64 => Val::F64(slots[0]),
        ValType::V128 => Val::V128(slots[0] as u128 | (slots[1] as u128) << 64),
        // SAFETY: guaranteed by the caller.
        ValType::FuncRef => Val::FuncRef(unsafe { Func::from_raw(slots[0]) }),
        // SAFETY: guaranteed by the caller.
        ValType::ExternRef => Val::ExternRef(unsafe { ExternRef::from_raw(slots[0]) }),
    }
}

/// A function whose signature was checked once, called without per-call type checks.
///
/// ```ignore
/// let add = module.typed_func::<(i32, i32), i32>("add")?;
/// assert_eq!(add.call((2, 3))?, 5);
/// ```
pub struct TypedFunc<P, R> {
    func: Func,
    /// `func`'s value slots, counted once rather than per call.
    slots: usize,
    _ty: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc { func: self.func.clone(), slots: self.slots, _ty: PhantomData }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function.
    pub fn call(&self, params: P) -> Result<R> {
        let mut values = [0u64; 16];
        let n = self.slots;
        if n <= values.len() {
            params.store(&mut values);
            // SAFETY: `n` slots; `WasmParams` are numbers only.
            unsafe { self.func.data().call_raw(None, &mut values[..n.max(1)]) }
                .map_err(Error::Trap)?;
            Ok(R::load(&values))
        } else {
            let mut values = vec![0u64; n];
            params.store(&mut values);
            // SAFETY: as above.
            unsafe { self.func.data().call_raw(None, &mut values) }.map_err(Error::Trap)?;
            Ok(R::load(&values))
        }
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

impl ExternRef {
    /// The reference a raw externref slot holds; `None` for null.
    ///
    /// # Safety
    /// `raw` must be 0 or a value produced by [`ExternRef::to_raw`] whose data is alive.
    pub unsafe fn from_raw(raw: u64) -> Option<ExternRef> {
        if raw == 0 {
            return None;
        }
        let ptr = raw as usize as *const crate::value::ExternData;
        // SAFETY: the data lives in an `Arc` that the store keeps alive (see `write_val`).
        unsafe {
            Arc::increment_strong_count(ptr);
            Some(ExternRef(Arc::from_raw(ptr)))
        }
    }
}
