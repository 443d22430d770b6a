//! Durable state (issue 9): pull-outs and their logs survive any restart, an acknowledged write
//! survives `kill -9`, a graceful stop keeps the registered instances for the next start, and a
//! database the server cannot trust stops the start (exit 2) without being touched. A storage
//! failure while running fails the write cleanly and the registry keeps serving.

use std::fs;
use std::time::Duration;

use harness::*;
use protocol::rng::Rng;

/// Every pull-out and the logs, as the read endpoints show them.
#[derive(Debug, PartialEq)]
struct ManagementState {
    instances: Vec<(String, Vec<String>)>,
    servers: Vec<(String, Vec<String>)>,
    zones: Vec<(String, Vec<String>)>,
    instance_logs: Vec<String>,
    server_logs: Vec<String>,
    zone_logs: Vec<String>,
}

fn management_state(c: &mut Client) -> ManagementState {
    let rows = |c: &mut Client, path: &str| -> Vec<String> {
        logs(c, path, "{}").iter().map(dump).collect()
    };
    ManagementState {
        instances: all_instance_operations(c, None),
        servers: all_server_operations(c, None),
        zones: all_zone_operations(c, None),
        instance_logs: rows(c, INSTANCE_LOGS),
        server_logs: rows(c, SERVER_LOGS),
        zone_logs: rows(c, ZONE_LOGS),
    }
}

/// The instanceIds discovery shows for each of `services` (one lookup, fresh connection).
fn discovered(server: &Server, services: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut c = server.client();
    services
        .iter()
        .map(|s| (s.to_string(), lookup_ids(&mut c, s)))
        .collect()
}

/// A database file's magic, proving the server created it where the contract says.
fn assert_is_database(home: &NodeHome) {
    let db = home.db_path();
    let bytes = fs::read(&db).unwrap_or_else(|e| panic!("{} after start: {e}", db.display()));
    assert!(
        bytes.starts_with(b"SQLite format 3\0"),
        "{} is not an SQLite database ({} bytes)",
        db.display(),
        bytes.len()
    );
}

#[test]
fn a_restart_keeps_every_pull_out_and_every_log_row() {
    const SVC: &str = "durable-svc";
    const ZONE_SVC: &str = "durable-zone-svc";
    const DOWN_IP: &str = "10.5.0.1";
    let home = NodeHome::new(None, &["--shards", "2"]);
    let mut server = home.start();
    assert_is_database(&home);
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.5.0.2");
    let on_server = Inst::new(SVC, "on-server").ip(DOWN_IP);
    let in_oy = Inst::new(ZONE_SVC, "oy").zone("SHAOY").ip("10.5.0.3");
    let in_jq = Inst::new(ZONE_SVC, "jq").ip("10.5.0.4");
    register(
        &mut c,
        &[
            a.clone(),
            b.clone(),
            on_server.clone(),
            in_oy.clone(),
            in_jq.clone(),
        ],
    );
    pull_out_instance(&mut c, &a, "deploy");
    pull_out_instance(&mut c, &a, "incident");
    pull_out_instance(&mut c, &b, "deploy");
    pull_in_instance(&mut c, &b, "deploy");
    pull_out_server(&mut c, DOWN_IP, "rack-move");
    pull_out_zones(&mut c, &[ZONE_SVC], "SHAOY", "drill");
    let services = [SVC, ZONE_SVC];
    let shown = discovered(&server, &services);
    assert_eq!(
        shown,
        [
            (SVC.to_string(), vec!["b".to_string()]),
            (ZONE_SVC.to_string(), vec!["jq".to_string()]),
        ]
    );
    let before = management_state(&mut c);
    let old_ids: Vec<i64> = logs(&mut c, INSTANCE_LOGS, "{}")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(before.instance_logs.len(), 4);
    assert_eq!(before.server_logs.len(), 1);
    assert_eq!(before.zone_logs.len(), 1);
    drop(c);

    server.stop_gracefully();
    let server = home.start();
    let mut c = server.client();
    // The first requests already see the restored state.
    assert_eq!(discovered(&server, &services), shown, "after the restart");
    assert_eq!(management_state(&mut c), before, "operations and logs");
    assert!(is_instance_down(&mut c, &a));
    assert!(is_instance_down(&mut c, &on_server));
    assert!(is_instance_down(&mut c, &in_oy));
    assert!(!is_instance_down(&mut c, &b));

    // The restored pull-outs are live state: ending them brings the instances back, and the
    // log goes on after the rows it had.
    pull_in_instance(&mut c, &a, "deploy");
    pull_in_instance(&mut c, &a, "incident");
    pull_in_server(&mut c, DOWN_IP, "rack-move");
    pull_in_zones(&mut c, &[ZONE_SVC], "SHAOY", "drill");
    assert_discovered(
        &server,
        SVC,
        &["a", "b", "on-server"],
        "pulled in after restart",
    );
    assert_discovered(
        &server,
        ZONE_SVC,
        &["jq", "oy"],
        "zone pulled in after restart",
    );
    let ids: Vec<i64> = logs(&mut c, INSTANCE_LOGS, "{}")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let old_max = old_ids.iter().max().copied().unwrap();
    let added: Vec<i64> = ids.into_iter().filter(|id| !old_ids.contains(id)).collect();
    assert_eq!(
        added.len(),
        2,
        "two more rows, the old ones kept: {old_ids:?} {added:?}"
    );
    assert!(
        added.iter().all(|&id| id > old_max),
        "new log rows get new ids: {old_ids:?} then {added:?}"
    );
}

