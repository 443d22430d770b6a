//! The server's memory as the kernel reports it (Linux `/proc`).

use std::fs;

use crate::process::Server;

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, ...), in bytes.
pub fn proc_status_bytes(pid: i32, field: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{path} has no {field}"));
    let kb: u64 = line
        .trim()
        .strip_suffix("kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{path}: {field} is not in kB: {line:?}"));
    kb * 1024
}

impl Server {
    /// The server's resident set size now, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        proc_status_bytes(self.pid(), "VmRSS")
    }
}
