//! Sockets: readiness of TCP listeners and connections.

use std::io;
use std::time::Duration;

/// A socket to poll.
#[derive(Debug)]
pub enum Socket {
    /// A listener (readable: a connection waits to be accepted).
    Listener(std::net::TcpListener),
    /// A connection.
    Stream(std::net::TcpStream),
}

/// Polls `(socket, for_reading)` pairs, waiting up to `wait` (`None`: forever) for one to be
/// ready; returns the indices of the ready ones (an error or hang-up counts as ready: the next
/// read or write reports it).
pub fn poll_sockets(socks: &[(&Socket, bool)], wait: Option<Duration>) -> io::Result<Vec<usize>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use std::os::fd::AsFd;
    let mut fds: Vec<PollFd<'_>> = socks
        .iter()
        .map(|(sock, read)| {
            let flags = if *read { PollFlags::IN } else { PollFlags::OUT };
            let fd = match sock {
                Socket::Listener(l) => l.as_fd(),
                Socket::Stream(s) => s.as_fd(),
            };
            PollFd::from_borrowed_fd(fd, flags)
        })
        .collect();
    let timeout = wait.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: t.subsec_nanos() as _,
    });
    poll(&mut fds, timeout.as_ref()).map_err(io::Error::from)?;
    Ok(fds.iter().enumerate().filter(|(_, f)| !f.revents().is_empty()).map(|(i, _)| i).collect())
}