/// Instances of many services (spread over the shards) with varied data, and one with a legacy
/// lease.
fn varied_instances() -> Vec<Inst> {
    let mut out = Vec::new();
    for s in 0..30 {
        let svc = format!("Restore-Svc-{s:02}");
        out.push(Inst::new(&svc, "one").metadata(&[("rev", &s.to_string())]));
        let mut two = Inst::new(&svc, "two")
            .ip("10.7.0.2")
            .port(9000 + s)
            .group("blue");
        two.status = Some("starting".into());
        two.health_check_url = None;
        out.push(two);
    }
    out.push(
        Inst::new("restore-legacy", "old")
            .metadata(&[("java_registry", "true"), ("owner", "legacy")]),
    );
    out
}

#[test]
fn a_graceful_restart_serves_every_registered_instance_at_its_first_lookup() {
    let home = NodeHome::new(None, &["--shards", "3"]);
    let mut server = home.start();
    let mut c = server.client();
    let instances = varied_instances();
    register(&mut c, &instances);
    // Gone before the stop: not restored.
    let gone = Inst::new("Restore-Svc-00", "gone");
    register(&mut c, std::slice::from_ref(&gone));
    unregister(&mut c, std::slice::from_ref(&gone));
    drop(c);
    server.stop_gracefully();

    let server = home.start();
    let mut services: Vec<String> = instances
        .iter()
        .map(|i| i.service_id.clone().unwrap())
        .collect();
    services.dedup();
    let ids: Vec<&str> = services.iter().map(String::as_str).collect();
    // The very first request to the new process.
    let (st, v) = server.post_json(LOOKUP, &lookup_body(&ids));
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "first lookup after the restart");
    let listed = v["services"].as_array().unwrap();
    assert_eq!(listed.len(), services.len());
    for (svc, want_id) in listed.iter().zip(&services) {
        assert_eq!(svc["serviceId"].as_str(), Some(want_id.as_str()));
        let got = svc["instances"]
            .as_array()
            .unwrap_or_else(|| panic!("{want_id}: no instances after restart: {}", dump(svc)));
        let want: Vec<&Inst> = instances
            .iter()
            .filter(|i| i.service_id.as_deref() == Some(want_id.as_str()))
            .collect();
        assert_eq!(got.len(), want.len(), "{want_id}: {}", dump(svc));
        for inst in want {
            let found = got
                .iter()
                .find(|g| g["instanceId"].as_str() == inst.instance_id.as_deref())
                .unwrap_or_else(|| panic!("{want_id}: {:?} not restored", inst.instance_id));
            assert_instance_eq(found, inst, &format!("restored {want_id}"));
        }
    }
    // services.json agrees, and the restored instances heartbeat like any other.
    let (_, v) = server.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    let total: usize = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instances"].as_array().map_or(0, |a| a.len()))
        .sum();
    assert_eq!(total, instances.len(), "services.json after the restart");
    let (st, hb) = heartbeat(&mut server.client(), &instances);
    assert_registry_ok(st, &hb, "heartbeat of restored instances");
}

