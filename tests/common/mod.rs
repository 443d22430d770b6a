//! Black-box test harness: spawns the real `artemis` binary on a free port and talks to it over
//! plain TCP with a tiny blocking HTTP/1.1 client. Nothing here links the server's library code.
//!
//! Set `ARTEMIS_TEST_DRIVER=legacy|uring|auto` to run the whole suite on one event-loop driver.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[allow(unused_imports)]
pub use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait, Value};

/// The region and zone the Java client tests use; most tests start the server with them.
pub const REGION: &str = "SHA";
pub const ZONE: &str = "SHAJQ";
/// `--region SHA --zone SHAJQ`.
pub const SHA_ARGS: &[&str] = &["--region", REGION, "--zone", ZONE];

/// How long a single read may block before the test fails instead of hanging CI.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

fn unique_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "artemis-it-{tag}-{}-{n}-{nanos}",
        std::process::id()
    ))
}

/// Extra `--driver` argument when the CI matrix asks for one.
fn driver_args() -> Vec<String> {
    match std::env::var("ARTEMIS_TEST_DRIVER") {
        Ok(d) if !d.trim().is_empty() => vec!["--driver".into(), d.trim().to_string()],
        _ => Vec::new(),
    }
}

/// A running `artemis server` child process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    root: PathBuf,
    stderr_path: PathBuf,
    exit: Option<ExitStatus>,
}

impl Server {
    /// Starts the server on `127.0.0.1:0` with a fresh data dir, extra `args`, and optionally a
    /// TOML config file with `config_toml` as its content. Panics if it does not report its
    /// address within 20 s.
    pub fn start(args: &[&str], config_toml: Option<&str>) -> Server {
        let root = unique_dir("srv");
        let data_dir = root.join("data");
        fs::create_dir_all(&data_dir).expect("create temp data dir");
        let stderr_path = root.join("stderr.log");
        let stderr_file = fs::File::create(&stderr_path).expect("create stderr log");

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_artemis"));
        cmd.arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir);
        if let Some(toml) = config_toml {
            let path = root.join("artemis.toml");
            fs::write(&path, toml).expect("write config file");
            cmd.arg("--config").arg(&path);
        }
        cmd.args(driver_args());
        cmd.args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file));
        let mut child = cmd.spawn().expect("spawn artemis binary");

        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if !sent && line.starts_with("artemis listening on ") {
                            let _ = tx.send(line.trim_end().to_string());
                            sent = true;
                        }
                        // Keep draining so the server never blocks on a full pipe.
                    }
                }
            }
        });

        let mut server = Server {
            child: Some(child),
            addr: "127.0.0.1:1".parse().unwrap(),
            root,
            stderr_path,
            exit: None,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let addr = line.trim_start_matches("artemis listening on ").trim();
                    server.addr = addr
                        .parse()
                        .unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}"));
                    return server;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed without the line: the process is exiting.
                    let status = server.wait_exit(Duration::from_secs(5));
                    panic!(
                        "artemis exited ({status:?}) before listening; args {args:?}\nstderr:\n{}",
                        server.stderr()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "artemis did not print its listening line within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    server.stderr()
                );
            }
        }
    }

    /// `--region SHA --zone SHAJQ` plus `extra`.
    pub fn start_sha(extra: &[&str], config_toml: Option<&str>) -> Server {
        let mut args: Vec<&str> = SHA_ARGS.to_vec();
        args.extend_from_slice(extra);
        Server::start(&args, config_toml)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One request on a fresh connection.
    pub fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        self.client().post_json(path, body)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.client().get(path)
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.pid();
        assert!(pid > 0, "no child process");
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Waits for the child to exit; `None` if still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.exit {
            return Some(s);
        }
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.exit = Some(status);
                    return Some(status);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait (panics if the server does not exit within 10 s).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait_exit(SHUTDOWN_TIMEOUT) {
            Some(s) => s,
            None => panic!(
                "artemis did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM; stderr:\n{}",
                self.stderr()
            ),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.exit.is_none() {
                // SAFETY: kill(2) on our own child's pid.
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGTERM);
                }
                let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if Instant::now() >= deadline => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                        Ok(None) => thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
        }
        if thread::panicking() {
            let log = self.stderr();
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                let from = lines.len().saturating_sub(60);
                lines[from..].join("\n")
            };
            eprintln!("---- artemis stderr (last 60 lines) ----\n{tail}\n----");
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Runs `artemis server ...` expecting it to exit on its own (bad config); returns the exit
/// status and stderr. Kills it and panics if it is still running after 20 s.
pub fn run_to_exit(args: &[&str], config_toml: Option<&str>) -> (ExitStatus, String) {
    let root = unique_dir("run");
    fs::create_dir_all(root.join("data")).expect("create temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_artemis"));
    cmd.arg("server")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(root.join("data"));
    if let Some(toml) = config_toml {
        let path = root.join("artemis.toml");
        fs::write(&path, toml).expect("write config");
        cmd.arg("--config").arg(&path);
    }
    cmd.args(args);
    let stderr_path = root.join("stderr.log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(fs::File::create(&stderr_path).unwrap()));
    let mut child = cmd.spawn().expect("spawn artemis");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            let _ = fs::remove_dir_all(&root);
            panic!("artemis {args:?} kept running (expected it to exit); stderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = fs::remove_dir_all(&root);
    (status, stderr)
}

/// Polls `f` every 20 ms until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        sonic_rs::from_slice::<Value>(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body (HTTP {}) is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

/// What a connection does within a time window (see [`Client::probe`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// Orderly close (EOF) or reset.
    Closed,
    /// Bytes arrived.
    Data,
    /// Nothing happened.
    Open,
}

