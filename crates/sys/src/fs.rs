//! The file-system interface every mount implements, and the types it speaks.
//!
//! Paths given to a [`Fs`] are relative to its root, `/`-separated, and may contain `.`, `..` and
//! symbolic links: the implementation resolves them and must refuse (with
//! [`Errno::ENOTCAPABLE`]) any path that would lead outside its root — by `..`, an absolute path,
//! or a symbolic link pointing out — and [`Errno::ELOOP`] for symbolic-link loops. Resolution
//! happens at every call, so a component swapped for a symbolic link between two calls is checked
//! again.

use std::fmt;
use std::io::SeekFrom;

use crate::errno::{Errno, Result};

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FileType {
    /// Unknown, or none of the others.
    Unknown = 0,
    /// A block device.
    BlockDevice = 1,
    /// A character device.
    CharacterDevice = 2,
    /// A directory.
    Directory = 3,
    /// A regular file.
    RegularFile = 4,
    /// A datagram socket.
    SocketDgram = 5,
    /// A stream socket.
    SocketStream = 6,
    /// A symbolic link.
    SymbolicLink = 7,
}

/// A file's attributes. Times are nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// File type.
    pub filetype: FileType,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes (of the target path, for a symbolic link).
    pub size: u64,
    /// Last access.
    pub atim: u64,
    /// Last modification.
    pub mtim: u64,
    /// Last status change.
    pub ctim: u64,
}

impl Stat {
    /// A stat of `filetype` with nothing else known: one link, size and times 0 — what stdio
    /// and sockets report, which have no file behind them.
    pub fn of_type(filetype: FileType) -> Stat {
        Stat { dev: 0, ino: 0, filetype, nlink: 1, size: 0, atim: 0, mtim: 0, ctim: 0 }
    }
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name.
    pub name: String,
    /// Inode number (0 when unknown).
    pub ino: u64,
    /// File type.
    pub filetype: FileType,
}

/// A time to set with `set_times`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTime {
    /// Leave it unchanged.
    Omit,
    /// The current time.
    Now,
    /// Nanoseconds since the Unix epoch.
    At(u64),
}

/// How to open a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create the file if missing.
    pub create: bool,
    /// With `create`: fail with `EEXIST` if it exists.
    pub exclusive: bool,
    /// Truncate to zero length.
    pub truncate: bool,
    /// Every write appends.
    pub append: bool,
    /// Follow a symbolic link in the last component (otherwise opening one is `ELOOP`).
    pub follow: bool,
}

/// The permission bits a file system without modes reports for a file of type `t` (and the
/// bits MemFs gives what it creates): 0755 for directories, 0644 for files, 0777 for symbolic
/// links, 0620 for character devices, 0660 for block devices.
pub fn default_mode(t: FileType) -> u32 {
    match t {
        FileType::Directory | FileType::SocketStream | FileType::SocketDgram => 0o755,
        FileType::RegularFile | FileType::Unknown => 0o644,
        FileType::SymbolicLink => 0o777,
        FileType::CharacterDevice => 0o620,
        FileType::BlockDevice => 0o660,
    }
}

/// A file's permission bits and owners: what import sets that show them (Go's `fs.stat`) ask
/// for beside [`Stat`], which WASI's `filestat` shapes and which has neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner, as the guest sees it: 0 is the guest itself (see [`crate::DirFs`] for host ids).
    pub uid: u32,
    /// Group, as the guest sees it.
    pub gid: u32,
}

impl Attrs {
    /// What a file system without modes or owners reports for a file of type `t`:
    /// [`default_mode`], owned by the guest (uid and gid 0).
    pub fn default_for(t: FileType) -> Attrs {
        Attrs { mode: default_mode(t), uid: 0, gid: 0 }
    }
}

/// The permission bits a guest may set with [`Fs::chmod`] and [`File::chmod`]: the owner's,
/// group's and others' read, write and execute, and the sticky bit. Never setuid or setgid.
pub const SETTABLE_MODE: u32 = 0o1777;

impl OpenOptions {
    /// Whether these options would change the file system or the file.
    pub fn mutates(&self) -> bool {
        self.write || self.create || self.truncate || self.append
    }
}

/// A file system: one mount's tree. See the module docs for the path rules.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Opens a file that is not a directory (directories are read with [`Fs::read_dir`]).
    fn open(&self, path: &str, options: &OpenOptions) -> Result<Box<dyn File>>;
    /// The attributes of `path`, of a symbolic link's target when `follow`.
    fn stat(&self, path: &str, follow: bool) -> Result<Stat>;
    /// The entries of the directory `path`, without `.` and `..`, in a stable order.
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>>;
    /// Creates a directory.
    fn mkdir(&self, path: &str) -> Result<()>;
    /// Removes an empty directory.
    fn rmdir(&self, path: &str) -> Result<()>;
    /// Removes a file or symbolic link (`EISDIR`, or `EPERM` as POSIX allows, for a directory).
    fn unlink(&self, path: &str) -> Result<()>;
    /// Renames `from` to `to`, both inside this file system.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Makes `to` a hard link to `from` (not following a symbolic link in `from`).
    fn link(&self, from: &str, to: &str) -> Result<()>;
    /// Creates a symbolic link at `link` holding `target`.
    fn symlink(&self, target: &str, link: &str) -> Result<()>;
    /// The target of the symbolic link `path`.
    fn readlink(&self, path: &str) -> Result<String>;
    /// Sets the access and modification times of `path`.
    fn set_times(&self, path: &str, atim: SetTime, mtim: SetTime, follow: bool) -> Result<()>;
    /// The attributes of `path` with its permission bits and owners. WASI has neither and never
    /// asks; import sets that show them (Go's `fs.stat`) do. The default, for a file system
    /// without them, reports [`Attrs::default_for`] the file's type.
    fn stat_attrs(&self, path: &str, follow: bool) -> Result<(Stat, Attrs)> {
        let st = self.stat(path, follow)?;
        Ok((st, Attrs::default_for(st.filetype)))
    }
    /// Sets the permission bits of `path` (following a symbolic link) to `mode` within
    /// [`SETTABLE_MODE`]; other bits are ignored. The default, for a file system without modes:
    /// `ENOTSUP`.
    fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        let _ = (path, mode);
        Err(Errno::ENOTSUP)
    }
    /// Changes the owner and group of `path` (of a symbolic link's target when `follow`);
    /// `None` leaves one as it is. The default, for a file system without owners: `ENOTSUP`.
    fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>, follow: bool) -> Result<()> {
        let _ = (path, uid, gid, follow);
        Err(Errno::ENOTSUP)
    }
}

