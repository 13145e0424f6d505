//! The WASI preview1 functions (all but `poll_oneoff` and `proc_exit`).

use std::io::SeekFrom;

use keel_sys::fs::join;
use keel_sys::{
    DirEntry, Errno, FdEntry, FileType, OpenDir, OpenFile, OpenOptions, SetTime, Stat, SysState,
};

use crate::mem::Mem;
use crate::rights::{self, *};

type R = Result<(), Errno>;

// fdflags.
const FDFLAG_APPEND: u16 = 1;
const FDFLAG_NONBLOCK: u16 = 4;
// oflags.
const O_CREAT: u32 = 1;
const O_DIRECTORY: u32 = 2;
const O_EXCL: u32 = 4;
const O_TRUNC: u32 = 8;
// lookupflags.
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;
// fstflags.
const FST_ATIM: u32 = 1;
const FST_ATIM_NOW: u32 = 2;
const FST_MTIM: u32 = 4;
const FST_MTIM_NOW: u32 = 8;

pub(crate) const CLOCK_REALTIME: u32 = 0;
pub(crate) const CLOCK_MONOTONIC: u32 = 1;

fn a32(v: u64) -> u32 {
    v as u32
}

/// Writes a list of NUL-terminated strings and the pointers to them.
fn write_strings(mem: &Mem, list: &[String], ptrs: u32, buf: u32) -> R {
    let total: u64 = list.iter().map(|s| s.len() as u64 + 1).sum();
    mem.check(ptrs, list.len() as u64 * 4)?;
    mem.check(buf, total)?;
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        mem.put_u32(ptrs + i as u32 * 4, at)?;
        mem.write(at, s.as_bytes())?;
        mem.write(at + s.len() as u32, &[0])?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

fn write_sizes(mem: &Mem, list: &[String], count: u32, size: u32) -> R {
    mem.check(count, 4)?;
    mem.check(size, 4)?;
    let total: usize = list.iter().map(|s| s.len() + 1).sum();
    mem.put_u32(count, list.len() as u32)?;
    mem.put_u32(size, total as u32)
}

pub(crate) fn args_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    write_strings(mem, &st.args, a32(p[0]), a32(p[1]))
}

pub(crate) fn args_sizes_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    write_sizes(mem, &st.args, a32(p[0]), a32(p[1]))
}

pub(crate) fn environ_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    write_strings(mem, &st.env, a32(p[0]), a32(p[1]))
}

pub(crate) fn environ_sizes_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    write_sizes(mem, &st.env, a32(p[0]), a32(p[1]))
}

pub(crate) fn clock_res_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let res = match a32(p[0]) {
        CLOCK_REALTIME => st.walltime_resolution(),
        CLOCK_MONOTONIC => st.nanotime_resolution(),
        _ => return Err(Errno::EINVAL),
    };
    mem.put_u64(a32(p[1]), res)
}

pub(crate) fn clock_now(st: &mut SysState, id: u32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME => Ok(st.walltime()),
        CLOCK_MONOTONIC => Ok(st.nanotime()),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn clock_time_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let out = a32(p[2]);
    mem.check(out, 8)?;
    let t = clock_now(st, a32(p[0]))?;
    mem.put_u64(out, t)
}

/// The open file behind `fd`: `EBADF` if not open, `EISDIR` for a directory, `ESPIPE`-like
/// callers handle stdio themselves.
fn file(st: &mut SysState, fd: u32) -> Result<&mut OpenFile, Errno> {
    match st.fds.get(fd)? {
        FdEntry::File(f) => Ok(f),
        FdEntry::Dir(_) => Err(Errno::EISDIR),
        _ => Err(Errno::EBADF),
    }
}