#[test]
fn restored_instances_get_one_fresh_ttl_to_heartbeat_again() {
    let config = manual_clock_short_ttl();
    let home = NodeHome::new(Some(&config), &[]);
    let mut server = home.start();
    let beating = Inst::new("ttl-svc", "beating");
    let silent = Inst::new("ttl-svc", "silent").ip("10.0.0.2");
    let legacy = Inst::new("ttl-svc", "legacy")
        .ip("10.0.0.3")
        .metadata(&[("java_registry", "true")]);
    register(
        &mut server.client(),
        &[beating.clone(), silent.clone(), legacy.clone()],
    );
    // Most of a TTL passes before the stop; a restored lease must not carry that age over.
    let now = server.clock_ms();
    server.advance_clock_to(now + SHORT_TTL_MS - 100);
    server.stop_gracefully();

    let server = home.start();
    let mut c = server.client();
    let start = server.clock_ms();
    assert_eq!(
        lookup_ids(&mut c, "ttl-svc"),
        ["beating", "legacy", "silent"]
    );
    server.advance_clock_to(start + SHORT_TTL_MS / 2);
    assert_eq!(
        lookup_ids(&mut c, "ttl-svc"),
        ["beating", "legacy", "silent"],
        "half a TTL after the restart"
    );
    let beat = |c: &mut Client, ctx: &str| {
        let (st, hb) = heartbeat(c, std::slice::from_ref(&beating));
        assert_registry_ok(st, &hb, ctx);
    };
    beat(&mut c, "heartbeat of a restored instance");

    // One TTL after the restart the silent one expires (the instance may have vanished while
    // the node was down); the one that heartbeats stays, and so does the legacy lease, whose
    // TTL is longer, until its own TTL has passed.
    server.advance_clock_to(start + SHORT_TTL_MS + EXPIRY_TICK_MS);
    assert_eq!(lookup_ids(&mut c, "ttl-svc"), ["beating", "legacy"]);
    server.advance_clock_to(start + SHORT_TTL_MS * 3 / 2);
    beat(&mut c, "second heartbeat");
    server.advance_clock_to(start + SHORT_LEGACY_TTL_MS + EXPIRY_TICK_MS);
    assert_eq!(lookup_ids(&mut c, "ttl-svc"), ["beating"]);
}

#[test]
fn without_restore_on_start_a_restart_serves_no_instance_but_keeps_pull_outs() {
    let home = NodeHome::new(Some("[registry]\nrestore_on_start = false\n"), &[]);
    let mut server = home.start();
    let mut c = server.client();
    let a = Inst::new("norestore-svc", "a");
    let b = Inst::new("norestore-svc", "b").ip("10.0.0.2");
    register(&mut c, &[a.clone(), b.clone()]);
    pull_out_instance(&mut c, &a, PULL_OUT);
    drop(c);
    server.stop_gracefully();

    let server = home.start();
    let mut c = server.client();
    assert!(
        lookup_ids(&mut c, "norestore-svc").is_empty(),
        "restore_on_start = false"
    );
    assert_eq!(instance_operations(&mut c, &instance_key(&a)), [PULL_OUT]);
    register(&mut c, &[a.clone(), b.clone()]);
    assert_discovered(
        &server,
        "norestore-svc",
        &["b"],
        "re-registered after restart",
    );
}

