//! The `artemis` binary as a child process: a [`Server`] on a free port, stopped when dropped, and
//! one-shot runs ([`run_artemis`], [`run_to_exit`]) that are expected to end on their own.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::Client;
use crate::payload::SHA_ARGS;
use crate::{wait_until, JsonValueTrait, Value, IO_TIMEOUT};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// The line the server prints on stdout once it listens (after binding port 0).
const LISTENING_PREFIX: &str = "artemis listening on ";
/// The line it prints before that one when `cluster.listen` is set.
const CLUSTER_LISTENING_PREFIX: &str = "artemis cluster listener on ";

/// `lease.ttl_ms` in [`manual_clock_short_ttl`].
pub const SHORT_TTL_MS: u64 = 1000;

/// `lease.legacy_ttl_ms` in [`manual_clock_short_ttl`]: the TTL of instances with a non-blank
/// `java_registry` metadata value.
pub const SHORT_LEGACY_TTL_MS: u64 = 2000;

/// `lease.wheel_tick_ms` in [`manual_clock_short_ttl`]. A lease renewed at clock time `r` with
/// TTL `t` is expired once the clock is past `r + t`, and the expiry wheel acts on whole ticks: at
/// `r + t` the lease is still listed, at `r + t + EXPIRY_TICK_MS` it is gone.
pub const EXPIRY_TICK_MS: u64 = 10;

/// A config for lease-expiry tests: the lease clock is manual (it moves only by
/// [`Server::advance_clock`], so no test waits real time for a lease to expire), TTLs of
/// [`SHORT_TTL_MS`] and [`SHORT_LEGACY_TTL_MS`], an expiry tick of [`EXPIRY_TICK_MS`], and
/// self-preservation off.
pub fn manual_clock_short_ttl() -> String {
    format!(
        "[testing]\nmanual_clock = true\n\
         [lease]\nttl_ms = {SHORT_TTL_MS}\nlegacy_ttl_ms = {SHORT_LEGACY_TTL_MS}\n\
         wheel_tick_ms = {EXPIRY_TICK_MS}\n\
         [self_preservation]\nenabled = false\n"
    )
}

/// The `artemis` binary cargo built for this test run. Integration tests of the root package get
/// it built before they run, in the directory above their own `deps/` directory
/// (`target/<profile>/deps/<test>-<hash>` → `target/<profile>/artemis`). The compile-time
/// `CARGO_BIN_EXE_artemis` exists only inside the root package's test targets, not in this crate.
fn artemis_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("test executable {} has no grandparent", exe.display()));
    let bin = profile_dir.join(format!("artemis{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "no artemis binary at {} (run the black-box tests through cargo test, which builds it)",
        bin.display()
    );
    bin
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "artemis-it-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.0.join(file)).unwrap_or_default()
    }

    fn create(&self, file: &str) -> fs::File {
        fs::File::create(self.0.join(file)).unwrap_or_else(|e| panic!("create {file}: {e}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Extra `--driver` argument when the CI matrix asks for one.
fn driver_args() -> Vec<String> {
    match std::env::var("ARTEMIS_TEST_DRIVER") {
        Ok(d) if !d.trim().is_empty() => vec!["--driver".into(), d.trim().to_string()],
        _ => Vec::new(),
    }
}

/// `artemis server` on `127.0.0.1:0` with its data dir in `dir` and, if given, a config file there
/// holding `config_toml`. Callers append their own arguments.
fn server_command(dir: &TempDir, config_toml: Option<&str>) -> Command {
    let data_dir = dir.path().join("data");
    fs::create_dir_all(&data_dir).expect("create temp data dir");
    server_command_at(dir, "127.0.0.1:0", &data_dir, config_toml)
}

/// `artemis server` on `listen` with the data dir `data_dir`, and its config file (if any) in
/// `dir`.
fn server_command_at(
    dir: &TempDir,
    listen: &str,
    data_dir: &Path,
    config_toml: Option<&str>,
) -> Command {
    let mut cmd = Command::new(artemis_binary());
    cmd.arg("server")
        .arg("--listen")
        .arg(listen)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null());
    if let Some(toml) = config_toml {
        let path = dir.path().join("artemis.toml");
        fs::write(&path, toml).expect("write config file");
        cmd.arg("--config").arg(&path);
    }
    cmd
}

/// Polls `child` until it exits; `None` if it is still running after `timeout`.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// A listening line of the server: which listener, at which address.
enum Listening {
    Main(String),
    Cluster(String),
}

/// Forwards the addresses from the server's listening lines, and keeps draining stdout
/// afterwards so the server never blocks on a full pipe.
fn watch_for_listening_line(stdout: ChildStdout) -> mpsc::Receiver<Listening> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix(LISTENING_PREFIX) {
                let _ = tx.send(Listening::Main(addr.trim().to_string()));
            } else if let Some(addr) = line.strip_prefix(CLUSTER_LISTENING_PREFIX) {
                let _ = tx.send(Listening::Cluster(addr.trim().to_string()));
            }
        }
    });
    rx
}