/// The file behind `fd` for a positioned read or write at `offset`: `EISDIR` for a directory,
/// `ESPIPE` for anything without a position (stdio, sockets), `EINVAL` for a negative offset.
fn positioned_file(st: &mut SysState, fd: u32, offset: u64) -> Result<&mut OpenFile, Errno> {
    let f = match st.fds.get(fd)? {
        FdEntry::File(f) => f,
        FdEntry::Dir(_) => return Err(Errno::EISDIR),
        _ => return Err(Errno::ESPIPE),
    };
    if (offset as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// The directory behind `fd`: `EBADF` if not open, `ENOTDIR` if not a directory.
fn dir(st: &mut SysState, fd: u32) -> Result<&OpenDir, Errno> {
    match st.fds.get(fd)? {
        FdEntry::Dir(d) => Ok(d),
        _ => Err(Errno::ENOTDIR),
    }
}

/// A path argument relative to directory `fd`, which must have the rights `needed`: its mount
/// and its path inside the mount.
fn path_at(
    mem: &Mem,
    st: &mut SysState,
    fd: u32,
    (ptr, len): (u32, u32),
    needed: u64,
) -> Result<(usize, String), Errno> {
    dir(st, fd)?;
    rights::require(st, fd, needed)?;
    let d = dir(st, fd)?;
    let path = mem.string(ptr, len)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    keel_sys::fs::check_below(&path)?;
    Ok((d.mount, join(&d.path, &path)?))
}

pub(crate) fn fd_advise(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let fd = a32(p[0]);
    match st.fds.get(fd)? {
        FdEntry::File(_) => {}
        FdEntry::Dir(_) => return Err(Errno::EBADF),
        _ => return Err(Errno::ESPIPE),
    }
    if a32(p[3]) > 5 {
        return Err(Errno::EINVAL);
    }
    rights::require(st, fd, FD_ADVISE)
}

pub(crate) fn fd_allocate(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let fd = a32(p[0]);
    if file(st, fd).is_ok() && !rights::may_write(st, fd)? {
        return Err(Errno::EBADF);
    }
    let f = file(st, fd).map_err(|e| if e == Errno::EISDIR { Errno::EBADF } else { e })?;
    let (offset, len) = (p[1], p[2]);
    if (offset as i64) < 0 || (len as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    if !f.write {
        return Err(Errno::EBADF);
    }
    let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
    if end > f.file.stat()?.size {
        f.file.set_size(end)?;
    }
    Ok(())
}

pub(crate) fn fd_close(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    // Preopens too (wasi-libc closes one it was told to, and the suite checks it): the guest
    // only gives up its own access.
    st.fds.remove(a32(p[0]))?;
    Ok(())
}

pub(crate) fn fd_datasync(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let fd = a32(p[0]);
    if let FdEntry::File(_) = st.fds.get(fd)? {
        rights::require(st, fd, FD_DATASYNC)?;
    }
    match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.datasync(),
        FdEntry::Dir(_) => Err(Errno::EBADF),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn fd_sync(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let fd = a32(p[0]);
    if let FdEntry::File(_) | FdEntry::Dir(_) = st.fds.get(fd)? {
        rights::require(st, fd, FD_SYNC)?;
    }
    match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.sync(),
        FdEntry::Dir(_) => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn fd_fdstat_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, out) = (a32(p[0]), a32(p[1]));
    let r = rights::of(st, fd)?;
    let (ft, flags) = match st.fds.get(fd)? {
        FdEntry::Stdin | FdEntry::Stdout | FdEntry::Stderr => (FileType::CharacterDevice, 0),
        FdEntry::File(f) => {
            let mut flags = f.flags & !FDFLAG_APPEND;
            if f.file.is_append() {
                flags |= FDFLAG_APPEND;
            }
            (FileType::RegularFile, flags)
        }
        FdEntry::Dir(_) => (FileType::Directory, 0),
        FdEntry::Listener(_) | FdEntry::Stream(_) => (FileType::SocketStream, 0),
    };
    let mut b = [0u8; 24];
    b[0] = ft as u8;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&r.base.to_le_bytes());
    b[16..24].copy_from_slice(&r.inheriting.to_le_bytes());
    mem.write(out, &b)
}

pub(crate) fn fd_fdstat_set_flags(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let flags = a32(p[1]);
    if flags > 0x1f {
        return Err(Errno::EINVAL);
    }
    let flags = flags as u16;
    let fd = a32(p[0]);
    rights::require(st, fd, FD_FDSTAT_SET_FLAGS)?;
    match st.fds.get(fd)? {
        FdEntry::File(f) => {
            f.file.set_append(flags & FDFLAG_APPEND != 0)?;
            f.flags = flags;
            Ok(())
        }
        FdEntry::Dir(_) => Err(Errno::EBADF),
        FdEntry::Listener(l) => Ok(l.set_nonblocking(flags & FDFLAG_NONBLOCK != 0)?),
        FdEntry::Stream(s) => Ok(s.set_nonblocking(flags & FDFLAG_NONBLOCK != 0)?),
        _ if flags & !FDFLAG_NONBLOCK == 0 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn fd_fdstat_set_rights(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    rights::narrow(st, a32(p[0]), p[1], p[2])
}

fn write_filestat(mem: &Mem, out: u32, s: &Stat) -> R {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&s.dev.to_le_bytes());
    b[8..16].copy_from_slice(&s.ino.to_le_bytes());
    b[16] = s.filetype as u8;
    b[24..32].copy_from_slice(&s.nlink.to_le_bytes());
    b[32..40].copy_from_slice(&s.size.to_le_bytes());
    b[40..48].copy_from_slice(&s.atim.to_le_bytes());
    b[48..56].copy_from_slice(&s.mtim.to_le_bytes());
    b[56..64].copy_from_slice(&s.ctim.to_le_bytes());
    mem.write(out, &b)
}

fn fd_stat(st: &mut SysState, fd: u32) -> Result<Stat, Errno> {
    Ok(match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.stat()?,
        FdEntry::Dir(d) => {
            let (mount, path) = (d.mount, d.path.clone());
            st.mounts[mount].fs.stat(&path, true)?
        }
        FdEntry::Listener(_) | FdEntry::Stream(_) => Stat::of_type(FileType::SocketStream),
        _ => Stat::of_type(FileType::CharacterDevice),
    })
}

pub(crate) fn fd_filestat_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, out) = (a32(p[0]), a32(p[1]));
    mem.check(out, 64)?;
    rights::require(st, fd, FD_FILESTAT_GET)?;
    let s = fd_stat(st, fd)?;
    write_filestat(mem, out, &s)
}

