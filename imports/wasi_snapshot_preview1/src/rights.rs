//! Rights: WASI preview1's capabilities of a descriptor.
//!
//! A descriptor's rights are what it is by nature (a file opened read-only has no `fd_write`, a
//! directory no `fd_read`, stdio no `fd_seek`) narrowed by a mask: the inheriting rights of the
//! directory it was opened through, and whatever the guest dropped with `fd_fdstat_set_rights`.
//! Rights only ever shrink. Every function checks the right it needs, so that a descriptor handed
//! to less trusted code with fewer rights cannot do more; `fd_read` and `fd_write` without their
//! right fail with `EBADF` (as POSIX does for a descriptor not open for reading or writing),
//! everything else with `ENOTCAPABLE`.
//!
//! The rights a guest asks for in `path_open` choose the access mode (reading, writing or both,
//! as wasi-libc derives them from `O_RDONLY`/`O_WRONLY`/`O_RDWR`), not the mask: a guest that asks
//! for `fd_read | fd_write` alone may still seek, as on wasmtime and every POSIX system. The old
//! wasmtime (wasi-common) granted exactly what was asked for, and guests that asked for little
//! broke on it; since wasmtime dropped rights, guests are written against that.

use keel_sys::{Errno, FdEntry, Rights, SysState};

pub(crate) const FD_DATASYNC: u64 = 1 << 0;
pub(crate) const FD_READ: u64 = 1 << 1;
pub(crate) const FD_SEEK: u64 = 1 << 2;
pub(crate) const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
pub(crate) const FD_SYNC: u64 = 1 << 4;
pub(crate) const FD_TELL: u64 = 1 << 5;
pub(crate) const FD_WRITE: u64 = 1 << 6;
pub(crate) const FD_ADVISE: u64 = 1 << 7;
pub(crate) const FD_ALLOCATE: u64 = 1 << 8;
pub(crate) const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
pub(crate) const PATH_CREATE_FILE: u64 = 1 << 10;
pub(crate) const PATH_LINK_SOURCE: u64 = 1 << 11;
pub(crate) const PATH_LINK_TARGET: u64 = 1 << 12;
pub(crate) const PATH_OPEN: u64 = 1 << 13;
pub(crate) const FD_READDIR: u64 = 1 << 14;
pub(crate) const PATH_READLINK: u64 = 1 << 15;
pub(crate) const PATH_RENAME_SOURCE: u64 = 1 << 16;
pub(crate) const PATH_RENAME_TARGET: u64 = 1 << 17;
pub(crate) const PATH_FILESTAT_GET: u64 = 1 << 18;
pub(crate) const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
pub(crate) const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
pub(crate) const FD_FILESTAT_GET: u64 = 1 << 21;
pub(crate) const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
pub(crate) const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
pub(crate) const PATH_SYMLINK: u64 = 1 << 24;
pub(crate) const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
pub(crate) const PATH_UNLINK_FILE: u64 = 1 << 26;
pub(crate) const POLL_FD_READWRITE: u64 = 1 << 27;
pub(crate) const SOCK_SHUTDOWN: u64 = 1 << 28;
pub(crate) const SOCK_ACCEPT: u64 = 1 << 29;

/// Every right preview1 defines.
pub(crate) const ALL: u64 = (1 << 30) - 1;

/// What a regular file can do (less `fd_read` or `fd_write` by how it was opened).
const FILE: u64 = FD_DATASYNC
    | FD_READ
    | FD_SEEK
    | FD_FDSTAT_SET_FLAGS
    | FD_SYNC
    | FD_TELL
    | FD_WRITE
    | FD_ADVISE
    | FD_ALLOCATE
    | FD_FILESTAT_GET
    | FD_FILESTAT_SET_SIZE
    | FD_FILESTAT_SET_TIMES
    | POLL_FD_READWRITE;

/// What a file opened without write access loses.
const WRITING: u64 = FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE | FD_DATASYNC;

/// What a directory can do: everything on paths below it, and on itself what is not data.
const DIR: u64 = ALL
    & !(FD_READ
        | FD_WRITE
        | FD_SEEK
        | FD_TELL
        | FD_ALLOCATE
        | FD_FILESTAT_SET_SIZE
        | FD_DATASYNC
        | FD_ADVISE
        | SOCK_SHUTDOWN
        | SOCK_ACCEPT);

const STDIN: u64 = FD_READ | POLL_FD_READWRITE | FD_FILESTAT_GET | FD_FDSTAT_SET_FLAGS;
const STDOUT: u64 = FD_WRITE | POLL_FD_READWRITE | FD_FILESTAT_GET | FD_FDSTAT_SET_FLAGS;
const SOCKET: u64 = FD_READ
    | FD_WRITE
    | FD_FDSTAT_SET_FLAGS
    | FD_FILESTAT_GET
    | POLL_FD_READWRITE
    | SOCK_SHUTDOWN
    | SOCK_ACCEPT;

