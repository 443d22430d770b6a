//! A real MariaDB server for tests: `mariadb-install-db` on a temporary data dir, then
//! `mariadbd` on a unix socket and a free loopback port, with a user `artemis` that has a
//! password (so credentials are checked as in production). One server is shared by every test
//! of a test binary ([`MariaDb::shared`]); each test works in its own database.
//!
//! Never left running: a server is killed when its [`MariaDb`] is dropped; the shared one (a
//! static, never dropped) is killed by an exit hook, and by the kernel if the test process dies
//! without running it (`PR_SET_PDEATHSIG`).
//!
//! Debian's `mariadb-server` provides the programs; without them every test that asks for a
//! server fails, saying so.
//!
//! This file only uses std and libc: the black-box harness (`tests/harness`) includes it too.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The account the tests connect with.
pub const USER: &str = "artemis";
/// Its password.
pub const PASSWORD: &str = "artemis-test-password";

/// How long a fresh server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `mariadbd`, killed (and its data dir removed) on drop.
pub struct MariaDb {
    child: Child,
    dir: PathBuf,
    /// The loopback TCP port it listens on.
    pub port: u16,
    /// Its unix socket.
    pub socket: PathBuf,
}

impl MariaDb {
    /// The server every test of this binary shares, started by the first caller.
    pub fn shared() -> &'static MariaDb {
        static SHARED: OnceLock<MariaDb> = OnceLock::new();
        SHARED.get_or_init(|| {
            // PR_SET_PDEATHSIG fires when the thread that started the child ends, so the
            // shared server is started by a thread that lives as long as the process.
            let (started, server) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("mariadb-owner".into())
                .spawn(move || {
                    let _ = started.send(std::panic::catch_unwind(MariaDb::start));
                    loop {
                        std::thread::park();
                    }
                })
                .expect("spawn the thread that owns the shared MariaDB server");
            let server = match server.recv().expect("the MariaDB owner thread answers") {
                Ok(server) => server,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            SHARED_PID.store(server.child.id(), Ordering::SeqCst);
            // SAFETY: registers a plain function with no captured state.
            unsafe { libc::atexit(stop_shared_at_exit) };
            // The exit hook removes the data dir as well.
            let _ = SHARED_DIR.set(server.dir.clone());
            server
        })
    }

    /// Install a fresh data dir and start a server on it; panics (failing the test) when
    /// MariaDB is not installed or does not start.
    pub fn start() -> MariaDb {
        let install_db = program("mariadb-install-db");
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "artemis-mariadb-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the MariaDB temp dir");
        let data = dir.join("data");
        let mut install = Command::new(install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .args(run_as());
        let output = run(&mut install);
        assert!(
            output.status.success(),
            "mariadb-install-db failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let socket = dir.join("mariadb.sock");
        let port = free_port();
        let child = spawn_server(&dir, &socket, port);
        let mut server = MariaDb {
            child,
            dir,
            port,
            socket,
        };
        server.wait_until_ready();
        server.root_sql(&format!(
            "CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';"
        ));
        server
    }

    /// Kill the server at once (a crash, as far as clients can tell); its data stays.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the server again on the same data, port and socket, after [`MariaDb::kill`].
    pub fn start_again(&mut self) {
        self.child = spawn_server(&self.dir, &self.socket, self.port);
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll mariadbd") {
                panic!(
                    "mariadbd exited at start ({status}):\n{}",
                    self.error_log_tail()
                );
            }
            if self.socket.exists() && self.try_root_sql("SELECT 1").status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not accept connections within {STARTUP_TIMEOUT:?}:\n{}",
                self.error_log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn try_root_sql(&self, statements: &str) -> Output {
        let mut client = Command::new(program("mariadb"));
        client
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("--user=root")
            .arg("--batch")
            .arg("--skip-column-names")
            .arg("--execute")
            .arg(statements);
        run(&mut client)
    }

    /// Run `statements` as root; answers what they printed (tab-separated rows).
    pub fn root_sql(&self, statements: &str) -> String {
        let output = self.try_root_sql(statements);
        assert!(
            output.status.success(),
            "SQL failed: {statements}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new, empty database whose name no other test of this process uses.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "artemis_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.root_sql(&format!("CREATE DATABASE {name}"));
        name
    }

    /// `mysql://artemis:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The same URL without the password, for a password given another way.
    pub fn url_without_password(&self, database: &str) -> String {
        format!("mysql://{USER}@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `mariadbd` on the data dir installed in `dir`, killed by the kernel if the thread that
/// started it ends first.
fn spawn_server(dir: &Path, socket: &Path, port: u16) -> Child {
    let mut command = Command::new(program("mariadbd"));
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
        .arg(format!("--log-error={}", dir.join("error.log").display()))
        .arg("--skip-name-resolve")
        // Tests need no durability across a power loss; each commit still reaches the OS.
        .arg("--innodb-flush-log-at-trx-commit=2")
        .arg("--innodb-buffer-pool-size=64M")
        .args(run_as())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start mariadbd: {e}"))
}

static SHARED_PID: AtomicU32 = AtomicU32::new(0);
static SHARED_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Kills the shared server when the test process exits.
extern "C" fn stop_shared_at_exit() {
    let pid = SHARED_PID.load(Ordering::SeqCst);
    if pid == 0 {
        return;
    }
    let pid = pid as libc::pid_t;
    // SAFETY: plain system calls on the child this process started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    if let Some(dir) = SHARED_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// `mariadbd` refuses to run as root unless told to; as anyone else the option is ignored.
fn run_as() -> Vec<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        vec!["--user=root".into()]
    } else {
        Vec::new()
    }
}

/// Where a MariaDB program is: on PATH, or in the sbin directories Debian installs the server
/// to (not on a normal user's PATH).
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: the MariaDB tests need a real server; install it with \
                 `apt-get install mariadb-server` (.ci/run does so when mariadbd is missing)"
            )
        })
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()))
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("its address").port()
}