pub(crate) fn fd_filestat_set_size(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let fd = a32(p[0]);
    let allowed = rights::of(st, fd)?.base & FD_FILESTAT_SET_SIZE != 0;
    let f = match st.fds.get(fd)? {
        FdEntry::File(f) => f,
        FdEntry::Dir(_) => return Err(Errno::EISDIR),
        _ => return Err(Errno::EINVAL),
    };
    if (p[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if !f.write {
        return Err(Errno::EINVAL);
    }
    if !allowed {
        return Err(Errno::ENOTCAPABLE);
    }
    f.file.set_size(p[1])
}

fn set_times(atim: u64, mtim: u64, flags: u32) -> Result<(SetTime, SetTime), Errno> {
    if flags & !0xf != 0
        || (flags & FST_ATIM != 0 && flags & FST_ATIM_NOW != 0)
        || (flags & FST_MTIM != 0 && flags & FST_MTIM_NOW != 0)
    {
        return Err(Errno::EINVAL);
    }
    let pick = |set, now, v| {
        if flags & now != 0 {
            SetTime::Now
        } else if flags & set != 0 {
            SetTime::At(v)
        } else {
            SetTime::Omit
        }
    };
    Ok((pick(FST_ATIM, FST_ATIM_NOW, atim), pick(FST_MTIM, FST_MTIM_NOW, mtim)))
}

pub(crate) fn fd_filestat_set_times(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (atim, mtim) = set_times(p[1], p[2], a32(p[3]))?;
    let fd = a32(p[0]);
    if let FdEntry::File(_) | FdEntry::Dir(_) = st.fds.get(fd)? {
        rights::require(st, fd, FD_FILESTAT_SET_TIMES)?;
    }
    match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.set_times(atim, mtim),
        FdEntry::Dir(d) => {
            let (mount, path) = (d.mount, d.path.clone());
            st.mounts[mount].fs.set_times(&path, atim, mtim, true)
        }
        _ => Err(Errno::EBADF),
    }
}

/// The most bytes one read or write moves (a guest may ask for gigabytes; a short count is
/// always allowed, and libc loops), so that the host's buffer stays bounded.
const MAX_IO: usize = 16 << 20;

/// Bytes of [`with_buffer`]'s buffer kept for the next call on a thread (a larger one is freed).
const KEPT_BUFFER: usize = 1 << 20;

/// Runs `f` on a host buffer of `len` bytes of unspecified contents, reused between calls on a
/// thread: a guest reading or writing a file in chunks would otherwise pay for allocating and
/// zeroing a buffer at every call.
fn with_buffer<T>(len: usize, f: impl FnOnce(&mut [u8]) -> T) -> T {
    thread_local! {
        static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    // Taken, not borrowed: a nested call (none today) would just get a buffer of its own.
    let mut buf = SPARE.take();
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let result = f(&mut buf[..len]);
    if buf.len() <= KEPT_BUFFER {
        SPARE.set(buf);
    }
    result
}

/// Reads into the iovecs from `read`, stopping at a short read.
fn read_iovecs(
    mem: &Mem,
    iovs: &[(u32, u32)],
    mut read: impl FnMut(&mut [u8], u64) -> Result<usize, Errno>,
) -> Result<u32, Errno> {
    let mut total = 0u64;
    for &(ptr, len) in iovs {
        let want = (len as usize).min(MAX_IO - total as usize);
        let n = with_buffer(want, |buf| {
            let n = read(buf, total)?;
            mem.write(ptr, &buf[..n])?;
            Ok::<_, Errno>(n)
        })?;
        total += n as u64;
        if n < len as usize || total as usize >= MAX_IO {
            break;
        }
    }
    Ok(total as u32)
}

/// Hands `write` the bytes of the iovecs, one after the other (at most [`MAX_IO`] of them).
fn with_gathered<T>(
    mem: &Mem,
    iovs: &[(u32, u32)],
    write: impl FnOnce(&[u8]) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let total = iovs.iter().map(|&(_, len)| len as usize).sum::<usize>().min(MAX_IO);
    with_buffer(total, |buf| {
        let mut at = 0;
        for &(ptr, len) in iovs {
            let n = (len as usize).min(total - at);
            mem.read(ptr, &mut buf[at..at + n])?;
            at += n;
        }
        write(buf)
    })
}

pub(crate) fn fd_read(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, out) = (a32(p[0]), a32(p[1]), a32(p[2]), a32(p[3]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out, 4)?;
    let readable = rights::may_read(st, fd)?;
    let n = match st.fds.get(fd)? {
        FdEntry::Stdin if !readable => return Err(Errno::EBADF),
        FdEntry::Stdin => {
            // Stdin may block: read into the first non-empty iovec only.
            match iovs.iter().find(|(_, len)| *len > 0) {
                Some(&(ptr, len)) => with_buffer((len as usize).min(MAX_IO), |buf| {
                    let n = st.read_stdin(buf).map_err(Errno::from)?;
                    mem.write(ptr, &buf[..n])?;
                    Ok::<_, Errno>(n as u32)
                })?,
                None => 0,
            }
        }
        FdEntry::File(f) => {
            if !readable {
                return Err(Errno::EBADF);
            }
            read_iovecs(mem, &iovs, |buf, _| f.file.read(buf))?
        }
        FdEntry::Stream(s) => read_stream(mem, s, &iovs, false)?,
        FdEntry::Listener(_) => return Err(Errno::ENOTCONN),
        FdEntry::Dir(_) => return Err(Errno::EISDIR),
        _ => return Err(Errno::EBADF),
    };
    mem.put_u32(out, n)
}

/// Reads from a connection into the first non-empty iovec (a read may block).
fn read_stream(
    mem: &Mem,
    s: &mut std::net::TcpStream,
    iovs: &[(u32, u32)],
    peek: bool,
) -> Result<u32, Errno> {
    use std::io::Read;
    let Some(&(ptr, len)) = iovs.iter().find(|(_, len)| *len > 0) else { return Ok(0) };
    with_buffer((len as usize).min(MAX_IO), |buf| {
        let n = if peek { s.peek(buf)? } else { s.read(buf)? };
        mem.write(ptr, &buf[..n])?;
        Ok(n as u32)
    })
}

fn write_stream(s: &mut std::net::TcpStream, data: &[u8]) -> Result<usize, Errno> {
    use std::io::Write;
    let mut done = 0;
    while done < data.len() {
        match s.write(&data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done > 0 && e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

pub(crate) fn fd_pread(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, offset, out) = (a32(p[0]), a32(p[1]), a32(p[2]), p[3], a32(p[4]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out, 4)?;
    let readable = rights::may_read(st, fd)?;
    let f = positioned_file(st, fd, offset)?;
    if !readable {
        return Err(Errno::EBADF);
    }
    let n = read_iovecs(mem, &iovs, |buf, done| f.file.pread(buf, offset + done))?;
    mem.put_u32(out, n)
}

pub(crate) fn fd_write(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, out) = (a32(p[0]), a32(p[1]), a32(p[2]), a32(p[3]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out, 4)?;
    let n = with_gathered(mem, &iovs, |data| {
        let writable = rights::may_write(st, fd)?;
        Ok(match st.fds.get(fd)? {
            FdEntry::Stdout if writable => st.write_out(false, data).map_err(Errno::from)?,
            FdEntry::Stderr if writable => st.write_out(true, data).map_err(Errno::from)?,
            FdEntry::Stdout | FdEntry::Stderr => return Err(Errno::EBADF),
            FdEntry::File(f) => {
                if !writable {
                    return Err(Errno::EBADF);
                }
                let mut done = 0;
                while done < data.len() {
                    let n = f.file.write(&data[done..])?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                done
            }
            FdEntry::Stream(s) => write_stream(s, data)?,
            FdEntry::Listener(_) => return Err(Errno::ENOTCONN),
            FdEntry::Dir(_) => return Err(Errno::EISDIR),
            FdEntry::Stdin => return Err(Errno::EBADF),
        })
    })?;
    mem.put_u32(out, n as u32)
}

pub(crate) fn fd_pwrite(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, offset, out) = (a32(p[0]), a32(p[1]), a32(p[2]), p[3], a32(p[4]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out, 4)?;
    let n = with_gathered(mem, &iovs, |data| {
        let writable = rights::may_write(st, fd)?;
        let f = positioned_file(st, fd, offset)?;
        if !writable {
            return Err(Errno::EBADF);
        }
        f.file.pwrite(data, offset)
    })?;
    mem.put_u32(out, n as u32)
}

pub(crate) fn fd_prestat_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let out = a32(p[1]);
    let name = match st.fds.get(a32(p[0]))? {
        FdEntry::Dir(OpenDir { preopen: Some(name), .. }) => name.clone(),
        _ => return Err(Errno::EBADF),
    };
    let mut b = [0u8; 8];
    b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
    mem.write(out, &b)
}

pub(crate) fn fd_prestat_dir_name(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (ptr, len) = (a32(p[1]), a32(p[2]));
    let name = match st.fds.get(a32(p[0]))? {
        FdEntry::Dir(OpenDir { preopen: Some(name), .. }) => name.clone(),
        _ => return Err(Errno::EBADF),
    };
    if (len as usize) < name.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    mem.write(ptr, name.as_bytes())
}

pub(crate) fn fd_readdir(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, buf, buf_len, cookie, out) = (a32(p[0]), a32(p[1]), a32(p[2]), p[3], a32(p[4]));
    mem.check(buf, buf_len as u64)?;
    mem.check(out, 4)?;
    let d = match st.fds.get(fd)? {
        FdEntry::Dir(d) => d.clone(),
        _ => return Err(Errno::ENOTDIR),
    };
    rights::require(st, fd, FD_READDIR)?;
    if (cookie as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let listing = match (&d.listing, cookie) {
        (Some(l), c) if c != 0 => l.clone(),
        _ => {
            let fs = st.mounts[d.mount].fs.clone();
            let me = fs.stat(&d.path, true)?;
            let parent = if d.path.is_empty() {
                me
            } else {
                fs.stat(&join(&d.path, "..")?, true).unwrap_or(me)
            };
            let mut l = vec![
                DirEntry { name: ".".into(), ino: me.ino, filetype: FileType::Directory },
                DirEntry { name: "..".into(), ino: parent.ino, filetype: FileType::Directory },
            ];
            l.extend(fs.read_dir(&d.path)?);
            if let FdEntry::Dir(open) = st.fds.get(fd)? {
                open.listing = Some(l.clone());
            }
            l
        }
    };
    let mut bytes = Vec::new();
    for (i, e) in listing.iter().enumerate().skip(cookie.min(usize::MAX as u64) as usize) {
        if bytes.len() >= buf_len as usize {
            break;
        }
        let mut head = [0u8; 24];
        head[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        head[8..16].copy_from_slice(&e.ino.to_le_bytes());
        head[16..20].copy_from_slice(&(e.name.len() as u32).to_le_bytes());
        head[20] = e.filetype as u8;
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(e.name.as_bytes());
    }
    bytes.truncate(buf_len as usize);
    mem.write(buf, &bytes)?;
    mem.put_u32(out, bytes.len() as u32)
}

pub(crate) fn fd_renumber(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    // Preopens too: renumbering over one closes it, as fd_close would.
    st.fds.renumber(a32(p[0]), a32(p[1]))
}

fn seek(st: &mut SysState, fd: u32, pos: SeekFrom) -> Result<u64, Errno> {
    if let FdEntry::File(_) = st.fds.get(fd)? {
        // Telling where one is takes only fd_tell, as wasi-libc's lseek(fd, 0, SEEK_CUR) expects.
        let needed = if pos == SeekFrom::Current(0) { FD_TELL } else { FD_SEEK };
        rights::require(st, fd, needed)?;
    }
    match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.seek(pos),
        FdEntry::Dir(_) => Err(Errno::EBADF),
        _ => Err(Errno::ESPIPE),
    }
}

pub(crate) fn fd_seek(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, offset, whence, out) = (a32(p[0]), p[1] as i64, a32(p[2]), a32(p[3]));
    mem.check(out, 8)?;
    let pos = match whence {
        0 if offset < 0 => return Err(Errno::EINVAL),
        0 => SeekFrom::Start(offset as u64),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::EINVAL),
    };
    let n = seek(st, fd, pos)?;
    mem.put_u64(out, n)
}

pub(crate) fn fd_tell(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let out = a32(p[1]);
    mem.check(out, 8)?;
    let n = seek(st, a32(p[0]), SeekFrom::Current(0))?;
    mem.put_u64(out, n)
}

pub(crate) fn path_create_directory(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (mount, path) = path_at(mem, st, a32(p[0]), (a32(p[1]), a32(p[2])), PATH_CREATE_DIRECTORY)?;
    st.mounts[mount].fs.mkdir(&path)
}

pub(crate) fn path_filestat_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let follow = a32(p[1]) & LOOKUP_SYMLINK_FOLLOW != 0;
    let out = a32(p[4]);
    let (mount, path) = path_at(mem, st, a32(p[0]), (a32(p[2]), a32(p[3])), PATH_FILESTAT_GET)?;
    mem.check(out, 64)?;
    let s = st.mounts[mount].fs.stat(&path, follow)?;
    write_filestat(mem, out, &s)
}

pub(crate) fn path_filestat_set_times(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let follow = a32(p[1]) & LOOKUP_SYMLINK_FOLLOW != 0;
    let (atim, mtim) = set_times(p[4], p[5], a32(p[6]))?;
    let (mount, path) =
        path_at(mem, st, a32(p[0]), (a32(p[2]), a32(p[3])), PATH_FILESTAT_SET_TIMES)?;
    st.mounts[mount].fs.set_times(&path, atim, mtim, follow)
}

pub(crate) fn path_link(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let follow = a32(p[1]) & LOOKUP_SYMLINK_FOLLOW != 0;
    let (m1, mut from) = path_at(mem, st, a32(p[0]), (a32(p[2]), a32(p[3])), PATH_LINK_SOURCE)?;
    let (m2, to) = path_at(mem, st, a32(p[4]), (a32(p[5]), a32(p[6])), PATH_LINK_TARGET)?;
    if m1 != m2 {
        return Err(Errno::EXDEV);
    }
    let fs = st.mounts[m1].fs.clone();
    if follow {
        from = final_target(fs.as_ref(), from)?;
    }
    fs.link(&from, &to)
}

/// Where a chain of symbolic links starting at `path` ends (`path` itself if it is none), as a
/// path inside the mount: linkat's AT_SYMLINK_FOLLOW. The mount resolves every step, so a
/// target outside it is refused there.
fn final_target(fs: &dyn keel_sys::Fs, mut path: String) -> Result<String, Errno> {
    const MAX_LINKS: usize = 40;
    for _ in 0..MAX_LINKS {
        if fs.stat(&path, false)?.filetype != FileType::SymbolicLink {
            return Ok(path);
        }
        let target = fs.readlink(&path)?;
        if target.starts_with('/') {
            return Err(Errno::ENOTCAPABLE);
        }
        let parent = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        path = join(parent, &target)?;
    }
    Err(Errno::ELOOP)
}

pub(crate) fn path_open(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, dirflags, ptr, len, oflags) = (a32(p[0]), a32(p[1]), a32(p[2]), a32(p[3]), a32(p[4]));
    let (base, fdflags, out) = (p[5], a32(p[7]) as u16, a32(p[8]));
    if oflags & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    let mut needed = PATH_OPEN;
    if oflags & O_CREAT != 0 {
        needed |= PATH_CREATE_FILE;
    }
    if oflags & O_TRUNC != 0 {
        needed |= PATH_FILESTAT_SET_SIZE;
    }
    let (mount, path) = path_at(mem, st, fd, (ptr, len), needed)?;
    mem.check(out, 4)?;
    let mask = rights::for_open(st, fd)?;
    let follow = dirflags & LOOKUP_SYMLINK_FOLLOW != 0;
    let fs = st.mounts[mount].fs.clone();
    // The access mode follows the rights asked for (wasi-libc derives them from O_RDONLY,
    // O_WRONLY, O_RDWR); asking for neither reading nor writing opens for reading.
    let write =
        base & (FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE) != 0 || fdflags & FDFLAG_APPEND != 0;
    let read = base & (FD_READ | FD_READDIR) != 0 || !write;
    let as_dir = |st: &mut SysState| {
        let d = OpenDir { mount, path: path.clone(), preopen: None, listing: None };
        st.fds.insert_with_rights(FdEntry::Dir(d), mask)
    };
    let new_fd = if oflags & O_DIRECTORY != 0 {
        if oflags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Errno::EINVAL);
        }
        match fs.stat(&path, follow)?.filetype {
            // A directory cannot be written (POSIX's open(O_DIRECTORY|O_RDWR) is EISDIR).
            FileType::Directory if write => return Err(Errno::EISDIR),
            FileType::Directory => as_dir(st)?,
            FileType::SymbolicLink => return Err(Errno::ELOOP),
            _ => return Err(Errno::ENOTDIR),
        }
    } else {
        let options = OpenOptions {
            read,
            write,
            create: oflags & O_CREAT != 0,
            exclusive: oflags & O_EXCL != 0,
            truncate: oflags & O_TRUNC != 0,
            append: fdflags & FDFLAG_APPEND != 0,
            follow,
        };
        // Opening a file is the common case: try it first. `Fs::open` refuses a directory, so
        // only a failed open asks whether the path is one (a path resolution fewer per open).
        match fs.open(&path, &options) {
            Ok(file) => {
                let f = OpenFile { mount, path, file, read, write, flags: fdflags };
                st.fds.insert_with_rights(FdEntry::File(f), mask)?
            }
            Err(e) => match fs.stat(&path, follow) {
                Ok(s) if s.filetype == FileType::Directory => {
                    if oflags & O_CREAT != 0 && oflags & O_EXCL != 0 {
                        return Err(Errno::EEXIST);
                    }
                    if write || oflags & O_TRUNC != 0 {
                        return Err(Errno::EISDIR);
                    }
                    as_dir(st)?
                }
                _ => return Err(e),
            },
        }
    };
    mem.put_u32(out, new_fd)
}