/// The rights `entry` has by nature, before the guest's mask.
fn natural(entry: &FdEntry) -> Rights {
    let (base, inheriting) = match entry {
        FdEntry::Stdin => (STDIN, 0),
        FdEntry::Stdout | FdEntry::Stderr => (STDOUT, 0),
        FdEntry::File(f) => {
            let mut base = FILE;
            if !f.read {
                base &= !FD_READ;
            }
            if !f.write {
                base &= !WRITING;
            }
            (base, 0)
        }
        FdEntry::Dir(_) => (DIR, ALL),
        FdEntry::Listener(_) | FdEntry::Stream(_) => (SOCKET, 0),
    };
    Rights { base, inheriting }
}

/// The rights of `fd`: its nature narrowed by its mask. `EBADF` if it is not open.
pub(crate) fn of(st: &mut SysState, fd: u32) -> Result<Rights, Errno> {
    let mask = *st.fds.rights(fd)?;
    let n = natural(st.fds.get(fd)?);
    Ok(Rights { base: n.base & mask.base, inheriting: n.inheriting & mask.inheriting })
}

/// Fails with `ENOTCAPABLE` unless `fd` has every right of `needed`.
pub(crate) fn require(st: &mut SysState, fd: u32, needed: u64) -> Result<(), Errno> {
    if of(st, fd)?.base & needed == needed { Ok(()) } else { Err(Errno::ENOTCAPABLE) }
}

/// Whether `fd` may be read (`fd_read`, `fd_pread`, `sock_recv`).
pub(crate) fn may_read(st: &mut SysState, fd: u32) -> Result<bool, Errno> {
    Ok(of(st, fd)?.base & FD_READ != 0)
}

/// Whether `fd` may be written (`fd_write`, `fd_pwrite`, `sock_send`).
pub(crate) fn may_write(st: &mut SysState, fd: u32) -> Result<bool, Errno> {
    Ok(of(st, fd)?.base & FD_WRITE != 0)
}

/// The mask of a descriptor opened through directory `dir`: what the directory passes on.
/// Asking `path_open` for more is not an error (wasi-libc and Rust's std ask for what the access
/// mode allows, whatever the directory has), but it is not granted.
pub(crate) fn for_open(st: &mut SysState, dir: u32) -> Result<Rights, Errno> {
    let d = of(st, dir)?;
    Ok(Rights { base: d.inheriting, inheriting: d.inheriting })
}

/// `fd_fdstat_set_rights`: narrows `fd`'s rights to `base` and `inheriting`; asking for a right
/// it does not have is `ENOTCAPABLE` (rights never grow).
pub(crate) fn narrow(st: &mut SysState, fd: u32, base: u64, inheriting: u64) -> Result<(), Errno> {
    let now = of(st, fd)?;
    if base & !now.base != 0 || inheriting & !now.inheriting != 0 {
        return Err(Errno::ENOTCAPABLE);
    }
    let mask = st.fds.rights(fd)?;
    mask.base &= base;
    mask.inheriting &= inheriting;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sys::{OpenDir, SysConfig, SysContext};

    fn state() -> SysContext {
        SysContext::new(&SysConfig::default())
    }

    fn dir() -> FdEntry {
        FdEntry::Dir(OpenDir { mount: 0, path: String::new(), preopen: None, listing: None })
    }

    #[test]
    fn natural_rights_by_kind() {
        let ctx = state();
        let mut st = ctx.lock();
        assert_eq!(of(&mut st, 0).unwrap(), Rights { base: STDIN, inheriting: 0 });
        assert_eq!(of(&mut st, 1).unwrap().base & FD_SEEK, 0, "stdio cannot seek");
        let d = st.fds.insert(dir()).unwrap();
        let r = of(&mut st, d).unwrap();
        assert_eq!(r.base & (FD_READ | FD_WRITE), 0, "a directory has no data rights");
        assert_eq!(r.base & PATH_OPEN, PATH_OPEN);
        assert_eq!(r.inheriting, ALL);
    }

    #[test]
    fn rights_only_shrink() {
        let ctx = state();
        let mut st = ctx.lock();
        let d = st.fds.insert(dir()).unwrap();
        narrow(&mut st, d, DIR & !PATH_CREATE_FILE, ALL & !FD_WRITE).unwrap();
        assert_eq!(require(&mut st, d, PATH_CREATE_FILE), Err(Errno::ENOTCAPABLE));
        assert_eq!(require(&mut st, d, PATH_OPEN), Ok(()));
        assert_eq!(narrow(&mut st, d, DIR, ALL), Err(Errno::ENOTCAPABLE), "no regrant");
        // A descriptor opened through it cannot get what it no longer passes on.
        let m = for_open(&mut st, d).unwrap();
        assert_eq!(m.base & (FD_READ | FD_WRITE), FD_READ);
        assert_eq!(of(&mut st, 99), Err(Errno::EBADF));
    }

    #[test]
    fn rights_move_with_renumber() {
        let ctx = state();
        let mut st = ctx.lock();
        let a = st.fds.insert(dir()).unwrap();
        let b = st.fds.insert(dir()).unwrap();
        narrow(&mut st, a, PATH_OPEN, 0).unwrap();
        st.fds.renumber(a, b).unwrap();
        assert_eq!(of(&mut st, b).unwrap().base, PATH_OPEN);
        assert_eq!(of(&mut st, a), Err(Errno::EBADF));
    }
}
