//! Attributes: the stat family, `access`, and the modes and owners keel-sys keeps
//! (`Fs::stat_attrs`, `chmod`, `chown`), in place of what MEMFS keeps in the JS.

use keel::{Memory, Trap};
use keel_sys::{Attrs, Errno, FdEntry, FileType, Stat};

use super::{
    AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, Cx, R_OK, Res, S_IFBLK, S_IFCHR, S_IFDIR,
    S_IFLNK, S_IFREG, S_IFSOCK, STAT_SIZE, W_OK, X_OK, arg, int,
};
use crate::mem::{write_bytes, write_u32};

/// The type bits of `st_mode`.
fn type_bits(t: FileType) -> u32 {
    match t {
        FileType::Directory => S_IFDIR,
        FileType::RegularFile | FileType::Unknown => S_IFREG,
        FileType::SymbolicLink => S_IFLNK,
        FileType::CharacterDevice => S_IFCHR,
        FileType::BlockDevice => S_IFBLK,
        FileType::SocketStream | FileType::SocketDgram => S_IFSOCK,
    }
}

/// Writes `s` and `a` as Emscripten's `struct stat` (88 bytes) at `buf`.
fn write_stat(mem: &Memory, buf: u32, (s, a): &(Stat, Attrs)) -> Result<(), Trap> {
    let mut b = [0u8; STAT_SIZE];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &(s.dev as u32).to_le_bytes());
    put(8, &(s.ino as u32).to_le_bytes());
    put(12, &(type_bits(s.filetype) | (a.mode & 0o7777)).to_le_bytes());
    put(16, &(s.nlink as u32).to_le_bytes());
    put(20, &a.uid.to_le_bytes());
    put(24, &a.gid.to_le_bytes());
    put(40, &s.size.to_le_bytes());
    put(48, &4096u32.to_le_bytes());
    put(52, &(s.size.div_ceil(512) as u32).to_le_bytes());
    for (at, ns) in [(56, s.atim), (64, s.mtim), (72, s.ctim)] {
        put(at, &((ns / 1_000_000_000) as u32).to_le_bytes());
        put(at + 4, &((ns % 1_000_000_000) as u32).to_le_bytes());
    }
    put(80, &s.ino.to_le_bytes());
    write_bytes(mem, buf, &b)
}

/// `stat`, `lstat`, `fstatat(dirfd, path, buf, flags)`.
pub(super) fn stat(cx: &Cx<'_>, dirfd: i32, path: u32, buf: u32, flags: u32) -> Res {
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let at = cx.locate(dirfd, path, flags & AT_EMPTY_PATH != 0, follow)?;
    let s = at.fs.stat_attrs(&at.inner, follow)?;
    write_stat(&cx.mem, buf, &s)?;
    Ok(0)
}

/// The attributes of what `fd` holds: stdio is a terminal, as the JS's `/dev/tty` (0666).
fn fd_attrs(cx: &Cx<'_>, fd: u32) -> Result<(Stat, Attrs), Errno> {
    let mut st = cx.sys.lock();
    let of = |t: FileType, mode: u32| (Stat::of_type(t), Attrs { mode, ..Attrs::default_for(t) });
    Ok(match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.stat_attrs()?,
        FdEntry::Dir(d) => {
            let (mount, path) = (d.mount, d.path.clone());
            st.mounts[mount].fs.stat_attrs(&path, true)?
        }
        FdEntry::Listener(_) | FdEntry::Stream(_) => of(FileType::SocketStream, 0o755),
        FdEntry::Stdin | FdEntry::Stdout | FdEntry::Stderr => of(FileType::CharacterDevice, 0o666),
    })
}

pub(super) fn fstat(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fd, buf) = (arg(v, 0), arg(v, 1));
    let s = fd_attrs(cx, fd)?;
    write_stat(&cx.mem, buf, &s)?;
    Ok(0)
}

/// `statfs(path, size, buf)` / `fstatfs(fd, size, buf)`: the JS's made-up figures, for a path
/// or descriptor that exists.
pub(super) fn statfs(cx: &Cx<'_>, path: Option<u32>, fd: u32, buf: u32) -> Res {
    match path {
        Some(p) => {
            let at = cx.locate(AT_FDCWD, p, false, true)?;
            at.fs.stat(&at.inner, true)?;
        }
        None => {
            cx.sys.lock().fds.get(fd)?;
        }
    }
    for (at, value) in [
        (4, 4096),
        (40, 4096),
        (8, 1_000_000),
        (12, 500_000),
        (16, 500_000),
        (20, 1_000_000),
        (24, 1_000_000),
        (28, 42),
        (44, 2),
        (36, 255),
    ] {
        write_u32(&cx.mem, buf.wrapping_add(at), value)?;
    }
    Ok(0)
}

/// `faccessat(dirfd, path, amode, flags)`: the path must exist; permissions are judged, as the
/// JS does, from the file's mode bits, any of owner, group or other granting (the guest is
/// every one of them).
pub(super) fn access(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (dirfd, path, amode, flags) = (int(v, 0), arg(v, 1), arg(v, 2), arg(v, 3));
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let at = cx.locate(dirfd, path, false, follow)?;
    if amode & !7 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mode = at.fs.stat_attrs(&at.inner, follow)?.1.mode;
    let denied = (amode & R_OK != 0 && mode & 0o444 == 0)
        || (amode & W_OK != 0 && mode & 0o222 == 0)
        || (amode & X_OK != 0 && mode & 0o111 == 0);
    if denied { Err(Errno::EACCES.into()) } else { Ok(0) }
}

/// `chmod(path, mode)`, `fchmodat(dirfd, path, mode, flags)`: the permission bits, within what
/// keel-sys lets a guest set (never setuid or setgid). As the JS, `fchmodat` follows a link
/// whatever its flags.
pub(super) fn chmod(cx: &Cx<'_>, dirfd: i32, path: u32, mode: u32) -> Res {
    let at = cx.locate(dirfd, path, false, true)?;
    at.fs.chmod(&at.inner, mode)?;
    Ok(0)
}

/// `fchmod(fd, mode)`: as `chmod`, of an open file or directory; stdio's bits are fixed.
pub(super) fn fchmod(cx: &Cx<'_>, fd: u32, mode: u32) -> Res {
    cx.sys.lock().fd_chmod(fd, mode)?;
    Ok(0)
}

/// An owner or group argument: -1 keeps it.
fn owner(id: u32) -> Option<u32> {
    (id != u32::MAX).then_some(id)
}

/// `chown`, `lchown` (`flags` `AT_SYMLINK_NOFOLLOW`), `fchownat(dirfd, path, uid, gid, flags)`:
/// the owners keel-sys keeps (MemFs) or the host's (DirFs, where the host decides who may give
/// a file away). The JS's MEMFS ignores owners; keel keeps them, as node's own `fs` does.
pub(super) fn chown(cx: &Cx<'_>, dirfd: i32, path: u32, ids: (u32, u32), flags: u32) -> Res {
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let at = cx.locate(dirfd, path, flags & AT_EMPTY_PATH != 0, follow)?;
    at.fs.chown(&at.inner, owner(ids.0), owner(ids.1), follow)?;
    Ok(0)
}

/// `fchown(fd, uid, gid)`: as `chown`, of an open file or directory (stdio: see
/// `SysState::fd_chown`).
pub(super) fn fchown(cx: &Cx<'_>, fd: u32, uid: u32, gid: u32) -> Res {
    cx.sys.lock().fd_chown(fd, owner(uid), owner(gid))?;
    Ok(0)
}
