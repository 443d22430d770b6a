//! Push limits (issue 8): a subscriber that keeps up is never dropped for a batch the server
//! accepted, one that does not read is, the push queues of a core are bounded together, and ids
//! and subscriptions have bounded sizes.

use std::thread;
use std::time::Duration;

use harness::*;

#[test]
fn a_prompt_subscriber_survives_the_largest_register_batch() {
    // Default limits: the request limit allows 10,000 instances, every one a change.
    let server = Server::start_sha(&["--shards", "2"], None);
    let batch = 10_000;
    let mut sub = subscriber(&server, "big-batch-svc");
    let want: Vec<String> = (0..batch).map(|i| format!("b-{i}")).collect();
    let insts: Vec<Inst> = want
        .iter()
        .map(|id| Inst::new("big-batch-svc", id))
        .collect();
    let reader = thread::spawn(move || {
        let read = read_news(
            &mut sub,
            &want,
            Duration::from_secs(60),
            "prompt subscriber",
        );
        (sub, read)
    });
    let mut c = server.client();
    register(&mut c, &insts);
    let (mut sub, read) = reader.join().expect("reader");
    read.unwrap();
    sync(
        &mut sub,
        "the subscriber is still open after 10,000 changes",
    );
    // The same batch the other way: 10,000 deletes.
    unregister(&mut c, &insts);
    for n in 0..batch {
        let text = next_text(&mut sub, "deletes");
        assert!(
            text.contains(r#""changeType":"delete""#),
            "change {n}: {text:.200}"
        );
    }
    sync(&mut sub, "still open after 10,000 deletes");
}

/// Registers round `round` of `service`: `per_round` instances, each with `bytes` of metadata
/// (about `per_round * bytes` per request).
fn register_heavy(c: &mut Client, service: &str, round: usize, per_round: usize, bytes: usize) {
    let blob = "h".repeat(bytes);
    let insts: Vec<Inst> = (0..per_round)
        .map(|i| {
            let id = format!("{service}-{round}-{i}");
            Inst::new(service, &id).metadata(&[("blob", &blob)])
        })
        .collect();
    register(c, &insts);
}

/// Reads what a session got until its close; returns (texts, close code).
fn read_to_close(ws: &mut Ws, ctx: &str) -> (usize, Option<u16>) {
    let mut texts = 0;
    loop {
        match next_event(ws, Duration::from_secs(15), ctx) {
            Got::Text(_) => texts += 1,
            Got::Close(code) => return (texts, code),
            other => panic!("{ctx}: after {texts} messages: {other:?}"),
        }
    }
}

#[test]
fn a_subscriber_that_does_not_read_is_closed_with_1013() {
    let server = Server::start_sha(&[], Some("[ws]\nmax_queued_bytes = 65536\n"));
    let mut c = server.client();
    let mut idle = subscriber(&server, "unread-svc");
    // ~24 MB: more than the socket buffers between server and client hold, so the rest waits in
    // the session's queue, which passes its 64 KiB as soon as two batches wait there.
    const ROUNDS: usize = 30;
    const PER_ROUND: usize = 100;
    for round in 0..ROUNDS {
        register_heavy(&mut c, "unread-svc", round, PER_ROUND, 8 * 1024);
    }
    let (texts, code) = read_to_close(&mut idle, "non-reading subscriber");
    eprintln!(
        "non-reading subscriber: {texts} of {} changes, then close {code:?}",
        ROUNDS * PER_ROUND
    );
    assert_eq!(code, Some(1013), "close code of a subscriber too slow");
    assert!(texts < ROUNDS * PER_ROUND, "the queue limit never applied");
    expect_tcp_closed(&mut idle, "non-reading subscriber");
    // The metrics say what was dropped: one session, and the batches it had not been sent.
    let metrics = server.client().request("GET", "/metrics", &[], b"").text();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert_eq!(value("artemis_websocket_sessions_dropped_total"), 1.0);
    assert!(value("artemis_push_batches_dropped_total") >= 1.0);
    // A new subscriber of the same service gets the next change.
    let mut again = subscriber(&server, "unread-svc");
    let inst = Inst::new("unread-svc", "after");
    register(&mut c, std::slice::from_ref(&inst));
    expect_change(&mut again, "new", &inst, "after the slow one left");
    assert_ws_healthy(&server, "after a slow subscriber");
}

#[test]
fn the_push_queues_of_a_core_are_bounded_together() {
    // Each session may be far behind (1 GiB), but the core's sessions together hold 4 MiB.
    let config = "[ws]\nmax_queued_bytes = 1073741824\nmax_core_queued_bytes = 4194304\n";
    let server = Server::start_sha(&["--shards", "1"], Some(config));
    let mut c = server.client();
    let services = ["idle-a", "idle-b", "idle-c"];
    let mut idle: Vec<Ws> = services.iter().map(|s| subscriber(&server, s)).collect();
    let calm_sub = subscriber(&server, "calm");
    // The calm subscriber reads as the changes come.
    const ROUNDS: usize = 12;
    let calm_ids: Vec<String> = (0..ROUNDS).map(|r| format!("calm-{r}")).collect();
    let calm = thread::spawn({
        let want = calm_ids.clone();
        let mut ws = calm_sub;
        move || {
            let read = read_news(&mut ws, &want, Duration::from_secs(60), "calm subscriber");
            (ws, read)
        }
    });
    for (round, calm_id) in calm_ids.iter().enumerate() {
        for s in services {
            // ~1 MB per session per round: 12 MB each, more than its socket buffers hold.
            register_heavy(&mut c, s, round, 100, 10 * 1024);
        }
        register(&mut c, &[Inst::new("calm", calm_id)]);
    }
    let (mut calm_ws, read) = calm.join().expect("calm reader");
    read.unwrap();
    sync(&mut calm_ws, "the calm subscriber is still open");
    for (ws, s) in idle.iter_mut().zip(services) {
        let (texts, code) = read_to_close(ws, s);
        eprintln!(
            "{s}: {texts} of {} changes, then close {code:?}",
            ROUNDS * 100
        );
        assert_eq!(code, Some(1013), "{s}: closed by the core's budget");
        assert!(texts < ROUNDS * 100, "{s}: got everything");
    }
    assert_ws_healthy(&server, "after the core's budget closed sessions");
}

#[test]
fn over_long_ids_and_metadata_fail_their_instance_and_subscription() {
    let config = "[limits]\nmax_id_bytes = 64\nmax_metadata_bytes = 256\n";
    let server = Server::start_sha(&[], Some(config));
    let mut c = server.client();
    let at_limit = "s".repeat(64);
    let long = "s".repeat(65);
    let mut sub = subscriber(&server, &at_limit);

    let short_url = Some("http://10.0.0.1:8080/");
    let ok = Inst::new(&at_limit, &"i".repeat(64))
        .url(short_url)
        .metadata(&[("k", &"v".repeat(255))]);
    let long_service = Inst::new(&long, "a").url(short_url);
    let long_instance = Inst::new(&at_limit, &"i".repeat(65)).url(short_url);
    let long_url = Inst::new(&at_limit, "b").url(Some(&format!("http://{long}")));
    let long_metadata = Inst::new(&at_limit, "c")
        .url(short_url)
        .metadata(&[("k", &"v".repeat(256))]);
    let batch = [
        ok.clone(),
        long_service.clone(),
        long_instance.clone(),
        long_url.clone(),
        long_metadata.clone(),
    ];
    let (status, v) = c.post_json(REGISTER, &instances_body(&batch));
    assert_eq!(status, 200, "{}", dump(&v));
    let failed = &v["failedInstances"];
    assert_eq!(arr_len(failed, "failedInstances"), 4, "{}", dump(&v));
    let expected = [
        (&long_service, "serviceId is longer than 64 bytes"),
        (&long_instance, "instanceId is longer than 64 bytes"),
        (&long_url, "url is longer than 64 bytes"),
        (
            &long_metadata,
            "metadata is longer than 256 bytes (keys and values)",
        ),
    ];
    for (i, (inst, message)) in expected.iter().enumerate() {
        let f = &failed[i];
        assert_eq!(f["errorCode"].as_str(), Some("internal-service-error"));
        let msg = f["errorMessage"].as_str().unwrap_or("");
        assert!(
            msg.contains(&format!("Exception: argument instance.{message}")),
            "errorMessage: {msg:?}"
        );
        assert_instance_eq(&f["instance"], inst, "echo of the refused instance");
    }
    // Only the instance within the limits was stored and pushed.
    assert_eq!(lookup_ids(&mut c, &at_limit), vec!["i".repeat(64)]);
    expect_change(&mut sub, "new", &ok, "the instance within the limits");
    expect_silence(&mut sub, Duration::from_millis(200), "nothing else");

    // A subscription to an id longer than a registered one could be closes the session.
    let mut too_long = ws_connect(&server, IC);
    subscribe(&mut too_long, &long);
    expect_close(&mut too_long, 1008, SOON, "over-long subscription");
}

#[test]
fn subscription_bytes_per_session_are_capped() {
    let server = Server::start_sha(
        &[],
        Some("[ws]\nmax_subscription_bytes_per_session = 1000\n"),
    );
    let mut c = server.client();
    // Eleven ids of 100 bytes each.
    let ids: Vec<String> = (0..11)
        .map(|i| format!("{}{i:02}", "s".repeat(98)))
        .collect();
    let mut ws = ws_connect(&server, IC);
    for id in &ids[..10] {
        subscribe(&mut ws, id);
    }
    // The same service again in other case is the same subscription: no bytes.
    subscribe(&mut ws, &ids[0].to_ascii_uppercase());
    sync(&mut ws, "1000 bytes of subscriptions");
    let inst = Inst::new(&ids[9], "x");
    register(&mut c, std::slice::from_ref(&inst));
    expect_change(&mut ws, "new", &inst, "the tenth subscription works");
    subscribe(&mut ws, &ids[10]);
    expect_close(&mut ws, 1008, SOON, "the 1001st byte of subscriptions");
    assert_ws_healthy(&server, "after a capped session");
}
