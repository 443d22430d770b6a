//! The main thread while the node serves: it takes the process's signals (SIGTERM/SIGINT stop
//! the node, SIGHUP reloads the configuration), notices a core thread that ended on its own, and
//! pings systemd's watchdog while every core is alive.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::core::Node;
use super::notify::Notifier;
use super::reload::Reloader;
use super::watchdog::{Check, Watchdog};

/// Longest wait for a signal before the core threads and the watchdog are looked at again.
const TURN: Duration = Duration::from_millis(200);

/// The signals the main thread takes, as a set.
fn handled_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local, initialised sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Block SIGTERM, SIGINT and SIGHUP in this thread, and so in every thread spawned after it, so
/// that they wait (pending) for [`serve_until_stopped`] instead of ending the process, even when
/// they arrive during start-up.
pub fn block_signals() {
    let set = handled_signals();
    // SAFETY: pthread_sigmask reads the set we own.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Everything the main thread looks after while the node serves.
pub struct Supervisor<'a> {
    pub node: &'a Node,
    pub threads: &'a [JoinHandle<()>],
    pub notifier: &'a Notifier,
    pub reloader: Reloader,
    pub watchdog: Option<Watchdog>,
    /// The `STATUS=` the node shows while it serves.
    pub serving_status: String,
}

impl Supervisor<'_> {
    /// Returns Ok on SIGTERM/SIGINT, Err if a core thread ended on its own (it panicked or
    /// failed).
    pub fn serve_until_stopped(mut self) -> Result<(), String> {
        let set = handled_signals();
        let turn = match &self.watchdog {
            Some(dog) => TURN.min(dog.interval() / 2),
            None => TURN,
        };
        let timeout = libc::timespec {
            tv_sec: turn.as_secs() as libc::time_t,
            tv_nsec: turn.subsec_nanos() as libc::c_long,
        };
        let mut stalled_reported = false;
        loop {
            // SAFETY: sigtimedwait only reads the set and writes the info we pass.
            let signal = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::sigtimedwait(&set, &mut info, &timeout)
            };
            match signal {
                libc::SIGTERM | libc::SIGINT => {
                    tracing::info!(signal, "termination signal received; draining");
                    return Ok(());
                }
                libc::SIGHUP => {
                    tracing::info!("SIGHUP received; reloading the configuration");
                    self.notifier.reloading();
                    self.reloader.reload(self.node);
                    self.notifier.ready(&self.serving_status);
                }
                // A timeout (EAGAIN) or an interrupted wait (EINTR).
                _ => {}
            }
            if let Some(i) = self.threads.iter().position(|t| t.is_finished()) {
                return Err(format!("core {i} stopped unexpectedly"));
            }
            let Some(dog) = &mut self.watchdog else {
                continue;
            };
            match dog.check(Instant::now(), self.node.heartbeats.snapshot()) {
                Check::Wait => {}
                Check::Ping => {
                    if stalled_reported {
                        tracing::info!("every core ticks again; watchdog pings resume");
                        stalled_reported = false;
                    }
                    self.notifier.watchdog();
                }
                Check::Stalled(cores) => {
                    if !stalled_reported {
                        tracing::error!(
                            cores = ?cores,
                            interval_ms = dog.interval().as_millis() as u64,
                            "core lease clocks stand still; withholding the watchdog ping \
                             (systemd restarts the node once WatchdogSec passes)"
                        );
                        stalled_reported = true;
                    }
                }
            }
        }
    }
}