/// Blocking HTTP/1.1 client on one TCP connection (keep-alive, pipelining via raw writes).
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
            host: addr.to_string(),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Builds the bytes of one request. Adds `Host`, and `Content-Type`/`Content-Length` when
    /// there is a body (or for POST), unless `headers` already has them.
    pub fn build_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        if !has("host") {
            out.push_str(&format!("Host: {}\r\n", self.host));
        }
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if (!body.is_empty() || method == "POST") && !has("transfer-encoding") {
            if !has("content-type") {
                out.push_str("Content-Type: application/json\r\n");
            }
            if !has("content-length") {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let bytes = self.build_request(method, path, headers, body);
        self.write_raw(&bytes)?;
        self.read_response()
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn post_json(&mut self, path: &str, body: &str) -> (u16, Value) {
        let r = self.request("POST", path, &[], body.as_bytes());
        (r.status, r.json())
    }

    /// POST with the body gzip-compressed and `Content-Encoding: gzip`, as the Java client does.
    pub fn post_gzip(&mut self, path: &str, body: &str) -> (u16, Value) {
        let gz = gzip(body.as_bytes());
        let r = self.request(
            "POST",
            path,
            &[("Content-Encoding", "gzip"), ("Accept", "application/json")],
            &gz,
        );
        (r.status, r.json())
    }

    pub fn get(&mut self, path: &str) -> (u16, Value) {
        let r = self.request("GET", path, &[], b"");
        (r.status, r.json())
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16384];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn need(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed mid-response (have {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn read_line_crlf(&mut self) -> io::Result<String> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-line",
                ));
            }
        }
    }

    /// Reads exactly one response (status line, headers, Content-Length / chunked / to-EOF body).
    pub fn read_response(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a full response head (got {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or_default().to_string();
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        }
        let mut headers = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header {line:?}"))
            })?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut resp = Response {
            status,
            reason,
            version,
            headers,
            body: Vec::new(),
        };
        let chunked = resp
            .header("transfer-encoding")
            .map(|v| v.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        if chunked {
            loop {
                let size_line = self.read_line_crlf()?;
                let size_str = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {size_line:?}"),
                    )
                })?;
                if size == 0 {
                    // trailers until an empty line
                    while !self.read_line_crlf()?.is_empty() {}
                    break;
                }
                self.need(size + 2)?;
                resp.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
            }
        } else if let Some(cl) = resp.header("content-length") {
            let n: usize = cl.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad content-length {cl}"),
                )
            })?;
            self.need(n)?;
            resp.body = self.buf.drain(..n).collect();
        } else if status == 204 || status == 304 || (100..200).contains(&status) {
        } else {
            // Body delimited by connection close.
            loop {
                if self.fill()? == 0 {
                    break;
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// Waits up to `timeout` for the server to close the connection or send something.
    pub fn probe(&mut self, timeout: Duration) -> Probe {
        if !self.buf.is_empty() {
            return Probe::Data;
        }
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match r {
            Ok(0) => Probe::Closed,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Probe::Data
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Probe::Open
            }
            Err(_) => Probe::Closed,
        }
    }

    /// True if the server closes the connection (EOF or reset) within `timeout` without sending
    /// anything further.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.probe(left) {
                Probe::Closed => return true,
                Probe::Data => return false,
                Probe::Open => {}
            }
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use flate2::Compression;
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Encodes `body` as chunked transfer coding, split into pieces of the given sizes (the rest
/// goes in a last chunk).
pub fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for &s in sizes {
        if rest.is_empty() {
            break;
        }
        let n = s.min(rest.len());
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", rest.len()).as_bytes());
        out.extend_from_slice(rest);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Artemis payloads
// ---------------------------------------------------------------------------------------------

pub const REGISTER: &str = "/api/registry/register.json";
pub const HEARTBEAT: &str = "/api/registry/heartbeat.json";
pub const UNREGISTER: &str = "/api/registry/unregister.json";
pub const LOOKUP: &str = "/api/discovery/lookup.json";
pub const SERVICE: &str = "/api/discovery/service.json";
pub const SERVICES: &str = "/api/discovery/services.json";

/// The 13 properties of a serialized Instance, alphabetical.
pub const INSTANCE_KEYS: [&str; 13] = [
    "groupId",
    "healthCheckUrl",
    "instanceId",
    "ip",
    "machineName",
    "metadata",
    "port",
    "protocol",
    "regionId",
    "serviceId",
    "status",
    "url",
    "zoneId",
];

/// A Java-client-style instance.
#[derive(Clone, Debug)]
pub struct Inst {
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
    pub group_id: Option<String>,
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
    pub machine_name: Option<String>,
    pub ip: Option<String>,
    pub port: i64,
    pub protocol: Option<String>,
    pub url: Option<String>,
    pub health_check_url: Option<String>,
    pub status: Option<String>,
    pub metadata: Option<Vec<(String, String)>>,
}

impl Inst {
    /// Region SHA, zone SHAJQ, ip 10.0.0.1, port 8080, url/healthCheckUrl derived, status "up",
    /// metadata `{"owner":"it"}`.
    pub fn new(service_id: &str, instance_id: &str) -> Inst {
        let ip = "10.0.0.1";
        Inst {
            region_id: Some(REGION.into()),
            zone_id: Some(ZONE.into()),
            group_id: None,
            service_id: Some(service_id.into()),
            instance_id: Some(instance_id.into()),
            machine_name: Some("host1".into()),
            ip: Some(ip.into()),
            port: 8080,
            protocol: Some("http".into()),
            url: Some(format!("http://{ip}:8080/{service_id}")),
            health_check_url: Some(format!("http://{ip}:8080/health")),
            status: Some("up".into()),
            metadata: Some(vec![("owner".into(), "it".into())]),
        }
    }

    pub fn region(mut self, r: &str) -> Inst {
        self.region_id = Some(r.into());
        self
    }
    pub fn zone(mut self, z: &str) -> Inst {
        self.zone_id = Some(z.into());
        self
    }
    pub fn group(mut self, g: &str) -> Inst {
        self.group_id = Some(g.into());
        self
    }
    pub fn port(mut self, p: i64) -> Inst {
        self.port = p;
        self
    }
    pub fn ip(mut self, ip: &str) -> Inst {
        self.ip = Some(ip.into());
        self
    }
    pub fn url(mut self, u: Option<&str>) -> Inst {
        self.url = u.map(Into::into);
        self
    }
    pub fn metadata(mut self, kv: &[(&str, &str)]) -> Inst {
        self.metadata = Some(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self
    }
    pub fn no_metadata(mut self) -> Inst {
        self.metadata = None;
        self
    }

    pub fn value(&self) -> Value {
        let metadata: Value = match &self.metadata {
            None => Value::new(),
            Some(kv) => {
                let mut o = sonic_rs::Object::new();
                for (k, v) in kv {
                    o.insert(k, v.as_str());
                }
                o.into_value()
            }
        };
        sonic_rs::json!({
            "groupId": self.group_id,
            "healthCheckUrl": self.health_check_url,
            "instanceId": self.instance_id,
            "ip": self.ip,
            "machineName": self.machine_name,
            "metadata": metadata,
            "port": self.port,
            "protocol": self.protocol,
            "regionId": self.region_id,
            "serviceId": self.service_id,
            "status": self.status,
            "url": self.url,
            "zoneId": self.zone_id,
        })
    }

    pub fn json(&self) -> String {
        sonic_rs::to_string(&self.value()).unwrap()
    }

    /// Java `Instance.toString()`: lower-case `region/zone/service[/group]/instance`.
    pub fn key_string(&self) -> String {
        let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "null".into());
        let mut out = format!(
            "{}/{}/{}",
            s(&self.region_id),
            s(&self.zone_id),
            s(&self.service_id)
        );
        if let Some(g) = self.group_id.as_deref().filter(|g| !g.trim().is_empty()) {
            out.push('/');
            out.push_str(g);
        }
        out.push('/');
        out.push_str(&s(&self.instance_id));
        out.to_lowercase()
    }
}

/// `{"instances":[...]}` for register / heartbeat / unregister.
pub fn instances_body(insts: &[Inst]) -> String {
    let parts: Vec<String> = insts.iter().map(Inst::json).collect();
    format!("{{\"instances\":[{}]}}", parts.join(","))
}

/// A LookupRequest from the client's region/zone (SHA/SHAJQ) for `service_ids`.
pub fn lookup_body(service_ids: &[&str]) -> String {
    lookup_body_from(REGION, ZONE, service_ids)
}

pub fn lookup_body_from(region: &str, zone: &str, service_ids: &[&str]) -> String {
    let configs: Vec<Value> = service_ids
        .iter()
        .map(|s| {
            sonic_rs::json!({"serviceId": s, "regionId": region, "zoneId": zone, "discoveryData": null})
        })
        .collect();
    sonic_rs::to_string(&sonic_rs::json!({
        "discoveryConfigs": configs,
        "regionId": region,
        "zoneId": zone,
    }))
    .unwrap()
}

pub fn assert_success_status(v: &Value, ctx: &str) {
    let rs = &v["responseStatus"];
    assert_eq!(
        rs["status"].as_str(),
        Some("success"),
        "{ctx}: responseStatus not success: {}",
        dump(v)
    );
    assert_eq!(
        rs["errorCode"].as_str(),
        Some("success"),
        "{ctx}: {}",
        dump(v)
    );
    assert_eq!(rs["message"].as_str(), Some(""), "{ctx}: {}", dump(v));
}

/// Asserts the canonical registry SUCCESS reply: HTTP 200, `failedInstances` null.
pub fn assert_registry_ok(status: u16, v: &Value, ctx: &str) {
    assert_eq!(status, 200, "{ctx}: HTTP status; body {}", dump(v));
    assert_success_status(v, ctx);
    assert!(
        v.get("failedInstances").is_some() && v["failedInstances"].is_null(),
        "{ctx}: failedInstances must be present and null: {}",
        dump(v)
    );
}

/// Asserts a protocol-fault reply: `code` and the JSON `bad-request` body.
pub fn assert_protocol_error(resp: &Response, code: u16, ctx: &str) {
    assert_eq!(
        resp.status,
        code,
        "{ctx}: expected HTTP {code}, got {} {:?}",
        resp.status,
        resp.text()
    );
    let v = resp.json();
    let rs = &v["responseStatus"];
    assert_eq!(rs["status"].as_str(), Some("fail"), "{ctx}: {}", dump(&v));
    assert_eq!(
        rs["errorCode"].as_str(),
        Some("bad-request"),
        "{ctx}: {}",
        dump(&v)
    );
    let msg = rs["message"].as_str().unwrap_or("");
    assert!(
        !msg.trim().is_empty(),
        "{ctx}: a protocol error must say what was wrong: {}",
        dump(&v)
    );
}

/// Asserts `actual` is an Instance object with exactly the 13 properties, equal to `expected`.
pub fn assert_instance_eq(actual: &Value, expected: &Inst, ctx: &str) {
    let obj = actual
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: instance is not an object: {}", dump(actual)));
    let mut keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        INSTANCE_KEYS.to_vec(),
        "{ctx}: instance keys: {}",
        dump(actual)
    );
    let want = expected.value();
    for k in INSTANCE_KEYS {
        if k == "metadata" {
            assert_metadata_eq(&actual[k], &want[k], ctx);
        } else {
            assert_eq!(
                actual[k],
                want[k],
                "{ctx}: instance.{k}: got {} want {}",
                dump(&actual[k]),
                dump(&want[k])
            );
        }
    }
}

fn assert_metadata_eq(actual: &Value, want: &Value, ctx: &str) {
    if want.is_null() {
        assert!(actual.is_null(), "{ctx}: metadata: got {}", dump(actual));
        return;
    }
    let a = actual
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: metadata not an object: {}", dump(actual)));
    let w = want.as_object().unwrap();
    let am: HashMap<&str, &Value> = a.iter().collect();
    let wm: HashMap<&str, &Value> = w.iter().collect();
    assert_eq!(am, wm, "{ctx}: metadata");
}

/// Recursively asserts object keys are in alphabetical order (Java SORT_PROPERTIES_ALPHABETICALLY),
/// except inside maps (`metadata`, `leases`, `delta`) whose keys are data.
pub fn assert_sorted_keys(v: &Value, ctx: &str) {
    fn walk(v: &Value, path: &str, ctx: &str) {
        if let Some(arr) = v.as_array() {
            for (i, e) in arr.iter().enumerate() {
                walk(e, &format!("{path}[{i}]"), ctx);
            }
        } else if let Some(obj) = v.as_object() {
            let keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{ctx}: keys of {path} not alphabetical");
            for (k, e) in obj.iter() {
                if matches!(k, "metadata" | "leases" | "delta") {
                    continue;
                }
                walk(e, &format!("{path}.{k}"), ctx);
            }
        }
    }
    walk(v, "$", ctx);
}

pub fn dump(v: &Value) -> String {
    sonic_rs::to_string(v).unwrap_or_else(|_| "<unserializable>".into())
}

/// Number of array elements (panics with context if `v` is not an array).
pub fn arr_len(v: &Value, ctx: &str) -> usize {
    v.as_array()
        .unwrap_or_else(|| panic!("{ctx}: not an array: {}", dump(v)))
        .len()
}

/// Lookup one service; returns the Service object.
pub fn lookup_one(client: &mut Client, service_id: &str) -> Value {
    let (st, v) = client.post_json(LOOKUP, &lookup_body(&[service_id]));
    assert_eq!(st, 200, "lookup {service_id}: {}", dump(&v));
    assert_success_status(&v, "lookup");
    assert_eq!(
        arr_len(&v["services"], "lookup services"),
        1,
        "{}",
        dump(&v)
    );
    v["services"][0].clone()
}

/// The instanceIds a lookup currently returns for `service_id` (sorted).
pub fn lookup_ids(client: &mut Client, service_id: &str) -> Vec<String> {
    let svc = lookup_one(client, service_id);
    let mut ids: Vec<String> = svc["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("instances not an array: {}", dump(&svc)))
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids
}

pub fn register(client: &mut Client, insts: &[Inst]) {
    let (st, v) = client.post_json(REGISTER, &instances_body(insts));
    assert_registry_ok(st, &v, "register");
}

pub fn heartbeat(client: &mut Client, insts: &[Inst]) -> (u16, Value) {
    client.post_json(HEARTBEAT, &instances_body(insts))
}

pub fn unregister(client: &mut Client, insts: &[Inst]) {
    let (st, v) = client.post_json(UNREGISTER, &instances_body(insts));
    assert_registry_ok(st, &v, "unregister");
}

/// `yyyy-MM-dd HH:mm:ss.SSS`
pub fn is_java_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 23 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 => *c == b' ',
        13 | 16 => *c == b':',
        19 => *c == b'.',
        _ => c.is_ascii_digit(),
    })
}
