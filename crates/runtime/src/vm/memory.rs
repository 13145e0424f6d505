//! Linear memory: reserved once in address space, committed as it grows, so that its base address
//! never moves (DESIGN decision 1). The interpreter checks every access against
//! [`MemoryData::len`]; the compiler does too, unless the memory is *guarded*: then it reserves
//! 4 GiB plus a guard region of [`GUARD_BYTES`], everything past the current length is
//! inaccessible, and compiled code lets an out-of-bounds access fault (see keel-cranelift's
//! `signals.rs` and docs/compiler.md).

use crate::InstantiateError;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_decode::MemoryType;

/// Bytes in a Wasm page.
pub const PAGE_SIZE: usize = 65536;

/// Most pages a 32-bit memory can have (4 GiB).
pub const MAX_PAGES: u64 = 65536;

/// Bytes of inaccessible address space a guarded memory keeps past 4 GiB: a Wasm address (below
/// 4 GiB) plus a static offset and access size of at most this many bytes always lands inside
/// the reservation. Compiled code checks accesses with larger offsets explicitly.
pub const GUARD_BYTES: u64 = 2 << 30;

/// Whether memories reserved whole ([`Reservation::Maximum`]) are guarded on this platform: where
/// the compiler turns faults into traps (Linux on x86_64).
pub const GUARDS_SUPPORTED: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// Address space of a guarded memory: 4 GiB, whatever its maximum, and the guard.
const GUARDED_RESERVATION: usize = (MAX_PAGES as usize * PAGE_SIZE) + GUARD_BYTES as usize;

/// How much address space a memory reserves up front ([`RuntimeConfig::memory_reservation`]).
///
/// Decision 1: a memory's base address never moves, so it can never grow past its reservation.
/// A smaller reservation therefore caps growth: `memory.grow` returns -1 past it, and a module
/// whose minimum does not fit fails to instantiate.
///
/// [`RuntimeConfig::memory_reservation`]: crate::RuntimeConfig::memory_reservation
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reservation {
    /// Reserve the memory's whole maximum: the declared maximum capped by the memory limit,
    /// 4 GiB when undeclared (the default). Growth is limited only by the maximum and the limit.
    #[default]
    Maximum,
    /// Reserve at most this many bytes (rounded down to whole 64 KiB pages), which is also the
    /// most the memory can ever grow to.
    Bytes(u64),
}

impl Reservation {
    /// The most pages a reservation of this kind holds (`None`: no cap of its own).
    pub fn max_pages(self) -> Option<u64> {
        match self {
            Reservation::Maximum => None,
            Reservation::Bytes(n) => Some(n / PAGE_SIZE as u64),
        }
    }
}

/// A linear memory.
pub struct MemoryData {
    base: NonNull<u8>,
    len: AtomicUsize,
    /// Bytes from `base` that are readable and writable: at least `len`, more when the
    /// reservation came from the pool with pages already made accessible (zeroed, and beyond
    /// `len`, so every bounds check still refuses them).
    accessible: AtomicUsize,
    max_pages: u64,
    ty: MemoryType,
    reservation: Option<region::Allocation>,
    /// Whether this memory is guarded: `accessible == len` always, and the reservation spans
    /// [`GUARDED_RESERVATION`] bytes.
    guarded: bool,
}

// SAFETY: the bytes behind `base` are only read and written by the thread that holds the exec lock
// of the instance group owning this memory (see `lock.rs`); `len` is atomic; the reservation is
// released only on drop, when no reference remains.
unsafe impl Send for MemoryData {}
// SAFETY: as above.
unsafe impl Sync for MemoryData {}