pub(crate) fn path_readlink(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (buf, buf_len, out) = (a32(p[3]), a32(p[4]), a32(p[5]));
    let (mount, path) = path_at(mem, st, a32(p[0]), (a32(p[1]), a32(p[2])), PATH_READLINK)?;
    mem.check(buf, buf_len as u64)?;
    mem.check(out, 4)?;
    let target = st.mounts[mount].fs.readlink(&path)?;
    let n = target.len().min(buf_len as usize);
    mem.write(buf, &target.as_bytes()[..n])?;
    mem.put_u32(out, n as u32)
}

pub(crate) fn path_remove_directory(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (mount, path) = path_at(mem, st, a32(p[0]), (a32(p[1]), a32(p[2])), PATH_REMOVE_DIRECTORY)?;
    st.mounts[mount].fs.rmdir(&path)
}

pub(crate) fn path_rename(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (m1, from) = path_at(mem, st, a32(p[0]), (a32(p[1]), a32(p[2])), PATH_RENAME_SOURCE)?;
    let (m2, to) = path_at(mem, st, a32(p[3]), (a32(p[4]), a32(p[5])), PATH_RENAME_TARGET)?;
    if m1 != m2 {
        return Err(Errno::EXDEV);
    }
    st.mounts[m1].fs.rename(&from, &to)
}

