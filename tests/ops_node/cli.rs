//! The command line's basics: `--version`, usage errors exit 2 as configuration errors do, and
//! `--listen` takes a host name.

use std::process::Command;
use std::time::Duration;

use harness::*;

use crate::support::{run_to_exit, Launch, Node};

/// The commit the build script saw: git's short hash here, or "unknown" outside a checkout.
fn expected_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[test]
fn version_names_the_package_version_and_git_commit() {
    let expected = format!(
        "artemis {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        expected_commit()
    );
    for flag in ["--version", "-V"] {
        let done = run_artemis(&[flag], Duration::from_secs(10));
        assert_eq!(done.status.code(), Some(0), "{flag}: {}", done.stderr);
        assert_eq!(done.stdout, expected, "{flag}");
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &["server", "--no-such-flag"][..],
        &[],
        &["server", "--shards"],
        &["nonsense"],
    ] {
        let done = run_artemis(args, Duration::from_secs(10));
        assert_eq!(done.status.code(), Some(2), "{args:?}: {}", done.stderr);
        assert!(
            !done.stderr.trim().is_empty(),
            "{args:?}: says what is wrong"
        );
    }
    let done = run_artemis(&["server", "--help"], Duration::from_secs(10));
    assert_eq!(done.status.code(), Some(0));
    assert!(done.stdout.contains("--listen"), "{}", done.stdout);
}

#[test]
fn listen_takes_a_host_name() {
    let node = Node::start(Launch::default().args(&["--listen", "localhost:0"]));
    assert!(node.addr.ip().is_loopback(), "{}", node.addr);
    assert_ne!(node.addr.port(), 0);
    assert_eq!(node.client().get("/health").0, 200);

    let (status, stderr) =
        run_to_exit(Launch::default().args(&["--listen", "no-such-host.invalid:80"]));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("listen"), "{stderr}");
}
