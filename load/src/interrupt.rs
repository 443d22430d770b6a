//! Ctrl-C: the first one ends the run early but keeps what it measured (as oha and k6 do): the
//! measurement stops, the generator threads are joined, `--cleanup` still runs, and the report is
//! printed, marked as interrupted. A second Ctrl-C exits at once with status 130.
//!
//! The SIGINT handler only counts signals (and writes one line with `write(2)`, which is
//! async-signal-safe); everything else polls [`Interrupt::requested`]. The moment the measurement
//! ends is fixed by whoever notices the interrupt first (a generator thread recording a request,
//! an event loop waiting in [`Interrupt::unless_interrupted`], the progress loop), so every thread
//! cuts at the same instant.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, what shells report).
pub const EXIT_INTERRUPTED: u8 = 130;

/// How often waiting code looks at the flag: the delay between Ctrl-C and the run stopping.
const POLL: Duration = Duration::from_millis(20);

/// The process's Ctrl-C state, written by the SIGINT handler.
pub static CTRL_C: Interrupt = Interrupt::new();

/// Ctrl-Cs received, and when the first was noticed.
#[derive(Debug)]
pub struct Interrupt {
    signals: AtomicU32,
    /// When the interrupt was first noticed: nanoseconds after `epoch`, plus one; 0 until then.
    noticed: AtomicU64,
    epoch: OnceLock<Instant>,
}

impl Interrupt {
    pub const fn new() -> Interrupt {
        Interrupt {
            signals: AtomicU32::new(0),
            noticed: AtomicU64::new(0),
            epoch: OnceLock::new(),
        }
    }

    /// Counts one Ctrl-C and returns how many came so far. Async-signal-safe (one atomic add).
    pub fn signal(&self) -> u32 {
        self.signals.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn requested(&self) -> bool {
        self.signals.load(Ordering::SeqCst) > 0
    }

    /// The instant the run stops measuring: the first time anyone asked after Ctrl-C (None
    /// without one). Whoever asks first fixes it, so a request that finished before the first
    /// ask (while the flag still read false) finished before the cut-off too.
    pub fn cutoff(&self) -> Option<Instant> {
        if !self.requested() {
            return None;
        }
        let epoch = *self.epoch.get_or_init(Instant::now);
        let now = (Instant::now() - epoch).as_nanos() as u64 + 1;
        let noticed =
            match self
                .noticed
                .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => now,
                Err(earlier) => earlier,
            };
        Some(epoch + Duration::from_nanos(noticed - 1))
    }

    /// Resolves once Ctrl-C came (on a monoio event loop), having fixed the cut-off.
    pub async fn wait(&self) {
        while self.cutoff().is_none() {
            monoio::time::sleep(POLL).await;
        }
    }

    /// Runs `work` unless Ctrl-C comes first; then `work` still gets `linger` to finish (push
    /// subscribers keep listening for the changes already caused) before it is abandoned and
    /// this returns None. Abandoned tasks are dropped with their event loop.
    pub async fn unless_interrupted<F: Future>(
        &self,
        linger: Duration,
        work: F,
    ) -> Option<F::Output> {
        let mut work = pin!(work);
        let mut stop = pin!(async {
            self.wait().await;
            if !linger.is_zero() {
                monoio::time::sleep(linger).await;
            }
        });
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            stop.as_mut().poll(cx).map(|()| None)
        })
        .await
    }
}

impl Default for Interrupt {
    fn default() -> Self {
        Self::new()
    }
}

/// Installs the SIGINT handler that feeds [`CTRL_C`].
pub fn install() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler is an
    // `extern "C" fn(c_int)` that only does async-signal-safe work.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

extern "C" fn on_sigint(_: libc::c_int) {
    if CTRL_C.signal() > 1 {
        // SAFETY: _exit is async-signal-safe; nothing is flushed, on purpose: the user asked to
        // quit at once.
        unsafe { libc::_exit(i32::from(EXIT_INTERRUPTED)) };
    }
    const MESSAGE: &[u8] =
        b"\nartemis load: interrupted; finishing up (Ctrl-C again to quit at once)\n";
    // SAFETY: write(2) is async-signal-safe; the buffer is a static.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_off_is_fixed_by_the_first_ask_after_ctrl_c() {
        let stop = Interrupt::new();
        assert!(!stop.requested());
        assert_eq!(stop.cutoff(), None);
        assert_eq!(stop.signal(), 1);
        assert!(stop.requested());
        let before = Instant::now();
        let cutoff = stop.cutoff().expect("interrupted");
        assert!(cutoff >= before && cutoff <= Instant::now());
        // Later asks get the same instant, and a second signal does not move it.
        assert_eq!(stop.signal(), 2);
        assert_eq!(stop.cutoff(), Some(cutoff));
    }

    #[test]
    fn work_is_abandoned_once_interrupted_after_its_linger() {
        let mut rt = crate::runner::runtime().expect("event loop");
        let stop = Interrupt::new();
        rt.block_on(async {
            assert_eq!(
                stop.unless_interrupted(Duration::ZERO, async { 1 }).await,
                Some(1)
            );
            stop.signal();
            let never = std::future::pending::<()>();
            assert_eq!(stop.unless_interrupted(Duration::ZERO, never).await, None);
            // Work that ends only after the interrupt still ends within a long linger.
            let after_ctrl_c = async {
                stop.wait().await;
                2
            };
            let linger = Duration::from_secs(3600);
            assert_eq!(stop.unless_interrupted(linger, after_ctrl_c).await, Some(2));
        });
    }
}
