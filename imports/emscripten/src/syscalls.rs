//! The `__syscall_*` functions that Emscripten's libc routes to `env`, on the guest's keel-sys
//! mounts, sharing the descriptor table with keel-wasi (Emscripten's libc reads, writes, seeks
//! and closes through WASI's `fd_*` functions the descriptors these return).
//!
//! Semantics are those of Emscripten 3.1.6's library_syscall.js, with keel-sys's mounts in
//! place of its MEMFS: paths are guest paths, relative ones start at the current directory
//! (`chdir`, kept per instance), `..` stops at `/`, and each lies in the mount with the longest
//! matching prefix, jailed and read-only as for WASI. Every function returns its result or
//! `-errno` (WASI's numbering, which Emscripten's musl uses); a pointer out of memory is a
//! trap. docs/emscripten.md lists how they differ from the JS.

use std::sync::Arc;

use keel::{Caller, Memory, Module, Trap};
use keel_sys::guest_path::{absolute, clean, follow_links, mount_of, relative};
use keel_sys::{Errno, FdEntry, FileType, Fs, OpenDir, OpenFile, OpenOptions, SetTime};
use keel_sys::{SysContext, SysState};

use crate::mem::{self, read_bytes, read_cstr, read_u32, write_bytes, write_u32, write_u64};
use crate::state::{self, DirCursor, State};
use crate::{Def, I32, I64};

mod attrs;
use attrs::{access, chmod, chown, fchmod, fchown, fstat, stat, statfs};

// musl's (Linux's) flags, as Emscripten 3.1.6 defines them.
const O_WRONLY: u32 = 1;
const O_RDWR: u32 = 2;
const O_ACCMODE: u32 = 3;
const O_CREAT: u32 = 0o100;
const O_EXCL: u32 = 0o200;
const O_TRUNC: u32 = 0o1000;
const O_APPEND: u32 = 0o2000;
const O_DIRECTORY: u32 = 0o200000;
const O_NOFOLLOW: u32 = 0o400000;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EMPTY_PATH: u32 = 0x1000;

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_GETLK: u32 = 5;
const F_SETLK: u32 = 6;
const F_SETLKW: u32 = 7;
const F_SETOWN: u32 = 8;
const F_GETOWN: u32 = 9;
const F_GETOWN_EX: u32 = 16;
const F_UNLCK: u16 = 2;

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TCGETA: u32 = 0x5405;
const TCSETA: u32 = 0x5406;
const TCSETAW: u32 = 0x5407;
const TCSETAF: u32 = 0x5408;
const TIOCGPGRP: u32 = 0x540F;
const TIOCSPGRP: u32 = 0x5410;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;
const FIONREAD: u32 = 0x541B;

const POLLIN: u16 = 1;
const POLLPRI: u16 = 2;
const POLLOUT: u16 = 4;
const POLLERR: u16 = 8;
const POLLHUP: u16 = 16;
const POLLNVAL: u16 = 32;

const R_OK: u32 = 4;
const W_OK: u32 = 2;
const X_OK: u32 = 1;

const UTIME_NOW: u32 = 0x3fff_ffff;
const UTIME_OMIT: u32 = 0x3fff_fffe;

/// WASI's `fdflags.append`, in an [`OpenFile`]'s `flags`.
const FDFLAGS_APPEND: u16 = 1;

/// `sizeof(struct stat)`, `sizeof(struct dirent)` and `sizeof(struct statfs)` of Emscripten's
/// musl (struct_info.json).
const STAT_SIZE: usize = 88;
const DIRENT_SIZE: u32 = 280;
const DIRENT_NAME: usize = 19;

/// `__syscall_<name>` taking `$n` i32 arguments and returning an i32.
macro_rules! sys {
    ($name:literal, $n:literal, $f:expr) => {
        Def {
            name: concat!("__syscall_", $name),
            params: &[I32; $n],
            results: &[I32],
            func: |c, v| run(c, v, concat!("__syscall_", $name), $f),
        }
    };
}

/// A function of another name or type (i64 parameters, say), returning an i32, as a syscall.
macro_rules! wide {
    ($name:literal, $params:expr, $f:expr) => {
        Def { name: $name, params: $params, results: &[I32], func: |c, v| run(c, v, $name, $f) }
    };
}

