//! Globals, stored as raw slots.

use std::cell::UnsafeCell;

use keel_decode::GlobalType;

/// A global: its type and value (two slots, for v128).
pub struct GlobalData {
    ty: GlobalType,
    value: UnsafeCell<[u64; 2]>,
}

// SAFETY: `value` is only touched by the thread holding the exec lock of the instance group that
// owns the global (see `lock.rs`).
unsafe impl Send for GlobalData {}
// SAFETY: as above.
unsafe impl Sync for GlobalData {}

impl GlobalData {
    /// A global of type `ty` holding `value`.
    pub(crate) fn new(ty: GlobalType, value: [u64; 2]) -> Self {
        GlobalData { ty, value: UnsafeCell::new(value) }
    }

    /// Its type.
    pub fn ty(&self) -> GlobalType {
        self.ty
    }

    /// The value's first slot (all of it, but for v128).
    #[inline(always)]
    pub fn get(&self) -> u64 {
        // SAFETY: see the `Sync` impl.
        unsafe { (*self.value.get())[0] }
    }

    /// Sets the value's first slot.
    #[inline(always)]
    pub fn set(&self, value: u64) {
        // SAFETY: see the `Sync` impl.
        unsafe { (*self.value.get())[0] = value }
    }

    /// Both slots.
    #[inline(always)]
    pub fn get_wide(&self) -> [u64; 2] {
        // SAFETY: see the `Sync` impl.
        unsafe { *self.value.get() }
    }

    /// Address of the value's slots, for compiled code that reads and writes the global in place
    /// (under the exec lock, like every other access).
    #[inline(always)]
    pub fn value_ptr(&self) -> *mut u64 {
        self.value.get() as *mut u64
    }

    /// Sets both slots.
    #[inline(always)]
    pub fn set_wide(&self, value: [u64; 2]) {
        // SAFETY: see the `Sync` impl.
        unsafe { *self.value.get() = value }
    }
}

impl std::fmt::Debug for GlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalData").field("ty", &self.ty).field("value", &self.get_wide()).finish()
    }
}
