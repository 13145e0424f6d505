//! A host directory as a mount, confined to it by cap-std.
//!
//! Every path is resolved by cap-std relative to the directory's handle, component by component
//! with `openat`-style calls and `O_NOFOLLOW`, following symbolic links itself and refusing any
//! step that leaves the directory (`..` past the root, an absolute path or link target). Nothing
//! is cached between calls: a component swapped for a symbolic link between two calls is checked
//! again at the next one.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, SystemTimeSpec};
use cap_std::fs::{Dir, MetadataExt};
use rustix::fs::{Gid, Uid};
use std::os::unix::fs::DirEntryExt as _;

use crate::errno::{Errno, Result};
use crate::fs::{Attrs, DirEntry, File, FileType, Fs, OpenOptions, SETTABLE_MODE, SetTime, Stat};

/// A host directory, confined: no path, `..`, symbolic link or hard link reaches outside it.
#[derive(Debug)]
pub struct DirFs {
    dir: Dir,
}

impl DirFs {
    /// Opens the host directory `path` (the one place that uses ambient authority: the embedder
    /// chose this directory).
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<DirFs> {
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())?;
        Ok(DirFs { dir })
    }
}

fn rel(path: &str) -> Result<&Path> {
    if path.starts_with('/') {
        return Err(Errno::ENOTCAPABLE);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(Path::new(if path.is_empty() { "." } else { path }))
}

fn filetype(ft: cap_std::fs::FileType) -> FileType {
    use cap_std::fs::FileTypeExt;
    if ft.is_dir() {
        FileType::Directory
    } else if ft.is_file() {
        FileType::RegularFile
    } else if ft.is_symlink() {
        FileType::SymbolicLink
    } else if ft.is_block_device() {
        FileType::BlockDevice
    } else if ft.is_char_device() {
        FileType::CharacterDevice
    } else if ft.is_socket() {
        FileType::SocketStream
    } else {
        FileType::Unknown
    }
}

fn ns(sec: i64, nsec: i64) -> u64 {
    (sec.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(nsec.max(0) as u64)
}

fn stat_of(m: &cap_std::fs::Metadata) -> Stat {
    Stat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype(m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

/// Permission bits and owners of host metadata, as the guest sees them.
fn attrs_of(m: &cap_std::fs::Metadata) -> Attrs {
    let (uid, gid) = own_ids();
    Attrs { mode: m.mode() & 0o7777, uid: swap_own(m.uid(), uid), gid: swap_own(m.gid(), gid) }
}

/// The host process's effective user and group (as at the first call: keel never changes them).
fn own_ids() -> (u32, u32) {
    // Asked once: every stat of a host file maps its owners.
    static IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw()))
}

/// A host id as the guest sees it, or the other way round: the guest is uid and gid 0 of a
/// system of its own, so the host process's own id shows as 0 (and the host's 0 as the process's
/// id). The map is its own inverse; when keel runs as root it changes nothing.
fn swap_own(id: u32, own: u32) -> u32 {
    if id == own {
        0
    } else if id == 0 {
        own
    } else {
        id
    }
}

/// A guest's new owner and group as host ids; `None` keeps one. `u32::MAX` is no id (it is the
/// `-1` of `chown(2)`).
fn host_owners(uid: Option<u32>, gid: Option<u32>) -> Result<(Option<Uid>, Option<Gid>)> {
    let (own_uid, own_gid) = own_ids();
    let check = |id: u32| if id == u32::MAX { Err(Errno::EINVAL) } else { Ok(id) };
    let uid = uid.map(check).transpose()?.map(|u| Uid::from_raw(swap_own(u, own_uid)));
    let gid = gid.map(check).transpose()?.map(|g| Gid::from_raw(swap_own(g, own_gid)));
    Ok((uid, gid))
}

/// A guest's `mode` as host permissions: only [`SETTABLE_MODE`]'s bits, so that a guest never
/// makes a host file setuid or setgid.
fn host_mode(mode: u32) -> u32 {
    mode & SETTABLE_MODE
}

fn system_time(t: SetTime) -> Option<SystemTime> {
    match t {
        SetTime::Omit => None,
        SetTime::Now => Some(SystemTime::now()),
        SetTime::At(ns) => Some(UNIX_EPOCH + Duration::from_nanos(ns)),
    }
}

fn spec(t: SetTime) -> Option<SystemTimeSpec> {
    match t {
        SetTime::Omit => None,
        SetTime::Now => Some(SystemTimeSpec::SymbolicNow),
        SetTime::At(ns) => Some(SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(
            UNIX_EPOCH + Duration::from_nanos(ns),
        ))),
    }
}

impl Fs for DirFs {
    fn open(&self, path: &str, o: &OpenOptions) -> Result<Box<dyn File>> {
        // POSIX lets a file be created or truncated when opened read-only, and truncated when
        // opened for appending; std's options (so cap-std's) refuse both with EINVAL. So the
        // host file is opened for writing whenever the guest creates or truncates, and append
        // mode is turned on after the open: the import set still refuses the guest the writes
        // it has no right to.
        let host_write = o.write || o.append || o.create || o.truncate;
        let mut options = cap_std::fs::OpenOptions::new();
        options
            .read(o.read || !(o.write || o.append))
            .write(host_write)
            .create(o.create && !o.exclusive)
            .create_new(o.create && o.exclusive)
            .truncate(o.truncate)
            .follow(if o.follow { FollowSymlinks::Yes } else { FollowSymlinks::No });
        let p = rel(path)?;
        let file = match self.dir.open_with(p, &options) {
            // An existing file the host may not write, opened by a guest that only reads it:
            // O_CREAT of a file that exists changes nothing, so open it as it is.
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && !(o.write || o.append || o.truncate || o.exclusive) =>
            {
                options.write(false).create(false);
                self.dir.open_with(p, &options)?
            }
            r => r?,
        };
        // The host refuses to open a directory for writing (EISDIR): only a read-only open can
        // have opened one, so only that one pays for the check.
        if !host_write && file.metadata()?.is_dir() {
            return Err(Errno::EISDIR);
        }
        let mut file = HostFile { file: file.into_std(), append: false };
        if o.append {
            file.set_append(true)?;
        }
        Ok(Box::new(file))
    }

    fn stat(&self, path: &str, follow: bool) -> Result<Stat> {
        let path = rel(path)?;
        let m = if follow { self.dir.metadata(path)? } else { self.dir.symlink_metadata(path)? };
        Ok(stat_of(&m))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in self.dir.read_dir(rel(path)?)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ft = entry.file_type().map(filetype).unwrap_or(FileType::Unknown);
            out.push(DirEntry { name, ino: entry.ino(), filetype: ft });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        Ok(self.dir.create_dir(rel(path)?)?)
    }

    fn rmdir(&self, path: &str) -> Result<()> {
        Ok(self.dir.remove_dir(rel(path)?)?)
    }

    fn unlink(&self, path: &str) -> Result<()> {
        let p = rel(path)?;
        match self.dir.remove_file_or_symlink(p) {
            Ok(()) => Ok(()),
            // Linux refuses to unlink a directory with EISDIR; POSIX also allows EPERM (macOS,
            // the BSDs), which WASI wants as EISDIR: only that failure pays for a stat.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
                match self.dir.symlink_metadata(p) {
                    Ok(m) if m.is_dir() => Err(Errno::EISDIR),
                    _ => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        Ok(self.dir.rename(rel(from)?, &self.dir, rel(to)?)?)
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        Ok(self.dir.hard_link(rel(from)?, &self.dir, rel(to)?)?)
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        // The target is stored as given; cap-std refuses to follow one that leads outside.
        Ok(self.dir.symlink(target, rel(link)?)?)
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let target = self.dir.read_link_contents(rel(path)?)?;
        Ok(target.to_string_lossy().into_owned())
    }

    fn set_times(&self, path: &str, atim: SetTime, mtim: SetTime, follow: bool) -> Result<()> {
        let p = rel(path)?;
        if follow {
            Ok(self.dir.set_times(p, spec(atim), spec(mtim))?)
        } else {
            Ok(self.dir.set_symlink_times(p, spec(atim), spec(mtim))?)
        }
    }

    fn stat_attrs(&self, path: &str, follow: bool) -> Result<(Stat, Attrs)> {
        let path = rel(path)?;
        let m = if follow { self.dir.metadata(path)? } else { self.dir.symlink_metadata(path)? };
        Ok((stat_of(&m), attrs_of(&m)))
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        // cap-std resolves the path inside the directory (following links only within it) and
        // changes the file it opened, never a path outside.
        use cap_std::fs::PermissionsExt;
        let perm = cap_std::fs::Permissions::from_mode(host_mode(mode));
        Ok(self.dir.set_permissions(rel(path)?, perm)?)
    }

    fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>, follow: bool) -> Result<()> {
        // The last component is changed through its directory, opened by cap-std, with
        // AT_SYMLINK_NOFOLLOW; a link to follow is first resolved by cap-std inside the mount.
        // So no step of the host call itself can lead outside.
        let (uid, gid) = host_owners(uid, gid)?;
        let mut p = rel(path)?.to_path_buf();
        if follow || p.file_name().is_none() {
            p = self.dir.canonicalize(&p)?;
        }
        let nofollow = rustix::fs::AtFlags::SYMLINK_NOFOLLOW;
        let done = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                rustix::fs::chownat(&self.dir.open_dir(parent)?, name, uid, gid, nofollow)
            }
            (_, Some(name)) => rustix::fs::chownat(&self.dir, name, uid, gid, nofollow),
            // The mount's root itself.
            _ => rustix::fs::chownat(&self.dir, "", uid, gid, rustix::fs::AtFlags::EMPTY_PATH),
        };
        Ok(done.map_err(std::io::Error::from)?)
    }
}

