//! node's `fs`, callback style, as Go's `syscall` calls it (syscall/fs_js.go): every function
//! takes its arguments and a callback `(err, result)`, which keel calls before the function
//! returns (Go's `fsCall` waits on a channel of one, so an early answer is fine, and wazero did
//! the same). Paths are guest paths: relative ones start at `process.cwd()`, `..` stops at `/`,
//! and each resolves to the mount with the longest matching prefix, on the same keel-sys mounts
//! (jails, read-only mounts) as WASI. Errors are node's: objects with a `code` (`ENOENT`,
//! `EEXIST`, ...) that Go's `syscall` maps to its errnos.

use keel_sys::guest_path::{absolute, clean, follow_links, mount_of, relative};
use keel_sys::{Attrs, Errno, FdEntry, FileType, OpenDir, OpenFile, OpenOptions, SetTime, Stat};

use crate::builtins::method;
use crate::value::{Obj, Value};
use crate::world::{Ctx, Throw};

// node's fs.constants on Linux: what Go's syscall reads to build open flags.
const O_RDONLY: u32 = 0;
const O_WRONLY: u32 = 1;
const O_RDWR: u32 = 2;
const O_CREAT: u32 = 0o100;
const O_EXCL: u32 = 0o200;
const O_TRUNC: u32 = 0o1000;
const O_APPEND: u32 = 0o2000;
const O_DIRECTORY: u32 = 0o200000;
const O_NOFOLLOW: u32 = 0o400000;
const O_SYNC: u32 = 0o4010000;

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;