fn parse_addr(addr: &str) -> SocketAddr {
    addr.parse()
        .unwrap_or_else(|e| panic!("bad listening line address {addr:?}: {e}"))
}

/// A server that exited before it listened: its exit status (None if it had not ended 5 s after
/// closing stdout) and what it wrote to stderr.
#[derive(Debug)]
pub struct EarlyExit {
    pub status: Option<ExitStatus>,
    pub stderr: String,
}

const STDERR_LOG: &str = "stderr.log";
const STDOUT_LOG: &str = "stdout.log";

/// A running `artemis server` child process, stopped (SIGTERM, then SIGKILL) on drop. When the
/// test is panicking, the drop prints the tail of the server's stderr.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The `cluster.listen` listener's address, when the config sets one.
    pub cluster_addr: Option<SocketAddr>,
    exit: Option<ExitStatus>,
    dir: TempDir,
    data_dir: PathBuf,
}

impl Server {
    /// Starts the server on `127.0.0.1:0` with a fresh data dir, extra `args`, and optionally a
    /// TOML config file with `config_toml` as its content. Panics if it does not report its
    /// address within 20 s.
    pub fn start(args: &[&str], config_toml: Option<&str>) -> Server {
        let dir = TempDir::new("srv");
        let cmd = server_command(&dir, config_toml);
        let data_dir = dir.path().join("data");
        Server::spawn(dir, data_dir, cmd, args)
    }

    /// Starts the server on `listen` with the data dir `data_dir` (which outlives the server) and
    /// extra `args`; panics as [`Server::start`] does.
    pub fn start_at(listen: &str, data_dir: &Path, args: &[&str]) -> Server {
        let dir = TempDir::new("srv");
        let cmd = server_command_at(&dir, listen, data_dir, None);
        Server::spawn(dir, data_dir.to_path_buf(), cmd, args)
    }

    /// Starts the server on the fixed address `listen` (a node of a cluster, whose address its
    /// peers are told before it starts) with a fresh data dir, extra `args`, and optionally a TOML
    /// config file; panics as [`Server::start`] does.
    pub fn start_listening(listen: &str, args: &[&str], config_toml: Option<&str>) -> Server {
        Server::start_listening_with_env(listen, args, config_toml, &[])
    }

    /// [`Server::start_listening`] with extra environment variables (systemd's `NOTIFY_SOCKET`).
    pub fn start_listening_with_env(
        listen: &str,
        args: &[&str],
        config_toml: Option<&str>,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = TempDir::new("srv");
        let data_dir = dir.path().join("data");
        fs::create_dir_all(&data_dir).expect("create temp data dir");
        let mut cmd = server_command_at(&dir, listen, &data_dir, config_toml);
        cmd.envs(env.iter().copied());
        Server::spawn(dir, data_dir, cmd, args)
    }