/// An open host file.
#[derive(Debug)]
struct HostFile {
    file: std::fs::File,
    append: bool,
}

impl File for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        Ok(self.file.read(buf)?)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        Ok(self.file.write(buf)?)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        Ok(self.file.read_at(buf, offset)?)
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        if self.append {
            // POSIX pwrite on an O_APPEND file appends on Linux; WASI wants the offset honoured.
            let pos = self.file.stream_position()?;
            self.set_append(false)?;
            let n = self.file.write_at(buf, offset);
            self.set_append(true)?;
            self.file.seek(SeekFrom::Start(pos))?;
            return Ok(n?);
        }
        Ok(self.file.write_at(buf, offset)?)
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        Ok(self.file.seek(pos)?)
    }

    fn stat(&self) -> Result<Stat> {
        let m = cap_std::fs::Metadata::from_file(&self.file)?;
        Ok(stat_of(&m))
    }

    fn set_size(&mut self, size: u64) -> Result<()> {
        Ok(self.file.set_len(size)?)
    }

    fn sync(&mut self) -> Result<()> {
        Ok(self.file.sync_all()?)
    }

    fn datasync(&mut self) -> Result<()> {
        Ok(self.file.sync_data()?)
    }

    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> Result<()> {
        let mut times = std::fs::FileTimes::new();
        if let Some(t) = system_time(atim) {
            times = times.set_accessed(t);
        }
        if let Some(t) = system_time(mtim) {
            times = times.set_modified(t);
        }
        Ok(self.file.set_times(times)?)
    }

    fn is_append(&self) -> bool {
        self.append
    }

    fn stat_attrs(&self) -> Result<(Stat, Attrs)> {
        let m = cap_std::fs::Metadata::from_file(&self.file)?;
        Ok((stat_of(&m), attrs_of(&m)))
    }

    fn chmod(&mut self, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        Ok(self.file.set_permissions(std::fs::Permissions::from_mode(host_mode(mode)))?)
    }

    fn chown(&mut self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let (uid, gid) = host_owners(uid, gid)?;
        Ok(rustix::fs::fchown(&self.file, uid, gid).map_err(std::io::Error::from)?)
    }

    fn set_append(&mut self, append: bool) -> Result<()> {
        use rustix::fs::OFlags;
        let mut flags = rustix::fs::fcntl_getfl(&self.file).map_err(std::io::Error::from)?;
        flags.set(OFlags::APPEND, append);
        rustix::fs::fcntl_setfl(&self.file, flags).map_err(std::io::Error::from)?;
        self.append = append;
        Ok(())
    }
}