#[test]
fn kill_9_right_after_an_acknowledged_write_keeps_it() {
    const ROUNDS: usize = 20;
    const SVC: &str = "kill-svc";
    let home = NodeHome::new(None, &["--shards", "2"]);
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.0.0.2");
    // Round r pulls a out when r is even and in when it is odd, then kills the server at once;
    // round r + 1 starts on the same data and finds exactly what round r acknowledged.
    for round in 0..=ROUNDS {
        let mut server = home.start();
        let mut c = server.client();
        let ctx = format!("start of round {round}");
        let out = round % 2 == 1;
        let want_ops: Vec<String> = if out { vec![PULL_OUT.into()] } else { vec![] };
        assert_eq!(
            instance_operations(&mut c, &instance_key(&a)),
            want_ops,
            "{ctx}"
        );
        assert_eq!(is_instance_down(&mut c, &a), out, "{ctx}");
        let rows = logs(&mut c, INSTANCE_LOGS, "{}");
        assert_eq!(
            rows.len(),
            round,
            "{ctx}: one log row per acknowledged write"
        );
        // A killed server saved no instances: register them again, and the pull-out applies.
        register(&mut c, &[a.clone(), b.clone()]);
        let shown: &[&str] = if out { &["b"] } else { &["a", "b"] };
        assert_discovered(&server, SVC, shown, &ctx);
        if round == ROUNDS {
            break;
        }
        if out {
            pull_in_instance(&mut c, &a, PULL_OUT);
        } else {
            pull_out_instance(&mut c, &a, PULL_OUT);
        }
        server.kill_hard();
    }
}

#[test]
fn a_read_only_database_fails_writes_cleanly_and_the_registry_keeps_serving() {
    const SVC: &str = "ro-svc";
    let server = Server::start_sha(&["--shards", "2"], None);
    let db = server.data_dir().join(DB_FILE);
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.0.0.2");
    register(&mut c, &[a.clone(), b.clone()]);
    pull_out_instance(&mut c, &b, PULL_OUT);
    let mut sub = subscriber(&server, SVC);

    set_mode(&db, 0o444);
    let writes = [
        (
            OPERATE_INSTANCE,
            operate_instance_body(&instance_key(&a), PULL_OUT, false),
        ),
        (
            OPERATE_INSTANCE,
            operate_instance_body(&instance_key(&b), PULL_OUT, true),
        ),
        (
            OPERATE_SERVER,
            operate_server_body(&server_key(REGION, "10.0.0.1"), PULL_OUT, false),
        ),
        (
            OPERATE_ZONE,
            operate_zone_body(&[zone_key(REGION, SVC, ZONE)], &[PULL_OUT], false),
        ),
    ];
    for (path, body) in &writes {
        let v = management_post(&mut c, path, body);
        assert_fail_with_some_message(&v, "internal-service-error", &format!("{path} {body}"));
    }
    // Nothing of the failed writes is in effect anywhere.
    assert_discovered(&server, SVC, &["a"], "after failed writes");
    assert!(instance_operations(&mut c, &instance_key(&a)).is_empty());
    assert_eq!(instance_operations(&mut c, &instance_key(&b)), [PULL_OUT]);
    assert!(all_server_operations(&mut c, None).is_empty());
    assert!(all_zone_operations(&mut c, None).is_empty());
    assert_eq!(logs(&mut c, INSTANCE_LOGS, "{}").len(), 1);
    expect_silence(
        &mut sub,
        Duration::from_millis(200),
        "failed writes push nothing",
    );

    // Registration, heartbeats (HTTP and WebSocket) and discovery go on.
    let newcomer = Inst::new(SVC, "newcomer").ip("10.0.0.3");
    register(&mut c, std::slice::from_ref(&newcomer));
    expect_change(&mut sub, "new", &newcomer, "register while read-only");
    let (st, hb) = heartbeat(&mut c, &[a.clone(), newcomer.clone()]);
    assert_registry_ok(st, &hb, "heartbeat while read-only");
    assert_ws_healthy(&server, "while read-only");
    assert_discovered(&server, SVC, &["a", "newcomer"], "registry while read-only");

    // Once the file is writable again, so is the server.
    set_mode(&db, 0o644);
    pull_out_instance(&mut c, &a, PULL_OUT);
    expect_change(&mut sub, "delete", &a, "pull-out once writable");
    assert_discovered(&server, SVC, &["newcomer"], "writable again");
    assert_eq!(logs(&mut c, INSTANCE_LOGS, "{}").len(), 2);
}

