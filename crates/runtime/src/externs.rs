//! Handles to a module's memories, tables and globals. Each access takes the owning instance
//! group's lock, so handles may be used from any thread.

use std::sync::Arc;

use keel_decode::{GlobalType, MemoryType, TableType};

use crate::Func;
use crate::error::{Error, UsageError};
use crate::func::{read_val, write_val};
use crate::owner::InstanceOwner;
use crate::trap::Result;
use crate::value::Val;
use crate::vm::{GlobalData, MemoryData, TableData};

/// A linear memory.
#[derive(Clone)]
pub struct Memory {
    pub(crate) owner: InstanceOwner,
    pub(crate) data: Arc<MemoryData>,
}

impl Memory {
    /// Its type as declared.
    pub fn ty(&self) -> MemoryType {
        self.data.ty()
    }

    /// Current size in bytes.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// Current size in pages of 64 KiB.
    pub fn pages(&self) -> u64 {
        self.data.pages()
    }

    /// Grows by `delta` pages; returns the previous size in pages, or `None` past the maximum.
    /// (`None` too while a host function holds a view of the memory: see
    /// [`Caller::memory`](crate::Caller::memory).)
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let _g = self.owner.instance().locks().lock_unborrowed().ok()?;
        self.data.grow(delta)
    }

    /// Copies `buf.len()` bytes at `offset` out of the memory; an error when out of range.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let _g = self.owner.instance().locks().lock_unborrowed()?;
        if self.data.read(offset, buf) {
            Ok(())
        } else {
            Err(out_of_range(offset, buf.len(), self.size()))
        }
    }

    /// Copies `data` into the memory at `offset`; an error when out of range.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        let _g = self.owner.instance().locks().lock_unborrowed()?;
        if self.data.write(offset, data) {
            Ok(())
        } else {
            Err(out_of_range(offset, data.len(), self.size()))
        }
    }

    /// Reads a little-endian u32 at `offset`.
    pub fn read_u32_le(&self, offset: u64) -> Result<u32> {
        let mut b = [0; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a little-endian u32 at `offset`.
    pub fn write_u32_le(&self, offset: u64, value: u32) -> Result<()> {
        self.write(offset, &value.to_le_bytes())
    }

    /// Reads a little-endian u64 at `offset`.
    pub fn read_u64_le(&self, offset: u64) -> Result<u64> {
        let mut b = [0; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u64 at `offset`.
    pub fn write_u64_le(&self, offset: u64, value: u64) -> Result<()> {
        self.write(offset, &value.to_le_bytes())
    }
}

fn out_of_range(offset: u64, len: usize, size: u64) -> Error {
    UsageError::MemoryRange { offset, len, size }.into()
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory(pages={})", self.pages())
    }
}

/// A global.
#[derive(Clone)]
pub struct Global {
    pub(crate) owner: InstanceOwner,
    pub(crate) data: Arc<GlobalData>,
}

impl Global {
    /// Its type.
    pub fn ty(&self) -> GlobalType {
        self.data.ty()
    }

    /// Its current value.
    pub fn get(&self) -> Val {
        let _g = self.owner.instance().locks().lock();
        // SAFETY: the slot holds a value of the global's type written by the runtime or Wasm.
        unsafe { read_val(self.data.ty().content, &self.data.get_wide()) }
    }

    /// Sets it; an error if it is immutable or `value` is of another type.
    pub fn set(&self, value: Val) -> Result<()> {
        let ty = self.data.ty();
        if !ty.mutable {
            return Err(UsageError::ImmutableGlobal.into());
        }
        if value.ty() != ty.content {
            let (expected, found) = (ty.content, value.ty());
            return Err(UsageError::ValueType { what: "global", expected, found }.into());
        }
        let mut slots = [0u64; 2];
        write_val(self.owner.store(), &value, &mut slots)?;
        let _g = self.owner.instance().locks().lock();
        self.data.set_wide(slots);
        Ok(())
    }
}

impl std::fmt::Debug for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Global({:?})", self.get())
    }
}

/// A table.
#[derive(Clone)]
pub struct Table {
    pub(crate) owner: InstanceOwner,
    pub(crate) data: Arc<TableData>,
}

impl Table {
    /// Its type as declared.
    pub fn ty(&self) -> TableType {
        self.data.ty()
    }

    /// Current number of elements.
    pub fn size(&self) -> u32 {
        let _g = self.owner.instance().locks().lock();
        self.data.size()
    }

    /// Element `index`, or `None` when out of bounds.
    pub fn get(&self, index: u32) -> Option<Val> {
        let _g = self.owner.instance().locks().lock();
        let raw = self.data.get(index)?;
        // SAFETY: table slots hold live references of the table's element type.
        Some(unsafe { read_val(self.data.ty().element, &[raw, 0]) })
    }

    /// Sets element `index`; an error when out of bounds or of the wrong type.
    pub fn set(&self, index: u32, value: Val) -> Result<()> {
        let raw = self.raw_ref(&value)?;
        let _g = self.owner.instance().locks().lock();
        if self.data.set(index, raw) {
            Ok(())
        } else {
            Err(UsageError::TableIndex { index }.into())
        }
    }

    /// Grows by `delta` elements set to `init`; the previous size, or `None` past the maximum.
    pub fn grow(&self, delta: u32, init: Val) -> Result<Option<u32>> {
        let raw = self.raw_ref(&init)?;
        let _g = self.owner.instance().locks().lock();
        Ok(self.data.grow(delta, raw))
    }

    fn raw_ref(&self, value: &Val) -> Result<u64> {
        if value.ty() != self.data.ty().element {
            let (expected, found) = (self.data.ty().element, value.ty());
            return Err(UsageError::ValueType { what: "table", expected, found }.into());
        }
        let mut slots = [0u64; 2];
        write_val(self.owner.store(), value, &mut slots)?;
        Ok(slots[0])
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table(size={})", self.size())
    }
}

/// Any export of a module.
#[derive(Clone, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A memory.
    Memory(Memory),
    /// A table.
    Table(Table),
    /// A global.
    Global(Global),
}
