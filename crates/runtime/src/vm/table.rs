//! Tables of references, stored as raw slots (0 is null).

use std::cell::UnsafeCell;

use keel_decode::TableType;

/// Most elements a table may hold, whatever it declares: bounds hostile modules' requests.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table.
pub struct TableData {
    ty: TableType,
    max: u64,
    elements: UnsafeCell<Vec<u64>>,
}

// SAFETY: `elements` is only touched by the thread holding the exec lock of the instance group
// that owns the table (see `lock.rs`), so no two threads access it at once.
unsafe impl Send for TableData {}
// SAFETY: as above.
unsafe impl Sync for TableData {}

impl TableData {
    /// A table of type `ty` with every element set to `init`.
    pub(crate) fn new(ty: TableType, init: u64) -> Result<TableData, crate::InstantiateError> {
        let max = ty.limits.max.unwrap_or(u32::MAX as u64).min(MAX_TABLE_ELEMENTS);
        if ty.limits.min > max {
            let (minimum, limit) = (ty.limits.min, max);
            return Err(crate::InstantiateError::TableLimit { minimum, limit });
        }
        Ok(TableData { ty, max, elements: UnsafeCell::new(vec![init; ty.limits.min as usize]) })
    }

    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    fn elements(&self) -> &mut Vec<u64> {
        // SAFETY: see the `Sync` impl: the exec lock gives this thread sole access, and no
        // method lets the reference escape past its own body.
        unsafe { &mut *self.elements.get() }
    }

    /// The table's type as declared.
    pub fn ty(&self) -> TableType {
        self.ty
    }

    /// Current number of elements.
    #[inline(always)]
    pub fn size(&self) -> u32 {
        self.elements().len() as u32
    }

    /// Element `index`, or `None` when out of bounds.
    #[inline(always)]
    pub fn get(&self, index: u32) -> Option<u64> {
        self.elements().get(index as usize).copied()
    }

    /// Sets element `index`; `false` when out of bounds.
    #[inline(always)]
    pub fn set(&self, index: u32, value: u64) -> bool {
        match self.elements().get_mut(index as usize) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// table.grow: adds `delta` elements set to `init`; the old size, or `None` (-1).
    pub fn grow(&self, delta: u32, init: u64) -> Option<u32> {
        let old = self.size();
        let new = old as u64 + delta as u64;
        if new > self.max {
            return None;
        }
        self.elements().resize(new as usize, init);
        Some(old)
    }

    /// table.fill; `false` when out of bounds.
    pub fn fill(&self, dst: u32, value: u64, len: u32) -> bool {
        let els = self.elements();
        let end = dst as u64 + len as u64;
        if end > els.len() as u64 {
            return false;
        }
        els[dst as usize..end as usize].fill(value);
        true
    }

    /// table.copy from `src` of `from` to `dst` of `self` (overlap handled); `false` when out of
    /// bounds.
    pub fn copy_from(&self, dst: u32, from: &TableData, src: u32, len: u32) -> bool {
        let (dst, src, len) = (dst as usize, src as usize, len as usize);
        if dst + len > self.size() as usize || src + len > from.size() as usize {
            return false;
        }
        if std::ptr::eq(self, from) {
            self.elements().copy_within(src..src + len, dst);
        } else {
            let from = from.elements();
            self.elements()[dst..dst + len].copy_from_slice(&from[src..src + len]);
        }
        true
    }

    /// Writes `items` at `dst` (table.init and active segments); `false` when out of bounds.
    pub fn init(&self, dst: u32, items: &[u64]) -> bool {
        let els = self.elements();
        let dst = dst as usize;
        if dst + items.len() > els.len() {
            return false;
        }
        els[dst..dst + items.len()].copy_from_slice(items);
        true
    }
}

impl std::fmt::Debug for TableData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableData").field("ty", &self.ty).field("size", &self.size()).finish()
    }
}