pub(crate) fn path_symlink(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let target = mem.string(a32(p[0]), a32(p[1]))?;
    let (mount, link) = path_at(mem, st, a32(p[2]), (a32(p[3]), a32(p[4])), PATH_SYMLINK)?;
    if target.starts_with('/') {
        // An absolute target would name a host path: refused, as cap-std does.
        return Err(Errno::ENOTCAPABLE);
    }
    st.mounts[mount].fs.symlink(&target, &link)
}

pub(crate) fn path_unlink_file(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (mount, path) = path_at(mem, st, a32(p[0]), (a32(p[1]), a32(p[2])), PATH_UNLINK_FILE)?;
    st.mounts[mount].fs.unlink(&path)
}

pub(crate) fn proc_raise(_: &Mem, _: &mut SysState, _: &[u64]) -> R {
    Err(Errno::ENOSYS)
}

pub(crate) fn random_get(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (ptr, len) = (a32(p[0]), a32(p[1]));
    mem.check(ptr, len as u64)?;
    with_buffer((len as usize).min(MAX_IO), |buf| {
        let mut done = 0;
        while done < len as usize {
            let n = buf.len().min(len as usize - done);
            st.random(&mut buf[..n]).map_err(|_| Errno::EIO)?;
            mem.write(ptr + done as u32, &buf[..n])?;
            done += n;
        }
        Ok(())
    })
}