/// The `fs` object.
pub(crate) fn fs() -> Obj {
    let fs = Obj::plain();
    let constants = Obj::plain();
    for (name, v) in [
        ("O_RDONLY", O_RDONLY),
        ("O_WRONLY", O_WRONLY),
        ("O_RDWR", O_RDWR),
        ("O_CREAT", O_CREAT),
        ("O_EXCL", O_EXCL),
        ("O_TRUNC", O_TRUNC),
        ("O_APPEND", O_APPEND),
        ("O_DIRECTORY", O_DIRECTORY),
        ("O_NOFOLLOW", O_NOFOLLOW),
        ("O_SYNC", O_SYNC),
        ("S_IFMT", S_IFMT),
        ("S_IFREG", S_IFREG),
        ("S_IFDIR", S_IFDIR),
        ("S_IFLNK", S_IFLNK),
        ("S_IFCHR", S_IFCHR),
        ("S_IFBLK", S_IFBLK),
        ("S_IFSOCK", S_IFSOCK),
    ] {
        constants.set(name, Value::num(v));
    }
    fs.set("constants", Value::Object(constants));
    method(&fs, "writeSync", |ctx, _, args| {
        let fd = num(args, 0) as u32;
        let data = bytes_of(&arg(args, 1))
            .ok_or_else(|| ctx.state.type_error("fs.writeSync: not a Uint8Array"))?;
        write(ctx, fd, &data, None)
            .map(|n| Value::num(n as f64))
            .map_err(|e| Throw::Js(node_error(ctx, e, "write", "")))
    });
    // Each callback-style function: its name and what it does with its arguments (the callback
    // excluded); the callback gets (null, result) or (error).
    let table: &[(&'static str, Op)] = &[
        ("open", open),
        ("close", close),
        ("read", read),
        ("write", write_op),
        ("fstat", fstat),
        ("stat", |ctx, a| stat_op(ctx, a, true)),
        ("lstat", |ctx, a| stat_op(ctx, a, false)),
        ("readdir", readdir),
        ("mkdir", mkdir),
        ("rmdir", |ctx, a| path_op(ctx, a, "rmdir", |fs, p| fs.rmdir(p))),
        ("unlink", unlink),
        ("rename", rename),
        ("link", |ctx, a| two_paths(ctx, a, "link", |fs, from, to| fs.link(from, to))),
        ("symlink", symlink),
        ("readlink", readlink),
        ("utimes", utimes),
        ("chmod", chmod),
        ("lchown", |ctx, a| chown(ctx, a, false)),
        ("chown", |ctx, a| chown(ctx, a, true)),
        ("fchmod", fchmod),
        ("fchown", fchown),
        ("truncate", truncate),
        ("ftruncate", ftruncate),
        ("fsync", fsync),
    ];
    for &(name, op) in table {
        method(&fs, name, move |ctx, _, args| {
            let (callback, args) = match args.split_last() {
                Some((cb, rest)) if cb.as_obj().is_some() => (cb.clone(), rest),
                _ => {
                    return Err(ctx.state.type_error(format!(
                        "fs.{name}: the \"cb\" argument must be of type function"
                    )));
                }
            };
            let reply = match op(ctx, args) {
                Ok(v) => vec![Value::Null, v],
                Err(Failure::Errno(e, path)) => vec![node_error(ctx, e, name, &path)],
            };
            crate::logging::fs_reply(name, &reply);
            ctx.apply(&callback, &Value::Undefined, &reply)?;
            Ok(Value::Undefined)
        });
    }
    fs
}

/// Why an fs call failed: an errno for the callback, with the path it names.
enum Failure {
    Errno(Errno, String),
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Self {
        Failure::Errno(e, String::new())
    }
}

type Op = fn(&mut Ctx<'_>, &[Value]) -> Result<Value, Failure>;

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

fn num(args: &[Value], i: usize) -> f64 {
    arg(args, i).to_number()
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    v.as_obj()?.with_bytes(|b| b.clone())
}

/// A node-style error: `code`, `syscall`, `path` and a message.
pub(crate) fn node_error(ctx: &Ctx<'_>, e: Errno, syscall: &str, path: &str) -> Value {
    let code = code(e);
    let text = e.message().trim_end_matches('.').to_lowercase();
    let message = if path.is_empty() {
        format!("{code}: {text}, {syscall}")
    } else {
        format!("{code}: {text}, {syscall} '{path}'")
    };
    let err = ctx.state.error("Error", message);
    err.set("code", Value::str(code));
    err.set("syscall", Value::str(syscall));
    if !path.is_empty() {
        err.set("path", Value::str(path));
    }
    Value::Object(err)
}

/// The POSIX name node gives an errno. A path that led out of its mount (keel-sys's
/// `ENOTCAPABLE`) and a write to a read-only mount (`EROFS`) are `EACCES`, so that Go's `os`
/// reads both as a permission error (`fs.ErrPermission` is EACCES or EPERM to Go; EROFS is
/// neither).
fn code(e: Errno) -> &'static str {
    match e {
        Errno::ENOTCAPABLE | Errno::EROFS => "EACCES",
        Errno::ENOTSUP => "ENOTSUP",
        e => e.name(),
    }
}

/// A guest path made absolute and walked through its symbolic links, which may lead across
/// mounts (the last component's only when `follow`, or when a trailing slash asks for a
/// directory).
fn guest_path(ctx: &Ctx<'_>, path: &str, follow: bool) -> Result<String, Failure> {
    if path.is_empty() || path.contains('\0') {
        return Err(Failure::Errno(Errno::EINVAL, path.to_string()));
    }
    let abs = absolute(&ctx.state.world().cwd, path);
    let st = ctx.sys.lock();
    follow_links(&st.mounts, &abs, follow || path.ends_with('/'))
        .map_err(|e| Failure::Errno(e, path.to_string()))
}

/// The mount a guest path leads to (see [`guest_path`]) and its path inside it.
fn resolve(ctx: &Ctx<'_>, path: &str, follow: bool) -> Result<(usize, String), Failure> {
    mount_in(ctx, &guest_path(ctx, path, follow)?, path)
}

/// The mount the walked guest path `abs` (of `path`, as the guest gave it) lies in, and its
/// path inside it.
fn mount_in(ctx: &Ctx<'_>, abs: &str, path: &str) -> Result<(usize, String), Failure> {
    let st = ctx.sys.lock();
    let (mount, mut inner) =
        mount_of(&st.mounts, abs).ok_or_else(|| Failure::Errno(Errno::ENOENT, path.to_string()))?;
    // A trailing slash says "a directory": keep it for the file system to check.
    if path.ends_with('/') && !inner.is_empty() {
        inner.push('/');
    }
    Ok((mount, inner))
}

fn with_path<T>(
    ctx: &Ctx<'_>,
    path: &str,
    follow: bool,
    f: impl FnOnce(&dyn keel_sys::Fs, &str) -> Result<T, Errno>,
) -> Result<T, Failure> {
    let (mount, inner) = resolve(ctx, path, follow)?;
    let fs = ctx.sys.lock().mounts[mount].fs.clone();
    f(fs.as_ref(), &inner).map_err(|e| Failure::Errno(e, path.to_string()))
}

/// `stat` of a guest path, with its permission bits. A directory above a mount that no mounted
/// file system holds (`/tmp` of a mount at `/tmp/data`) is there to the guest, as a directory.
pub(crate) fn stat_path(ctx: &Ctx<'_>, path: &str, follow: bool) -> Result<(Stat, Attrs), Errno> {
    match with_path(ctx, path, follow, |fs, p| fs.stat_attrs(p, follow)) {
        Err(Failure::Errno(Errno::ENOENT, _)) if above_a_mount(ctx, path) => {
            let dir = Stat { nlink: 2, ..Stat::of_type(FileType::Directory) };
            Ok((dir, Attrs::default_for(FileType::Directory)))
        }
        r => r.map_err(|Failure::Errno(e, _)| e),
    }
}

fn above_a_mount(ctx: &Ctx<'_>, path: &str) -> bool {
    let abs = absolute(&ctx.state.world().cwd, path);
    keel_sys::guest_path::leads_to_mount(&ctx.sys.lock().mounts, &abs)
}

fn open(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let flags = num(args, 1) as u32;
    let access = flags & 3;
    let options = OpenOptions {
        read: access != O_WRONLY,
        write: access != O_RDONLY,
        create: flags & O_CREAT != 0,
        exclusive: flags & O_EXCL != 0,
        truncate: flags & O_TRUNC != 0,
        append: flags & O_APPEND != 0,
        follow: flags & O_NOFOLLOW == 0,
    };
    // O_CREAT|O_EXCL makes the last component itself, link or not.
    let follow_last = options.follow && !(options.create && options.exclusive);
    let (mount, inner) = resolve(ctx, &path, follow_last)?;
    let fail = |e: Errno| Failure::Errno(e, path.clone());
    let umask = ctx.state.world().umask;
    let mut st = ctx.sys.lock();
    let fs = st.mounts[mount].fs.clone();
    let entry = if flags & O_DIRECTORY != 0 {
        match fs.stat(&inner, options.follow).map_err(fail)?.filetype {
            FileType::Directory => {
                FdEntry::Dir(OpenDir { mount, path: inner, preopen: None, listing: None })
            }
            _ => return Err(fail(Errno::ENOTDIR)),
        }
    } else {
        match keel_sys::fs::open_creating(
            fs.as_ref(),
            &inner,
            &options,
            creation_mode(&arg(args, 2), 0o666, umask),
        ) {
            Ok(file) => FdEntry::File(OpenFile {
                mount,
                path: inner,
                file,
                read: options.read,
                write: options.write || options.append,
                flags: 0,
            }),
            Err(e) => match fs.stat(&inner, options.follow) {
                // node opens a directory read-only like a file; Go then lists it.
                Ok(s) if s.filetype == FileType::Directory => {
                    if options.write || options.append || options.truncate {
                        return Err(fail(Errno::EISDIR));
                    }
                    if options.create && options.exclusive {
                        return Err(fail(Errno::EEXIST));
                    }
                    FdEntry::Dir(OpenDir { mount, path: inner, preopen: None, listing: None })
                }
                _ => return Err(fail(e)),
            },
        }
    };
    let fd = st.fds.insert(entry).map_err(fail)?;
    Ok(Value::num(fd))
}

/// The mode a file or directory is created with: `v` (`default` when it is not a number, as
/// node's 0o666 for files and 0o777 for directories) less the guest's `process.umask()`.
fn creation_mode(v: &Value, default: u32, umask: u32) -> u32 {
    let mode = match v {
        Value::Number(n) if *n >= 0.0 => *n as u32,
        _ => default,
    };
    mode & 0o7777 & !umask
}

fn close(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let fd = num(args, 0) as u32;
    if fd <= 2 {
        return Ok(Value::Undefined); // node closes stdio without complaint
    }
    ctx.sys.lock().fds.remove(fd)?;
    Ok(Value::Undefined)
}

/// `position` of read/write: a number, or null/undefined for "at the current position".
fn position(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

/// `read(fd, buffer, offset, length, position)`.
fn read(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let fd = num(args, 0) as u32;
    let buf = arg(args, 1);
    let Some(buf) = buf.as_obj() else { return Err(Errno::EINVAL.into()) };
    let (offset, length) = (num(args, 2).max(0.0) as usize, num(args, 3).max(0.0) as usize);
    let at = position(&arg(args, 4));
    let size = buf.with_bytes(|b| b.len()).ok_or(Errno::EINVAL)?;
    if offset > size || length > size - offset {
        return Err(Errno::EINVAL.into());
    }
    let mut tmp = vec![0u8; length];
    let n = {
        let mut st = ctx.sys.lock();
        match st.fds.get(fd)? {
            FdEntry::Stdin => st.read_stdin(&mut tmp).map_err(Errno::from)?,
            FdEntry::File(f) if !f.read => return Err(Errno::EBADF.into()),
            FdEntry::File(f) => match at {
                Some(at) => f.file.pread(&mut tmp, at)?,
                None => f.file.read(&mut tmp)?,
            },
            FdEntry::Dir(_) => return Err(Errno::EISDIR.into()),
            _ => return Err(Errno::EBADF.into()),
        }
    };
    buf.with_bytes(|b| b[offset..offset + n].copy_from_slice(&tmp[..n]));
    Ok(Value::num(n as f64))
}

/// Writes `data` to `fd` (at `at`, if given).
fn write(ctx: &Ctx<'_>, fd: u32, data: &[u8], at: Option<u64>) -> Result<usize, Errno> {
    let mut st = ctx.sys.lock();
    match st.fds.get(fd)? {
        FdEntry::Stdout => st.write_out(false, data).map_err(Errno::from),
        FdEntry::Stderr => st.write_out(true, data).map_err(Errno::from),
        FdEntry::File(f) if !f.write => Err(Errno::EBADF),
        FdEntry::File(f) => match at {
            Some(at) => f.file.pwrite(data, at),
            None => {
                let mut done = 0;
                while done < data.len() {
                    match f.file.write(&data[done..])? {
                        0 => break,
                        n => done += n,
                    }
                }
                Ok(done)
            }
        },
        FdEntry::Dir(_) => Err(Errno::EISDIR),
        _ => Err(Errno::EBADF),
    }
}

/// `write(fd, buffer, offset, length, position)`.
fn write_op(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let fd = num(args, 0) as u32;
    let data = bytes_of(&arg(args, 1)).ok_or(Errno::EINVAL)?;
    let (offset, length) = (num(args, 2).max(0.0) as usize, num(args, 3).max(0.0) as usize);
    if offset > data.len() || length > data.len() - offset {
        return Err(Errno::EINVAL.into());
    }
    let n = write(ctx, fd, &data[offset..offset + length], position(&arg(args, 4)))?;
    Ok(Value::num(n as f64))
}

/// A node `fs.Stats`, of a file with permission bits `perm`.
fn stats((s, attrs): &(Stat, Attrs)) -> Value {
    let kind = match s.filetype {
        FileType::Directory => S_IFDIR,
        FileType::RegularFile => S_IFREG,
        FileType::SymbolicLink => S_IFLNK,
        FileType::CharacterDevice => S_IFCHR,
        FileType::BlockDevice => S_IFBLK,
        FileType::SocketStream | FileType::SocketDgram => S_IFSOCK,
        FileType::Unknown => 0,
    };
    let o = Obj::plain();
    let ms = |ns: u64| Value::num((ns / 1_000_000) as f64);
    for (k, v) in [
        ("dev", Value::num(s.dev as f64)),
        ("ino", Value::num(s.ino as f64)),
        ("mode", Value::num(kind | (attrs.mode & 0o7777))),
        ("nlink", Value::num(s.nlink as f64)),
        ("uid", Value::num(attrs.uid as f64)),
        ("gid", Value::num(attrs.gid as f64)),
        ("rdev", Value::num(0)),
        ("size", Value::num(s.size as f64)),
        ("blksize", Value::num(4096)),
        ("blocks", Value::num(s.size.div_ceil(512) as f64)),
        ("atimeMs", ms(s.atim)),
        ("mtimeMs", ms(s.mtim)),
        ("ctimeMs", ms(s.ctim)),
        ("birthtimeMs", ms(s.ctim)),
    ] {
        o.set(k, v);
    }
    let t = s.filetype;
    method(&o, "isDirectory", move |_, _, _| Ok(Value::Bool(t == FileType::Directory)));
    method(&o, "isFile", move |_, _, _| Ok(Value::Bool(t == FileType::RegularFile)));
    method(&o, "isSymbolicLink", move |_, _, _| Ok(Value::Bool(t == FileType::SymbolicLink)));
    Value::Object(o)
}

fn fstat(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let fd = num(args, 0) as u32;
    let mut st = ctx.sys.lock();
    let s = match st.fds.get(fd)? {
        FdEntry::File(f) => f.file.stat_attrs()?,
        FdEntry::Dir(d) => {
            let (mount, path) = (d.mount, d.path.clone());
            st.mounts[mount].fs.stat_attrs(&path, true)?
        }
        _ => {
            let t = FileType::CharacterDevice;
            (Stat::of_type(t), Attrs::default_for(t))
        }
    };
    Ok(stats(&s))
}

fn stat_op(ctx: &mut Ctx<'_>, args: &[Value], follow: bool) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    Ok(stats(&stat_path(ctx, &path, follow).map_err(|e| Failure::Errno(e, path))?))
}

fn readdir(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let entries = with_path(ctx, &path, true, |fs, p| fs.read_dir(p))?;
    let names = entries.into_iter().map(|e| Value::str(e.name)).collect();
    Ok(Value::Object(Obj::array(names, Some(ctx.state.ctors.array.clone()))))
}

/// `mkdir(path, mode)`: the directory gets `mode` less the umask (see [`keel_sys::fs::open_creating`]).
fn mkdir(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let mode = match arg(args, 1) {
        // node's `fs.mkdir(path, { mode })` form too.
        Value::Object(o) => o.get("mode"),
        v => v,
    };
    let mode = creation_mode(&mode, 0o777, ctx.state.world().umask);
    with_path(ctx, &path, false, |fs, p| {
        fs.mkdir(p)?;
        match fs.chmod(p, mode) {
            Ok(()) | Err(Errno::ENOTSUP) => Ok(()),
            Err(e) => Err(e),
        }
    })?;
    Ok(Value::Undefined)
}

fn path_op(
    ctx: &mut Ctx<'_>,
    args: &[Value],
    _name: &str,
    f: fn(&dyn keel_sys::Fs, &str) -> Result<(), Errno>,
) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    with_path(ctx, &path, false, f)?;
    Ok(Value::Undefined)
}

fn two_paths(
    ctx: &mut Ctx<'_>,
    args: &[Value],
    _name: &str,
    f: fn(&dyn keel_sys::Fs, &str, &str) -> Result<(), Errno>,
) -> Result<Value, Failure> {
    let (from, to) = (arg(args, 0).to_js_string(), arg(args, 1).to_js_string());
    let (m1, p1) = resolve(ctx, &from, false)?;
    let (m2, p2) = resolve(ctx, &to, false)?;
    if m1 != m2 {
        return Err(Failure::Errno(Errno::EXDEV, from));
    }
    let fs = ctx.sys.lock().mounts[m1].fs.clone();
    f(fs.as_ref(), &p1, &p2).map_err(|e| Failure::Errno(e, from))?;
    Ok(Value::Undefined)
}

/// `rename(from, to)`. A link the guest made with an absolute target, moved itself, is made
/// again relative to its new place, so that it still leads where the guest said (a link moved
/// along with its directory keeps its relative target; docs/go.md says so).
fn rename(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    two_paths(ctx, args, "rename", |fs, from, to| fs.rename(from, to))?;
    if ctx.state.world().links.is_empty() {
        return Ok(Value::Undefined);
    }
    let from = resolve(ctx, &arg(args, 0).to_js_string(), false)?;
    let to_path = arg(args, 1).to_js_string();
    let to = guest_path(ctx, &to_path, false)?;
    let (mount, inner) = mount_in(ctx, &to, &to_path)?;
    let remembered = {
        let mut w = ctx.state.world();
        w.links.remove(&(mount, inner.clone()));
        w.links.remove(&from)
    };
    let Some((stored, given)) = remembered else { return Ok(Value::Undefined) };
    let now = relative(&to, &clean(&given));
    if now != stored {
        let fs = ctx.sys.lock().mounts[mount].fs.clone();
        fs.unlink(&inner).map_err(|e| Failure::Errno(e, given.clone()))?;
        fs.symlink(&now, &inner).map_err(|e| Failure::Errno(e, given.clone()))?;
    }
    ctx.state.world().links.insert((mount, inner), (now, given));
    Ok(Value::Undefined)
}

/// `symlink(target, path)`: a relative target is stored as given; an absolute one (a guest
/// path, in this mount or another) is stored relative to the link's directory, since a mount
/// cannot hold a link to a host path (keel-sys refuses to create one, so that no host program
/// is led outside the mount by it); keel-sys's [`follow_links`] follows either across mounts.
/// The guest reads back what it gave: the world remembers the absolute targets of the links it
/// made ([`crate::world::World::links`]) for `readlink`.
fn symlink(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (target, path) = (arg(args, 0).to_js_string(), arg(args, 1).to_js_string());
    if target.is_empty() || target.contains('\0') {
        return Err(Failure::Errno(
            if target.is_empty() { Errno::ENOENT } else { Errno::EINVAL },
            path,
        ));
    }
    let link = guest_path(ctx, &path, false)?;
    let (mount, inner) = mount_in(ctx, &link, &path)?;
    let stored =
        if target.starts_with('/') { relative(&link, &clean(&target)) } else { target.clone() };
    let fs = ctx.sys.lock().mounts[mount].fs.clone();
    fs.symlink(&stored, &inner).map_err(|e| Failure::Errno(e, path))?;
    let mut w = ctx.state.world();
    if target.starts_with('/') {
        w.links.insert((mount, inner), (stored, target));
    } else if !w.links.is_empty() {
        w.links.remove(&(mount, inner));
    }
    Ok(Value::Undefined)
}

/// `readlink(path)`: the link's target, or the absolute target the guest gave when it made the
/// link (and the link still holds what keel stored for it).
fn readlink(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let (mount, inner) = resolve(ctx, &path, false)?;
    let fs = ctx.sys.lock().mounts[mount].fs.clone();
    let got = fs.readlink(&inner).map_err(|e| Failure::Errno(e, path))?;
    let w = ctx.state.world();
    Ok(Value::str(match w.links.get(&(mount, inner)) {
        Some((stored, given)) if *stored == got => given.clone(),
        _ => got,
    }))
}

/// `unlink(path)`, forgetting what the world remembers of a link there.
fn unlink(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let (mount, inner) = resolve(ctx, &path, false)?;
    let fs = ctx.sys.lock().mounts[mount].fs.clone();
    fs.unlink(&inner).map_err(|e| Failure::Errno(e, path))?;
    let mut w = ctx.state.world();
    if !w.links.is_empty() {
        w.links.remove(&(mount, inner));
    }
    Ok(Value::Undefined)
}

/// `utimes(path, atime, mtime)`, in seconds.
fn utimes(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let time = |v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(SetTime::At((v * 1e9) as u64))
        } else {
            Err(Errno::EINVAL)
        }
    };
    let (atim, mtim) = (time(num(args, 1))?, time(num(args, 2))?);
    with_path(ctx, &path, true, |fs, p| fs.set_times(p, atim, mtim, true))?;
    Ok(Value::Undefined)
}

