//! systemd readiness: with NOTIFY_SOCKET set, the node reports STATUS while it starts, READY=1
//! once it serves, WATCHDOG=1 pings when WATCHDOG_USEC asks for them, RELOADING=1/READY=1 around
//! a SIGHUP reload, and STOPPING=1 then the registry save when SIGTERM drains it.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use harness::*;

use crate::support::{Launch, Node, TempDir};

/// The test's end of NOTIFY_SOCKET: what the node sent, message by message.
struct Manager {
    socket: UnixDatagram,
    received: Vec<String>,
}

impl Manager {
    fn new(socket: UnixDatagram) -> Manager {
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Manager {
            socket,
            received: Vec::new(),
        }
    }

    /// The index of the first message at or after `from` with the line `line`, receiving until
    /// it arrives; panics after 20 s.
    fn find(&mut self, from: usize, line: &str) -> usize {
        let matches = |m: &String| m.lines().any(|l| l == line);
        let mut buf = vec![0u8; 4096];
        let found = wait_until(Duration::from_secs(20), || {
            if self.received.iter().skip(from).any(matches) {
                return true;
            }
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.received
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            false
        });
        assert!(
            found,
            "no {line:?} from message {from} on; got {:?}",
            self.received
        );
        from + self.received[from..].iter().position(matches).unwrap()
    }

    /// The value of `KEY=` in message `at`.
    fn value(&self, at: usize, key: &str) -> Option<&str> {
        self.received[at]
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }
}

#[test]
fn ready_then_watchdog_pings_then_stopping_arrive_in_order_with_status_lines() {
    let dir = TempDir::new("notify");
    let path = dir.0.join("notify.sock");
    let mut manager = Manager::new(UnixDatagram::bind(&path).unwrap());
    let mut node = Node::start(
        Launch::default()
            .args(&["--shards", "2"])
            .env("NOTIFY_SOCKET", path.to_str().unwrap())
            // Pings every 0.5 s.
            .env("WATCHDOG_USEC", "1000000"),
    );

    let ready = manager.find(0, "READY=1");
    assert_eq!(
        manager.value(ready, "STATUS"),
        Some(format!("serving 2 shards on {}", node.addr).as_str()),
        "{:?}",
        manager.received
    );
    assert!(
        manager.received[..ready]
            .iter()
            .any(|m| m.starts_with("STATUS=starting 2 shards")),
        "no start-up status before READY=1: {:?}",
        manager.received
    );
    // READY=1 means serving: a request right away is answered.
    assert_eq!(node.client().get("/health").0, 200);

    let first_ping = manager.find(0, "WATCHDOG=1");
    assert!(first_ping > ready, "a watchdog ping before READY=1");
    manager.find(first_ping + 1, "WATCHDOG=1");

    node.signal(libc::SIGTERM);
    let stopping = manager.find(ready, "STOPPING=1");
    assert!(
        manager
            .value(stopping, "STATUS")
            .is_some_and(|s| s.starts_with("draining connections")),
        "{:?}",
        manager.received[stopping]
    );
    let saving = manager.find(stopping, "STATUS=saving the registry (0 instances)");
    assert!(saving > stopping);
    let status = node
        .wait_exit(Duration::from_secs(10))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", node.stderr());
    let readies = manager
        .received
        .iter()
        .filter(|m| m.lines().any(|l| l == "READY=1"))
        .count();
    assert_eq!(
        readies, 1,
        "one READY=1 without a reload: {:?}",
        manager.received
    );
}

#[test]
fn an_abstract_notify_socket_gets_reload_notifications_and_sighup_never_stops_the_node() {
    let name = format!("artemis-ops-notify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let mut manager = Manager::new(UnixDatagram::bind_addr(&addr).unwrap());
    let mut node = Node::start(
        Launch::default()
            .config("log = \"info\"\n")
            .env("NOTIFY_SOCKET", &format!("@{name}")),
    );
    let ready = manager.find(0, "READY=1");

    node.write_config("log = \"debug\"\n");
    node.signal(libc::SIGHUP);
    let reloading = manager.find(ready, "RELOADING=1");
    assert!(
        manager
            .value(reloading, "MONOTONIC_USEC")
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|usec| usec > 0)),
        "{:?}",
        manager.received[reloading]
    );
    let ready_again = manager.find(reloading, "READY=1");
    assert!(manager
        .value(ready_again, "STATUS")
        .is_some_and(|s| s.starts_with("serving ")));
    node.wait_for_log("reload: log filter changed", 1);
    assert_eq!(node.client().get("/health").0, 200, "serving after SIGHUP");

    // A second SIGHUP with nothing changed: the node goes on serving.
    node.signal(libc::SIGHUP);
    manager.find(ready_again + 1, "READY=1");
    node.wait_for_log("reload: the configuration is unchanged", 1);
    assert_eq!(node.client().get("/health").0, 200);
    assert_eq!(node.stop().code(), Some(0), "{}", node.stderr());
}
