//! The log: its formats (`log_format`), journald's conventions, one line for a fatal start-up
//! error, and what the registry does (expiries, self-preservation, refused instances) summed up
//! rather than line by line.

use std::time::Duration;

use harness::*;

use crate::support::{run_to_exit, Launch, Node};

const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// A node's whole log after a start and a graceful stop.
fn log_of_a_run(launch: Launch) -> (String, String) {
    let mut node = Node::start(launch);
    let addr = node.addr.to_string();
    assert_eq!(node.stop().code(), Some(0), "{}", node.stderr());
    (node.stderr(), addr)
}

#[test]
fn json_format_writes_one_object_per_line_with_typed_fields() {
    let (log, addr) = log_of_a_run(Launch::default().config("log_format = \"json\"\n"));
    let mut serving = None;
    for line in log.lines() {
        let v: Value = sonic_rs::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["time", "level", "target", "message"] {
            assert!(v[key].is_str(), "{key} missing: {line}");
        }
        if v["message"].as_str() == Some("artemis serving") {
            serving = Some(v);
        }
    }
    let serving = serving.unwrap_or_else(|| panic!("no serving line:\n{log}"));
    assert_eq!(serving["address"].as_str(), Some(addr.as_str()));
    assert!(serving["shards"].as_u64().is_some(), "shards is a number");
    assert_eq!(serving["level"].as_str(), Some("info"));
}

#[test]
fn logfmt_format_writes_key_value_lines() {
    let (log, addr) = log_of_a_run(Launch::default().config("log_format = \"logfmt\"\n"));
    assert!(!log.is_empty());
    for line in log.lines() {
        assert!(
            line.starts_with("time=20") && line.contains(" level=") && line.contains(" msg="),
            "{line}"
        );
    }
    assert!(
        log.lines().any(
            |l| l.contains("msg=\"artemis serving\"") && l.contains(&format!("address={addr}"))
        ),
        "{log}"
    );
}

#[test]
fn human_format_off_a_terminal_has_no_colours() {
    let (log, _) = log_of_a_run(Launch::default().env("NO_COLOR", "1"));
    assert!(log.contains("artemis serving"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in a file:\n{log}");
}

/// The line after its journald priority prefix `<N>`, and N.
fn strip_priority(line: &str) -> (u8, &str) {
    let rest = line
        .strip_prefix('<')
        .unwrap_or_else(|| panic!("no priority prefix: {line}"));
    let (n, rest) = rest.split_once('>').unwrap();
    (n.parse().unwrap(), rest)
}

#[test]
fn under_journald_lines_carry_their_priority_and_no_timestamp() {
    let (log, _) = log_of_a_run(Launch::default().journal());
    assert!(!log.is_empty());
    for line in log.lines() {
        let (priority, rest) = strip_priority(line);
        let level = rest.split_whitespace().next().unwrap_or("");
        // Without a timestamp the level comes first.
        assert!(LEVELS.contains(&level), "{line}");
        let expected = match level {
            "ERROR" => 3,
            "WARN" => 4,
            "INFO" => 6,
            _ => 7,
        };
        assert_eq!(priority, expected, "{line}");
    }

    let (log, _) = log_of_a_run(
        Launch::default()
            .journal()
            .config("log_format = \"json\"\n"),
    );
    for line in log.lines() {
        let (_, json) = strip_priority(line);
        let v: Value = sonic_rs::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["time"].is_null() && v["level"].is_str(), "{line}");
    }

    // JOURNAL_STREAM naming another file (stderr was redirected): not the journal.
    let (log, _) = log_of_a_run(Launch::default().env("JOURNAL_STREAM", "1:1"));
    assert!(
        log.lines().all(|l| l.starts_with("20")),
        "timestamps expected when stderr is not the journal:\n{log}"
    );
}

#[test]
fn a_fatal_start_up_error_is_printed_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stderr) = run_to_exit(Launch::default().args(&["--listen", &addr]));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("address in use").count(),
        1,
        "the error once:\n{stderr}"
    );
    assert!(
        stderr.contains(&addr) && stderr.contains("ERROR"),
        "{stderr}"
    );
}

/// Events of `message` the log accounts for: a line each, plus N for "(N more in the last 1s)".
fn accounted(log: &str, message: &str) -> (usize, u64) {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(message)).collect();
    let events = lines
        .iter()
        .map(|line| match line.split_once(" more in the last ") {
            Some((before, _)) => before.rsplit('(').next().unwrap().parse::<u64>().unwrap(),
            None => 1,
        })
        .sum();
    (lines.len(), events)
}