pub(crate) fn sched_yield(_: &Mem, _: &mut SysState, _: &[u64]) -> R {
    std::thread::yield_now();
    Ok(())
}

pub(crate) fn sock_accept(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, flags, out) = (a32(p[0]), a32(p[1]) as u16, a32(p[2]));
    mem.check(out, 4)?;
    if flags & !FDFLAG_NONBLOCK != 0 {
        return Err(Errno::EINVAL);
    }
    let listener = match st.fds.get(fd)? {
        FdEntry::Listener(l) => l.clone(),
        FdEntry::Stream(_) => return Err(Errno::EINVAL),
        _ => return Err(Errno::ENOTSOCK),
    };
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(flags & FDFLAG_NONBLOCK != 0)?;
    let new_fd = st.fds.insert(FdEntry::Stream(stream))?;
    mem.put_u32(out, new_fd)
}

fn stream(st: &mut SysState, fd: u32) -> Result<&mut std::net::TcpStream, Errno> {
    match st.fds.get(fd)? {
        FdEntry::Stream(s) => Ok(s),
        FdEntry::Listener(_) => Err(Errno::ENOTCONN),
        _ => Err(Errno::ENOTSOCK),
    }
}

const RIFLAGS_RECV_PEEK: u32 = 1;
const RIFLAGS_RECV_WAITALL: u32 = 2;

