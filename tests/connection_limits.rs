//! `limits.max_connections` against the process's open-file limit: the server raises its soft
//! RLIMIT_NOFILE to fit the configured connections, refuses to start when the hard limit cannot,
//! and when it runs out of descriptors anyway (the limit lowered under it) it keeps serving the
//! connections it has, does not spin on the failing accept, and accepts again once one closes.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use harness::*;

/// What the server logs when an accept fails for lack of descriptors.
const OUT_OF_DESCRIPTORS_LOG: &str = "out of file descriptors";

#[test]
fn max_connections_the_hard_limit_cannot_fit_refuses_to_start_with_exit_2() {
    let dir = TempDir::new("refuse");
    let mut child = dir
        .server_command("[limits]\nmax_connections = 1000\n", 256, 512)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn artemis");
    let status = wait_exit(&mut child, Duration::from_secs(20))
        .expect("artemis kept running with a hard limit below max_connections");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "exit {status:?}; stderr:\n{stderr}");
    assert!(
        stderr.contains("limits.max_connections"),
        "stderr does not name the key:\n{stderr}"
    );
    let needed: u64 = stderr
        .split("need ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!("stderr does not say how many descriptors are needed:\n{stderr}")
        });
    assert!(needed > 1000, "needed {needed} for 1000 connections");
    assert!(
        stderr.contains("allows 512"),
        "stderr does not say what the hard limit allows:\n{stderr}"
    );
}

#[test]
fn the_soft_open_file_limit_is_raised_to_fit_max_connections() {
    let dir = TempDir::new("raise");
    let mut child = dir
        .server_command("[limits]\nmax_connections = 1000\n", 256, 4096)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn artemis");
    let mut running = RunningChild(&mut child);
    let addr = running.listening_address();
    let (soft, hard) = nofile_limits_of(running.0.id() as i32);
    assert_eq!(hard, 4096, "the hard limit is left alone");
    assert!(
        (1000..=4096).contains(&soft),
        "soft limit {soft}: not raised to fit 1000 connections"
    );
    let (status, _) = Client::connect(addr).get("/api/status/node.json");
    assert_eq!(status, 200);
}

#[test]
fn the_default_max_connections_shrinks_to_a_low_hard_limit_and_the_server_starts() {
    let dir = TempDir::new("shrink");
    // An empty config: limits.max_connections keeps its default, which 512 descriptors cannot fit.
    let mut child = dir
        .server_command("", 256, 512)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn artemis");
    let mut stderr = child.stderr.take().unwrap();
    let mut running = RunningChild(&mut child);
    let addr = running.listening_address();
    let (status, _) = Client::connect(addr).get("/api/status/node.json");
    assert_eq!(status, 200);
    let (soft, hard) = nofile_limits_of(running.0.id() as i32);
    assert_eq!(
        (soft, hard),
        (512, 512),
        "the soft limit is raised to the hard one"
    );
    drop(running);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
    assert!(
        log.contains("limits.max_connections") && log.contains("max_connections=440"),
        "no warning naming the key and the connections that fit (512 - 64 - 8 per core):\n{log}"
    );
}

