//! What all instances of one runtime share: limits, interned signatures and the host values that
//! Wasm may hold.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keel_decode::FuncType;

/// An interned signature: two functions have the same `SigId` in one runtime exactly when their
/// signatures are equal, so `call_indirect` compares two integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigId(pub u32);

/// Limits that engines enforce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest memory in pages.
    pub memory_pages: u64,
    /// Deepest Wasm call stack, in frames.
    pub max_call_depth: u32,
    /// Largest value stack, in 64-bit slots, per entry from the host.
    pub max_stack_slots: usize,
    /// How much address space each memory reserves (and so the most it can grow to).
    pub memory_reservation: super::memory::Reservation,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_pages: super::memory::MAX_PAGES,
            max_call_depth: 10_000,
            max_stack_slots: 1 << 20,
            memory_reservation: super::memory::Reservation::Maximum,
        }
    }
}

/// State shared by every instance of a runtime.
pub struct Store {
    /// Limits engines enforce.
    pub limits: Limits,
    signatures: Mutex<HashMap<Arc<FuncType>, SigId>>,
    keepalive: Mutex<HashMap<u64, Box<dyn Any + Send + Sync>>>,
}

impl Store {
    /// A store with `limits`.
    pub fn new(limits: Limits) -> Arc<Store> {
        Arc::new(Store {
            limits,
            signatures: Mutex::new(HashMap::new()),
            keepalive: Mutex::new(HashMap::new()),
        })
    }

    /// The id of `ty`, interning it if new.
    pub fn intern(&self, ty: &FuncType) -> (SigId, Arc<FuncType>) {
        let mut sigs = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((ty, id)) = sigs.get_key_value(ty) {
            return (*id, ty.clone());
        }
        let id = SigId(sigs.len() as u32);
        let ty = Arc::new(ty.clone());
        sigs.insert(ty.clone(), id);
        (id, ty)
    }

    /// Keeps `value` alive as long as the store, because Wasm may hold `raw`, a raw reference to
    /// it. Once per `raw`.
    pub fn keep_alive(&self, raw: u64, value: impl FnOnce() -> Box<dyn Any + Send + Sync>) {
        self.keepalive.lock().unwrap_or_else(|e| e.into_inner()).entry(raw).or_insert_with(value);
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("limits", &self.limits).finish()
    }
}