/// `chmod(path, mode)`: the permission bits, within what keel-sys lets a guest set (never
/// setuid or setgid; nothing outside the mounts).
fn chmod(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let mode = num(args, 1);
    if mode.is_nan() || mode < 0.0 {
        return Err(Failure::Errno(Errno::EINVAL, path));
    }
    with_path(ctx, &path, true, |fs, p| fs.chmod(p, mode as u32))?;
    Ok(Value::Undefined)
}

/// `fchmod(fd, mode)`: as `chmod`, of an open file or directory.
fn fchmod(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (fd, mode) = (num(args, 0) as u32, num(args, 1));
    if mode.is_nan() || mode < 0.0 {
        return Err(Errno::EINVAL.into());
    }
    // stdio: node changes the terminal's modes; keel has none to change.
    ctx.sys.lock().fd_chmod(fd, mode as u32)?;
    Ok(Value::Undefined)
}

/// `chown(path, uid, gid)` and `lchown`: the owners keel-sys keeps (MemFs) or the host's (DirFs,
/// where the host decides who may give a file away); -1 keeps one.
fn chown(ctx: &mut Ctx<'_>, args: &[Value], follow: bool) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let ids = owner_id(num(args, 1)).and_then(|u| Ok((u, owner_id(num(args, 2))?)));
    let (uid, gid) = ids.map_err(|e| Failure::Errno(e, path.clone()))?;
    with_path(ctx, &path, follow, |fs, p| fs.chown(p, uid, gid, follow))?;
    Ok(Value::Undefined)
}