#[test]
fn refused_instances_are_logged_with_their_reason_then_summed_up() {
    let server = Server::start_sha(&["--shards", "1"], None);
    let strangers: Vec<Inst> = (0..30)
        .map(|i| Inst::new("stranger-svc", &format!("s-{i}")).region("XYZ"))
        .collect();
    let (status, v) = server.post_json(REGISTER, &instances_body(&strangers));
    assert_eq!(status, 200);
    assert_eq!(v["failedInstances"].as_array().map(|a| a.len()), Some(30));

    let mut seen = (0, 0);
    let complete = wait_until(Duration::from_secs(10), || {
        seen = accounted(&server.stderr(), "instance refused");
        seen.1 >= 30
    });
    let log = server.stderr();
    assert!(complete, "{seen:?} of 30 refusals accounted for:\n{log}");
    assert_eq!(seen.1, 30, "refusals counted twice:\n{log}");
    assert!(seen.0 <= 6, "{} lines for 30 refusals:\n{log}", seen.0);
    let first = log
        .lines()
        .find(|l| l.contains("instance refused"))
        .unwrap();
    assert!(
        first.contains("regionId is not the same") && first.contains("op=\"register\""),
        "{first}"
    );
}

/// "evicted N instance(s)" lines: how many, and the N summed.
fn evictions(log: &str) -> (usize, u64) {
    let lines: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split_once("evicted ")?.1.split_once(' ')?.0.parse().ok())
        .collect();
    (lines.len(), lines.iter().sum())
}

#[test]
fn expiries_are_summed_up_not_logged_per_instance() {
    let server = Server::start_sha(&["--shards", "2"], Some(&manual_clock_short_ttl()));
    let insts: Vec<Inst> = (0..40)
        .map(|i| Inst::new(&format!("expiring-{}", i % 8), &format!("e-{i}")))
        .collect();
    register(&mut server.client(), &insts);
    server.advance_clock(SHORT_TTL_MS + 2 * EXPIRY_TICK_MS);
    assert!(lookup_ids(&mut server.client(), "expiring-0").is_empty());

    let mut seen = (0, 0);
    let complete = wait_until(Duration::from_secs(10), || {
        seen = evictions(&server.stderr());
        seen.1 >= 40
    });
    assert!(
        complete,
        "{seen:?}: not all 40 expiries logged:\n{}",
        server.stderr()
    );
    assert_eq!(seen.1, 40, "{}", server.stderr());
    // One line per core per second: the expiries of one clock step span at most two seconds.
    assert!(
        seen.0 <= 4,
        "{} lines for 40 expiries:\n{}",
        seen.0,
        server.stderr()
    );
}

/// `isSafe` of the node's self-preservation, from `leases.json`.
fn is_safe(server: &Server, service: &str) -> bool {
    let (status, v) = server.post_json(
        "/api/status/leases.json",
        &format!(r#"{{"serviceIds":["{service}"]}}"#),
    );
    assert_eq!(status, 200);
    v["isSafe"].as_bool().expect("isSafe")
}

#[test]
fn self_preservation_engaging_and_disengaging_is_logged_once_each() {
    let config = "[testing]\nmanual_clock = true\n[lease]\nttl_ms = 5000\n\
         [self_preservation]\nenabled = true\nwindow_ms = 3000\n\
         percentage_threshold = 85\nmax_count_threshold = 20\n";
    let server = Server::start_sha(&["--shards", "1"], Some(config));
    let mut c = server.client();
    let insts: Vec<Inst> = (0..20)
        .map(|i| Inst::new("sp-log", &format!("sp-{i:02}")))
        .collect();
    register(&mut c, &insts);
    // 400 renewals a clock second for 3.5 s, then silence.
    for _ in 0..70 {
        let (st, v) = heartbeat(&mut c, &insts);
        assert_registry_ok(st, &v, "heartbeat");
        server.advance_clock(50);
    }
    let mut engaged = false;
    for _ in 0..4 {
        server.advance_clock(1000);
        if !is_safe(&server, "sp-log") {
            engaged = true;
            break;
        }
    }
    assert!(engaged, "self-preservation did not engage");
    let engaged_line = "self-preservation engaged";
    let found = wait_until(Duration::from_secs(10), || {
        server.stderr().contains(engaged_line)
    });
    assert!(found, "no {engaged_line:?} line:\n{}", server.stderr());

    // Renewals come back (the expired leases are registered again first).
    register(&mut c, &insts);
    let mut recovered = false;
    for _ in 0..200 {
        let (st, v) = heartbeat(&mut c, &insts);
        assert_registry_ok(st, &v, "heartbeat after the partition");
        server.advance_clock(50);
        if is_safe(&server, "sp-log") {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "self-preservation did not disengage");
    let disengaged_line = "self-preservation disengaged";
    let found = wait_until(Duration::from_secs(10), || {
        server.stderr().contains(disengaged_line)
    });
    let log = server.stderr();
    assert!(found, "no {disengaged_line:?} line:\n{log}");
    assert_eq!(log.matches(engaged_line).count(), 1, "{log}");
    assert_eq!(log.matches(disengaged_line).count(), 1, "{log}");
    let line = log.lines().find(|l| l.contains(engaged_line)).unwrap();
    assert!(
        line.contains("leases=\"normal\"") && line.contains("WARN"),
        "{line}"
    );
}
