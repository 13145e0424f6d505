//! Guest memory, checked: every pointer a guest hands over is range-checked against its memory
//! and an out-of-range one is `EFAULT`; the host never touches memory outside the guest's.

use std::cell::RefCell;

use keel::{Caller, MemoryView};
use keel_sys::Errno;

/// The calling instance's memory 0, borrowed for one WASI call (the view proves the instance's
/// lock is held and keeps every other access out meanwhile).
pub(crate) struct Mem<'c>(RefCell<Option<MemoryView<'c>>>);

type R<T> = Result<T, Errno>;

impl<'c> Mem<'c> {
    pub(crate) fn new(caller: &'c mut Caller<'_>) -> Self {
        Mem(RefCell::new(caller.memory()))
    }

    /// Checks that `[ptr, ptr + len)` lies inside the memory.
    pub(crate) fn check(&self, ptr: u32, len: u64) -> R<()> {
        let m = self.0.borrow();
        let m = m.as_ref().ok_or(Errno::EFAULT)?;
        if m.check(ptr as u64, len) { Ok(()) } else { Err(Errno::EFAULT) }
    }

    pub(crate) fn read(&self, ptr: u32, buf: &mut [u8]) -> R<()> {
        let m = self.0.borrow();
        let m = m.as_ref().ok_or(Errno::EFAULT)?;
        if m.read(ptr as u64, buf) { Ok(()) } else { Err(Errno::EFAULT) }
    }

    pub(crate) fn write(&self, ptr: u32, data: &[u8]) -> R<()> {
        let mut m = self.0.borrow_mut();
        let m = m.as_mut().ok_or(Errno::EFAULT)?;
        if m.write(ptr as u64, data) { Ok(()) } else { Err(Errno::EFAULT) }
    }

    pub(crate) fn bytes(&self, ptr: u32, len: u32) -> R<Vec<u8>> {
        self.check(ptr, len as u64)?;
        let mut buf = vec![0; len as usize];
        self.read(ptr, &mut buf)?;
        Ok(buf)
    }

    /// A path argument: `EFAULT` out of range, `ENAMETOOLONG` past 64 KiB, `EILSEQ` if not
    /// UTF-8.
    pub(crate) fn string(&self, ptr: u32, len: u32) -> R<String> {
        self.check(ptr, len as u64)?;
        if len > 1 << 16 {
            return Err(Errno::ENAMETOOLONG);
        }
        String::from_utf8(self.bytes(ptr, len)?).map_err(|_| Errno::EILSEQ)
    }

    pub(crate) fn u16(&self, ptr: u32) -> R<u16> {
        let mut b = [0; 2];
        self.read(ptr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    pub(crate) fn u32(&self, ptr: u32) -> R<u32> {
        let mut b = [0; 4];
        self.read(ptr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub(crate) fn u64(&self, ptr: u32) -> R<u64> {
        let mut b = [0; 8];
        self.read(ptr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn put_u32(&self, ptr: u32, v: u32) -> R<()> {
        self.write(ptr, &v.to_le_bytes())
    }

    pub(crate) fn put_u64(&self, ptr: u32, v: u64) -> R<()> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Reads an iovec array (`(buf: u32, len: u32)` pairs), checking each buffer's range.
    pub(crate) fn iovecs(&self, iovs: u32, count: u32) -> R<Vec<(u32, u32)>> {
        self.check(iovs, count as u64 * 8)?;
        let mut out = Vec::with_capacity(count as usize);
        let mut total: u64 = 0;
        for i in 0..count {
            let at = iovs + i * 8;
            let (buf, len) = (self.u32(at)?, self.u32(at + 4)?);
            self.check(buf, len as u64)?;
            total += len as u64;
            out.push((buf, len));
        }
        if total > u32::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        Ok(out)
    }
}
