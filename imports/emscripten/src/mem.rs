//! The guest's memory as the functions see it: the exported memory of the calling instance,
//! read and written through keel's `Memory` under the instance's lock. An address out of range
//! is a memory-out-of-bounds trap, never a host access.

use keel::{Caller, Memory, Module, Trap, TrapCode, TrapKind};

/// The longest NUL-terminated string read from the guest (a path, a message): past it the
/// string is cut, as no path or message of a sane guest is this long.
pub(crate) const MAX_CSTR: usize = 64 * 1024;

/// The calling instance as a module handle.
pub(crate) fn module(caller: &Caller<'_>, function: &str) -> Result<Module, Trap> {
    caller.module().ok_or_else(|| Trap::host(format!("env.{function} called from outside a guest")))
}

/// The calling instance's memory 0.
pub(crate) fn memory(module: &Module) -> Result<Memory, Trap> {
    module.default_memory().ok_or_else(|| Trap::host("the guest has no memory"))
}

fn oob<T>(_: T) -> Trap {
    Trap::new(TrapKind::Code(TrapCode::MemoryOutOfBounds))
}

pub(crate) fn read_u32(m: &Memory, addr: u32) -> Result<u32, Trap> {
    m.read_u32_le(addr as u64).map_err(oob)
}

pub(crate) fn write_u32(m: &Memory, addr: u32, v: u32) -> Result<(), Trap> {
    m.write_u32_le(addr as u64, v).map_err(oob)
}

#[allow(dead_code)] // for the syscall and time tables
pub(crate) fn write_u64(m: &Memory, addr: u32, v: u64) -> Result<(), Trap> {
    m.write_u64_le(addr as u64, v).map_err(oob)
}

pub(crate) fn read_u8(m: &Memory, addr: u32) -> Result<u8, Trap> {
    let mut b = [0];
    m.read(addr as u64, &mut b).map_err(oob)?;
    Ok(b[0])
}

pub(crate) fn write_bytes(m: &Memory, addr: u32, data: &[u8]) -> Result<(), Trap> {
    m.write(addr as u64, data).map_err(oob)
}

pub(crate) fn read_bytes(m: &Memory, addr: u32, len: u32) -> Result<Vec<u8>, Trap> {
    let mut buf = vec![0; len as usize];
    m.read(addr as u64, &mut buf).map_err(oob)?;
    Ok(buf)
}

/// The NUL-terminated string at `addr` (without its NUL), at most [`MAX_CSTR`] bytes; a string
/// running past the end of memory is a trap.
pub(crate) fn read_cstr(m: &Memory, addr: u32) -> Result<Vec<u8>, Trap> {
    let size = m.size();
    if addr as u64 >= size {
        return Err(oob(()));
    }
    let mut out = Vec::new();
    let mut at = addr as u64;
    let mut chunk = [0u8; 256];
    loop {
        let n = (size - at).min(chunk.len() as u64) as usize;
        if n == 0 {
            return Err(oob(()));
        }
        m.read(at, &mut chunk[..n]).map_err(oob)?;
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() >= MAX_CSTR {
            out.truncate(MAX_CSTR);
            return Ok(out);
        }
        at += n as u64;
    }
}