pub(crate) const FUNCTIONS: &[Def] = &[
    sys!("open", 3, |cx, v| open(cx, AT_FDCWD, arg(v, 0), arg(v, 1), arg(v, 2))),
    sys!("openat", 4, |cx, v| open(cx, int(v, 0), arg(v, 1), arg(v, 2), arg(v, 3))),
    sys!("unlink", 1, |cx, v| unlink(cx, AT_FDCWD, arg(v, 0), 0)),
    sys!("unlinkat", 3, |cx, v| unlink(cx, int(v, 0), arg(v, 1), arg(v, 2))),
    sys!("rmdir", 1, |cx, v| unlink(cx, AT_FDCWD, arg(v, 0), AT_REMOVEDIR)),
    sys!("chdir", 1, |cx, v| chdir(cx, AT_FDCWD, arg(v, 0))),
    sys!("fchdir", 1, |cx, v| chdir(cx, int(v, 0), 0)),
    sys!("mknod", 3, |cx, v| mknod(cx, AT_FDCWD, arg(v, 0), arg(v, 1))),
    sys!("mknodat", 4, |cx, v| mknod(cx, int(v, 0), arg(v, 1), arg(v, 2))),
    sys!("chmod", 2, |cx, v| chmod(cx, AT_FDCWD, arg(v, 0), arg(v, 1))),
    sys!("fchmodat", 4, |cx, v| chmod(cx, int(v, 0), arg(v, 1), arg(v, 2))),
    sys!("fchmod", 2, |cx, v| fchmod(cx, arg(v, 0), arg(v, 1))),
    sys!("chown32", 3, |cx, v| chown(cx, AT_FDCWD, arg(v, 0), (arg(v, 1), arg(v, 2)), 0)),
    sys!("lchown32", 3, |cx, v| {
        chown(cx, AT_FDCWD, arg(v, 0), (arg(v, 1), arg(v, 2)), AT_SYMLINK_NOFOLLOW)
    }),
    sys!("fchown32", 3, |cx, v| fchown(cx, arg(v, 0), arg(v, 1), arg(v, 2))),
    sys!("fchownat", 5, |cx, v| chown(cx, int(v, 0), arg(v, 1), (arg(v, 2), arg(v, 3)), arg(v, 4))),
    sys!("rename", 2, |cx, v| rename(cx, AT_FDCWD, arg(v, 0), AT_FDCWD, arg(v, 1))),
    sys!("renameat", 4, |cx, v| rename(cx, int(v, 0), arg(v, 1), int(v, 2), arg(v, 3))),
    sys!("mkdir", 2, |cx, v| mkdir(cx, AT_FDCWD, arg(v, 0), arg(v, 1))),
    sys!("mkdirat", 3, |cx, v| mkdir(cx, int(v, 0), arg(v, 1), arg(v, 2))),
    sys!("dup", 1, |cx, v| dup(cx, arg(v, 0), 0)),
    sys!("dup3", 3, dup3),
    sys!("pipe", 1, pipe),
    sys!("ioctl", 3, ioctl),
    sys!("symlink", 2, |cx, v| symlink(cx, arg(v, 0), AT_FDCWD, arg(v, 1))),
    sys!("symlinkat", 3, |cx, v| symlink(cx, arg(v, 0), int(v, 1), arg(v, 2))),
    sys!("readlink", 3, |cx, v| readlink(cx, AT_FDCWD, arg(v, 0), arg(v, 1), int(v, 2))),
    sys!("readlinkat", 4, |cx, v| readlink(cx, int(v, 0), arg(v, 1), arg(v, 2), int(v, 3))),
    sys!("linkat", 5, |_, _| Err(Errno::EMLINK.into())),
    sys!("fdatasync", 1, fdatasync),
    sys!("poll", 3, poll),
    sys!("_newselect", 5, select),
    sys!("getcwd", 2, getcwd),
    sys!("truncate64", 3, |cx, v| truncate(cx, arg(v, 0), split64(v, 1))),
    sys!("ftruncate64", 3, |cx, v| ftruncate(cx, arg(v, 0), split64(v, 1))),
    // Later emcc passes 64-bit lengths and offsets as i64 (with -sWASM_BIGINT).
    wide!("__syscall_truncate64", &[I32, I64], |cx, v| truncate(cx, arg(v, 0), v[1])),
    wide!("__syscall_ftruncate64", &[I32, I64], |cx, v| ftruncate(cx, arg(v, 0), v[1])),
    wide!("__syscall_fallocate", &[I32, I32, I64, I64], |cx, v| {
        fallocate(cx, arg(v, 0), v[2], v[3])
    }),
    wide!("__syscall_fadvise64", &[I32, I64, I64, I32], |cx, v| fd_exists(cx, arg(v, 0))),
    sys!("stat64", 2, |cx, v| stat(cx, AT_FDCWD, arg(v, 0), arg(v, 1), 0)),
    sys!("lstat64", 2, |cx, v| stat(cx, AT_FDCWD, arg(v, 0), arg(v, 1), AT_SYMLINK_NOFOLLOW)),
    sys!("fstatat64", 4, |cx, v| stat(cx, int(v, 0), arg(v, 1), arg(v, 2), arg(v, 3))),
    sys!("fstat64", 2, fstat),
    sys!("getuid32", 0, |_, _| Ok(0)),
    sys!("geteuid32", 0, |_, _| Ok(0)),
    sys!("getgid32", 0, |_, _| Ok(0)),
    sys!("getegid32", 0, |_, _| Ok(0)),
    sys!("getdents64", 3, getdents64),
    sys!("fcntl64", 3, fcntl),
    sys!("statfs64", 3, |cx, v| statfs(cx, Some(arg(v, 0)), 0, arg(v, 2))),
    sys!("fstatfs64", 3, |cx, v| statfs(cx, None, arg(v, 0), arg(v, 2))),
    sys!("fadvise64_64", 6, |cx, v| fd_exists(cx, arg(v, 0))),
    sys!("faccessat", 4, access),
    sys!("utimensat", 4, utimensat),
    wide!("_mmap_js", &[I32; 7], mmap),
    wide!("_munmap_js", &[I32; 6], munmap),
    wide!("_msync_js", &[I32; 4], |cx, v| msync(cx, arg(v, 0), arg(v, 1), arg(v, 2), arg(v, 3), 0)),
    sys!("fallocate", 6, |cx, v| fallocate(cx, arg(v, 0), split64(v, 2), split64(v, 4))),
];

/// Why a syscall failed: an errno for the guest, or a trap (a pointer out of memory).
enum Fail {
    Errno(Errno),
    Trap(Trap),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Self {
        Fail::Errno(e)
    }
}

impl From<Trap> for Fail {
    fn from(t: Trap) -> Self {
        Fail::Trap(t)
    }
}

type Res = Result<i32, Fail>;

/// What a syscall works with: the calling instance, its memory, system context and state.
struct Cx<'a> {
    module: Module,
    mem: Memory,
    sys: &'a SysContext,
    state: Arc<State>,
}

/// The 64-bit value passed as two i32 halves from `v[i]` (low, then high).
fn split64(v: &[u64], i: usize) -> u64 {
    (v[i + 1] as u32 as u64) << 32 | v[i] as u32 as u64
}

