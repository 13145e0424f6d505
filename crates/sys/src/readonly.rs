//! A read-only view of a file system.

use std::io::SeekFrom;
use std::sync::Arc;

use crate::errno::{Errno, Result};
use crate::fs::{Attrs, DirEntry, File, Fs, OpenOptions, SetTime, Stat};

/// Wraps a file system so that every change is refused with `EROFS`: opening for writing,
/// creating, truncating, and every operation that creates, removes, renames or changes times.
#[derive(Debug, Clone)]
pub struct ReadOnlyFs(pub Arc<dyn Fs>);

impl Fs for ReadOnlyFs {
    fn open(&self, path: &str, options: &OpenOptions) -> Result<Box<dyn File>> {
        if options.mutates() {
            return Err(Errno::EROFS);
        }
        Ok(Box::new(ReadOnlyFile(self.0.open(path, options)?)))
    }
    fn stat(&self, path: &str, follow: bool) -> Result<Stat> {
        self.0.stat(path, follow)
    }
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.0.read_dir(path)
    }
    fn mkdir(&self, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn rmdir(&self, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn unlink(&self, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn rename(&self, _: &str, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn link(&self, _: &str, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn symlink(&self, _: &str, _: &str) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn readlink(&self, path: &str) -> Result<String> {
        self.0.readlink(path)
    }
    fn set_times(&self, _: &str, _: SetTime, _: SetTime, _: bool) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn stat_attrs(&self, path: &str, follow: bool) -> Result<(Stat, Attrs)> {
        self.0.stat_attrs(path, follow)
    }
    fn chmod(&self, _: &str, _: u32) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn chown(&self, _: &str, _: Option<u32>, _: Option<u32>, _: bool) -> Result<()> {
        Err(Errno::EROFS)
    }
}

#[derive(Debug)]
struct ReadOnlyFile(Box<dyn File>);

impl File for ReadOnlyFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.0.read(buf)
    }
    fn write(&mut self, _: &[u8]) -> Result<usize> {
        Err(Errno::EBADF)
    }
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.0.pread(buf, offset)
    }
    fn pwrite(&mut self, _: &[u8], _: u64) -> Result<usize> {
        Err(Errno::EBADF)
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.0.seek(pos)
    }
    fn stat(&self) -> Result<Stat> {
        self.0.stat()
    }
    fn set_size(&mut self, _: u64) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    fn set_times(&mut self, _: SetTime, _: SetTime) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn is_append(&self) -> bool {
        false
    }
    fn set_append(&mut self, append: bool) -> Result<()> {
        if append { Err(Errno::EROFS) } else { Ok(()) }
    }
    fn stat_attrs(&self) -> Result<(Stat, Attrs)> {
        self.0.stat_attrs()
    }
    fn chmod(&mut self, _: u32) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn chown(&mut self, _: Option<u32>, _: Option<u32>) -> Result<()> {
        Err(Errno::EROFS)
    }
}