/// An open file (never a directory).
pub trait File: Send + fmt::Debug {
    /// Reads at the current position.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
    /// Writes at the current position (at the end in append mode).
    fn write(&mut self, buf: &[u8]) -> Result<usize>;
    /// Reads at `offset` without moving the position.
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize>;
    /// Writes at `offset` without moving the position.
    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize>;
    /// Moves the position; returns the new one.
    fn seek(&mut self, pos: SeekFrom) -> Result<u64>;
    /// The file's attributes.
    fn stat(&self) -> Result<Stat>;
    /// Truncates or extends the file.
    fn set_size(&mut self, size: u64) -> Result<()>;
    /// Flushes data and metadata to storage.
    fn sync(&mut self) -> Result<()>;
    /// Flushes data to storage.
    fn datasync(&mut self) -> Result<()> {
        self.sync()
    }
    /// Sets access and modification times.
    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> Result<()>;
    /// Whether writes append.
    fn is_append(&self) -> bool;
    /// Turns append mode on or off.
    fn set_append(&mut self, append: bool) -> Result<()>;
    /// The file's attributes with its permission bits and owners (see [`Fs::stat_attrs`]).
    fn stat_attrs(&self) -> Result<(Stat, Attrs)> {
        let st = self.stat()?;
        Ok((st, Attrs::default_for(st.filetype)))
    }
    /// Sets the file's permission bits (see [`Fs::chmod`]); the default: `ENOTSUP`.
    fn chmod(&mut self, mode: u32) -> Result<()> {
        let _ = mode;
        Err(Errno::ENOTSUP)
    }
    /// Changes the file's owner and group (see [`Fs::chown`]); the default: `ENOTSUP`.
    fn chown(&mut self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let _ = (uid, gid);
        Err(Errno::ENOTSUP)
    }
}

/// Opens `path`, giving a file it creates the permission bits `mode` (a file that exists keeps
/// its own, as POSIX's `open(O_CREAT)`): a file system creates files with its default bits, so
/// keel sets them once it knows it created the file — it opens without creating first, and
/// creates exclusively only when that finds nothing.
pub fn open_creating(
    fs: &dyn Fs,
    path: &str,
    options: &OpenOptions,
    mode: u32,
) -> Result<Box<dyn File>> {
    if !options.create {
        return fs.open(path, options);
    }
    if !options.exclusive {
        match fs.open(path, &OpenOptions { create: false, ..*options }) {
            Err(Errno::ENOENT) => {}
            r => return r,
        }
    }
    let mut file = match fs.open(path, &OpenOptions { exclusive: true, ..*options }) {
        // Created by someone else in between: open what is there.
        Err(Errno::EEXIST) if !options.exclusive => return fs.open(path, options),
        r => r?,
    };
    // A file system without modes keeps its default.
    match file.chmod(mode) {
        Ok(()) | Err(Errno::ENOTSUP) => Ok(file),
        Err(e) => Err(e),
    }
}

/// Splits a relative path into its components, dropping empty ones and `.`.
/// An absolute path is `ENOTCAPABLE`: a mount's paths are relative to its root.
pub fn components(path: &str) -> Result<Vec<&str>> {
    if path.starts_with('/') {
        return Err(Errno::ENOTCAPABLE);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(path.split('/').filter(|c| !c.is_empty() && *c != ".").collect())
}

/// Joins a directory path inside a mount with a relative guest path.
pub fn join(dir: &str, path: &str) -> Result<String> {
    if path.starts_with('/') {
        return Err(Errno::ENOTCAPABLE);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(match (dir.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => dir.to_string(),
        (false, false) => format!("{dir}/{path}"),
    })
}

/// Refuses (`ENOTCAPABLE`) a relative guest path whose `..` components climb above the directory
/// it is relative to: a directory descriptor is a capability for what lies below it, even where
/// the mount goes on above it (`sub/../..` from a descriptor of `sub`'s parent).
pub fn check_below(path: &str) -> Result<()> {
    let mut depth = 0usize;
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => depth = depth.checked_sub(1).ok_or(Errno::ENOTCAPABLE)?,
            _ => depth += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_their_directory() {
        for (path, ok) in [
            ("a", true),
            ("a/b/../c", true),
            ("a/..", true),
            ("./a/./../b", true),
            ("a//b///", true),
            ("..", false),
            ("a/../..", false),
            ("dir/nested/../../../dir/nested/file", false),
            ("../a", false),
        ] {
            assert_eq!(check_below(path).is_ok(), ok, "{path}");
        }
        assert_eq!(check_below(".."), Err(Errno::ENOTCAPABLE));
    }
}
