//! Black-box tests of `artemis load`: the real server binary is started on a free port and the load
//! generator runs against it as a subprocess, with short durations.
//!
//! Set `ARTEMIS_TEST_DRIVER=legacy|uring|auto` to run the servers on one event-loop driver.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use harness::*;

/// A load run's JSON report on stdout.
fn report(out: &Finished) -> Value {
    sonic_rs::from_str(out.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "load output is not JSON ({e}):\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        )
    })
}

/// Runs `artemis load ARGS`, killing it if it runs longer than a minute.
fn load(args: &[&str]) -> Finished {
    let mut all = vec!["load"];
    all.extend_from_slice(args);
    run_artemis(&all, Duration::from_secs(60))
}

/// How long a background load run may take to do what a test waits for: a guard against hangs,
/// not a timing requirement.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// `artemis load ARGS` running in the background, its stderr lines forwarded as they come, so a
/// test can act (send Ctrl-C) once the run has reached a given point.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
    stdout: thread::JoinHandle<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_artemis"))
            .arg("load")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn artemis load");
        let mut out = child.stdout.take().expect("stdout");
        let stdout = thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr: Vec::new(),
            stdout,
        }
    }

    /// Waits for the first stderr line `matches` accepts, and returns it.
    fn wait_for_line(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(HANG_GUARD) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no stderr line {what} ({e:?}); stderr so far:\n{}",
                    self.stderr.join("\n")
                ),
            }
        }
    }

    /// Ctrl-C, as a terminal sends it.
    fn interrupt(&self) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        assert_eq!(rc, 0, "kill(SIGINT)");
    }

    /// Waits for the run to exit (killing it after the hang guard) and returns what it printed.
    fn finish(mut self) -> Finished {
        let mut status = None;
        wait_until(HANG_GUARD, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        let Some(status) = status else {
            let _ = self.child.kill();
            panic!(
                "artemis load still running after {HANG_GUARD:?}; stderr:\n{}",
                self.stderr.join("\n")
            );
        };
        let stdout = self.stdout.join().expect("stdout reader");
        // The process exited, so its stderr is closed: the reader forwards the rest and stops.
        self.stderr.extend(self.lines.iter());
        Finished {
            status,
            stdout,
            stderr: self.stderr.join("\n"),
        }
    }
}