fn arg(v: &[u64], i: usize) -> u32 {
    v[i] as u32
}

fn int(v: &[u64], i: usize) -> i32 {
    v[i] as u32 as i32
}

/// Runs `f` as the syscall `name`: its result, or `-errno`, in `v[0]`.
fn run(
    caller: &mut Caller<'_>,
    v: &mut [u64],
    name: &str,
    f: fn(&Cx<'_>, &[u64]) -> Res,
) -> Result<(), Trap> {
    let module = mem::module(caller, name)?;
    let mem = mem::memory(&module)?;
    let state = state::of(caller, name)?;
    let sys = caller
        .sys()
        .ok_or_else(|| Trap::host(format!("env.{name} called from outside a guest")))?;
    let cx = Cx { module, mem, sys, state };
    let result = match f(&cx, v) {
        Ok(n) => n,
        Err(Fail::Errno(e)) => -i32::from(guest_errno(e).0),
        Err(Fail::Trap(t)) => return Err(t),
    };
    v[0] = result as u32 as u64;
    Ok(())
}

/// The errno a POSIX program sees for keel-sys's: a path that would lead out of its mount
/// (WASI's `ENOTCAPABLE`, which no POSIX function returns) is `EACCES`.
fn guest_errno(e: Errno) -> Errno {
    if e == Errno::ENOTCAPABLE { Errno::EACCES } else { e }
}

/// A guest path in keel-sys terms: its mount, the path inside it and the mount's file system.
struct Located {
    /// The absolute guest path, its links followed (see [`Cx::locate_path`]).
    abs: String,
    mount: usize,
    inner: String,
    fs: Arc<dyn Fs>,
}

/// The absolute guest path of mount `mount`'s `inner`.
fn guest_path_of(st: &SysState, mount: usize, inner: &str) -> String {
    absolute(&st.mounts[mount].guest_path, inner)
}

impl Cx<'_> {
    /// The NUL-terminated string at `ptr` (`""` for a null pointer, as the JS's
    /// `UTF8ToString(0)`).
    fn string(&self, ptr: u32) -> Result<String, Fail> {
        if ptr == 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(&read_cstr(&self.mem, ptr)?).into_owned())
    }

    /// The absolute guest path `path` names from `dirfd` (the JS's `calculateAt`): an absolute
    /// path as it is, a relative one from the current directory (`AT_FDCWD`) or from the
    /// directory `dirfd`; an empty one is `dirfd` itself when `allow_empty`, else `ENOENT`.
    fn absolute_at(&self, dirfd: i32, path: &str, allow_empty: bool) -> Result<String, Errno> {
        if path.starts_with('/') {
            return Ok(clean(path));
        }
        let dir = if dirfd == AT_FDCWD {
            self.state.lock().cwd.clone()
        } else {
            let (dir, is_dir) = self.fd_path(dirfd as u32)?;
            if !is_dir && !path.is_empty() {
                return Err(Errno::ENOTDIR);
            }
            dir
        };
        if path.is_empty() {
            return if allow_empty { Ok(dir) } else { Err(Errno::ENOENT) };
        }
        Ok(absolute(&dir, path))
    }

    /// The absolute guest path of the file or directory open as `fd`, and whether it is a
    /// directory.
    fn fd_path(&self, fd: u32) -> Result<(String, bool), Errno> {
        let mut st = self.sys.lock();
        let (mount, inner, is_dir) = match st.fds.get(fd)? {
            FdEntry::File(f) => (f.mount, f.path.clone(), false),
            FdEntry::Dir(d) => (d.mount, d.path.clone(), true),
            _ => return Err(Errno::ENOTDIR),
        };
        Ok((guest_path_of(&st, mount, &inner), is_dir))
    }

    /// Where the path at `ptr` leads, from `dirfd` (see [`Cx::locate_path`]).
    fn locate(
        &self,
        dirfd: i32,
        ptr: u32,
        allow_empty: bool,
        follow: bool,
    ) -> Result<Located, Fail> {
        let path = self.string(ptr)?;
        Ok(self.locate_path(dirfd, &path, allow_empty, follow)?)
    }

    /// Where `path` leads, from `dirfd`: walked through its symbolic links at the guest level,
    /// across mounts (keel-sys's `follow_links`; the last component's only when `follow`, or
    /// when a trailing slash asks for a directory). A trailing slash stays on the inner path, so
    /// that the file system checks that it names a directory.
    fn locate_path(
        &self,
        dirfd: i32,
        path: &str,
        allow_empty: bool,
        follow: bool,
    ) -> Result<Located, Errno> {
        if path.contains('\0') {
            return Err(Errno::EINVAL);
        }
        let abs = self.absolute_at(dirfd, path, allow_empty)?;
        let st = self.sys.lock();
        let abs = follow_links(&st.mounts, &abs, follow || path.ends_with('/'))?;
        let (mount, mut inner) = mount_of(&st.mounts, &abs).ok_or(Errno::ENOENT)?;
        if path.ends_with('/') && !inner.is_empty() {
            inner.push('/');
        }
        Ok(Located { abs, mount, inner, fs: st.mounts[mount].fs.clone() })
    }

    /// Adds `entry` at the lowest free descriptor not below `min`; a fresh descriptor has no
    /// directory listing in progress.
    fn insert(&self, entry: FdEntry, min: u32) -> Result<u32, Errno> {
        let fd = {
            let mut st = self.sys.lock();
            insert_at_least(&mut st, entry, min)?
        };
        self.state.lock().dirs.remove(&fd);
        Ok(fd)
    }
}

