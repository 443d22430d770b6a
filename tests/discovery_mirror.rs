//! Discovery reads never cross cores once warm (issue 14): every core answers lookups of other
//! cores' services from its mirror of their served views, and no read anywhere serves a view
//! older than a write that was answered.

use std::time::{Duration, Instant};

use harness::*;

/// `artemis_discovery_views_total{source=...}` summed over the node.
fn views(server: &Server, source: &str) -> f64 {
    let r = server.client().request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).expect("utf-8 exposition");
    let prefix = format!("artemis_discovery_views_total{{source=\"{source}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
        .trim()
        .parse()
        .expect("a number")
}

fn services(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("mirror-svc-{i:02}")).collect()
}

#[test]
fn a_connection_reads_its_own_writes_on_every_core() {
    // Four shards on this machine's cores: most services are owned by another core than the one
    // serving a given connection.
    let server = Server::start_sha(&["--shards", "4"], None);
    let ids = services(32);
    let mut c = server.client();
    for round in 0..3 {
        for svc in &ids {
            let inst = Inst::new(svc, &format!("{svc}-r{round}"));
            register(&mut c, std::slice::from_ref(&inst));
            let seen = lookup_ids(&mut c, svc);
            assert!(
                seen.contains(inst.instance_id.as_ref().unwrap()),
                "round {round}: {svc} registered on this connection, lookup gave {seen:?}"
            );
            assert_eq!(seen.len(), round + 1, "{svc}: {seen:?}");
        }
    }
    for svc in &ids {
        let inst = Inst::new(svc, &format!("{svc}-r0"));
        unregister(&mut c, std::slice::from_ref(&inst));
        let seen = lookup_ids(&mut c, svc);
        assert!(
            !seen.contains(inst.instance_id.as_ref().unwrap()),
            "{svc} unregistered on this connection, lookup gave {seen:?}"
        );
        // service.json reads the same views.
        let (st, v) = c.get(&format!(
            "/api/discovery/service.json?serviceId={svc}&regionId=SHA&zoneId=SHAJQ"
        ));
        assert_eq!(st, 200);
        assert_eq!(arr_len(&v["service"]["instances"], "service.json"), 2);
    }
}

#[test]
fn warm_lookups_are_answered_by_the_mirror_and_other_connections_converge() {
    let server = Server::start_sha(&["--shards", "2"], None);
    let ids = services(16);
    let mut writer = server.client();
    for svc in &ids {
        register(&mut writer, &[Inst::new(svc, "a")]);
    }
    // Warm every core: many connections, so both cores serve some.
    let mut readers: Vec<Client> = (0..8).map(|_| server.client()).collect();
    for r in readers.iter_mut() {
        for svc in &ids {
            assert_eq!(lookup_ids(r, svc), ["a"], "{svc}");
        }
    }
    let owner_before = views(&server, "owner");
    let mirror_before = views(&server, "mirror");
    for _ in 0..5 {
        for r in readers.iter_mut() {
            for svc in &ids {
                assert_eq!(lookup_ids(r, svc), ["a"]);
            }
        }
    }
    assert_eq!(
        views(&server, "owner"),
        owner_before,
        "warm lookups crossed cores"
    );
    assert!(
        views(&server, "mirror") > mirror_before,
        "no lookup used a mirror: are both cores serving?"
    );

    // A change made on one connection reaches every other connection's view by publication
    // (they may briefly see the previous view).
    for svc in &ids {
        register(&mut writer, &[Inst::new(svc, "b")]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for r in readers.iter_mut() {
        for svc in &ids {
            loop {
                let mut seen = lookup_ids(r, svc);
                seen.sort();
                if seen == ["a", "b"] {
                    break;
                }
                assert!(Instant::now() < deadline, "{svc} never showed b: {seen:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    // The mirrored services' new views were published: reading them again did not cross cores.
    let owner_after_change = views(&server, "owner");
    for r in readers.iter_mut() {
        for svc in &ids {
            assert_eq!(lookup_ids(r, svc).len(), 2);
        }
    }
    assert_eq!(views(&server, "owner"), owner_after_change);
}

#[test]
fn a_pull_out_hides_the_instance_from_the_writers_next_lookup() {
    let server = Server::start_sha(&["--shards", "4"], None);
    let ids = services(12);
    let mut c = server.client();
    let insts: Vec<Inst> = ids.iter().map(|s| Inst::new(s, "p1")).collect();
    register(&mut c, &insts);
    for svc in &ids {
        assert_eq!(lookup_ids(&mut c, svc), ["p1"]);
    }
    for inst in &insts {
        pull_out_instance(&mut c, inst, "mirror-test");
        let svc = inst.service_id.as_deref().unwrap();
        assert!(
            lookup_ids(&mut c, svc).is_empty(),
            "{svc}: pulled out on this connection, still served"
        );
        pull_in_instance(&mut c, inst, "mirror-test");
        assert_eq!(lookup_ids(&mut c, svc), ["p1"], "{svc}: pulled back in");
    }
}

#[test]
fn a_write_answered_on_one_connection_is_seen_by_every_later_read() {
    let server = Server::start_sha(&["--shards", "4"], None);
    let ids = services(16);
    let mut writer = server.client();
    // Readers on several connections (so on every core), warmed so that their mirrors hold the
    // views a write must replace.
    let mut readers: Vec<Client> = (0..6).map(|_| server.client()).collect();
    for svc in &ids {
        register(&mut writer, &[Inst::new(svc, "base")]);
        for r in readers.iter_mut() {
            assert_eq!(lookup_ids(r, svc), ["base"]);
        }
    }
    for round in 0..5 {
        for svc in &ids {
            let inst = Inst::new(svc, &format!("w{round}"));
            register(&mut writer, std::slice::from_ref(&inst));
            for (n, r) in readers.iter_mut().enumerate() {
                let seen = lookup_ids(r, svc);
                assert!(
                    seen.contains(inst.instance_id.as_ref().unwrap()),
                    "round {round}: {svc} registered (answered) on another connection, reader \
                     {n} saw {seen:?}"
                );
            }
            unregister(&mut writer, std::slice::from_ref(&inst));
            for (n, r) in readers.iter_mut().enumerate() {
                assert_eq!(
                    lookup_ids(r, svc),
                    ["base"],
                    "round {round}: reader {n}, {svc}"
                );
            }
        }
    }
}
