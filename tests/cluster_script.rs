//! `scripts/cluster.sh`: starts a 3-node cluster that replicates, is idempotent, reports every
//! node's status and its peers' queues, shows logs, stops every node and cleans up.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

use harness::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster.sh");
const BINARY: &str = env!("CARGO_BIN_EXE_artemis");
const NODES: u16 = 3;

/// A cluster state directory for the script, cleaned (its nodes stopped) and removed on drop.
struct State(PathBuf);

impl State {
    fn new() -> State {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        State(
            std::env::temp_dir().join(format!("artemis-cluster-sh-{}-{nanos}", std::process::id())),
        )
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(SCRIPT)
            .args(args)
            .env("ARTEMIS_BIN", BINARY)
            .env("CLUSTER_DIR", &self.0)
            .env("CLUSTER_REGION", REGION)
            .env("CLUSTER_ZONE", ZONE)
            .output()
            .expect("run scripts/cluster.sh")
    }

    /// Runs the script and asserts it succeeded; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cluster.sh {args:?}: {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn node_dir(&self, node: u16) -> PathBuf {
        self.0.join(format!("node{node}"))
    }

    fn pid(&self, node: u16) -> u32 {
        let path = self.node_dir(node).join("pid");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .expect("pid file holds a number")
    }

    fn logs_mention_port_in_use(&self) -> bool {
        (1..=NODES).any(|n| {
            std::fs::read_to_string(self.node_dir(n).join("artemis.log"))
                .is_ok_and(|log| log.contains("address in use"))
        })
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = self.run(&["clean"]);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port p with p..p+NODES all free right now.
fn free_port_run() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = first.local_addr().unwrap().port();
        if base.checked_add(NODES).is_none() {
            continue;
        }
        let rest: Vec<_> = (1..NODES)
            .map(|k| TcpListener::bind(("127.0.0.1", base + k)))
            .collect();
        if rest.iter().all(Result::is_ok) {
            return base;
        }
    }
}

/// True while `pid` is a live process (an exited one not yet reaped has no command line).
fn is_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Starts the script's cluster on a free run of ports; another process may take one of them
/// before a node binds it, so a start that failed on a taken port is tried again.
fn start_cluster() -> (State, u16) {
    for _ in 0..5 {
        let state = State::new();
        let base = free_port_run();
        let out = state.run(&["start", &NODES.to_string(), &base.to_string()]);
        if out.status.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains(&format!("cluster of {NODES} node(s) up")),
                "start: {stdout}"
            );
            return (state, base);
        }
        assert!(
            state.logs_mention_port_in_use(),
            "cluster.sh start failed: {:?}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("no free run of {NODES} ports for cluster.sh after 5 attempts");
}

#[test]
fn cluster_script_starts_reports_stops_and_cleans_a_replicating_cluster() {
    let (state, base) = start_cluster();
    let pids: Vec<u32> = (1..=NODES).map(|n| state.pid(n)).collect();
    assert!(pids.iter().all(|p| is_running(*p)), "pids {pids:?}");

    // Idempotent: a second start leaves the running nodes alone.
    let again = state.ok(&["start"]);
    assert_eq!(
        again.matches("already running").count(),
        NODES as usize,
        "{again}"
    );
    assert_eq!((1..=NODES).map(|n| state.pid(n)).collect::<Vec<_>>(), pids);

    // The nodes know each other: a register on node 1 is served by node 3.
    let addr = |node: u16| format!("127.0.0.1:{}", base + node - 1).parse().unwrap();
    let inst = Inst::new("script-svc", "script-1");
    register(&mut Client::connect(addr(1)), std::slice::from_ref(&inst));
    assert!(
        wait_until(CLUSTER_TIMEOUT, || {
            let mut c = Client::connect(addr(3));
            lookup_one(&mut c, "script-svc")["instances"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        }),
        "node 3 of the script's cluster does not serve a register on node 1"
    );

    // Each node polls its peers every 5 s (the default): wait until every node lists every
    // node as up (up-registry-nodes.json, which has no tight rate limit as cluster.json has).
    let urls: Vec<String> = (1..=NODES)
        .map(|node| format!("http://127.0.0.1:{}/", base + node - 1))
        .collect();
    let sees_all_up = |node: u16| {
        let (_, v) = Client::connect(addr(node)).post_json(
            "/api/cluster/up-registry-nodes.json",
            &format!(r#"{{"regionId":"{REGION}","zoneId":"{ZONE}"}}"#),
        );
        v["nodes"].as_array().map(|a| a.len()) == Some(NODES as usize)
    };
    assert!(
        wait_until(CLUSTER_TIMEOUT, || (1..=NODES).all(sees_all_up)),
        "the script's nodes do not all see each other up"
    );

    let status = state.ok(&["status"]);
    let sections: Vec<&str> = status.split("node ").skip(1).collect();
    assert_eq!(sections.len(), NODES as usize, "{status}");
    for (node, section) in (1..=NODES).zip(&sections) {
        let url = &urls[node as usize - 1];
        let head = section.lines().next().unwrap_or_default();
        assert!(
            head.starts_with(&format!("{node}  {url}  pid ")) && head.ends_with("  up"),
            "node {node}'s line: {head:?}\n{status}"
        );
        // `artemis nodes`: URL REGION ZONE STATUS REGISTRY DISCOVERY QUEUED LAG_MS.
        let rows: Vec<Vec<&str>> = section
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|cells| cells.first().is_some_and(|c| c.starts_with("http://")))
            .collect();
        assert_eq!(
            rows.len(),
            NODES as usize,
            "node {node}'s table:\n{section}"
        );
        for row in &rows {
            assert_eq!(row.len(), 8, "row {row:?}:\n{section}");
            assert_eq!(row[3], "up", "row {row:?}:\n{section}");
            if row[0] == url {
                assert_eq!(
                    &row[6..],
                    ["-", "-"],
                    "the node itself has no queue:\n{section}"
                );
            } else {
                assert!(
                    row[6].parse::<u64>().is_ok() && row[7].parse::<u64>().is_ok(),
                    "peer row {row:?} shows no queue and lag:\n{section}"
                );
            }
        }
    }

    assert!(
        state.ok(&["logs", "2"]).contains("artemis serving"),
        "logs 2 shows node 2's log"
    );

    state.ok(&["stop"]);
    for (pid, node) in pids.iter().zip(1..) {
        assert!(!is_running(*pid), "node {node} (pid {pid}) still runs");
        assert!(!state.node_dir(node).join("pid").exists());
    }
    assert!(state
        .ok(&["status"])
        .lines()
        .all(|l| l.ends_with("stopped")));
    state.ok(&["stop"]);

    state.ok(&["clean"]);
    assert!(!state.0.exists(), "clean removes the state directory");
}
