//! `poll_oneoff`: clock subscriptions and readiness of descriptors, stdin included.

use std::time::Duration;

use keel_sys::net::{Socket, poll_sockets};
use keel_sys::{Errno, FdEntry, SysState};

use crate::funcs::clock_now;
use crate::mem::Mem;

const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAG_ABSTIME: u16 = 1;

struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
}

fn encode(e: &Event) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..8].copy_from_slice(&e.userdata.to_le_bytes());
    b[8..10].copy_from_slice(&e.error.0.to_le_bytes());
    b[10] = e.kind;
    b
}

/// `poll_oneoff(in, out, nsubscriptions, nevents)`.
///
/// Descriptors other than stdin (files, stdout, stderr) are always ready; an unknown one gives
/// an event with `EBADF`. Stdin is asked whether a read would block. With nothing ready, the call
/// waits for stdin or until the nearest clock subscription fires, whichever comes first; clocks
/// then sleep through the configured sleep (fake by default: returns at once).
pub(crate) fn poll_oneoff(mem: &Mem, st: &mut SysState, p: &[u64]) -> Result<(), Errno> {
    let (input, output, n, nevents) = (p[0] as u32, p[1] as u32, p[2] as u32, p[3] as u32);
    if n == 0 {
        return Err(Errno::EINVAL);
    }
    mem.check(input, n as u64 * 48)?;
    mem.check(output, n as u64 * 32)?;
    mem.check(nevents, 4)?;

    let mut events = Vec::new();
    let mut stdin_subs = Vec::new();
    let mut socket_subs: Vec<(u64, u8, Socket)> = Vec::new();
    // The nearest clock: (relative timeout ns, userdata).
    let mut clocks: Vec<(u64, u64)> = Vec::new();
    for i in 0..n {
        let at = input + i * 48;
        let userdata = mem.u64(at)?;
        let mut tag = [0u8];
        mem.read(at + 8, &mut tag)?;
        match tag[0] {
            EVENTTYPE_CLOCK => {
                let id = mem.u32(at + 16)?;
                let timeout = mem.u64(at + 24)?;
                let flags = mem.u16(at + 40)?;
                match clock_now(st, id) {
                    Ok(now) => {
                        let rel = if flags & SUBCLOCKFLAG_ABSTIME != 0 {
                            timeout.saturating_sub(now)
                        } else {
                            timeout
                        };
                        clocks.push((rel, userdata));
                    }
                    Err(e) => events.push(Event { userdata, error: e, kind: EVENTTYPE_CLOCK }),
                }
            }
            kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => {
                let fd = mem.u32(at + 16)?;
                let error = match (st.fds.get(fd), kind) {
                    (Err(e), _) => e,
                    (Ok(FdEntry::Stdin), EVENTTYPE_FD_READ) => {
                        stdin_subs.push(userdata);
                        continue;
                    }
                    (Ok(FdEntry::Stdin), _) => Errno::EBADF,
                    (Ok(FdEntry::Listener(l)), _) => {
                        socket_subs.push((userdata, kind, Socket::Listener(l.try_clone()?)));
                        continue;
                    }
                    (Ok(FdEntry::Stream(s)), _) => {
                        socket_subs.push((userdata, kind, Socket::Stream(s.try_clone()?)));
                        continue;
                    }
                    (Ok(FdEntry::Stdout | FdEntry::Stderr), EVENTTYPE_FD_READ) => Errno::EBADF,
                    (Ok(FdEntry::Dir(_)), _) => Errno::EBADF,
                    _ => Errno::SUCCESS,
                };
                events.push(Event { userdata, error, kind });
            }
            _ => return Err(Errno::EINVAL),
        }
    }

    let nearest = clocks.iter().map(|c| c.0).min();
    let mut waited = false;
    if !stdin_subs.is_empty() || !socket_subs.is_empty() {
        // Wait for stdin or sockets only when nothing else is ready, and only as long as the
        // nearest clock (a fake sleep does not wait: the clock fires at once).
        let wait = if !events.is_empty() || nearest == Some(0) {
            Some(Duration::ZERO)
        } else {
            let real = st.sleep_is_real();
            nearest.map(|ns| if real { Duration::from_nanos(ns) } else { Duration::ZERO })
        };
        waited = wait != Some(Duration::ZERO) && nearest.is_some();
        let (stdin_ready, sockets_ready) = if socket_subs.is_empty() {
            (st.stdin_ready(wait).map_err(Errno::from)?, vec![])
        } else if stdin_subs.is_empty() {
            // In slices, so that an interrupt ends the wait.
            let start = std::time::Instant::now();
            loop {
                let left = wait.map(|w| w.saturating_sub(start.elapsed()));
                let slice = left.map_or(SLICE, |l| l.min(SLICE));
                let ready = ready_of(&socket_subs, Some(slice))?;
                if !ready.is_empty() || left.is_some_and(|l| l <= slice) || st.interrupted() {
                    break (false, ready);
                }
            }
        } else {
            // Both: alternate short waits on each until one is ready or time is up.
            let start = std::time::Instant::now();
            loop {
                let stdin = st.stdin_ready(Some(Duration::ZERO)).map_err(Errno::from)?;
                let left = wait.map(|w| w.saturating_sub(start.elapsed()));
                let slice = left.map_or(SLICE, |l| l.min(SLICE));
                let ready =
                    ready_of(&socket_subs, Some(if stdin { Duration::ZERO } else { slice }))?;
                if stdin
                    || !ready.is_empty()
                    || left.is_some_and(|l| l <= slice)
                    || st.interrupted()
                {
                    break (stdin, ready);
                }
            }
        };
        if stdin_ready {
            for userdata in stdin_subs {
                events.push(Event { userdata, error: Errno::SUCCESS, kind: EVENTTYPE_FD_READ });
            }
        }
        for i in sockets_ready {
            let (userdata, kind, _) = socket_subs[i];
            events.push(Event { userdata, error: Errno::SUCCESS, kind });
        }
    }
    if events.is_empty()
        && !waited
        && let Some(ns) = nearest
    {
        st.sleep(ns);
    }
    if (events.is_empty() || nearest == Some(0))
        && let Some(ns) = nearest
    {
        for &(t, userdata) in &clocks {
            if t == ns {
                events.push(Event { userdata, error: Errno::SUCCESS, kind: EVENTTYPE_CLOCK });
            }
        }
    }
    for (i, e) in events.iter().enumerate() {
        mem.write(output + i as u32 * 32, &encode(e))?;
    }
    mem.put_u32(nevents, events.len() as u32)
}

/// How long one wait lasts when both stdin and sockets are watched.
const SLICE: Duration = Duration::from_millis(10);

fn ready_of(subs: &[(u64, u8, Socket)], wait: Option<Duration>) -> Result<Vec<usize>, Errno> {
    let socks: Vec<(&Socket, bool)> =
        subs.iter().map(|(_, kind, s)| (s, *kind == EVENTTYPE_FD_READ)).collect();
    Ok(poll_sockets(&socks, wait)?)
}
