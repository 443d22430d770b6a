//! The deployment files: the systemd unit passes `systemd-analyze verify`, keeps a low exposure
//! score, lets through the system calls the node needs (io_uring among them) and has limits that
//! fit the config's; `scripts/install.sh` installs into a staging root and uninstalls again.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use artemis::config::Config;

const UNIT: &str = include_str!("../deploy/artemis.service");
const CONFIG: &str = include_str!("../deploy/artemis.toml");
const BINARY: &str = env!("CARGO_BIN_EXE_artemis");

/// `systemd-analyze` (package systemd, which .ci/run installs when it is missing).
fn systemd_analyze(args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): install the systemd package, as .ci/run does")
        })
}

/// The values of `key=` in the unit, in order.
fn unit_values(key: &str) -> Vec<&'static str> {
    UNIT.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

fn unit_value(key: &str) -> &'static str {
    match unit_values(key).as_slice() {
        [value] => value,
        other => panic!("{key}= appears {} times in the unit", other.len()),
    }
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("artemis-ops-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    // verify checks that ExecStart's binary exists: point it at the one cargo built.
    let dir = TempDir::new("unit");
    let unit = dir.0.join("artemis.service");
    std::fs::write(&unit, UNIT.replace("/usr/local/bin/artemis", BINARY)).unwrap();
    let out = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on some findings (an unknown key is only "ignoring"): any output counts.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {:?}\n{stderr}",
        out.status
    );
}