    /// [`Server::start_at`] that reports a server exiting before it listens (a taken port, a
    /// refused config) instead of panicking.
    pub fn try_start_at(listen: &str, data_dir: &Path, args: &[&str]) -> Result<Server, EarlyExit> {
        let dir = TempDir::new("srv");
        let cmd = server_command_at(&dir, listen, data_dir, None);
        Server::try_spawn(dir, data_dir.to_path_buf(), cmd, args)
    }

    fn spawn(dir: TempDir, data_dir: PathBuf, cmd: Command, args: &[&str]) -> Server {
        Server::try_spawn(dir, data_dir, cmd, args).unwrap_or_else(|e| {
            panic!(
                "artemis exited ({:?}) before listening; args {args:?}\nstderr:\n{}",
                e.status, e.stderr
            )
        })
    }

    fn try_spawn(
        dir: TempDir,
        data_dir: PathBuf,
        mut cmd: Command,
        args: &[&str],
    ) -> Result<Server, EarlyExit> {
        cmd.args(driver_args())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(dir.create(STDERR_LOG));
        let mut child = cmd.spawn().expect("spawn artemis server");
        let listening = watch_for_listening_line(child.stdout.take().expect("child stdout"));
        let mut server = Server {
            child,
            // Port 0 until the listening line says which port the server bound.
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            cluster_addr: None,
            exit: None,
            dir,
            data_dir,
        };
        let deadline = std::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(std::time::Instant::now());
            match listening.recv_timeout(wait) {
                // The cluster listener's line comes first.
                Ok(Listening::Cluster(addr)) => server.cluster_addr = Some(parse_addr(&addr)),
                Ok(Listening::Main(addr)) => {
                    server.addr = parse_addr(&addr);
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "artemis did not print its listening line within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    server.stderr()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed without the line: the process is exiting.
                    let status = server.wait_exit(Duration::from_secs(5));
                    return Err(EarlyExit {
                        status,
                        stderr: server.stderr(),
                    });
                }
            }
        }
    }

    /// `--region SHA --zone SHAJQ` plus `extra`.
    pub fn start_sha(extra: &[&str], config_toml: Option<&str>) -> Server {
        let mut args: Vec<&str> = SHA_ARGS.to_vec();
        args.extend_from_slice(extra);
        Server::start(&args, config_toml)
    }

    /// `http://ADDR`, the form `artemis load --target` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.dir.read(STDERR_LOG)
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One request on a fresh connection.
    pub fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        self.client().post_json(path, body)
    }

    /// True while the server accepts new TCP connections. Its listeners close when shutdown
    /// begins, so this turning false is the observable start of draining.
    pub fn accepts_connections(&self) -> bool {
        TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).is_ok()
    }

    /// Moves the lease clock of a server started with `--manual-clock` forward by `ms` and returns
    /// its new monotonic time. The server answers only after every shard has expired what is due
    /// by then, so the effects are visible to the next request without polling. Panics on any
    /// other answer (a server without `--manual-clock` answers 404).
    pub fn advance_clock(&self, ms: u64) -> u64 {
        let path = format!("/debug/clock/advance?ms={ms}");
        let r = self.client().request("POST", &path, &[], b"");
        assert_eq!(
            r.status,
            200,
            "POST {path}: is the server started with --manual-clock? {}",
            r.text()
        );
        r.json()["nowMs"]
            .as_u64()
            .unwrap_or_else(|| panic!("POST {path}: no nowMs in {}", r.text()))
    }

    /// The server's process id (for /proc readings and signals).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The current time of a server's manual lease clock (an advance by 0 ms).
    pub fn clock_ms(&self) -> u64 {
        self.advance_clock(0)
    }

    /// Moves a manual lease clock forward to `at_ms` (see [`Server::advance_clock`]); panics if
    /// the clock is already past it.
    pub fn advance_clock_to(&self, at_ms: u64) -> u64 {
        let now = self.clock_ms();
        assert!(now <= at_ms, "the clock is at {now} ms, past {at_ms} ms");
        self.advance_clock(at_ms - now)
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Waits for the child to exit; `None` if still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = wait_child(&mut self.child, timeout);
        }
        self.exit
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exit.is_none() {
            // SIGTERM first, as in production; SIGKILL only if the server hangs.
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            if wait_child(&mut self.child, SHUTDOWN_TIMEOUT).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if thread::panicking() {
            let log = self.stderr();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("---- artemis stderr (last 60 lines) ----\n{tail}\n----");
        }
    }
}