/// The `total N` of a progress line.
fn progress_total(line: &str) -> u64 {
    let (_, rest) = line
        .split_once("total ")
        .unwrap_or_else(|| panic!("no total in {line:?}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(|x| x.as_u64())
        .unwrap_or_else(|| panic!("{key} missing in {v:?}"))
}

#[test]
fn smoke_run_of_every_scenario() {
    let server = Server::start(&[], None);
    let url = server.url();
    // One second per scenario: enough for every check below, and eight scenarios run in a row.
    let common = [
        "--json",
        "--fail-on-error",
        "--duration",
        "1s",
        "--connections",
        "8",
        "--instances",
        "200",
        "--services",
        "10",
    ];
    let raw_target = format!("{url}/api/registry/heartbeat.json");
    let scenarios: Vec<(&str, Vec<&str>, u64)> = vec![
        ("heartbeat", vec!["--target", &url, "--batch", "5"], 5),
        ("register", vec!["--target", &url, "--batch", "3"], 3),
        (
            "lookup",
            vec!["--target", &url, "--instances-per-service", "4"],
            1,
        ),
        ("mixed", vec!["--target", &url], 1),
        ("raw-post", vec!["--target", &raw_target], 1),
        ("ws-heartbeat", vec!["--target", &url, "--batch", "2"], 2),
        // 20 subscribers over 10 services: every registration reaches 2 of them.
        (
            "push",
            vec!["--target", &url, "--subscribers", "20", "--rate", "50"],
            2,
        ),
        ("manage", vec!["--target", &url], 1),
    ];
    for (scenario, extra, batch) in scenarios {
        let mut args = vec!["--scenario", scenario];
        args.extend(extra);
        // Push subscriptions are registered asynchronously; give them a moment before measuring.
        let warmup = if scenario == "push" { "500ms" } else { "0s" };
        args.extend(["--warmup", warmup]);
        args.extend(common);
        let out = load(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}: stdout {} stderr {}",
            out.stdout,
            out.stderr
        );
        let v = report(&out);
        let requests = u64_of(&v, "requests");
        assert!(requests > 0, "{scenario}: no requests: {v:?}");
        assert_eq!(u64_of(&v, "errors"), 0, "{scenario}: {v:?}");
        let ops = u64_of(&v, "instance_operations");
        if scenario == "raw-post" {
            // The body is a one-instance heartbeat, so the server really renewed it.
            assert_eq!(ops, requests, "{v:?}");
        } else {
            assert_eq!(ops, batch * requests, "{scenario}: {v:?}");
        }
        // Push: latency samples and the timeline count pushes received, not registrations.
        let samples = if scenario == "push" { ops } else { requests };
        let latency = v.get("latency_us").expect("latency_us");
        assert_eq!(u64_of(latency, "count"), samples, "{scenario}: {v:?}");
        assert!(
            u64_of(latency, "p50") <= u64_of(latency, "p99")
                && u64_of(latency, "p99") <= u64_of(latency, "max"),
            "{scenario}: {v:?}"
        );
        let rps = v.get("requests_per_s").and_then(|x| x.as_f64()).unwrap();
        assert!((rps - requests as f64).abs() < 1.0, "{v:?}");
        let timeline_requests: u64 = v
            .get("timeline")
            .and_then(|t| t.as_array())
            .expect("timeline")
            .iter()
            .map(|i| u64_of(i, "requests"))
            .sum();
        assert_eq!(timeline_requests, samples, "{scenario}: {v:?}");
        if scenario == "mixed" {
            let by_op = v.get("by_operation").and_then(|b| b.as_object()).unwrap();
            let sum: u64 = by_op.iter().map(|(_, s)| u64_of(s, "requests")).sum();
            assert_eq!(sum, requests, "{v:?}");
            let heartbeats = u64_of(
                v.get("by_operation").unwrap().get("heartbeat").unwrap(),
                "requests",
            );
            assert!(heartbeats * 10 >= requests * 8, "mix ratio: {v:?}");
        }
        if scenario == "push" {
            assert!(v.get("populate").unwrap().is_null(), "{v:?}");
        } else if scenario != "raw-post" {
            let populate = v.get("populate").expect("populate");
            let expected = if scenario == "lookup" { 40 } else { 200 };
            assert_eq!(u64_of(populate, "instances"), expected, "{v:?}");
        }
    }
}

#[test]
fn errors_in_responses_are_counted_by_kind() {
    let server = Server::start_sha(&[], None);
    let out = load(&[
        "--target",
        &server.url(),
        "--scenario",
        "heartbeat",
        "--region",
        "OTHER",
        "--no-populate",
        "--json",
        "--fail-on-error",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--connections",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--fail-on-error: {}",
        out.stderr
    );
    let v = report(&out);
    let requests = u64_of(&v, "requests");
    assert!(requests > 0, "{v:?}");
    assert_eq!(u64_of(&v, "errors"), requests, "{v:?}");
    assert_eq!(u64_of(&v, "instance_operations"), 0, "{v:?}");
    let kinds = v.get("errors_by_kind").expect("errors_by_kind");
    assert_eq!(
        u64_of(kinds, "partial_fail:no-permission"),
        requests,
        "{v:?}"
    );

    // Without --fail-on-error the same run reports the errors and exits 0.
    let out = load(&[
        "--target",
        &server.url(),
        "--region",
        "OTHER",
        "--no-populate",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--connections",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("partial_fail:no-permission"),
        "{}",
        out.stdout
    );
}

#[test]
fn unreachable_target_exits_non_zero() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let out = load(&[
        "--target",
        &format!("http://127.0.0.1:{port}"),
        "--duration",
        "1s",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", out.stdout);
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
    // Bad flags are a usage error, not a run.
    let out = load(&["--scenario", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
}

#[test]
fn open_loop_sends_at_the_requested_rate() {
    let server = Server::start(&[], None);
    let out = load(&[
        "--target",
        &server.url(),
        "--rate",
        "200",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--instances",
        "100",
        "--services",
        "10",
        "--json",
        "--fail-on-error",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v = report(&out);
    let requests = u64_of(&v, "requests");
    assert!((250..=450).contains(&requests), "{v:?}");
    assert_eq!(v.get("mode").and_then(|m| m.as_str()), Some("open"));
    assert!(v.get("send_lag_us").and_then(|l| l.get("p50")).is_some());
}

#[test]
fn wait_empty_sees_expired_instances_go() {
    let server = Server::start(&[], Some(&manual_clock_short_ttl()));
    // --duration 0s only populates.
    let out = load(&[
        "--target",
        &server.url(),
        "--scenario",
        "register",
        "--service-prefix",
        "dead",
        "--instances",
        "60",
        "--services",
        "3",
        "--duration",
        "0s",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v = report(&out);
    assert_eq!(u64_of(v.get("populate").unwrap(), "instances"), 60);
    assert_eq!(u64_of(&v, "requests"), 0);
    let wait_empty = |duration: &str| {
        load(&[
            "--target",
            &server.url(),
            "--scenario",
            "wait-empty",
            "--service-prefix",
            "dead",
            "--services",
            "3",
            "--duration",
            duration,
            "--json",
        ])
    };
    // While the leases live, wait-empty runs out of time.
    let out = wait_empty("100ms");
    assert_eq!(out.status.code(), Some(1), "{} {}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("3 of 3 services still had instances"),
        "{}",
        out.stderr
    );
    // Once they expired, each service is empty at its first poll.
    server.advance_clock(SHORT_TTL_MS + EXPIRY_TICK_MS);
    let out = wait_empty("15s");
    assert_eq!(out.status.code(), Some(0), "{} {}", out.stdout, out.stderr);
    let v = report(&out);
    let wait = v.get("wait").expect("wait");
    assert_eq!(u64_of(wait, "services"), 3, "{v:?}");
    assert_eq!(u64_of(wait, "polls"), 3, "{v:?}");
}

/// The instanceIds `artemis load` gives instances `ids` (sorted, as `lookup_ids` returns them).
fn load_instance_ids(ids: impl Iterator<Item = usize>) -> Vec<String> {
    let mut ids: Vec<String> = ids.map(|i| format!("10.0.0.{}:8080", i + 1)).collect();
    ids.sort();
    ids
}

#[test]
fn manage_pulls_every_instance_out_then_back_in_durably() {
    let server = Server::start_sha(&[], None);
    // One connection: the writes reach the server strictly in the order of the request table
    // (pull-outs of instances 0..50, then their pull-ins, and again), so the number of writes
    // determines which instances end up hidden.
    let out = load(&[
        "--target",
        &server.url(),
        "--scenario",
        "manage",
        "--region",
        REGION,
        "--zone",
        ZONE,
        "--instances",
        "50",
        "--services",
        "5",
        "--connections",
        "1",
        "--threads",
        "1",
        "--rate",
        "300",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--json",
        "--fail-on-error",
    ]);
    assert_eq!(out.status.code(), Some(0), "{} {}", out.stdout, out.stderr);
    let v = report(&out);
    let requests = u64_of(&v, "requests");
    assert!(requests > 0, "{v:?}");
    assert_eq!(u64_of(&v, "instance_operations"), requests, "{v:?}");
    assert_eq!(u64_of(v.get("populate").unwrap(), "instances"), 50, "{v:?}");

    // Every write left its log row; the last one may have finished after the measured second.
    let (status, logs) = server.post_json(
        "/api/management/log/instance-operation-logs.json",
        r#"{"operatorId":"artemis-load"}"#,
    );
    assert_eq!(status, 200, "{logs:?}");
    let rows = logs["logs"].as_array().expect("log rows");
    let writes = rows.len() as u64;
    assert!(
        (requests..=requests + 1).contains(&writes),
        "{writes} log rows for {requests} measured writes"
    );
    let pull_ins = rows
        .iter()
        .filter(|row| row["complete"].as_bool() == Some(true))
        .count() as u64;
    assert_eq!(
        pull_ins,
        (0..writes).filter(|j| j % 100 >= 50).count() as u64
    );

    // Where the walk stopped: instances pulled out in this round and not yet back in.
    let p = (writes % 100) as usize;
    let hidden = if p <= 50 { 0..p } else { p - 50..50 };
    let mut client = server.client();
    for service in 0..5 {
        let visible = (0..50).filter(|i| i % 5 == service && !hidden.contains(i));
        assert_eq!(
            lookup_ids(&mut client, &format!("svc-{service:05}")),
            load_instance_ids(visible),
            "service {service} after {writes} writes"
        );
    }
}

#[test]
fn pulled_out_instances_stay_hidden_under_lookups_and_heartbeats() {
    let server = Server::start_sha(&[], None);
    let url = server.url();
    // 4 services x 5 instances; the last 12 (instances 8..20) are pulled out, so each service
    // keeps 2 visible.
    let run = |scenario: &[&str]| {
        let mut args = vec![
            "--target",
            &url,
            "--region",
            REGION,
            "--zone",
            ZONE,
            "--services",
            "4",
            "--instances",
            "20",
            "--pulled-out",
            "12",
            "--connections",
            "4",
            "--duration",
            "300ms",
            "--warmup",
            "0s",
            "--json",
            "--fail-on-error",
        ];
        args.extend_from_slice(scenario);
        let out = load(&args);
        assert_eq!(out.status.code(), Some(0), "{} {}", out.stdout, out.stderr);
        let v = report(&out);
        assert!(u64_of(&v, "requests") > 0, "{v:?}");
        assert_eq!(u64_of(&v, "errors"), 0, "{v:?}");
        let pulled_out = v.get("pulled_out").expect("pulled_out");
        assert_eq!(u64_of(pulled_out, "instances"), 12, "{v:?}");
        assert_eq!(u64_of(pulled_out, "services_confirmed"), 4, "{v:?}");
    };
    let assert_hidden = |when: &str| {
        let mut client = server.client();
        for service in 0..4 {
            let visible = (0..8).filter(|i| i % 4 == service);
            assert_eq!(
                lookup_ids(&mut client, &format!("svc-{service:05}")),
                load_instance_ids(visible),
                "service {service} {when}"
            );
        }
    };
    // Every lookup answer is checked to hold an instance.
    run(&["--scenario", "lookup", "--instances-per-service", "5"]);
    assert_hidden("after the lookups");
    // Heartbeats of pulled-out instances succeed, and renewing them does not show them.
    run(&["--scenario", "heartbeat"]);
    assert_hidden("after the heartbeats");

    // Refused before any request: too many to keep one per service, or no population to pull
    // out of.
    let refused = |extra: &[&str], message: &str| {
        let mut args = vec!["--target", &url, "--services", "4", "--instances", "20"];
        args.extend_from_slice(extra);
        let out = load(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{extra:?}: {}", out.stderr);
    };
    refused(&["--pulled-out", "17"], "at most 16 of 20 instances");
    refused(
        &["--pulled-out", "1", "--no-populate"],
        "--pulled-out: only for",
    );
    refused(
        &["--pulled-out", "1", "--scenario", "manage"],
        "--pulled-out: only for",
    );
}

/// The sorted instanceIds of each of the first `services` services `artemis load` names.
fn registered_ids(server: &Server, services: usize) -> Vec<Vec<String>> {
    let mut client = server.client();
    (0..services)
        .map(|s| lookup_ids(&mut client, &format!("svc-{s:05}")))
        .collect()
}

#[test]
fn ctrl_c_prints_the_results_so_far_and_still_cleans_up() {
    let server = Server::start_sha(&[], None);
    let url = server.url();
    let mut run = Running::start(&[
        "--target",
        &url,
        "--region",
        REGION,
        "--zone",
        ZONE,
        "--instances",
        "40",
        "--services",
        "4",
        "--connections",
        "2",
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--json",
        "--cleanup",
    ]);
    let line = run.wait_for_line("of a measured second with requests", |l| {
        l.contains("] measure") && progress_total(l) > 0
    });
    let counted_before = progress_total(&line);
    run.interrupt();
    let out = run.finish();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout {} stderr {}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    let v = report(&out);
    assert_eq!(
        v.get("interrupted").and_then(|i| i.as_str()),
        Some("measuring"),
        "{v:?}"
    );
    let requests = u64_of(&v, "requests");
    assert!(
        requests >= counted_before,
        "{requests} < {counted_before}: {v:?}"
    );
    assert_eq!(u64_of(&v, "errors"), 0, "{v:?}");
    // The rate is over the time measured before Ctrl-C, not the planned minute.
    let measured_s = v.get("measured_s").and_then(|m| m.as_f64()).unwrap();
    assert!((1.0..60.0).contains(&measured_s), "{v:?}");
    let rps = v.get("requests_per_s").and_then(|r| r.as_f64()).unwrap();
    let implied = rps * measured_s;
    assert!(
        (implied - requests as f64).abs() <= requests as f64 * 0.01,
        "{v:?}"
    );
    let timeline: u64 = v
        .get("timeline")
        .and_then(|t| t.as_array())
        .expect("timeline")
        .iter()
        .map(|i| u64_of(i, "requests"))
        .sum();
    assert_eq!(timeline, requests, "{v:?}");
    // Cleanup ran after Ctrl-C: nothing the run populated is left.
    assert_eq!(
        u64_of(v.get("cleanup").unwrap(), "unregistered"),
        40,
        "{v:?}"
    );
    assert!(
        registered_ids(&server, 4).iter().all(Vec::is_empty),
        "{:?}",
        registered_ids(&server, 4)
    );
}

/// A listener that accepts connections (in the kernel's backlog) and never answers.
fn silent_target() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

#[test]
fn ctrl_c_while_populating_reports_how_far_it_got() {
    let (_listener, url) = silent_target();
    let mut run = Running::start(&[
        "--target",
        &url,
        "--instances",
        "10",
        "--services",
        "2",
        "--timeout",
        "120s",
        "--json",
    ]);
    run.wait_for_line("announcing the population", |l| l.contains("populating"));
    run.interrupt();
    let out = run.finish();
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    let v = report(&out);
    assert_eq!(
        v.get("interrupted").and_then(|i| i.as_str()),
        Some("populating"),
        "{v:?}"
    );
    let populate = v.get("populate").expect("populate");
    assert_eq!(u64_of(populate, "instances"), 0, "{v:?}");
    assert_eq!(
        populate.get("complete").and_then(|c| c.as_bool()),
        Some(false)
    );
    assert_eq!(u64_of(&v, "requests"), 0, "{v:?}");
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    // Against a target that never answers, the first Ctrl-C stops populating and cleanup then
    // waits for its unregister (the first Ctrl-C does not stop cleanup): only a second Ctrl-C
    // ends the process before the two-minute request timeout.
    let (_listener, url) = silent_target();
    let mut run = Running::start(&[
        "--target",
        &url,
        "--instances",
        "10",
        "--services",
        "2",
        "--timeout",
        "120s",
        "--json",
        "--cleanup",
    ]);
    run.wait_for_line("announcing the population", |l| l.contains("populating"));
    run.interrupt();
    run.wait_for_line("starting cleanup", |l| l.contains("cleanup: unregistering"));
    run.interrupt();
    let out = run.finish();
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    assert_eq!(out.stdout, "", "no report after the second Ctrl-C");
}

#[test]
fn cleanup_removes_the_population_and_what_it_pulled_out() {
    let server = Server::start_sha(&[], None);
    let url = server.url();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--target",
            &url,
            "--region",
            REGION,
            "--zone",
            ZONE,
            "--connections",
            "2",
            "--duration",
            "300ms",
            "--warmup",
            "0s",
            "--json",
            "--fail-on-error",
            "--cleanup",
        ];
        args.extend_from_slice(extra);
        let out = load(&args);
        assert_eq!(out.status.code(), Some(0), "{} {}", out.stdout, out.stderr);
        report(&out)
    };
    // 12 instances over 3 services, the last 6 pulled out (durably) before measuring.
    let v = run(&["--instances", "12", "--services", "3", "--pulled-out", "6"]);
    assert!(u64_of(&v, "requests") > 0, "{v:?}");
    assert_eq!(u64_of(v.get("pulled_out").unwrap(), "instances"), 6);
    let cleanup = v.get("cleanup").expect("cleanup");
    assert_eq!(u64_of(cleanup, "unregistered"), 12, "{v:?}");
    assert_eq!(u64_of(cleanup, "pulled_in"), 6, "{v:?}");
    assert!(registered_ids(&server, 3).iter().all(Vec::is_empty));
    let mut client = server.client();
    assert_eq!(all_instance_operations(&mut client, Some(REGION)), vec![]);

    // The manage scenario stops with some of its instances pulled out; cleanup pulls in all.
    let v = run(&[
        "--scenario",
        "manage",
        "--instances",
        "10",
        "--services",
        "2",
        "--rate",
        "100",
    ]);
    assert!(u64_of(&v, "requests") > 0, "{v:?}");
    assert_eq!(u64_of(v.get("cleanup").unwrap(), "pulled_in"), 10, "{v:?}");
    assert!(registered_ids(&server, 2).iter().all(Vec::is_empty));
    assert_eq!(all_instance_operations(&mut client, Some(REGION)), vec![]);

    // Nothing to clean up after a reference-server run: refused before any request.
    let out = load(&["--target", &url, "--scenario", "raw-post", "--cleanup"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--cleanup"), "{}", out.stderr);
}

/// The end column (in characters) of each of the last `n` whitespace-separated words of `line`.
fn word_ends(line: &str, n: usize) -> Vec<usize> {
    let chars: Vec<char> = line.chars().collect();
    let mut ends: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            !chars[i].is_whitespace() && chars.get(i + 1).is_none_or(|c| c.is_whitespace())
        })
        .map(|i| i + 1)
        .collect();
    ends.drain(..ends.len() - n);
    ends
}

#[test]
fn the_table_says_one_connection_and_aligns_its_latency_columns() {
    let server = Server::start(&[], None);
    let url = server.url();
    let table = |extra: &[&str]| {
        let mut args = vec![
            "--target",
            &url,
            "--duration",
            "300ms",
            "--instances",
            "1",
            "--services",
            "1",
        ];
        args.extend_from_slice(extra);
        let out = load(&args);
        assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
        out.stdout
    };
    let one = table(&["--connections", "1", "--threads", "1", "--warmup", "0s"]);
    for expected in [
        "closed loop, 1 connection on 1 thread, batch 1, no warm-up, measured 300 ms\n",
        "populated 1 instance over 1 service in ",
        " (1 request, untimed)\n",
    ] {
        assert!(one.contains(expected), "{expected:?} in:\n{one}");
    }
    let two = table(&["--connections", "2", "--threads", "2", "--warmup", "200ms"]);
    assert!(
        two.contains("closed loop, 2 connections on 2 threads, batch 1, warm-up 200 ms,"),
        "{two}"
    );

    // Each column title ends where its figures end.
    let line = |prefix: &str| {
        one.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{one}"))
    };
    let header = line("  latency (µs)");
    assert_eq!(
        word_ends(header, 5),
        word_ends(line("  all "), 5),
        "\n{one}"
    );
}

#[test]
fn progress_lines_label_the_warm_up_and_count_only_measured_requests() {
    let server = Server::start(&[], None);
    let out = load(&[
        "--target",
        &server.url(),
        "--warmup",
        "1s",
        "--duration",
        "1s",
        "--connections",
        "2",
        "--instances",
        "20",
        "--services",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v = report(&out);
    let progress: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with('[')).collect();
    // The first second is the warm-up's, whenever its line is printed.
    let first = progress.first().expect("progress lines");
    assert!(
        first.contains("] warm-up") && first.contains("not counted"),
        "{progress:?}"
    );
    let last_measured = progress
        .iter()
        .rev()
        .find(|l| l.contains("] measure"))
        .unwrap_or_else(|| panic!("no measured second: {progress:?}"));
    let total = progress_total(last_measured);
    // The warm-up's requests are not in the total (it was twice the report's before).
    assert!(
        total > 0 && total <= u64_of(&v, "requests"),
        "{progress:?} {v:?}"
    );
}

#[test]
fn help_names_the_default_scenario_and_what_ctrl_c_does() {
    let out = load(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    for expected in ["(default heartbeat)", "--cleanup", "Ctrl-C", "130"] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn lookups_asking_for_gzip_get_gzip_answers_that_check_out() {
    let server = Server::start(&["--shards", "2"], None);
    let out = load(&[
        "--target",
        &server.url(),
        "--scenario",
        "lookup",
        "--accept-gzip",
        // 40 instances: a cached view large enough to be shared, so compressed.
        "--instances-per-service",
        "40",
        "--services",
        "4",
        "--json",
        "--fail-on-error",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--connections",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v = report(&out);
    assert!(u64_of(&v, "requests") > 100, "{v:?}");
    assert_eq!(u64_of(&v, "errors"), 0, "{v:?}");
    // The server did answer with gzip (so the sampled inflating ran): ask as the generator does.
    let mut client = server.client();
    let body = lookup_body_from("default", "default", &["svc-00001"]);
    let headers = [("Accept-Encoding", "gzip")];
    let mut encodings = Vec::new();
    for _ in 0..2 {
        let r = client.request("POST", LOOKUP, &headers, body.as_bytes());
        encodings.push(r.header("content-encoding").map(str::to_string));
    }
    assert!(encodings.contains(&Some("gzip".into())), "{encodings:?}");
}

#[test]
fn a_gzip_answer_that_does_not_inflate_is_an_error() {
    // Answers every request with a gzip header and a body that is not a gzip member.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_bad_gzip(stream));
        }
    });
    let out = load(&[
        "--target",
        &url,
        "--scenario",
        "lookup",
        "--accept-gzip",
        "--no-populate",
        "--json",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--connections",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v = report(&out);
    let requests = u64_of(&v, "requests");
    assert!(requests > 0, "{v:?}");
    // The first answer is inflated and fails; the others, the same bytes, get its verdict.
    let kinds = v.get("errors_by_kind").expect("errors_by_kind");
    assert_eq!(u64_of(kinds, "gzip"), requests, "{v:?}");
}

fn answer_bad_gzip(mut stream: std::net::TcpStream) {
    use std::io::Write;
    let body = b"not gzip at all, not even close";
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut request_body = vec![0; length];
        if reader.read_exact(&mut request_body).is_err() {
            return;
        }
        let mut out = answer.clone().into_bytes();
        out.extend_from_slice(body);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}