impl MemoryData {
    /// Reserves and commits a memory of type `ty`, limited to `limit_pages` pages, reserving
    /// address space as `reservation` says (which may cap its growth further). Only the
    /// runtime makes memories: outside an instance's lock, nothing may reach one.
    pub(crate) fn with_reservation(
        ty: MemoryType,
        limit_pages: u64,
        reservation: Reservation,
    ) -> Result<MemoryData, InstantiateError> {
        let declared_max = ty.limits.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        let mut max_pages = declared_max.min(limit_pages);
        if ty.limits.min > max_pages {
            return Err(InstantiateError::MemoryLimit { minimum: ty.limits.min, limit: max_pages });
        }
        if let Some(cap) = reservation.max_pages() {
            if ty.limits.min > cap {
                let (minimum, reserved) = (ty.limits.min, cap);
                return Err(InstantiateError::MemoryReservation { minimum, reserved });
            }
            max_pages = max_pages.min(cap);
        }
        let guarded = GUARDS_SUPPORTED && reservation == Reservation::Maximum;
        let reserve = if guarded { GUARDED_RESERVATION } else { max_pages as usize * PAGE_SIZE };
        let (base, reservation) = if reserve == 0 {
            (NonNull::dangling(), None)
        } else {
            let (alloc, accessible) = match pool::take(reserve) {
                Some(pooled) => pooled,
                None => (
                    region::alloc(reserve, region::Protection::NONE).map_err(|e| {
                        InstantiateError::Resources(format!(
                            "cannot reserve {reserve} bytes of memory: {e}"
                        ))
                    })?,
                    0,
                ),
            };
            let base = NonNull::new(alloc.as_ptr::<u8>() as *mut u8)
                .ok_or_else(|| InstantiateError::Resources("null reservation".into()))?;
            (base, Some((alloc, accessible)))
        };
        let (reservation, accessible) = match reservation {
            Some((alloc, accessible)) => (Some(alloc), accessible),
            None => (None, 0),
        };
        let memory = MemoryData {
            base,
            len: AtomicUsize::new(0),
            accessible: AtomicUsize::new(accessible),
            max_pages,
            ty,
            reservation,
            guarded,
        };
        if memory.grow(ty.limits.min).is_none() {
            let pages = ty.limits.min;
            return Err(InstantiateError::Resources(format!(
                "cannot commit {pages} pages of memory"
            )));
        }
        if guarded {
            // A pooled reservation may have more pages accessible than this memory has: they
            // must fault again.
            let (len, accessible) = (memory.len(), memory.accessible.load(Ordering::Relaxed));
            if accessible > len {
                // SAFETY: [len, accessible) lies inside the reservation and past the memory's
                // length, so nothing refers to it.
                unsafe {
                    region::protect(
                        memory.base().add(len),
                        accessible - len,
                        region::Protection::NONE,
                    )
                }
                .map_err(|e| {
                    InstantiateError::Resources(format!("cannot protect the guard region: {e}"))
                })?;
                memory.accessible.store(len, Ordering::Relaxed);
            }
        }
        Ok(memory)
    }

    /// The memory's type as declared.
    pub fn ty(&self) -> MemoryType {
        self.ty
    }

    /// Address of byte 0. It never changes for the life of the memory.
    #[inline(always)]
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Current size in bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Address of the current size in bytes, for compiled code that reloads it after every call
    /// and grow instead of calling [`MemoryData::len`].
    #[inline(always)]
    pub fn len_ptr(&self) -> *const usize {
        self.len.as_ptr()
    }

    /// Whether the memory has no pages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every address from the current length up to 6 GiB past the base faults: compiled
    /// code built for guarded memories needs no bounds checks for static offsets below
    /// [`GUARD_BYTES`].
    pub fn is_guarded(&self) -> bool {
        self.guarded
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        (self.len() / PAGE_SIZE) as u64
    }

