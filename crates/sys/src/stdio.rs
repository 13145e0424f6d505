//! The guest's standard input and outputs: any reader or writer the embedder hands over.

use std::io::{self, Read};
use std::time::Duration;

/// A guest's standard input: a reader that can also tell whether a read would block, for
/// `poll_oneoff`. Readers that never block (a byte slice, a file) keep the default.
pub trait Stdin: Read + Send {
    /// Whether a read would return without blocking, waiting up to `timeout` (`None`: forever)
    /// for that to become true.
    fn ready(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(true)
    }
}

impl Stdin for io::Empty {}
impl Stdin for &'static [u8] {}
impl Stdin for io::Cursor<Vec<u8>> {}
impl Stdin for std::fs::File {}

/// The host process's own standard input, with readiness from `poll(2)`.
#[derive(Debug, Default)]
pub struct HostStdin;

impl Read for HostStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::stdin().lock().read(buf)
    }
}

impl Stdin for HostStdin {
    fn ready(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let stdin = io::stdin();
        let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
        let timeout = timeout.map(|t| Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos() as _,
        });
        let n = poll(&mut fds, timeout.as_ref()).map_err(io::Error::from)?;
        Ok(n > 0)
    }
}

/// An in-memory writer whose clones share one buffer: hand one to
/// `ModuleConfig::with_stdout` and read what the guest wrote from another.
#[derive(Debug, Clone, Default)]
pub struct MemoryWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl MemoryWriter {
    /// An empty buffer.
    pub fn new() -> MemoryWriter {
        MemoryWriter::default()
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The bytes written so far as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl io::Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
