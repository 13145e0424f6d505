//! An in-memory file system.

use std::collections::{BTreeMap, HashMap};
use std::io::SeekFrom;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::errno::{Errno, Result};
use crate::fs::{
    Attrs, DirEntry, File, FileType, Fs, OpenOptions, SETTABLE_MODE, SetTime, Stat, components,
    default_mode,
};

const MAX_SYMLINKS: usize = 40;
const ROOT: u64 = 1;

#[derive(Debug)]
enum Data {
    File(Vec<u8>),
    Dir(BTreeMap<String, u64>),
    Symlink(String),
}

#[derive(Debug)]
struct Node {
    data: Data,
    /// Permission bits (`0o7777`): kept and reported, not enforced (a guest is its file
    /// system's only user).
    mode: u32,
    /// Owner and group: kept and reported, not enforced; the guest (uid 0) may give a file to
    /// anyone, as root may.
    uid: u32,
    gid: u32,
    nlink: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

#[derive(Debug)]
struct Tree {
    nodes: HashMap<u64, Node>,
    next: u64,
}

/// A file system held in memory: files, directories and symbolic links, confined like a host
/// directory (no `..` or link leads outside its root). Cloning shares the tree.
#[derive(Debug, Clone)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
}

impl Default for MemFs {
    fn default() -> Self {
        MemFs::new()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn node(data: Data) -> Node {
    let t = now();
    let mode = default_mode(match data {
        Data::File(_) => FileType::RegularFile,
        Data::Dir(_) => FileType::Directory,
        Data::Symlink(_) => FileType::SymbolicLink,
    });
    Node { data, mode, uid: 0, gid: 0, nlink: 1, atim: t, mtim: t, ctim: t }
}

/// Where a path leads: the directory holding its last component, that component's name, and the
/// node it names, if any.
struct Place {
    parent: u64,
    name: Option<String>,
    ino: Option<u64>,
}

impl Tree {
    fn get(&self, ino: u64) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn get_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: u64) -> Result<&BTreeMap<String, u64>> {
        match &self.get(ino)?.data {
            Data::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<String, u64>> {
        match &mut self.get_mut(ino)?.data {
            Data::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn add(&mut self, n: Node) -> u64 {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, n);
        ino
    }

    /// Resolves `path` component by component from the root, following symbolic links (in the
    /// last component only when `follow`), keeping a stack of directories so that `..` never
    /// passes the root.
    fn resolve(&self, path: &str, follow: bool) -> Result<Place> {
        let mut pending: Vec<String> =
            components(path)?.into_iter().rev().map(str::to_string).collect();
        let mut stack = vec![ROOT];
        let mut links = 0;
        let trailing_slash = path.ends_with('/');
        loop {
            let cur = *stack.last().expect("root stays");
            let Some(name) = pending.pop() else {
                // Path named a directory reached by `..` or the root itself.
                let parent = if stack.len() > 1 { stack[stack.len() - 2] } else { ROOT };
                return Ok(Place { parent, name: None, ino: Some(cur) });
            };
            if name == ".." {
                if stack.len() == 1 {
                    return Err(Errno::ENOTCAPABLE);
                }
                stack.pop();
                continue;
            }
            let dir = self.dir(cur)?;
            let last = pending.is_empty();
            let Some(&ino) = dir.get(&name) else {
                if last {
                    return Ok(Place { parent: cur, name: Some(name), ino: None });
                }
                return Err(Errno::ENOENT);
            };
            match &self.get(ino)?.data {
                Data::Symlink(target) if !last || follow || trailing_slash => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let parts = components(target)?;
                    pending.extend(parts.into_iter().rev().map(str::to_string));
                }
                Data::Dir(_) if !last => stack.push(ino),
                Data::File(_) if !last => return Err(Errno::ENOTDIR),
                _ => {
                    if trailing_slash && !matches!(self.get(ino)?.data, Data::Dir(_)) {
                        return Err(Errno::ENOTDIR);
                    }
                    return Ok(Place { parent: cur, name: Some(name), ino: Some(ino) });
                }
            }
        }
    }

    fn stat(&self, ino: u64) -> Result<Stat> {
        let n = self.get(ino)?;
        let (filetype, size) = match &n.data {
            Data::File(b) => (FileType::RegularFile, b.len() as u64),
            Data::Dir(d) => (FileType::Directory, d.len() as u64),
            Data::Symlink(t) => (FileType::SymbolicLink, t.len() as u64),
        };
        Ok(Stat {
            dev: 0,
            ino,
            filetype,
            nlink: n.nlink,
            size,
            atim: n.atim,
            mtim: n.mtim,
            ctim: n.ctim,
        })
    }

    fn chmod(&mut self, ino: u64, mode: u32) -> Result<()> {
        let n = self.get_mut(ino)?;
        n.mode = mode & SETTABLE_MODE;
        n.ctim = now();
        Ok(())
    }

    fn chown(&mut self, ino: u64, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        // u32::MAX is chown(2)'s -1, "unchanged", never an id.
        if uid == Some(u32::MAX) || gid == Some(u32::MAX) {
            return Err(Errno::EINVAL);
        }
        let n = self.get_mut(ino)?;
        n.uid = uid.unwrap_or(n.uid);
        n.gid = gid.unwrap_or(n.gid);
        n.ctim = now();
        Ok(())
    }

    fn attrs(&self, ino: u64) -> Result<(Stat, Attrs)> {
        let n = self.get(ino)?;
        Ok((self.stat(ino)?, Attrs { mode: n.mode, uid: n.uid, gid: n.gid }))
    }

    fn release(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.nlink = n.nlink.saturating_sub(1);
            n.ctim = now();
        }
        // Nodes stay while open files may refer to them; they are small and freed with the tree.
    }

    fn set_times(&mut self, ino: u64, atim: SetTime, mtim: SetTime) -> Result<()> {
        let n = self.get_mut(ino)?;
        let t = now();
        match atim {
            SetTime::Omit => {}
            SetTime::Now => n.atim = t,
            SetTime::At(v) => n.atim = v,
        }
        match mtim {
            SetTime::Omit => {}
            SetTime::Now => n.mtim = t,
            SetTime::At(v) => n.mtim = v,
        }
        n.ctim = t;
        Ok(())
    }
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> MemFs {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, node(Data::Dir(BTreeMap::new())));
        MemFs { tree: Arc::new(Mutex::new(Tree { nodes, next: ROOT + 1 })) }
    }

    /// Adds a file with `contents` at `path`, creating missing parent directories (a
    /// convenience for embedders setting up a guest's view).
    pub fn add_file(&self, path: &str, contents: impl Into<Vec<u8>>) -> Result<()> {
        let parts = components(path)?;
        let Some((name, dirs)) = parts.split_last() else { return Err(Errno::EINVAL) };
        let prefix = dirs.join("/");
        self.mkdir_all(&prefix)?;
        let path = crate::fs::join(&prefix, name)?;
        let o = OpenOptions { write: true, create: true, truncate: true, ..Default::default() };
        let mut f = self.open(&path, &o)?;
        f.write(&contents.into())?;
        Ok(())
    }

    /// Creates the directory `path` and any missing parents.
    pub fn mkdir_all(&self, path: &str) -> Result<()> {
        let mut prefix = String::new();
        for d in components(path)? {
            prefix = crate::fs::join(&prefix, d)?;
            match self.mkdir(&prefix) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn create(&self, path: &str, data: Data) -> Result<()> {
        let mut t = self.lock();
        let place = t.resolve(path, false)?;
        let Some(name) = place.name else { return Err(Errno::EEXIST) };
        if place.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let ino = t.add(node(data));
        t.dir_mut(place.parent)?.insert(name, ino);
        t.get_mut(place.parent)?.mtim = now();
        Ok(())
    }
}

impl Fs for MemFs {
    fn open(&self, path: &str, o: &OpenOptions) -> Result<Box<dyn File>> {
        let mut t = self.lock();
        let place = t.resolve(path, o.follow)?;
        let ino = match place.ino {
            Some(ino) => {
                if o.create && o.exclusive {
                    return Err(Errno::EEXIST);
                }
                match &mut t.get_mut(ino)?.data {
                    Data::Dir(_) => return Err(Errno::EISDIR),
                    Data::Symlink(_) => return Err(Errno::ELOOP),
                    Data::File(bytes) => {
                        // As POSIX systems do, O_TRUNC truncates whatever the access mode.
                        if o.truncate {
                            bytes.clear();
                        }
                    }
                }
                ino
            }
            None => {
                let Some(name) = place.name else { return Err(Errno::EISDIR) };
                if !o.create {
                    return Err(Errno::ENOENT);
                }
                if path.ends_with('/') {
                    return Err(Errno::EISDIR);
                }
                let ino = t.add(node(Data::File(Vec::new())));
                t.dir_mut(place.parent)?.insert(name, ino);
                ino
            }
        };
        Ok(Box::new(MemFile { tree: self.tree.clone(), ino, pos: 0, append: o.append }))
    }

    fn stat(&self, path: &str, follow: bool) -> Result<Stat> {
        let t = self.lock();
        let ino = t.resolve(path, follow)?.ino.ok_or(Errno::ENOENT)?;
        t.stat(ino)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let t = self.lock();
        let ino = t.resolve(path, true)?.ino.ok_or(Errno::ENOENT)?;
        let dir = t.dir(ino)?;
        dir.iter()
            .map(|(name, &ino)| {
                Ok(DirEntry { name: name.clone(), ino, filetype: t.stat(ino)?.filetype })
            })
            .collect()
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        self.create(path, Data::Dir(BTreeMap::new()))
    }

    fn rmdir(&self, path: &str) -> Result<()> {
        let mut t = self.lock();
        let place = t.resolve(path, false)?;
        let ino = place.ino.ok_or(Errno::ENOENT)?;
        let Some(name) = place.name else { return Err(Errno::EBUSY) };
        if !t.dir(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        t.dir_mut(place.parent)?.remove(&name);
        t.release(ino);
        Ok(())
    }

    fn unlink(&self, path: &str) -> Result<()> {
        let mut t = self.lock();
        let place = t.resolve(path, false)?;
        let ino = place.ino.ok_or(Errno::ENOENT)?;
        let Some(name) = place.name else { return Err(Errno::EISDIR) };
        if matches!(t.get(ino)?.data, Data::Dir(_)) {
            return Err(Errno::EISDIR);
        }
        t.dir_mut(place.parent)?.remove(&name);
        t.release(ino);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut t = self.lock();
        let src = t.resolve(from, false)?;
        let ino = src.ino.ok_or(Errno::ENOENT)?;
        let Some(src_name) = src.name else { return Err(Errno::EBUSY) };
        let dst = t.resolve(to, false)?;
        let Some(dst_name) = dst.name else { return Err(Errno::EBUSY) };
        let src_is_dir = matches!(t.get(ino)?.data, Data::Dir(_));
        if let Some(old) = dst.ino {
            if old == ino {
                return Ok(());
            }
            match (&t.get(old)?.data, src_is_dir) {
                (Data::Dir(d), true) if !d.is_empty() => return Err(Errno::ENOTEMPTY),
                (Data::Dir(_), false) => return Err(Errno::EISDIR),
                (_, true) if !matches!(t.get(old)?.data, Data::Dir(_)) => {
                    return Err(Errno::ENOTDIR);
                }
                _ => {}
            }
        }
        if src_is_dir {
            // A directory cannot move inside itself: walk up from the destination's parent.
            let mut cur = dst.parent;
            loop {
                if cur == ino {
                    return Err(Errno::EINVAL);
                }
                if cur == ROOT {
                    break;
                }
                cur = t
                    .nodes
                    .iter()
                    .find(|(_, n)| matches!(&n.data, Data::Dir(d) if d.values().any(|&c| c == cur)))
                    .map(|(&i, _)| i)
                    .unwrap_or(ROOT);
            }
        }
        t.dir_mut(src.parent)?.remove(&src_name);
        if let Some(old) = t.dir_mut(dst.parent)?.insert(dst_name, ino) {
            t.release(old);
        }
        Ok(())
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        let mut t = self.lock();
        let ino = t.resolve(from, false)?.ino.ok_or(Errno::ENOENT)?;
        if matches!(t.get(ino)?.data, Data::Dir(_)) {
            return Err(Errno::EPERM);
        }
        let dst = t.resolve(to, false)?;
        let Some(name) = dst.name else { return Err(Errno::EEXIST) };
        if dst.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        t.dir_mut(dst.parent)?.insert(name, ino);
        t.get_mut(ino)?.nlink += 1;
        Ok(())
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        self.create(link, Data::Symlink(target.to_string()))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let t = self.lock();
        let ino = t.resolve(path, false)?.ino.ok_or(Errno::ENOENT)?;
        match &t.get(ino)?.data {
            Data::Symlink(s) => Ok(s.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn set_times(&self, path: &str, atim: SetTime, mtim: SetTime, follow: bool) -> Result<()> {
        let mut t = self.lock();
        let ino = t.resolve(path, follow)?.ino.ok_or(Errno::ENOENT)?;
        t.set_times(ino, atim, mtim)
    }

    fn stat_attrs(&self, path: &str, follow: bool) -> Result<(Stat, Attrs)> {
        let t = self.lock();
        let ino = t.resolve(path, follow)?.ino.ok_or(Errno::ENOENT)?;
        t.attrs(ino)
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        let mut t = self.lock();
        let ino = t.resolve(path, true)?.ino.ok_or(Errno::ENOENT)?;
        t.chmod(ino, mode)
    }

    fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>, follow: bool) -> Result<()> {
        let mut t = self.lock();
        let ino = t.resolve(path, follow)?.ino.ok_or(Errno::ENOENT)?;
        t.chown(ino, uid, gid)
    }
}

/// An open in-memory file.
#[derive(Debug)]
struct MemFile {
    tree: Arc<Mutex<Tree>>,
    ino: u64,
    pos: u64,
    append: bool,
}

impl MemFile {
    fn with<R>(&self, f: impl FnOnce(&mut Node) -> Result<R>) -> Result<R> {
        let mut t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        f(t.get_mut(self.ino)?)
    }
}

fn bytes(n: &mut Node) -> Result<&mut Vec<u8>> {
    match &mut n.data {
        Data::File(b) => Ok(b),
        _ => Err(Errno::EISDIR),
    }
}

fn read_at(n: &mut Node, buf: &mut [u8], offset: u64) -> Result<usize> {
    let b = bytes(n)?;
    if offset >= b.len() as u64 {
        return Ok(0);
    }
    let len = buf.len().min(b.len() - offset as usize);
    buf[..len].copy_from_slice(&b[offset as usize..offset as usize + len]);
    Ok(len)
}

fn write_at(n: &mut Node, buf: &[u8], offset: u64) -> Result<usize> {
    let end = offset.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
    if end > isize::MAX as u64 / 2 {
        return Err(Errno::EFBIG);
    }
    let b = bytes(n)?;
    if b.len() < end as usize {
        b.resize(end as usize, 0);
    }
    b[offset as usize..end as usize].copy_from_slice(buf);
    let t = now();
    n.mtim = t;
    n.ctim = t;
    Ok(buf.len())
}

impl File for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let pos = self.pos;
        let n = self.with(|n| read_at(n, buf, pos))?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let append = self.append;
        let mut pos = self.pos;
        let n = self.with(|n| {
            if append {
                pos = bytes(n)?.len() as u64;
            }
            write_at(n, buf, pos)
        })?;
        self.pos = pos + n as u64;
        Ok(n)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.with(|n| read_at(n, buf, offset))
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        self.with(|n| write_at(n, buf, offset))
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let len = self.with(|n| Ok(bytes(n)?.len() as u64))?;
        let new = match pos {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => len.checked_add_signed(d),
        };
        self.pos = new.ok_or(Errno::EINVAL)?;
        Ok(self.pos)
    }

    fn stat(&self) -> Result<Stat> {
        let t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        t.stat(self.ino)
    }

    fn set_size(&mut self, size: u64) -> Result<()> {
        if size > isize::MAX as u64 / 2 {
            return Err(Errno::EFBIG);
        }
        self.with(|n| {
            bytes(n)?.resize(size as usize, 0);
            n.mtim = now();
            Ok(())
        })
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> Result<()> {
        let mut t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        t.set_times(self.ino, atim, mtim)
    }

    fn is_append(&self) -> bool {
        self.append
    }

    fn set_append(&mut self, append: bool) -> Result<()> {
        self.append = append;
        Ok(())
    }

    fn stat_attrs(&self) -> Result<(Stat, Attrs)> {
        let t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        t.attrs(self.ino)
    }

    fn chmod(&mut self, mode: u32) -> Result<()> {
        let mut t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        t.chmod(self.ino, mode)
    }

    fn chown(&mut self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let mut t = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        t.chown(self.ino, uid, gid)
    }
}