    /// Largest size in pages it may grow to.
    pub fn max_pages(&self) -> u64 {
        self.max_pages
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` (memory.grow's -1) when the
    /// new size would pass the maximum or the system refuses the commit. New pages read as zero.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        if delta > 0 {
            let end = new as usize * PAGE_SIZE;
            let accessible = self.accessible.load(Ordering::Relaxed);
            if end > accessible {
                // SAFETY: [accessible, end) lies inside the reservation, since new <= max_pages
                // and the reservation spans max_pages pages; pages never made accessible before
                // read as zero when first touched.
                unsafe {
                    region::protect(
                        self.base().add(accessible),
                        end - accessible,
                        region::Protection::READ_WRITE,
                    )
                    .ok()?;
                }
                self.accessible.store(end, Ordering::Relaxed);
            }
            self.len.store(end, Ordering::Relaxed);
        }
        Some(old)
    }

    /// Checks that `[offset, offset + len)` lies inside the memory.
    #[inline(always)]
    pub fn check(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len() as u64)
    }

    /// Copies bytes out of the memory; `false` if the range is out of bounds.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> bool {
        if !self.check(offset, buf.len() as u64) {
            return false;
        }
        // SAFETY: the range was checked against the committed length; `buf` is host memory and
        // cannot overlap the reservation's committed pages through a Rust reference.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base().add(offset as usize),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        true
    }

    /// Copies bytes into the memory; `false` if the range is out of bounds.
    pub fn write(&self, offset: u64, data: &[u8]) -> bool {
        if !self.check(offset, data.len() as u64) {
            return false;
        }
        // SAFETY: as in `read`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.base().add(offset as usize),
                data.len(),
            )
        };
        true
    }

    /// memory.fill: sets `len` bytes at `offset` to `value`; `false` if out of bounds.
    pub fn fill(&self, offset: u64, value: u8, len: u64) -> bool {
        if !self.check(offset, len) {
            return false;
        }
        // SAFETY: the range was checked against the committed length.
        unsafe { std::ptr::write_bytes(self.base().add(offset as usize), value, len as usize) };
        true
    }

    /// memory.copy within one memory or between two: copies `len` bytes from `src` of `from`
    /// to `dst` of `self`, overlapping ranges handled; `false` if either is out of bounds.
    pub fn copy_from(&self, dst: u64, from: &MemoryData, src: u64, len: u64) -> bool {
        if !self.check(dst, len) || !from.check(src, len) {
            return false;
        }
        // SAFETY: both ranges were checked against their memories' committed lengths; `copy`
        // allows overlap.
        unsafe {
            std::ptr::copy(
                from.base().add(src as usize),
                self.base().add(dst as usize),
                len as usize,
            )
        };
        true
    }
}

impl std::fmt::Debug for MemoryData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryData")
            .field("pages", &self.pages())
            .field("max", &self.max_pages)
            .finish()
    }
}

impl Drop for MemoryData {
    fn drop(&mut self) {
        if let Some(alloc) = self.reservation.take() {
            pool::give(alloc, self.accessible.load(Ordering::Relaxed));
        }
    }
}

/// Reservations of freed memories, kept for the next instance: unmapping a 4 GiB reservation
/// walks its page tables and costs far more than instantiating a small module, and the
/// one-instance-per-request pattern frees and reserves memories at a high rate.
mod pool {
    use std::sync::Mutex;

    /// Most reservations kept (virtual address space only: 32 x 4 GiB of 128 TiB).
    const CAPACITY: usize = 32;

    struct Reservation(region::Allocation, usize);

    // SAFETY: a pooled reservation is owned by the pool alone (no other pointer to it is in use)
    // until `take` hands it to exactly one new memory.
    unsafe impl Send for Reservation {}

    static POOL: Mutex<Vec<Reservation>> = Mutex::new(Vec::new());

    /// A pooled reservation of exactly `size` bytes and how many bytes from its start are
    /// accessible; every byte reads as zero.
    pub(super) fn take(size: usize) -> Option<(region::Allocation, usize)> {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let at = pool.iter().position(|r| r.0.len() == size)?;
        let r = pool.swap_remove(at);
        Some((r.0, r.1))
    }

    /// Returns a reservation whose first `accessible` bytes were readable and writable. Their
    /// contents are dropped first (they read as zero afterwards). Unmapped instead when the pool
    /// is full.
    pub(super) fn give(alloc: region::Allocation, accessible: usize) {
        let Some(accessible) = reset(&alloc, accessible) else { return };
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < CAPACITY {
            pool.push(Reservation(alloc, accessible));
        }
    }

    /// Linux: `MADV_DONTNEED` frees the pages and makes them read as zero, keeping their
    /// protection, in one call that does not split the mapping.
    #[cfg(target_os = "linux")]
    fn reset(alloc: &region::Allocation, accessible: usize) -> Option<usize> {
        if accessible > 0 {
            // SAFETY: the range is the start of a reservation that no memory uses any more (its
            // `MemoryData` is being dropped), so no reference into it exists.
            let rc = unsafe {
                libc::madvise(
                    alloc.as_ptr::<u8>() as *mut libc::c_void,
                    accessible,
                    libc::MADV_DONTNEED,
                )
            };
            if rc != 0 {
                return None;
            }
        }
        Some(accessible)
    }

    /// Other Unix: map fresh inaccessible zero pages over the used range (`MAP_FIXED`); the new
    /// mapping belongs to the enclosing reservation and is unmapped with it, so its own handle
    /// is forgotten.
    #[cfg(all(unix, not(target_os = "linux")))]
    fn reset(alloc: &region::Allocation, accessible: usize) -> Option<usize> {
        if accessible > 0 {
            let sub = region::alloc_at(alloc.as_ptr::<u8>(), accessible, region::Protection::NONE)
                .ok()?;
            std::mem::forget(sub);
        }
        Some(0)
    }

    /// Elsewhere reservations are not reused.
    #[cfg(not(unix))]
    fn reset(_: &region::Allocation, _: usize) -> Option<usize> {
        None
    }
}
