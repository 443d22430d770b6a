//! systemd's service notification protocol (sd_notify(3)), written by hand: newline-separated
//! `KEY=value` assignments in one datagram to the unix socket named by `NOTIFY_SOCKET` (a path,
//! or `@name` for an abstract socket). Without `NOTIFY_SOCKET` every call does nothing, so the
//! node runs the same under systemd (`Type=notify`), another supervisor or a shell.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Notifier {
    target: Option<Target>,
}

struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// A send failed once (warned about); later failures are not logged again.
    failed: AtomicBool,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for; inactive when it is unset or unusable (logged).
    pub fn from_env() -> Notifier {
        let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier::inactive();
        };
        let name = name.to_string_lossy();
        match Target::connect(&name) {
            Ok(target) => Notifier {
                target: Some(target),
            },
            Err(e) => {
                tracing::warn!(socket = %name, error = %e, "NOTIFY_SOCKET is unusable; not notifying systemd");
                Notifier::inactive()
            }
        }
    }

    pub fn inactive() -> Notifier {
        Notifier { target: None }
    }

    /// Start-up is over: the node serves.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// What the node is doing, for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// Shutdown has begun.
    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    /// A configuration reload has begun; [`Notifier::ready`] ends it. systemd 253+ wants the
    /// monotonic time with it, to tell this reload from an older one.
    pub fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration",
            monotonic_usec()
        ));
    }

    /// The node is alive (see [`super::watchdog`]).
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    fn send(&self, message: &str) {
        let Some(target) = &self.target else {
            return;
        };
        if let Err(e) = target.socket.send_to_addr(message.as_bytes(), &target.addr) {
            if !target.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
            }
        }
    }
}

impl Target {
    fn connect(name: &str) -> std::io::Result<Target> {
        let addr = if let Some(abstract_name) = name.strip_prefix('@') {
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        } else if name.starts_with('/') {
            SocketAddr::from_pathname(name)?
        } else {
            // systemd also knows `vsock:` addresses (for virtual machines); a node never runs
            // with one.
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "neither a path nor an @abstract name",
            ));
        };
        Ok(Target {
            socket: UnixDatagram::unbound()?,
            addr,
            failed: AtomicBool::new(false),
        })
    }
}

/// A value ends at the first newline (the next assignment would start there).
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn monotonic_usec() -> u64 {
    // SAFETY: clock_gettime writes into a timespec we own.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn listening(name: &str) -> Notifier {
        Notifier {
            target: Some(Target::connect(name).unwrap()),
        }
    }

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("artemis-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let notifier = listening(path.to_str().unwrap());
        notifier.ready("serving\n2 shards");
        assert_eq!(received(&socket), "READY=1\nSTATUS=serving 2 shards");
        notifier.stopping("draining");
        assert_eq!(received(&socket), "STOPPING=1\nSTATUS=draining");
        notifier.watchdog();
        assert_eq!(received(&socket), "WATCHDOG=1");
        notifier.reloading();
        let reloading = received(&socket);
        let usec: u64 = reloading
            .lines()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {reloading:?}"));
        assert!(
            reloading.starts_with("RELOADING=1\n") && usec > 0,
            "{reloading}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn messages_reach_an_abstract_socket() {
        let name = format!("artemis-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        listening(&format!("@{name}")).status("saving the registry");
        assert_eq!(received(&socket), "STATUS=saving the registry");
    }

    #[test]
    fn unusable_names_are_refused_and_inactive_notifiers_do_nothing() {
        assert!(Target::connect("vsock:2:1234").is_err());
        assert!(Target::connect("relative/path").is_err());
        let inactive = Notifier::inactive();
        inactive.ready("serving");
        inactive.watchdog();
    }
}
