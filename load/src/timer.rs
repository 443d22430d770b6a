//! A precise sleep for the open-loop pacer. monoio's timer wheel has millisecond ticks and rounds
//! deadlines up, so a send scheduled with it would leave up to ~2 ms late, and since open-loop
//! latency is measured from the intended send time, that slack would be reported as server
//! latency. A timerfd (nanosecond resolution, hrtimer-backed) is polled through the runtime
//! instead: io_uring polls it with POLL_ADD, the epoll driver registers it like a socket.

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::time::Instant;

use monoio::net::UnixStream;

pub struct PreciseTimer {
    fd: RawFd,
    /// The timerfd wrapped in a monoio I/O object only to wait for its readiness; never read or
    /// written through it. Closing it closes the fd.
    io: UnixStream,
}

impl PreciseTimer {
    pub fn new() -> io::Result<PreciseTimer> {
        // SAFETY: plain syscall; the returned fd is owned by the wrapper below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns. monoio only polls it for readiness
        // (POLL_ADD / epoll); the UnixStream type is never used for socket calls on it.
        let std_stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
        let io = UnixStream::from_std(std_stream)?;
        Ok(PreciseTimer { fd, io })
    }

    /// Waits until `deadline` (returns at once if it has passed).
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let wait = deadline - now;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                // A zero it_value would disarm the timer; wait is non-zero here.
                tv_nsec: libc::c_long::from(wait.subsec_nanos().max(1)),
            },
        };
        // SAFETY: valid fd and a fully initialised itimerspec.
        if unsafe { libc::timerfd_settime(self.fd, 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            self.io.readable(false).await?;
            let mut expirations = 0u64;
            // SAFETY: reads 8 bytes into a u64 from our own non-blocking timerfd.
            let n = unsafe {
                libc::read(
                    self.fd,
                    (&mut expirations as *mut u64).cast::<libc::c_void>(),
                    8,
                )
            };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock && err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
