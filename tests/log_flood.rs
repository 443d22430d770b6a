//! Warnings clients can trigger in bulk are rate-limited: a flood is logged as its first events in
//! full, then one line per second per core with the count of the rest ("... (N more in the last
//! 1s)"), and every event is either logged or counted.

use std::time::{Duration, Instant};

use harness::*;

const LIMIT_REACHED: &str = "connection limit reached; closing new connection";
const BAD_REQUEST: &str = "bad request";

/// The lines of `log` that mention `message`, and how many events they account for: one for an
/// event's own line, N for a summary line "(N more in the last 1s)".
fn lines_and_events(log: &str, message: &str) -> (usize, u64) {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(message)).collect();
    let events = lines
        .iter()
        .map(|line| match line.split_once(" more in the last ") {
            Some((before, _)) => before
                .rsplit('(')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no count in summary line {line:?}")),
            None => 1,
        })
        .sum();
    (lines.len(), events)
}

/// Waits until the server's log accounts for `expected` events of `message` (summaries come at
/// the end of each second), then returns its line count.
fn wait_for_account(server: &Server, message: &str, expected: u64) -> usize {
    let mut seen = (0, 0);
    let complete = wait_until(Duration::from_secs(10), || {
        seen = lines_and_events(&server.stderr(), message);
        seen.1 >= expected
    });
    assert!(
        complete,
        "the log accounts for {} of {expected} {message:?} events; stderr:\n{}",
        seen.1,
        server.stderr()
    );
    assert_eq!(seen.1, expected, "events of {message:?} counted twice");
    seen.0
}

#[test]
fn refusals_over_max_connections_are_summed_up_not_logged_one_by_one() {
    const REFUSALS: u64 = 500;
    // One core: its one limiter sees the whole flood.
    let server = Server::start(&["--shards", "1"], Some("[limits]\nmax_connections = 4\n"));
    let mut held: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for c in held.iter_mut() {
        assert_eq!(c.get("/health").0, 200);
    }
    let started = Instant::now();
    for n in 0..REFUSALS {
        let mut c = server.client();
        assert!(
            c.closed_within(SOON),
            "connection {n} over the limit was not closed"
        );
    }
    let flood = started.elapsed();

    let lines = wait_for_account(&server, LIMIT_REACHED, REFUSALS);
    // One line in full, then one summary per second the flood touched, and one after it.
    let bound = 2 + flood.as_secs() as usize + 1;
    assert!(
        lines <= bound,
        "{lines} log lines for {REFUSALS} refusals in {flood:?} (at most {bound} expected)"
    );
    assert!(
        server.stderr().contains(" more in the last 1s)"),
        "no summary line with the count"
    );
    for c in held.iter_mut() {
        assert_eq!(c.get("/health").0, 200, "held connections are still served");
    }
}

#[test]
fn a_flood_of_bad_requests_logs_twenty_in_full_and_counts_the_rest() {
    const BAD: u64 = 300;
    let server = Server::start(&["--shards", "1"], None);
    let started = Instant::now();
    for n in 0..BAD {
        let mut c = server.client();
        c.write_raw(b"BROKEN\r\n\r\n").unwrap();
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("bad request {n}: {e}"));
        assert_eq!(r.status, 400);
    }
    let flood = started.elapsed();
    let lines = wait_for_account(&server, BAD_REQUEST, BAD);
    let bound = 20 + flood.as_secs() as usize + 2;
    assert!(
        lines <= bound,
        "{lines} log lines for {BAD} bad requests in {flood:?} (at most {bound} expected)"
    );
}