/// Starts a server on `home` expecting exit 2 with the database's path in stderr, and the
/// database exactly as it was: its file, and no write-ahead log grown beside it.
fn assert_start_refused(home: &NodeHome, ctx: &str) {
    let db = home.db_path();
    let before = fs::read(&db).ok();
    let wal_before = wal_len(&db);
    let (status, stderr) = home.start_expecting_exit();
    assert_eq!(
        status.code(),
        Some(2),
        "{ctx}: exit {status:?}; stderr:\n{stderr}"
    );
    let path = db.display().to_string();
    assert!(
        stderr.contains(&path),
        "{ctx}: stderr does not name {path}:\n{stderr}"
    );
    assert_eq!(
        wal_len(&db),
        wal_before,
        "{ctx}: the refused start wrote a write-ahead log"
    );
    let after = fs::read(&db).ok();
    if after != before {
        let (a, b) = (before.unwrap_or_default(), after.unwrap_or_default());
        let at = a.iter().zip(&b).position(|(x, y)| x != y);
        panic!(
            "{ctx}: the database file was changed: {} bytes before, {} after, first difference \
             at offset {at:?}",
            a.len(),
            b.len()
        );
    }
}

/// A node home whose database holds a pull-out, its server stopped.
fn home_with_a_database() -> NodeHome {
    let home = NodeHome::new(None, &[]);
    let mut server = home.start();
    pull_out_instance(&mut server.client(), &Inst::new("db-svc", "a"), PULL_OUT);
    server.stop_gracefully();
    home
}

#[test]
fn a_corrupt_database_stops_the_start_with_exit_2_and_stays_untouched() {
    // Not a database at all.
    let home = NodeHome::new(None, &[]);
    let mut garbage = b"this is not an SQLite database\n".to_vec();
    garbage.extend(Rng::new(0xC0FF_EE00).bytes(8192));
    fs::write(home.db_path(), &garbage).unwrap();
    assert_start_refused(&home, "garbage file");

    // The server's own database with its header's magic damaged.
    let home = home_with_a_database();
    let mut bytes = read_bytes(&home.db_path());
    bytes[..16].copy_from_slice(b"SQLite format 4\0");
    fs::write(home.db_path(), &bytes).unwrap();
    assert_start_refused(&home, "damaged magic");

    // The server's own database with every page after the first damaged: the schema reads,
    // the tables holding the pull-outs do not.
    let home = home_with_a_database();
    assert_no_wal(&home.db_path());
    let mut bytes = read_bytes(&home.db_path());
    let page = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65536,
        n => n as usize,
    };
    assert!(
        bytes.len() >= 2 * page,
        "the database has a single page ({} bytes): nothing after it to damage",
        bytes.len()
    );
    for start in (page..bytes.len()).step_by(page) {
        bytes[start..start + 8].copy_from_slice(&[0xFF; 8]);
    }
    fs::write(home.db_path(), &bytes).unwrap();
    assert_start_refused(&home, "damaged table pages");

    // Something that cannot be opened as a file.
    let home = NodeHome::new(None, &[]);
    fs::create_dir(home.db_path()).unwrap();
    assert_start_refused(&home, "a directory in its place");
    assert!(home.db_path().is_dir(), "the directory is still there");
}

#[test]
fn a_database_from_a_newer_version_stops_the_start_with_exit_2() {
    // A valid database whose schema version no release has reached yet.
    let home = NodeHome::new(None, &[]);
    fs::write(home.db_path(), empty_database(1_000_000)).unwrap();
    assert_start_refused(&home, "empty database at user_version 1000000");

    // The server's own database, one version ahead of this binary.
    let home = home_with_a_database();
    let db = home.db_path();
    let version = user_version(&db);
    assert!(
        version >= 1,
        "the schema version is recorded in user_version"
    );
    set_user_version(&db, version + 1);
    assert_start_refused(&home, "one version ahead");

    // Set back, the same file starts and still holds its pull-out: the refusal changed nothing.
    set_user_version(&db, version);
    let server = home.start();
    assert_eq!(
        instance_operations(
            &mut server.client(),
            &instance_key(&Inst::new("db-svc", "a"))
        ),
        [PULL_OUT]
    );
}