/// The highest descriptor a guest can ask for by number (`dup2`, `F_DUPFD`): Emscripten's
/// `FS.MAX_OPEN_FDS`. It bounds the placeholders [`insert_at_least`] puts in.
const MAX_OPEN_FDS: u32 = 4096;

/// Inserts `entry` at the lowest free descriptor `>= min` (for `min > 0`, `EMFILE` past
/// [`MAX_OPEN_FDS`]): fills the free ones below with placeholders, which it then removes.
fn insert_at_least(st: &mut SysState, entry: FdEntry, min: u32) -> Result<u32, Errno> {
    if min > MAX_OPEN_FDS {
        return Err(Errno::EMFILE);
    }
    let mut fillers = Vec::new();
    let result = loop {
        match st.fds.insert(FdEntry::Stdin) {
            Ok(fd) if fd >= min => {
                let _ = st.fds.remove(fd);
                if min > 0 && fd > MAX_OPEN_FDS {
                    break Err(Errno::EMFILE);
                }
                break st.fds.insert(entry);
            }
            Ok(fd) => fillers.push(fd),
            Err(e) => break Err(e),
        }
    };
    for fd in fillers {
        let _ = st.fds.remove(fd);
    }
    result
}

// ---- Opening and closing --------------------------------------------------------------------

/// `open(path, flags, mode)` / `openat(dirfd, path, flags, mode)`: a file it creates gets the
/// mode among the varargs (0 when there are none, as in the JS, which applies no umask).
fn open(cx: &Cx<'_>, dirfd: i32, path: u32, flags: u32, varargs: u32) -> Res {
    // O_CREAT|O_EXCL makes the last component itself, link or not.
    let follow_last = flags & O_NOFOLLOW == 0 && flags & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL;
    let at = cx.locate(dirfd, path, false, follow_last)?;
    let access = flags & O_ACCMODE;
    let options = OpenOptions {
        read: access != O_WRONLY,
        write: access == O_WRONLY || access == O_RDWR || access == O_ACCMODE,
        create: flags & O_CREAT != 0,
        exclusive: flags & O_EXCL != 0,
        truncate: flags & O_TRUNC != 0,
        append: flags & O_APPEND != 0,
        follow: flags & O_NOFOLLOW == 0,
    };
    let dir = || {
        FdEntry::Dir(OpenDir {
            mount: at.mount,
            path: at.inner.clone(),
            preopen: None,
            listing: None,
        })
    };
    let entry = if flags & O_DIRECTORY != 0 {
        match at.fs.stat(&at.inner, options.follow)?.filetype {
            FileType::Directory if options.write => return Err(Errno::EISDIR.into()),
            FileType::Directory => dir(),
            _ => return Err(Errno::ENOTDIR.into()),
        }
    } else {
        let mode = if options.create && varargs != 0 { read_u32(&cx.mem, varargs)? } else { 0 };
        match keel_sys::fs::open_creating(at.fs.as_ref(), &at.inner, &options, mode) {
            Ok(file) => FdEntry::File(OpenFile {
                mount: at.mount,
                path: at.inner.clone(),
                file,
                read: options.read,
                write: options.write || options.append,
                flags: if options.append { FDFLAGS_APPEND } else { 0 },
            }),
            Err(e) => match at.fs.stat(&at.inner, options.follow) {
                // A directory opens read-only, as on Linux (what opendir's fdopendir needs).
                Ok(s) if s.filetype == FileType::Directory => {
                    if options.create && options.exclusive {
                        return Err(Errno::EEXIST.into());
                    }
                    if options.write || options.create || options.truncate || options.append {
                        return Err(Errno::EISDIR.into());
                    }
                    dir()
                }
                _ => return Err(e.into()),
            },
        }
    };
    Ok(cx.insert(entry, 0)? as i32)
}

/// A second entry for what `fd` refers to. A file is opened again by its path, as
/// Emscripten's JS does (`FS.open(old.path, old.flags)`), so the new descriptor has its own
/// position; unlike the JS, the reopening never creates or truncates.
fn reopen(cx: &Cx<'_>, fd: u32) -> Result<FdEntry, Errno> {
    let mut st = cx.sys.lock();
    let (mount, path, read, write, append, flags) = match st.fds.get(fd)? {
        FdEntry::Stdin => return Ok(FdEntry::Stdin),
        FdEntry::Stdout => return Ok(FdEntry::Stdout),
        FdEntry::Stderr => return Ok(FdEntry::Stderr),
        FdEntry::Dir(d) => {
            return Ok(FdEntry::Dir(OpenDir {
                mount: d.mount,
                path: d.path.clone(),
                preopen: None,
                listing: None,
            }));
        }
        FdEntry::Listener(l) => return Ok(FdEntry::Listener(l.clone())),
        FdEntry::Stream(s) => return Ok(FdEntry::Stream(s.try_clone().map_err(Errno::from)?)),
        FdEntry::File(f) => (f.mount, f.path.clone(), f.read, f.write, f.file.is_append(), f.flags),
    };
    let fs = st.mounts[mount].fs.clone();
    let options = OpenOptions { read, write, append, follow: true, ..OpenOptions::default() };
    let file = fs.open(&path, &options)?;
    Ok(FdEntry::File(OpenFile { mount, path, file, read, write, flags }))
}

/// `dup(fd)`, `fcntl(fd, F_DUPFD, min)`: the copy at the lowest free descriptor `>= min`.
fn dup(cx: &Cx<'_>, fd: u32, min: u32) -> Res {
    let entry = reopen(cx, fd)?;
    Ok(cx.insert(entry, min)? as i32)
}