/// `fchown(fd, uid, gid)`: as `chown`, of an open file or directory (stdio: see
/// `SysState::fd_chown`).
fn fchown(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let fd = num(args, 0) as u32;
    let (uid, gid) = (owner_id(num(args, 1))?, owner_id(num(args, 2))?);
    ctx.sys.lock().fd_chown(fd, uid, gid)?;
    Ok(Value::Undefined)
}

/// An owner or group argument: -1 is "unchanged", and so is 2^32 - 1, which Go passes for it
/// (its `syscall` converts to uint32 first); anything but a 32-bit id is `EINVAL`.
fn owner_id(v: f64) -> Result<Option<u32>, Errno> {
    if v == -1.0 || v == u32::MAX as f64 {
        Ok(None)
    } else if v.fract() == 0.0 && (0.0..u32::MAX as f64).contains(&v) {
        Ok(Some(v as u32))
    } else {
        Err(Errno::EINVAL)
    }
}

fn truncate(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let path = arg(args, 0).to_js_string();
    let len = num(args, 1);
    if len.is_nan() || len < 0.0 {
        return Err(Failure::Errno(Errno::EINVAL, path));
    }
    let options = OpenOptions { write: true, follow: true, ..OpenOptions::default() };
    with_path(ctx, &path, true, |fs, p| fs.open(p, &options)?.set_size(len as u64))?;
    Ok(Value::Undefined)
}

fn ftruncate(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (fd, len) = (num(args, 0) as u32, num(args, 1));
    if len.is_nan() || len < 0.0 {
        return Err(Errno::EINVAL.into());
    }
    match ctx.sys.lock().fds.get(fd)? {
        FdEntry::File(f) if f.write => f.file.set_size(len as u64)?,
        FdEntry::File(_) => return Err(Errno::EBADF.into()),
        FdEntry::Dir(_) => return Err(Errno::EISDIR.into()),
        _ => return Err(Errno::EINVAL.into()),
    }
    Ok(Value::Undefined)
}

fn fsync(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<Value, Failure> {
    if let FdEntry::File(f) = ctx.sys.lock().fds.get(num(args, 0) as u32)? {
        f.file.sync()?;
    }
    Ok(Value::Undefined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_are_relative_to_the_link() {
        assert_eq!(relative("d/link", "d/target"), "target");
        assert_eq!(relative("link", "d/e/t"), "d/e/t");
        assert_eq!(relative("a/b/link", "c"), "../../c");
    }
}
