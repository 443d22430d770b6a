//! The `artemis server` child process as an operator runs it: with environment variables
//! (systemd's NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM), a config file the test rewrites
//! before a SIGHUP, and any `--listen` (the shared harness fixes these).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use harness::{wait_until, Client};

pub const BINARY: &str = env!("CARGO_BIN_EXE_artemis");
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A fresh directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "artemis-ops-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How to start the node.
#[derive(Default)]
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Written to `artemis.toml` and passed with `--config`.
    pub config: Option<String>,
    /// Set JOURNAL_STREAM to stderr's device and inode, as systemd does for the journal.
    pub journal: bool,
}

impl Launch {
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn config(mut self, toml: &str) -> Launch {
        self.config = Some(toml.into());
        self
    }

    pub fn journal(mut self) -> Launch {
        self.journal = true;
        self
    }
}

/// A running node, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
    exit: Option<ExitStatus>,
}

impl Node {
    /// Starts the node (on `127.0.0.1:0` unless the args say `--listen`) and waits for its
    /// listening line.
    pub fn start(launch: Launch) -> Node {
        let dir = TempDir::new("node");
        let mut child = command(&dir, &launch)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn artemis server");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("artemis listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let mut node = Node {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
            exit: None,
        };
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => node.addr = addr.parse().expect("listening address"),
            Err(e) => panic!("no listening line ({e}); stderr:\n{}", node.stderr()),
        }
        node
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("stderr.log")).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Replaces the config file (for a SIGHUP to read).
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.dir.0.join("artemis.toml"), toml).unwrap();
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits until the log holds `count` lines containing `text`; panics after 10 s.
    pub fn wait_for_log(&self, text: &str, count: usize) {
        let found = wait_until(Duration::from_secs(10), || {
            self.stderr().matches(text).count() >= count
        });
        assert!(
            found,
            "no {count} × {text:?} in the log:\n{}",
            self.stderr()
        );
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            let child = &mut self.child;
            let mut status = None;
            wait_until(timeout, || {
                status = child.try_wait().ok().flatten();
                status.is_some()
            });
            self.exit = status;
        }
        self.exit
    }

    /// SIGTERM, and the exit status (which must come within 10 s).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", self.stderr()))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.exit.is_none() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("---- artemis stderr ----\n{}\n----", self.stderr());
        }
    }
}

/// `artemis server` with its data dir, stderr file and config file in `dir`.
fn command(dir: &TempDir, launch: &Launch) -> Command {
    let stderr_path = dir.0.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut cmd = Command::new(BINARY);
    cmd.arg("server")
        .arg("--data-dir")
        .arg(dir.0.join("data"))
        .stdin(Stdio::null())
        .stderr(stderr);
    if !launch.args.iter().any(|a| a == "--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    // The CI matrix's driver, as the shared harness passes it.
    if let Ok(driver) = std::env::var("ARTEMIS_TEST_DRIVER") {
        if !driver.trim().is_empty() {
            cmd.args(["--driver", driver.trim()]);
        }
    }
    cmd.args(&launch.args);
    if let Some(toml) = &launch.config {
        let path = dir.0.join("artemis.toml");
        std::fs::write(&path, toml).unwrap();
        cmd.arg("--config").arg(path);
    }
    // The test runner's own environment must not leak systemd's variables into the node.
    for key in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "JOURNAL_STREAM",
        "RUST_LOG",
    ] {
        cmd.env_remove(key);
    }
    if launch.journal {
        let meta = std::fs::metadata(&stderr_path).unwrap();
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    for (key, value) in &launch.env {
        cmd.env(key, value);
    }
    cmd
}

/// Runs `artemis server` expecting it to end on its own; returns its status and stderr.
pub fn run_to_exit(launch: Launch) -> (ExitStatus, String) {
    let dir = TempDir::new("run");
    let mut child = command(&dir, &launch)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn artemis server");
    let mut status = None;
    wait_until(STARTUP_TIMEOUT, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("artemis server still running after {STARTUP_TIMEOUT:?}");
    };
    let stderr = std::fs::read_to_string(dir.0.join("stderr.log")).unwrap_or_default();
    (status, stderr)
}