/// `dup3(fd, newfd, flags)` (`dup2`): the copy at `newfd`, closing what was there.
fn dup3(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fd, newfd) = (arg(v, 0), arg(v, 1));
    cx.sys.lock().fds.get(fd)?;
    if fd == newfd {
        return Err(Errno::EINVAL.into());
    }
    if newfd > MAX_OPEN_FDS {
        return Err(Errno::EBADF.into());
    }
    let entry = reopen(cx, fd)?;
    let _ = cx.sys.lock().fds.remove(newfd);
    Ok(cx.insert(entry, newfd)? as i32)
}

/// `pipe(fds)`: keel-sys has no pipes.
fn pipe(_: &Cx<'_>, v: &[u64]) -> Res {
    if arg(v, 0) == 0 {
        return Err(Errno::EFAULT.into());
    }
    Err(Errno::ENOSYS.into())
}

/// Whether `fd` is one of stdin, stdout, stderr: Emscripten's terminals.
fn is_tty(cx: &Cx<'_>, fd: u32) -> Result<bool, Errno> {
    Ok(matches!(cx.sys.lock().fds.get(fd)?, FdEntry::Stdin | FdEntry::Stdout | FdEntry::Stderr))
}

/// `ioctl(fd, op, ...)`: the terminal requests succeed on stdio (Emscripten's JS treats them
/// as terminals, filling nothing in) and are `ENOTTY` elsewhere.
fn ioctl(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fd, op, varargs) = (arg(v, 0), arg(v, 1), arg(v, 2));
    let tty = is_tty(cx, fd)?;
    let need_tty = |r: i32| if tty { Ok(r) } else { Err(Fail::Errno(Errno::ENOTTY)) };
    match op {
        TCGETA | TCGETS | TCSETA | TCSETAW | TCSETAF | TCSETS | TCSETSW | TCSETSF => need_tty(0),
        TIOCGWINSZ | TIOCSWINSZ => need_tty(0),
        TIOCGPGRP => {
            need_tty(0)?;
            let argp = read_u32(&cx.mem, varargs)?;
            write_u32(&cx.mem, argp, 0)?;
            Ok(0)
        }
        TIOCSPGRP => {
            need_tty(0)?;
            Err(Errno::EINVAL.into())
        }
        FIONREAD => Err(Errno::ENOTTY.into()),
        _ if tty => Err(Errno::EINVAL.into()),
        _ => Err(Errno::ENOTTY.into()),
    }
}

