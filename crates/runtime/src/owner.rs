//! What every public handle that reaches an instance holds: the instance and its store.
//!
//! Instances do not own their store (a weak reference): the store owns the instances Wasm may
//! reach through raw references (`Store::keep_alive`), so an owning reference back would be a
//! cycle that is never freed. Handles own it instead, which keeps the store — and with it every
//! instance a table or global of this one may point to — alive for as long as the host can call
//! into the instance or read its references.

use std::sync::Arc;

use crate::vm::{Instance, Store};

/// An instance and the store it belongs to, owned together.
#[derive(Clone)]
pub(crate) struct InstanceOwner {
    // Declared first so that it is released first: the store outlives every use of the instance.
    instance: Arc<Instance>,
    store: Arc<Store>,
}

impl InstanceOwner {
    /// Owns `instance` and `store`, the store it was instantiated in.
    pub(crate) fn new(store: Arc<Store>, instance: Arc<Instance>) -> InstanceOwner {
        debug_assert!(instance.belongs_to(&store), "an instance and another store");
        InstanceOwner { instance, store }
    }

    /// The instance.
    #[inline(always)]
    pub(crate) fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    /// Its store.
    #[inline(always)]
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }
}