#[test]
fn out_of_descriptors_pauses_accepting_and_keeps_serving() {
    let started = Instant::now();
    // One core, so that its accept is re-armed (below) under the lowered limit: io_uring checks
    // the limit an accept was submitted under, and a core that accepted nothing since would let
    // one connection past it.
    let server = Server::start_sha(&["--shards", "1"], None);
    let pid = server.pid();
    // Room for a few connections only.
    const ROOM: u64 = 4;
    let limit = open_descriptors(pid).len() as u64 + ROOM;
    set_soft_nofile_limit(pid, limit);

    // Fill every descriptor below the limit with a served keep-alive connection. The first one
    // re-arms the core's accept, and a connection is accepted before it is answered, so the
    // count is exact once each answer is read.
    let lookup = lookup_body(&["x"]);
    let mut held: Vec<Client> = Vec::new();
    while descriptors_below(pid, limit) < limit {
        assert!(
            held.len() as u64 <= ROOM,
            "{} connections served under a limit leaving room for {ROOM}",
            held.len()
        );
        let mut c = server.client();
        let (status, _) = c.post_json(LOOKUP, &lookup);
        assert_eq!(status, 200);
        held.push(c);
    }
    assert!(
        held.len() >= 2,
        "only {} connections fit below the limit",
        held.len()
    );
    // No descriptor is left: this connection waits in the listen backlog.
    let mut waiting = server.client();
    let request = waiting.build_request("POST", LOOKUP, &[], lookup.as_bytes());
    waiting.write_raw(&request).unwrap();
    assert!(
        wait_until(IO_TIMEOUT, || server
            .stderr()
            .contains(OUT_OF_DESCRIPTORS_LOG)),
        "no out-of-descriptors warning; stderr:\n{}",
        server.stderr()
    );

    // Saturated: existing keep-alive connections are still served.
    let (status, _) = held[0].post_json(LOOKUP, &lookup);
    assert_eq!(status, 200);
    // ... and the failing accept is not retried in a loop. A one-second window of the server's
    // CPU time (not a synchronisation wait); the bound only catches a busy loop.
    // SAFETY: sysconf only reads a constant of the system.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let (cpu_before, window_start) = (cpu_ticks(pid), Instant::now());
    thread::sleep(Duration::from_secs(1));
    let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks_per_second;
    let window = window_start.elapsed().as_secs_f64();
    assert!(
        cpu < 0.5 * window,
        "server used {cpu:.2} s of CPU in {window:.2} s while out of descriptors"
    );
    assert_eq!(
        waiting.probe(Duration::from_millis(20)),
        Probe::Open,
        "the connection over the descriptor limit was answered while saturated"
    );
    let (status, _) = held[1].post_json(LOOKUP, &lookup);
    assert_eq!(status, 200);
    // The accept error is logged at most once a second (plus one summary line a second).
    let lines = server.stderr().matches(OUT_OF_DESCRIPTORS_LOG).count() as u64;
    let bound = started.elapsed().as_secs() + 1;
    assert!(
        lines <= bound,
        "{lines} out-of-descriptors log lines in {:?} (at most {bound} expected)",
        started.elapsed()
    );

    // Closing connections frees descriptors: the waiting connection is accepted and answered,
    // and so is a new one.
    drop(held.pop());
    drop(held.pop());
    let r = waiting
        .read_response()
        .expect("the waiting connection was never served");
    assert_eq!(r.status, 200, "{}", r.text());
    let (status, _) = server.client().post_json(LOOKUP, &lookup);
    assert_eq!(status, 200);
    for c in held.iter_mut() {
        let (status, _) = c.post_json(LOOKUP, &lookup);
        assert_eq!(status, 200);
    }
}

/// The descriptor numbers a process has open.
fn open_descriptors(pid: i32) -> Vec<u64> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_string_lossy()
                .parse()
                .unwrap()
        })
        .collect()
}

/// How many of the descriptor numbers below `limit` are open: a new descriptor (the lowest free
/// number) fails with EMFILE once this reaches `limit`.
fn descriptors_below(pid: i32, limit: u64) -> u64 {
    open_descriptors(pid)
        .into_iter()
        .filter(|&fd| fd < limit)
        .count() as u64
}

fn set_soft_nofile_limit(pid: i32, soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit on our own child; reads/writes only the structs we pass.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) };
    assert_eq!(rc, 0, "prlimit get: {}", std::io::Error::last_os_error());
    limit.rlim_cur = soft;
    // SAFETY: as above.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit set: {}", std::io::Error::last_os_error());
}

/// (soft, hard) RLIMIT_NOFILE of a process, from /proc.
fn nofile_limits_of(pid: i32) -> (u64, u64) {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open files line in:\n{limits}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{line}");
    (numbers[0], numbers[1])
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after_name = &stat[stat.rfind(')').expect("comm") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> u64 { fields[n - 3].parse().unwrap() };
    field(14) + field(15)
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A scratch directory for a server started here rather than by `Server::start` (which cannot
/// set the child's resource limits), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "artemis-it-limits-{tag}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(path.join("data")).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// `artemis server` on 127.0.0.1:0 with one core, `config_toml`, and RLIMIT_NOFILE set to
    /// `soft`/`hard` in the child before it runs.
    fn server_command(&self, config_toml: &str, soft: u64, hard: u64) -> Command {
        let config = self.path().join("artemis.toml");
        fs::write(&config, config_toml).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_artemis"));
        cmd.args(["server", "--listen", "127.0.0.1:0", "--shards", "1"])
            .arg("--data-dir")
            .arg(self.path().join("data"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null());
        if let Ok(driver) = std::env::var("ARTEMIS_TEST_DRIVER") {
            if !driver.trim().is_empty() {
                cmd.args(["--driver", driver.trim()]);
            }
        }
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit is async-signal-safe and only reads `limit`, copied into the closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server child started here; SIGTERM and a bounded wait on drop.
struct RunningChild<'a>(&'a mut Child);

impl RunningChild<'_> {
    /// Waits for the "artemis listening on" line on the child's stdout.
    fn listening_address(&mut self) -> std::net::SocketAddr {
        let stdout = self.0.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("artemis listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("artemis did not print its listening line");
        addr.parse().unwrap()
    }
}

impl Drop for RunningChild<'_> {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let status = wait_exit(self.0, Duration::from_secs(10));
        if !thread::panicking() {
            assert_eq!(
                status.and_then(|s| s.code()),
                Some(0),
                "artemis did not exit cleanly on SIGTERM"
            );
        }
    }
}