#[test]
fn unit_hardening_keeps_exposure_at_or_below_2() {
    let dir = TempDir::new("security");
    let unit = dir.0.join("artemis.service");
    std::fs::write(&unit, UNIT).unwrap();
    // The threshold is in tenths: 20 is systemd's "2.0 OK".
    let out = systemd_analyze(&[
        "security",
        "--offline=yes",
        "--threshold=20",
        unit.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "exposure above 2.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The system calls of a `SystemCallFilter=` group, its nested groups expanded.
fn syscalls_of(group: &str, into: &mut BTreeSet<String>) {
    let out = systemd_analyze(&["syscall-filter", group]);
    assert!(out.status.success(), "syscall-filter {group}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // The first line names the group; entries are indented, comments start with '#'.
    for entry in text.lines().skip(1).map(str::trim) {
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if entry.starts_with('@') {
            syscalls_of(entry, into);
        } else {
            into.insert(entry.to_string());
        }
    }
}

#[test]
fn unit_syscall_filter_allows_what_the_node_needs() {
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for filter in unit_values("SystemCallFilter") {
        let (set, groups) = match filter.strip_prefix('~') {
            Some(groups) => (&mut denied, groups),
            None => (&mut allowed, filter),
        };
        for group in groups.split_whitespace() {
            assert!(
                group.starts_with('@'),
                "filter entry {group:?} is not a group"
            );
            syscalls_of(group, set);
        }
    }
    assert!(!allowed.is_empty(), "the unit has an allow list");
    let needed = [
        // The io_uring driver (the node falls back to epoll without it, at a cost).
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        // The epoll driver.
        "epoll_create1",
        "epoll_ctl",
        "epoll_pwait",
        "eventfd2",
        // Raising the soft open-file limit at start.
        "prlimit64",
        "setrlimit",
        // The listener, connections, sd_notify.
        "socket",
        "bind",
        "listen",
        "accept4",
        "sendto",
        "sendmsg",
        // The data dir lock and the database.
        "flock",
        "fsync",
        "fdatasync",
        "pwrite64",
        // Threads, signals, memory trimming.
        "clone3",
        "rt_sigtimedwait",
        "madvise",
        "sched_getaffinity",
    ];
    let refused: Vec<&str> = needed
        .into_iter()
        .filter(|call| !allowed.contains(*call) || denied.contains(*call))
        .collect();
    assert!(refused.is_empty(), "the unit's filter refuses {refused:?}");
}

#[test]
fn unit_limits_fit_the_config() {
    assert_eq!(unit_value("Type"), "notify");
    assert_eq!(unit_value("StateDirectory"), "artemis");
    assert_eq!(unit_value("ExecReload"), "/bin/kill -HUP $MAINPID");
    let mut config = Config::from_toml(CONFIG).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.data_dir,
        Path::new("/var/lib").join(unit_value("StateDirectory")),
        "the config's data_dir is the unit's state directory"
    );
    assert!(
        unit_value("ExecStart").ends_with("--config /etc/artemis/artemis.toml"),
        "the unit runs with the installed config"
    );

    let nofile: u64 = unit_value("LimitNOFILE").parse().unwrap();
    // Generous: a machine with 512 cores.
    let needed = artemis::server::accept::descriptors_needed(config.limits.max_connections, 512);
    assert!(nofile >= needed, "LimitNOFILE {nofile} < {needed}");

    let seconds = |key: &str| -> u64 {
        let value = unit_value(key);
        value
            .strip_suffix('s')
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{key}={value} is not in seconds"))
    };
    // Draining, then saving the registry (which waits at least a second), with room to spare.
    let stop_needs_ms = config.limits.shutdown_grace_ms + 5_000;
    assert!(
        seconds("TimeoutStopSec") * 1000 >= stop_needs_ms,
        "TimeoutStopSec below shutdown_grace_ms + 5 s"
    );
    // A core proves it is alive once per half period: that must hold several lease clock ticks
    // (lease.wheel_tick_ms is at most 1 s).
    assert!(seconds("WatchdogSec") * 1000 / 2 >= 5 * 1000);
}

/// Runs scripts/install.sh with `args`; returns its output.
fn install(args: &[&str]) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run scripts/install.sh")
}

fn assert_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn install_into_a_staging_root_then_uninstall_keeping_config_and_data() {
    let root = TempDir::new("install");
    let prefix = root.0.to_str().unwrap();
    let stdout = assert_ok(
        &install(&["--binary", BINARY, "--prefix", prefix]),
        "install",
    );
    let bin = root.0.join("usr/local/bin/artemis");
    let unit = root.0.join("etc/systemd/system/artemis.service");
    let config = root.0.join("etc/artemis/artemis.toml");
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(BINARY).unwrap());
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(std::fs::read_to_string(&unit).unwrap(), UNIT);
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG);
    assert_eq!(mode(&config), 0o640, "the config may hold tokens");
    // Nothing outside the staging root: no user, no group change, no systemctl.
    for effect in ["create the system user", "chgrp", "systemctl daemon-reload"] {
        assert!(
            stdout.contains(&format!("skipped (--prefix): {effect}")),
            "{effect} not skipped:\n{stdout}"
        );
    }
    let installed = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&installed.stdout).starts_with("artemis "));

    let data = root.0.join("var/lib/artemis/artemis.db");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    std::fs::write(&data, b"data").unwrap();
    assert_ok(&install(&["--uninstall", "--prefix", prefix]), "uninstall");
    assert!(!bin.exists() && !unit.exists(), "binary and unit removed");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        CONFIG,
        "config kept"
    );
    assert_eq!(std::fs::read(&data).unwrap(), b"data", "data kept");
}

#[test]
fn install_keeps_an_existing_config() {
    let root = TempDir::new("keep");
    let config = root.0.join("etc/artemis/artemis.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "region_id = \"SHA\"\n").unwrap();
    let stdout = assert_ok(
        &install(&["--binary", BINARY, "--prefix", root.0.to_str().unwrap()]),
        "install",
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "region_id = \"SHA\"\n"
    );
    assert!(stdout.contains("kept the existing"), "{stdout}");
    assert!(root.0.join("usr/local/bin/artemis").exists());
}

#[test]
fn dry_run_prints_the_steps_and_changes_nothing() {
    let root = TempDir::new("dry");
    let prefix = root.0.join("staging");
    let prefix = prefix.to_str().unwrap();
    let stdout = assert_ok(
        &install(&["--dry-run", "--binary", BINARY, "--prefix", prefix]),
        "dry run",
    );
    assert!(
        stdout.contains(&format!(
            "+ install -D -m 0755 {BINARY} {prefix}/usr/local/bin/artemis"
        )),
        "{stdout}"
    );
    assert!(!Path::new(prefix).exists(), "a dry run created {prefix}");
    let out = install(&["--uninstall", "--dry-run", "--prefix", prefix]);
    assert!(assert_ok(&out, "dry uninstall").contains("+ rm -f"));
}

#[test]
fn install_refuses_unknown_arguments_with_exit_2() {
    let out = install(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
}
