//! The WebSocket push channels (spec §7): instance-change subscriptions (`new` / `change` /
//! `delete`), all-instance-change, fan-out across cores, many subscribers at once, and slow
//! subscribers.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use harness::*;

#[test]
fn subscriber_sees_new_change_and_delete() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let mut sub = subscriber(&server, "chg-svc");

    let a = Inst::new("chg-svc", "a");
    register(&mut c, std::slice::from_ref(&a));
    expect_change(&mut sub, "new", &a, "register a");

    // Identical re-registration: nothing. Different data: `change` with the new data. The change
    // being the next message proves the identical one pushed nothing.
    register(&mut c, std::slice::from_ref(&a));
    let a2 = Inst::new("chg-svc", "a")
        .port(9090)
        .metadata(&[("rev", "2")]);
    register(&mut c, std::slice::from_ref(&a2));
    expect_change(&mut sub, "change", &a2, "re-register with new data");

    let b = Inst::new("chg-svc", "b");
    register(&mut c, std::slice::from_ref(&b));
    expect_change(&mut sub, "new", &b, "register b");

    // Unregister: `delete` at once, carrying the stored data.
    unregister(&mut c, std::slice::from_ref(&a));
    expect_change(&mut sub, "delete", &a2, "unregister a");
    // Unregistering it again changes nothing; then b's delete is next.
    unregister(&mut c, std::slice::from_ref(&a));
    unregister(&mut c, std::slice::from_ref(&b));
    expect_change(&mut sub, "delete", &b, "unregister b");

    // Another service's changes don't reach this session; unparsable or id-less subscription
    // messages are ignored and the session stays usable.
    send_text(&mut sub, "not a config");
    send_text(&mut sub, r#"{"serviceId":null}"#);
    send_text(&mut sub, r#"{"serviceId":"  "}"#);
    sync(&mut sub, "after ignored messages");
    register(&mut c, &[Inst::new("other-svc", "o")]);
    expect_silence(&mut sub, Duration::from_millis(300), "other service");
}

#[test]
fn subscriptions_are_case_insensitive_and_deduplicated() {
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();
    let mut upper = ws_connect(&server, IC);
    subscribe(&mut upper, "MYSVC");
    subscribe(&mut upper, "mysvc"); // same service: one subscription, one push per change
    sync(&mut upper, "subscribe MYSVC");
    let mut mixed = subscriber(&server, "mYsVc");

    let inst = Inst::new("MySvc", "x-1");
    register(&mut c, std::slice::from_ref(&inst));
    for (ws, name) in [(&mut upper, "MYSVC"), (&mut mixed, "mYsVc")] {
        let v = next_change(ws, name);
        assert_change(&v, "new", &inst, name);
        assert_eq!(
            v["instance"]["serviceId"].as_str(),
            Some("MySvc"),
            "pushes echo the registered spelling"
        );
    }
    // A prefix-sharing service is another service; the next push is the unregister.
    register(&mut c, &[Inst::new("MySvc2", "y")]);
    unregister(&mut c, &[Inst::new("mysvc", "X-1")]);
    for (ws, name) in [(&mut upper, "MYSVC"), (&mut mixed, "mYsVc")] {
        expect_change(ws, "delete", &inst, name);
        expect_silence(
            ws,
            Duration::from_millis(200),
            "exactly one push per change",
        );
    }
}

#[test]
fn all_instance_change_sees_every_service() {
    let server = Server::start_sha(&["--shards", "3"], None);
    let mut c = server.client();
    let mut all = ws_connect(&server, AIC);
    // Inbound text on this channel is ignored.
    send_text(&mut all, &subscribe_msg("whatever"));
    sync(&mut all, "all-instance-change");
    let mut all2 = ws_connect(&server, AIC);
    sync(&mut all2, "second all-instance-change");

    let insts: Vec<Inst> = (0..6)
        .map(|i| Inst::new(&format!("all-svc-{i}"), &format!("i-{i}")))
        .collect();
    register(&mut c, &insts[..4]);
    register(&mut c, &insts[4..]);
    unregister(&mut c, &insts[1..3]);

    let mut want: Vec<(String, String)> = insts
        .iter()
        .map(|i| ("new".to_string(), i.instance_id.clone().unwrap()))
        .chain(
            insts[1..3]
                .iter()
                .map(|i| ("delete".to_string(), i.instance_id.clone().unwrap())),
        )
        .collect();
    want.sort();
    for (ws, name) in [(&mut all, "all 1"), (&mut all2, "all 2")] {
        let mut got = Vec::new();
        for n in 0..want.len() {
            let v = next_change(ws, &format!("{name} change {n}"));
            let id = v["instance"]["instanceId"].as_str().unwrap().to_string();
            let inst = insts
                .iter()
                .find(|i| i.instance_id.as_deref() == Some(id.as_str()))
                .unwrap();
            assert_instance_eq(&v["instance"], inst, name);
            got.push((v["changeType"].as_str().unwrap().to_string(), id));
        }
        got.sort();
        assert_eq!(got, want, "{name}");
        expect_silence(ws, Duration::from_millis(200), name);
    }
    // Changes before a session existed are not replayed to it.
    let mut late = ws_connect(&server, AIC);
    sync(&mut late, "late all-instance-change");
    expect_silence(&mut late, Duration::from_millis(200), "late session");
}

#[test]
fn subscribers_on_other_cores_get_every_change() {
    let server = Server::start_sha(&["--shards", "4"], None);
    let services: Vec<String> = (0..20).map(|i| format!("core-svc-{i}")).collect();
    // Eight sessions (spread over the four cores by the accept distribution), each subscribed
    // to all twenty services (spread over the four shards): most pairs cross cores.
    let mut sessions: Vec<Ws> = (0..8).map(|_| ws_connect(&server, IC)).collect();
    for ws in sessions.iter_mut() {
        for s in &services {
            subscribe(ws, s);
        }
    }
    for (n, ws) in sessions.iter_mut().enumerate() {
        sync(ws, &format!("session {n}"));
    }
    // Registrations and unregistrations arrive over several HTTP connections (several cores).
    let insts: Vec<Inst> = services
        .iter()
        .map(|s| Inst::new(s, &format!("{s}-i")))
        .collect();
    let mut clients: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for (k, inst) in insts.iter().enumerate() {
        register(&mut clients[k % 4], std::slice::from_ref(inst));
    }
    for (k, inst) in insts.iter().enumerate() {
        unregister(&mut clients[(k + 1) % 4], std::slice::from_ref(inst));
    }
    for (n, ws) in sessions.iter_mut().enumerate() {
        let mut seen: Vec<(String, String)> = Vec::new();
        for m in 0..40 {
            let v = next_change(ws, &format!("session {n} message {m}"));
            seen.push((
                v["changeType"].as_str().unwrap().to_string(),
                v["instance"]["serviceId"].as_str().unwrap().to_string(),
            ));
        }
        for s in &services {
            let new_at = seen.iter().position(|(k, id)| k == "new" && id == s);
            let del_at = seen.iter().position(|(k, id)| k == "delete" && id == s);
            match (new_at, del_at) {
                (Some(a), Some(b)) => assert!(
                    a < b,
                    "session {n}: {s}: delete before new (per-service order): {seen:?}"
                ),
                _ => panic!("session {n}: {s}: missing new or delete: {seen:?}"),
            }
        }
        expect_silence(ws, Duration::from_millis(100), "after 40 changes");
    }
}

/// The many-subscribers test wants this many subscribers, and runs with no fewer than
/// [`MIN_SUBSCRIBERS`] when the fd limit has no room for all of them.
const WANTED_SUBSCRIBERS: usize = 1000;
const MIN_SUBSCRIBERS: usize = 300;
/// Descriptors kept back, in this process and in the server, for all but the subscriber sockets
/// (the other tests of this binary run in parallel; the server has listeners, rings and logs).
const FD_RESERVE: usize = 256;
/// Threads opening and reading the subscribers.
const WORKERS: usize = 4;

fn fan_out_svc(i: usize) -> String {
    format!("fan-out-svc-{}", i % 10)
}

/// Opens subscribers `ids` (each on `fan_out_svc(i)`), makes sure they are all subscribed, says
/// so on `ready`, waits for `go`, then reads one change from each. Returns the failures.
fn subscriber_worker(
    addr: SocketAddr,
    ids: std::ops::Range<usize>,
    ready: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
) -> Vec<String> {
    let mut socks: Vec<(usize, Ws)> = Vec::with_capacity(ids.len());
    for i in ids {
        let mut ws = ws_at(addr, IC);
        subscribe(&mut ws, &fan_out_svc(i));
        send_ping(
            &mut ws,
            format!("s{i}").as_bytes(),
            &format!("subscriber {i}"),
        );
        socks.push((i, ws));
    }
    // Each pong proves that subscriber's subscription is in effect (see `sync`).
    for (i, ws) in socks.iter_mut() {
        await_pong(ws, format!("s{i}").as_bytes(), &format!("subscriber {i}"));
    }
    ready.send(()).unwrap();
    if go.recv_timeout(Duration::from_secs(120)).is_err() {
        return vec!["never told to read".into()];
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut failures = Vec::new();
    for (i, ws) in socks.iter_mut() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let ctx = format!("subscriber {i}");
        match next_event(ws, left, &ctx) {
            Got::Text(t) => {
                let v = parse_change(&t, &ctx);
                let svc = v["instance"]["serviceId"].as_str().unwrap_or("");
                if v["changeType"].as_str() != Some("new") || svc != fan_out_svc(*i) {
                    failures.push(format!("{ctx}: wrong change {t}"));
                }
            }
            other => failures.push(format!("{ctx}: {other:?}")),
        }
    }
    failures
}

#[test]
fn many_subscribers_each_receive_the_change() {
    // Every subscriber holds one descriptor here and one in the server, which inherits this
    // process's limit: the test is sized to the limit rather than skipped.
    let limit = usize::try_from(raise_fd_limit()).unwrap_or(usize::MAX);
    let fit = limit.saturating_sub(FD_RESERVE).min(WANTED_SUBSCRIBERS);
    let n = fit - fit % WORKERS;
    assert!(
        n >= MIN_SUBSCRIBERS,
        "RLIMIT_NOFILE {limit} leaves room for {n} subscribers; this test needs at least \
         {MIN_SUBSCRIBERS} (raise the hard limit)"
    );
    eprintln!("{n} subscribers (RLIMIT_NOFILE {limit})");
    let server = Server::start_sha(&["--shards", "2"], None);
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut gos = Vec::new();
    let mut handles = Vec::new();
    let per = n / WORKERS;
    for t in 0..WORKERS {
        let (go_tx, go_rx) = mpsc::channel();
        gos.push(go_tx);
        let ready = ready_tx.clone();
        let addr = server.addr;
        handles.push(thread::spawn(move || {
            subscriber_worker(addr, t * per..(t + 1) * per, ready, go_rx)
        }));
    }
    drop(ready_tx);
    let setup = Instant::now();
    let mut ready = 0;
    while ready < WORKERS {
        match ready_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => ready += 1,
            Err(_) => {
                if let Some(k) = handles.iter().position(|h| h.is_finished()) {
                    let h = handles.swap_remove(k);
                    match h.join() {
                        Err(p) => std::panic::resume_unwind(p),
                        Ok(f) => panic!("worker ended early: {f:?}"),
                    }
                }
                assert!(
                    setup.elapsed() < Duration::from_secs(120),
                    "{n} subscribers not set up in 120 s"
                );
            }
        }
    }
    let insts: Vec<Inst> = (0..10)
        .map(|s| Inst::new(&fan_out_svc(s), "only"))
        .collect();
    let mut c = server.client();
    register(&mut c, &insts);
    for g in &gos {
        g.send(()).unwrap();
    }
    let mut failures = Vec::new();
    for h in handles {
        match h.join() {
            Ok(f) => failures.extend(f),
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} subscribers failed; first: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_ws_healthy(&server, &format!("after {n} subscribers left"));
}

#[test]
fn slow_subscriber_is_closed_and_others_keep_their_changes() {
    let server = Server::start_sha(&[], Some("[ws]\nmax_queued_messages = 4\n"));
    let mut c = server.client();
    let mut slow = subscriber(&server, "flood-svc");
    let mut healthy = subscriber(&server, "calm-svc");

    // ~14 MB of changes for a subscriber that never reads: its socket buffers fill, its queue
    // overflows and the server must drop it rather than buffer without bound.
    const FLOOD: usize = 300;
    let big = "z".repeat(48 * 1024);
    let t0 = Instant::now();
    for i in 0..FLOOD {
        let inst = Inst::new("flood-svc", &format!("f-{i}")).metadata(&[("blob", &big)]);
        register(&mut c, &[inst]);
    }
    let flood_time = t0.elapsed();

    // The server keeps serving: other subscribers get their changes, lookups and fresh sessions
    // work.
    let calm = Inst::new("calm-svc", "c");
    register(&mut c, std::slice::from_ref(&calm));
    expect_change(&mut healthy, "new", &calm, "calm-svc");
    assert_eq!(
        arr_len(
            &lookup_one(&mut c, "flood-svc")["instances"],
            "flood instances"
        ),
        FLOOD
    );
    assert_ws_healthy(&server, "during a slow subscriber");

    // Now read what the slow one got: it must end (close 1013, or dropped) well before all
    // 300 changes could have been delivered.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut texts = 0usize;
    let end = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(&mut slow, left, "slow subscriber") {
            Got::Text(_) => texts += 1,
            Got::Timeout => panic!(
                "slow subscriber still open after reading {texts} messages (flood took {flood_time:?})"
            ),
            other => break other,
        }
    };
    eprintln!("slow subscriber: {texts} of {FLOOD} changes, then {end:?}");
    match end {
        Got::Close(code) => assert_eq!(code, Some(1013), "slow subscriber close code"),
        Got::Dropped(why) => eprintln!("slow subscriber dropped: {why}"),
        _ => unreachable!(),
    }
    assert!(
        texts < FLOOD,
        "slow subscriber got all {texts} changes: the queue limit never applied"
    );
    // Still serving afterwards, including a new subscriber of the flooded service.
    let mut again = subscriber(&server, "flood-svc");
    unregister(&mut c, &[Inst::new("flood-svc", "f-0")]);
    let v = next_change(&mut again, "after the flood");
    assert_eq!(v["changeType"].as_str(), Some("delete"));
    assert_eq!(v["instance"]["instanceId"].as_str(), Some("f-0"));
}