pub(crate) fn sock_recv(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, flags) = (a32(p[0]), a32(p[1]), a32(p[2]), a32(p[3]));
    let (out_len, out_flags) = (a32(p[4]), a32(p[5]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out_len, 4)?;
    mem.check(out_flags, 2)?;
    if flags & !(RIFLAGS_RECV_PEEK | RIFLAGS_RECV_WAITALL) != 0 {
        return Err(Errno::EINVAL);
    }
    let s = stream(st, fd)?;
    let n = if flags & RIFLAGS_RECV_WAITALL != 0 && flags & RIFLAGS_RECV_PEEK == 0 {
        use std::io::Read;
        read_iovecs(mem, &iovs, |buf, _| {
            let mut got = 0;
            while got < buf.len() {
                match s.read(&mut buf[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            Ok(got)
        })?
    } else {
        read_stream(mem, s, &iovs, flags & RIFLAGS_RECV_PEEK != 0)?
    };
    mem.put_u32(out_len, n)?;
    mem.write(out_flags, &[0, 0])
}

pub(crate) fn sock_send(mem: &Mem, st: &mut SysState, p: &[u64]) -> R {
    let (fd, iovs, count, flags, out) = (a32(p[0]), a32(p[1]), a32(p[2]), a32(p[3]), a32(p[4]));
    let iovs = mem.iovecs(iovs, count)?;
    mem.check(out, 4)?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let n = with_gathered(mem, &iovs, |data| write_stream(stream(st, fd)?, data))?;
    mem.put_u32(out, n as u32)
}

pub(crate) fn sock_shutdown(_: &Mem, st: &mut SysState, p: &[u64]) -> R {
    use std::net::Shutdown;
    let how = match a32(p[1]) {
        1 => Shutdown::Read,
        2 => Shutdown::Write,
        3 => Shutdown::Both,
        _ => return Err(Errno::EINVAL),
    };
    Ok(stream(st, a32(p[0]))?.shutdown(how)?)
}