/// `fcntl(fd, cmd, ...)`.
fn fcntl(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fd, cmd, varargs) = (arg(v, 0), arg(v, 1), arg(v, 2));
    cx.sys.lock().fds.get(fd)?;
    match cmd {
        F_DUPFD => {
            let min = read_u32(&cx.mem, varargs)? as i32;
            if min < 0 {
                return Err(Errno::EINVAL.into());
            }
            dup(cx, fd, min as u32)
        }
        F_GETFD | F_SETFD => Ok(0),
        F_GETFL => {
            let mut st = cx.sys.lock();
            Ok(match st.fds.get(fd)? {
                FdEntry::Stdin => 0,
                FdEntry::Stdout | FdEntry::Stderr => O_WRONLY as i32,
                FdEntry::Dir(_) => O_DIRECTORY as i32,
                FdEntry::File(f) => {
                    let access = match (f.read, f.write) {
                        (true, true) => O_RDWR,
                        (false, true) => O_WRONLY,
                        _ => 0,
                    };
                    let append = if f.file.is_append() { O_APPEND } else { 0 };
                    (access | append) as i32
                }
                _ => O_RDWR as i32,
            })
        }
        F_SETFL => {
            // The JS ORs the new flags in; of them, only O_APPEND changes what a file does.
            let flags = read_u32(&cx.mem, varargs)?;
            if flags & O_APPEND != 0
                && let FdEntry::File(f) = cx.sys.lock().fds.get(fd)?
            {
                f.file.set_append(true)?;
                f.flags |= FDFLAGS_APPEND;
            }
            Ok(0)
        }
        F_GETLK => {
            let flock = read_u32(&cx.mem, varargs)?;
            write_bytes(&cx.mem, flock, &F_UNLCK.to_le_bytes())?;
            Ok(0)
        }
        F_SETLK | F_SETLKW => Ok(0),
        F_GETOWN_EX | F_SETOWN => Err(Errno::EINVAL.into()),
        F_GETOWN => {
            set_errno(&cx.module, &cx.mem, Errno::EINVAL)?;
            Ok(-1)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

/// The JS's `setErrNo`: stores `e` in the guest's `errno` (through its `__errno_location`
/// export; a guest without one keeps its errno).
pub(crate) fn set_errno(module: &Module, mem: &Memory, e: Errno) -> Result<(), Trap> {
    if module.func("__errno_location").is_none() {
        return Ok(());
    }
    let at = crate::invoke::call_i32(module, "__errno_location", &[])? as u32;
    write_u32(mem, at, u32::from(e.0))
}

fn fdatasync(cx: &Cx<'_>, v: &[u64]) -> Res {
    if let FdEntry::File(f) = cx.sys.lock().fds.get(arg(v, 0))? {
        f.file.datasync()?;
    }
    Ok(0)
}

fn fd_exists(cx: &Cx<'_>, fd: u32) -> Res {
    cx.sys.lock().fds.get(fd)?;
    Ok(0)
}

/// `fallocate(fd, mode, offset, len)` (`posix_fallocate`): makes the file at least
/// `offset + len` long, as Emscripten's MEMFS does.
fn fallocate(cx: &Cx<'_>, fd: u32, offset: u64, len: u64) -> Res {
    if (offset as i64) < 0 || (len as i64) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    match cx.sys.lock().fds.get(fd)? {
        FdEntry::File(f) if f.write => {
            let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
            if f.file.stat()?.size < end {
                f.file.set_size(end)?;
            }
            Ok(0)
        }
        FdEntry::File(_) => Err(Errno::EBADF.into()),
        FdEntry::Dir(_) => Err(Errno::ENODEV.into()),
        _ => Err(Errno::ESPIPE.into()),
    }
}

// ---- Mappings -------------------------------------------------------------------------------

const PROT_WRITE: u32 = 2;
const MAP_PRIVATE: u32 = 2;
const PAGE: u32 = 65536;

/// `_mmap_js(addr, len, prot, flags, fd, offset, allocated)`: Emscripten's libc maps a file by
/// copying it into memory from the guest's `emscripten_builtin_memalign` (page-aligned, zeroed),
/// as the JS's `mmapAlloc`; `*allocated = 1` tells it to free that memory at `munmap`. A hint
/// address is `EINVAL`, as in the JS.
fn mmap(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (addr, len, prot, flags, fd) = (arg(v, 0), arg(v, 1), arg(v, 2), arg(v, 3), arg(v, 4));
    let (offset, allocated) = (int(v, 5), arg(v, 6));
    {
        let mut st = cx.sys.lock();
        match st.fds.get(fd)? {
            FdEntry::File(f) => {
                if !f.read || (prot & PROT_WRITE != 0 && flags & MAP_PRIVATE == 0 && !f.write) {
                    return Err(Errno::EACCES.into());
                }
            }
            FdEntry::Dir(_) => return Err(Errno::ENODEV.into()),
            _ => return Err(Errno::EACCES.into()),
        }
    }
    if addr != 0 || offset < 0 || len == 0 {
        return Err(Errno::EINVAL.into());
    }
    let size = len.checked_next_multiple_of(PAGE).ok_or(Errno::ENOMEM)?;
    let memalign = "emscripten_builtin_memalign";
    let ptr = crate::invoke::call_i32(&cx.module, memalign, &[PAGE as i32, size as i32])? as u32;
    if ptr == 0 {
        return Err(Errno::ENOMEM.into());
    }
    let mut data = vec![0u8; size as usize];
    {
        let mut st = cx.sys.lock();
        if let FdEntry::File(f) = st.fds.get(fd)? {
            let mut done = 0;
            while done < len as usize {
                match f.file.pread(&mut data[done..len as usize], offset as u64 + done as u64)? {
                    0 => break,
                    n => done += n,
                }
            }
        }
    }
    write_bytes(&cx.mem, ptr, &data)?;
    write_u32(&cx.mem, allocated, 1)?;
    Ok(ptr as i32)
}

/// `_munmap_js(addr, len, prot, flags, fd, offset)`: a shared writable mapping is written back.
fn munmap(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (addr, len, prot, flags, fd) = (arg(v, 0), arg(v, 1), arg(v, 2), arg(v, 3), arg(v, 4));
    if prot & PROT_WRITE != 0 && cx.sys.lock().fds.get(fd).is_ok() {
        msync(cx, addr, len, flags, fd, int(v, 5).max(0) as u64)?;
    }
    Ok(0)
}

/// Writes a shared mapping's `len` bytes at `addr` back to `fd` at `offset` (`_msync_js`
/// passes no offset: 0, as in the JS). A private mapping stays in memory.
fn msync(cx: &Cx<'_>, addr: u32, len: u32, flags: u32, fd: u32, offset: u64) -> Res {
    if flags & MAP_PRIVATE != 0 {
        cx.sys.lock().fds.get(fd)?;
        return Ok(0);
    }
    let data = read_bytes(&cx.mem, addr, len)?;
    match cx.sys.lock().fds.get(fd)? {
        FdEntry::File(f) if f.write => {
            let mut done = 0;
            while done < data.len() {
                match f.file.pwrite(&data[done..], offset + done as u64)? {
                    0 => return Err(Errno::EIO.into()),
                    n => done += n,
                }
            }
            Ok(0)
        }
        _ => Err(Errno::EBADF.into()),
    }
}

// ---- Paths ----------------------------------------------------------------------------------

fn unlink(cx: &Cx<'_>, dirfd: i32, path: u32, flags: u32) -> Res {
    let at = cx.locate(dirfd, path, false, false)?;
    match flags {
        0 => at.fs.unlink(&at.inner)?,
        AT_REMOVEDIR => at.fs.rmdir(&at.inner)?,
        _ => return Err(Errno::EINVAL.into()),
    }
    Ok(0)
}

/// `chdir(path)`, or `fchdir(fd)` when `dirfd` is a descriptor and `path` null.
fn chdir(cx: &Cx<'_>, dirfd: i32, path: u32) -> Res {
    let path = cx.string(path)?;
    let abs = cx.absolute_at(dirfd, &path, dirfd != AT_FDCWD)?;
    let at = cx.locate_path(AT_FDCWD, &abs, false, true)?;
    if at.fs.stat(&at.inner, true)?.filetype != FileType::Directory {
        return Err(Errno::ENOTDIR.into());
    }
    cx.state.lock().cwd = abs;
    Ok(0)
}

/// `mknod(path, mode, dev)`: a regular file is created (empty, failing if it exists); keel-sys
/// makes no devices, FIFOs or sockets (`EPERM`). A mode of no known type is `EINVAL`, as in the
/// JS.
fn mknod(cx: &Cx<'_>, dirfd: i32, path: u32, mode: u32) -> Res {
    match mode & S_IFMT {
        S_IFREG => {
            let at = cx.locate(dirfd, path, false, false)?;
            let options = OpenOptions {
                write: true,
                create: true,
                exclusive: true,
                ..OpenOptions::default()
            };
            keel_sys::fs::open_creating(at.fs.as_ref(), &at.inner, &options, mode & 0o7777)?;
            Ok(0)
        }
        S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
            cx.locate(dirfd, path, false, false)?;
            Err(Errno::EPERM.into())
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

fn rename(cx: &Cx<'_>, olddirfd: i32, old: u32, newdirfd: i32, new: u32) -> Res {
    let from = cx.locate(olddirfd, old, false, false)?;
    let to = cx.locate(newdirfd, new, false, false)?;
    if from.mount != to.mount {
        return Err(Errno::EXDEV.into());
    }
    from.fs.rename(&from.inner, &to.inner)?;
    Ok(0)
}

/// `mkdir(path, mode)`: the directory gets `mode`'s permission and sticky bits (no umask, as in
/// the JS).
fn mkdir(cx: &Cx<'_>, dirfd: i32, path: u32, mode: u32) -> Res {
    let mut at = cx.locate(dirfd, path, false, false)?;
    // As the JS's doMkdir: a trailing slash names the directory to make.
    let trimmed = at.inner.trim_end_matches('/').len();
    at.inner.truncate(trimmed);
    if at.inner.is_empty() {
        return Err(Errno::EEXIST.into());
    }
    at.fs.mkdir(&at.inner)?;
    match at.fs.chmod(&at.inner, mode & 0o1777) {
        Ok(()) | Err(Errno::ENOTSUP) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// `symlink(target, linkpath)`: a relative target is stored as given; an absolute one (a guest
/// path, in the link's mount or another) is stored relative to the link's directory, since a
/// mount cannot hold a link to a host path. [`Cx::locate_path`] follows either across mounts.
fn symlink(cx: &Cx<'_>, target: u32, dirfd: i32, linkpath: u32) -> Res {
    let target = cx.string(target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    let link = cx.locate(dirfd, linkpath, false, false)?;
    let stored =
        if target.starts_with('/') { relative(&link.abs, &clean(&target)) } else { target };
    link.fs.symlink(&stored, &link.inner)?;
    Ok(0)
}

/// `readlink(path, buf, bufsize)`: at most `bufsize` bytes of the target, no NUL.
fn readlink(cx: &Cx<'_>, dirfd: i32, path: u32, buf: u32, bufsize: i32) -> Res {
    let at = cx.locate(dirfd, path, false, false)?;
    if bufsize <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let target = at.fs.readlink(&at.inner)?;
    let bytes = &target.as_bytes()[..target.len().min(bufsize as usize)];
    write_bytes(&cx.mem, buf, bytes)?;
    Ok(bytes.len() as i32)
}

/// `utimensat(dirfd, path, times, flags)` (`utimes`, `futimens`...): `times` null is "now";
/// `UTIME_NOW` and `UTIME_OMIT` are honoured.
fn utimensat(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (dirfd, path, times, flags) = (int(v, 0), arg(v, 1), arg(v, 2), arg(v, 3));
    let at = cx.locate(dirfd, path, true, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    let (atim, mtim) = if times == 0 {
        (SetTime::Now, SetTime::Now)
    } else {
        let t = read_bytes(&cx.mem, times, 16)?;
        let time = |o: usize| -> Result<SetTime, Errno> {
            let sec = i32::from_le_bytes(t[o..o + 4].try_into().unwrap());
            let nsec = u32::from_le_bytes(t[o + 4..o + 8].try_into().unwrap());
            match nsec {
                UTIME_NOW => Ok(SetTime::Now),
                UTIME_OMIT => Ok(SetTime::Omit),
                n if n >= 1_000_000_000 || sec < 0 => Err(Errno::EINVAL),
                n => Ok(SetTime::At(sec as u64 * 1_000_000_000 + u64::from(n))),
            }
        };
        (time(0)?, time(8)?)
    };
    at.fs.set_times(&at.inner, atim, mtim, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(0)
}

fn getcwd(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (buf, size) = (arg(v, 0), arg(v, 1));
    if size == 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut cwd = cx.state.lock().cwd.clone().into_bytes();
    if (size as usize) < cwd.len() + 1 {
        return Err(Errno::ERANGE.into());
    }
    cwd.push(0);
    write_bytes(&cx.mem, buf, &cwd)?;
    Ok(buf as i32)
}

/// A file length, which must not be negative.
fn length(len: u64) -> Result<u64, Errno> {
    if (len as i64) < 0 { Err(Errno::EINVAL) } else { Ok(len) }
}

fn truncate(cx: &Cx<'_>, path: u32, len: u64) -> Res {
    let at = cx.locate(AT_FDCWD, path, false, true)?;
    let len = length(len)?;
    let options = OpenOptions { write: true, follow: true, ..OpenOptions::default() };
    at.fs.open(&at.inner, &options)?.set_size(len)?;
    Ok(0)
}

fn ftruncate(cx: &Cx<'_>, fd: u32, len: u64) -> Res {
    let len = length(len)?;
    match cx.sys.lock().fds.get(fd)? {
        FdEntry::File(f) if f.write => f.file.set_size(len)?,
        _ => return Err(Errno::EINVAL.into()),
    }
    Ok(0)
}

// ---- Directories ----------------------------------------------------------------------------

/// `d_type` of a file type, as the JS answers it (what is not a character device, directory
/// or symbolic link is a regular file).
fn d_type(t: FileType) -> u8 {
    match t {
        FileType::CharacterDevice => 2,
        FileType::Directory => 4,
        FileType::SymbolicLink => 10,
        _ => 8,
    }
}

/// The listing of a directory as getdents gives it: `.`, `..`, then the entries.
fn listing(fs: &dyn Fs, path: &str) -> Result<Vec<(String, u64, u8)>, Errno> {
    let this = fs.stat(path, true)?.ino;
    let parent = match path.trim_end_matches('/').rsplit_once('/') {
        _ if path.is_empty() => this,
        Some((p, _)) => fs.stat(p, true).map_or(this, |s| s.ino),
        None => fs.stat("", true).map_or(this, |s| s.ino),
    };
    let mut out = vec![(".".to_string(), this, 4), ("..".to_string(), parent, 4)];
    for e in fs.read_dir(path)? {
        out.push((e.name, e.ino, d_type(e.filetype)));
    }
    Ok(out)
}

/// `getdents64(fd, dirp, count)`: as many 280-byte `struct dirent` as fit in `count` bytes,
/// going on from where the last call stopped; 0 at the end.
fn getdents64(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fd, dirp, count) = (arg(v, 0), arg(v, 1), arg(v, 2));
    let (mount, path, fs) = {
        let mut st = cx.sys.lock();
        let (mount, path) = match st.fds.get(fd)? {
            FdEntry::Dir(d) => (d.mount, d.path.clone()),
            _ => return Err(Errno::ENOTDIR.into()),
        };
        (mount, path.clone(), st.mounts[mount].fs.clone())
    };
    let mut state = cx.state.lock();
    let fresh = state.dirs.get(&fd).is_none_or(|c| c.mount != mount || c.path != path);
    if fresh {
        let entries = listing(fs.as_ref(), &path)?;
        state.dirs.insert(fd, DirCursor { mount, path, entries, next: 0 });
    }
    let cursor = state.dirs.get_mut(&fd).expect("inserted above");
    let mut out = Vec::new();
    while cursor.next < cursor.entries.len() && out.len() as u32 + DIRENT_SIZE <= count {
        let (name, ino, ty) = &cursor.entries[cursor.next];
        let mut d = [0u8; DIRENT_SIZE as usize];
        d[0..8].copy_from_slice(&ino.to_le_bytes());
        d[8..16].copy_from_slice(&((cursor.next as u64 + 1) * DIRENT_SIZE as u64).to_le_bytes());
        d[16..18].copy_from_slice(&(DIRENT_SIZE as u16).to_le_bytes());
        d[18] = *ty;
        let name = &name.as_bytes()[..name.len().min(255)];
        d[DIRENT_NAME..DIRENT_NAME + name.len()].copy_from_slice(name);
        out.extend_from_slice(&d);
        cursor.next += 1;
    }
    let next = cursor.next;
    drop(state);
    if let Err(t) = write_bytes(&cx.mem, dirp, &out) {
        // Nothing was delivered: the next call starts over from the same entry.
        if let Some(c) = cx.state.lock().dirs.get_mut(&fd) {
            c.next = next - out.len() / DIRENT_SIZE as usize;
        }
        return Err(t.into());
    }
    Ok(out.len() as i32)
}

// ---- Waiting --------------------------------------------------------------------------------

/// What the JS reports of a descriptor: readable and writable at once (`None`: not open).
fn poll_mask(cx: &Cx<'_>, fd: i32) -> Option<u16> {
    let mut st = cx.sys.lock();
    (fd >= 0 && st.fds.get(fd as u32).is_ok()).then_some(POLLIN | POLLOUT)
}

/// `poll(fds, nfds, timeout)`: never waits; every open descriptor is ready both ways, as in
/// the JS.
fn poll(cx: &Cx<'_>, v: &[u64]) -> Res {
    let (fds, nfds) = (arg(v, 0), arg(v, 1));
    let mut nonzero = 0;
    for i in 0..nfds {
        let at = fds.wrapping_add(i.wrapping_mul(8));
        let p = read_bytes(&cx.mem, at, 8)?;
        let fd = i32::from_le_bytes(p[0..4].try_into().unwrap());
        let events = u16::from_le_bytes(p[4..6].try_into().unwrap());
        let mask = poll_mask(cx, fd).unwrap_or(POLLNVAL) & (events | POLLERR | POLLHUP);
        if mask != 0 {
            nonzero += 1;
        }
        write_bytes(&cx.mem, at + 6, &mask.to_le_bytes())?;
    }
    Ok(nonzero)
}

/// `select(nfds, readfds, writefds, exceptfds, timeout)` on 64-bit fd sets: never waits; an
/// open descriptor is readable and writable, never exceptional; one not open is `EBADF`.
fn select(cx: &Cx<'_>, v: &[u64]) -> Res {
    let nfds = arg(v, 0).min(64);
    let sets = [arg(v, 1), arg(v, 2), arg(v, 3)];
    let mut src = [0u64; 3];
    for (s, &ptr) in src.iter_mut().zip(&sets) {
        if ptr != 0 {
            *s = u64::from_le_bytes(read_bytes(&cx.mem, ptr, 8)?.try_into().unwrap());
        }
    }
    let all = src[0] | src[1] | src[2];
    let mut dst = [0u64; 3];
    let mut total = 0;
    for fd in 0..nfds {
        let bit = 1u64 << fd;
        if all & bit == 0 {
            continue;
        }
        let flags = poll_mask(cx, fd as i32).ok_or(Errno::EBADF)?;
        for (i, want) in [POLLIN, POLLOUT, POLLPRI].into_iter().enumerate() {
            if flags & want != 0 && src[i] & bit != 0 {
                dst[i] |= bit;
                total += 1;
            }
        }
    }
    for (&d, &ptr) in dst.iter().zip(&sets) {
        if ptr != 0 {
            write_u64(&cx.mem, ptr, d)?;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syscall_has_a_distinct_name_and_type() {
        let mut seen: Vec<_> = FUNCTIONS.iter().map(|d| (d.name, d.ty().to_string())).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), FUNCTIONS.len());
        assert!(
            FUNCTIONS.iter().all(|d| d.name.starts_with("__syscall_") || d.name.ends_with("_js"))
        );
    }
}