/// What a one-shot run of the binary ended with.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end with stdout and stderr captured in `dir`; kills it and panics if it is
/// still running after `timeout`.
fn run_captured(mut cmd: Command, dir: &TempDir, timeout: Duration, what: &str) -> Finished {
    cmd.stdout(dir.create(STDOUT_LOG))
        .stderr(dir.create(STDERR_LOG));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let Some(status) = wait_child(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{what} still running after {timeout:?}; stderr:\n{}",
            dir.read(STDERR_LOG)
        );
    };
    Finished {
        status,
        stdout: dir.read(STDOUT_LOG),
        stderr: dir.read(STDERR_LOG),
    }
}

/// Runs `artemis ARGS` (any subcommand) to its end; panics if it runs longer than `timeout`.
pub fn run_artemis(args: &[&str], timeout: Duration) -> Finished {
    let dir = TempDir::new("run");
    let mut cmd = Command::new(artemis_binary());
    cmd.args(args).stdin(Stdio::null());
    run_captured(cmd, &dir, timeout, &format!("artemis {args:?}"))
}

/// Runs `artemis server ARGS` expecting it to exit on its own (a bad flag or config); returns the
/// exit status and stderr. Panics if it is still running after 20 s.
pub fn run_to_exit(args: &[&str], config_toml: Option<&str>) -> (ExitStatus, String) {
    let dir = TempDir::new("run");
    let mut cmd = server_command(&dir, config_toml);
    cmd.args(args);
    let done = run_captured(
        cmd,
        &dir,
        STARTUP_TIMEOUT,
        &format!("artemis server {args:?}"),
    );
    (done.status, done.stderr)
}

/// Runs `artemis server --listen LISTEN ARGS` (on the test's driver) expecting it to exit on its
/// own; its data dir is `data_dir`, or a fresh one if `None`. Returns the exit status and stderr.
/// Panics if it is still running after 20 s.
pub fn run_server_at(listen: &str, data_dir: Option<&Path>, args: &[&str]) -> (ExitStatus, String) {
    let dir = TempDir::new("run");
    let fresh = dir.path().join("data");
    let mut cmd = server_command_at(&dir, listen, data_dir.unwrap_or(&fresh), None);
    cmd.args(driver_args()).args(args);
    let done = run_captured(
        cmd,
        &dir,
        STARTUP_TIMEOUT,
        &format!("artemis server --listen {listen} {args:?}"),
    );
    (done.status, done.stderr)
}

/// Asserts that `artemis server` refuses the config `toml`: exit status 2, and stderr names `key`.
pub fn assert_config_rejected(toml: &str, key: &str) {
    let (status, stderr) = run_to_exit(&[], Some(toml));
    assert_eq!(
        status.code(),
        Some(2),
        "config {toml:?}: exit {status:?}, stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(key),
        "config {toml:?}: stderr does not name {key:?}:\n{stderr}"
    );
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit and returns the soft limit now in
/// force. Servers started afterwards inherit it.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        assert_eq!(
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r),
            0,
            "getrlimit(RLIMIT_NOFILE)"
        );
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r = raised;
            }
        }
    }
    r.rlim_cur
}
