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
