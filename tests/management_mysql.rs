//! The shared management store (issue 13) through the real binary: with `persistence.url` (or
//! `--persistence-url`) pull-outs live in a MySQL/MariaDB database in Java Artemis's tables and
//! survive a restart, the saved registry stays in the node's own SQLite file, the password is
//! never shown, and a database the node cannot use stops the start with exit code 2. Nodes on
//! one database see each other's writes: by polling it (`persistence.poll_interval_ms`), and at
//! once when a peer nudges them; while the database is down writes answer
//! `service-unavailable` and discovery keeps the last state.
//!
//! One real MariaDB server per run of this file (`harness::mariadb`), one database per test
//! (the outage test runs its own server, which it stops and starts).

use std::time::{Duration, Instant};

use harness::mariadb::{MariaDb, PASSWORD};
use harness::*;

const SVC: &str = "mysql-svc";

fn database() -> (&'static MariaDb, String) {
    let server = MariaDb::shared();
    let database = server.create_database();
    (server, database)
}

#[test]
fn a_pull_out_is_kept_in_the_shared_database_across_a_restart() {
    let (db, database) = database();
    let url = db.url(&database);
    let home = NodeHome::new(None, &["--shards", "2", "--persistence-url", &url]);
    let mut server = home.start();
    let mut c = server.client();
    let out = Inst::new(SVC, "pulled-out");
    let other = Inst::new(SVC, "serving").ip("10.13.0.2");
    register(&mut c, &[out.clone(), other.clone()]);
    pull_out_instance(&mut c, &out, "pullout");
    assert_eq!(lookup_ids(&mut c, SVC), ["serving"]);
    // In Java's table, where a Java node would read it.
    assert_eq!(
        db.root_sql(&format!(
            "SELECT INSTANCE_ID, OPERATION FROM {database}.instance"
        )),
        "pulled-out\tpullout\n"
    );
    server.stop_gracefully();

    let server = home.start();
    let mut c = server.client();
    assert_eq!(
        lookup_ids(&mut c, SVC),
        ["serving"],
        "restored from the local file, the pull-out from the shared database"
    );
    assert!(is_instance_down(&mut c, &out));
    let logs = logs(&mut c, INSTANCE_LOGS, "{}");
    assert_eq!(logs.len(), 1, "{logs:?}");
    pull_in_instance(&mut c, &out, "pullout");
    assert_eq!(lookup_ids(&mut c, SVC), ["pulled-out", "serving"]);
    assert_eq!(
        db.root_sql(&format!("SELECT COUNT(*) FROM {database}.instance")),
        "0\n"
    );
}

#[test]
fn the_password_may_come_from_a_file_and_is_never_shown() {
    let (db, database) = database();
    let home_dir = std::env::temp_dir().join(format!("artemis-mysql-pw-{}", std::process::id()));
    std::fs::create_dir_all(&home_dir).unwrap();
    let password_file = home_dir.join("db-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let config = format!(
        "[persistence]\nurl = \"{}\"\npassword_file = \"{}\"\n",
        db.url_without_password(&database),
        password_file.display()
    );
    let home = NodeHome::new(Some(&config), &[]);
    let server = home.start();
    let mut c = server.client();
    let (status, config) = c.get("/api/status/config.json");
    assert_eq!(status, 200);
    assert_eq!(
        config["properties"]["persistence.url"].as_str(),
        Some(db.url_without_password(&database).as_str())
    );
    drop(server);

    // With the password in the URL, status shows it as ***.
    let url = db.url(&database);
    let home = NodeHome::new(None, &["--persistence-url", &url]);
    let server = home.start();
    let mut c = server.client();
    let body = c.request("GET", "/api/status/config.json", &[], b"").text();
    assert!(!body.contains(PASSWORD), "{body}");
    let (_, config) = c.get("/api/status/config.json");
    assert_eq!(
        config["properties"]["persistence.url"].as_str(),
        Some(url.replace(PASSWORD, "***").as_str())
    );
    assert!(!server.stderr().contains(PASSWORD));
    std::fs::remove_dir_all(home_dir).unwrap();
}

#[test]
fn a_database_the_node_cannot_use_stops_the_start_with_exit_2() {
    let (db, database) = database();
    let wrong = db.url(&database).replace(PASSWORD, "not-the-password");
    let home = NodeHome::new(None, &["--persistence-url", &wrong]);
    let (status, stderr) = home.start_expecting_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Access denied"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");

    // Nothing listens on this port: tried until persistence.connect_timeout_ms, then exit 2.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "[persistence]\nurl = \"mysql://artemis@127.0.0.1:{port}/artemis\"\n\
         connect_timeout_ms = 300\n"
    );
    let home = NodeHome::new(Some(&config), &[]);
    let (status, stderr) = home.start_expecting_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did not answer within persistence.connect_timeout_ms (300 ms"),
        "{stderr}"
    );
}

/// Bound on a write on one node taking effect on another: generous, since debug builds of
/// several nodes share a loaded CI machine. It only catches a write that never arrives; the
/// observed time is reported, and the benchmark measures the real figure.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Two nodes on `url` that are not a cluster (no peer nudges them): each sees the other's
/// writes only by polling the database.
fn two_polling_nodes(url: &str, extra_toml: &str) -> (NodeHome, NodeHome) {
    let config = format!("[persistence]\nurl = \"{url}\"\npoll_interval_ms = 200\n{extra_toml}");
    (
        NodeHome::new(Some(&config), &[]),
        NodeHome::new(Some(&config), &[]),
    )
}

/// Waits until `lookup_ids` on `c` answers `expected`; panics with the last answer after
/// [`PROPAGATION_TIMEOUT`]. Answers how long it took.
fn wait_for_ids(c: &mut Client, expected: &[&str], what: &str) -> Duration {
    let started = Instant::now();
    let mut last = Vec::new();
    let arrived = wait_until(PROPAGATION_TIMEOUT, || {
        last = lookup_ids(c, SVC);
        last == expected
    });
    assert!(
        arrived,
        "{what}: still {last:?} after {PROPAGATION_TIMEOUT:?}"
    );
    started.elapsed()
}

/// The value of the unlabelled sample `name` in `/metrics`.
fn metric(c: &mut Client, name: &str) -> Option<String> {
    let text = c.request("GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(str::to_owned)
}

#[test]
fn a_pull_out_on_one_node_takes_effect_on_another_node_by_polling() {
    let (db, database) = database();
    let (home_a, home_b) = two_polling_nodes(&db.url(&database), "");
    let (a, b) = (home_a.start(), home_b.start());
    let (mut ca, mut cb) = (a.client(), b.client());
    let out = Inst::new(SVC, "pulled-out");
    let other = Inst::new(SVC, "serving").ip("10.13.0.2");
    register(&mut cb, &[out.clone(), other.clone()]);
    assert_eq!(metric(&mut cb, "artemis_store_up").as_deref(), Some("1"));

    pull_out_instance(&mut ca, &out, "pullout");
    let took = wait_for_ids(&mut cb, &["serving"], "the pull-out made on A, seen on B");
    eprintln!("pull-out on A in effect on B after {took:?}");
    assert!(is_instance_down(&mut cb, &out));

    // A pull-in deletes the row: B must notice a row going away too.
    pull_in_instance(&mut ca, &out, "pullout");
    let took = wait_for_ids(&mut cb, &["pulled-out", "serving"], "the pull-in made on A");
    eprintln!("pull-in on A in effect on B after {took:?}");
}

#[test]
fn a_group_write_on_one_node_is_served_by_another_node() {
    let (db, database) = database();
    let (home_a, home_b) = two_polling_nodes(&db.url(&database), "");
    let (a, b) = (home_a.start(), home_b.start());
    let (mut ca, mut cb) = (a.client(), b.client());
    // Discovery serves a service's logical instances beside its registered ones.
    register(&mut ca, &[Inst::new(SVC, "serving")]);
    register(&mut cb, &[Inst::new(SVC, "serving")]);
    let logic = |c: &mut Client| {
        let body = sonic_rs::to_string(&sonic_rs::json!({
            "discoveryConfig": {"serviceId": SVC, "regionId": REGION, "zoneId": ZONE},
            "regionId": REGION,
            "zoneId": ZONE,
        }))
        .unwrap();
        let (status, v) = c.post_json(SERVICE, &body);
        assert_eq!(status, 200, "{}", dump(&v));
        assert_success_status(&v, "service.json");
        let ids: Vec<String> = v["service"]["logicInstances"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|i| i["instanceId"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids
    };
    assert!(logic(&mut cb).is_empty());

    let instance = sonic_rs::json!({
        "serviceId": SVC, "instanceId": "logic-1", "ip": "10.9.0.1", "machineName": "m1",
        "metadata": {"k": "v"}, "port": 8080, "protocol": "http", "regionId": REGION, "zoneId": ZONE,
        "groupId": "blue", "healthCheckUrl": "http://10.9.0.1/health",
        "url": "http://10.9.0.1/", "description": "logical",
    });
    group_write(
        &mut ca,
        "insert-service-instances",
        "define",
        sonic_rs::json!({"serviceInstances": [instance]}),
    );
    assert_eq!(
        logic(&mut ca),
        ["logic-1"],
        "served on the node that wrote it"
    );
    let started = Instant::now();
    let mut last = Vec::new();
    let arrived = wait_until(PROPAGATION_TIMEOUT, || {
        last = logic(&mut cb);
        last == ["logic-1"]
    });
    assert!(arrived, "B still serves logicInstances {last:?}");
    eprintln!("group write on A served by B after {:?}", started.elapsed());
}

#[test]
fn a_peer_is_nudged_to_poll_at_once_after_a_write() {
    let (db, database) = database();
    let url = db.url(&database);
    // Polls are an hour apart: only the nudge can bring the write to the peer in time.
    let cluster = ClusterSpec::new(2)
        .toml(&format!(
            "[persistence]\nurl = \"{url}\"\npoll_interval_ms = 3600000\n"
        ))
        .start();
    let (mut c0, mut c1) = (cluster.client(0), cluster.client(1));
    let out = Inst::new(SVC, "pulled-out");
    register(
        &mut c0,
        &[out.clone(), Inst::new(SVC, "serving").ip("10.13.0.2")],
    );
    wait_for_ids(
        &mut c1,
        &["pulled-out", "serving"],
        "replicated registrations",
    );

    pull_out_instance(&mut c0, &out, "pullout");
    let took = wait_for_ids(&mut c1, &["serving"], "the nudged peer");
    eprintln!("pull-out on node 0 in effect on its nudged peer after {took:?}");

    // What a peer posts (from 127.0.0.1, a configured node's host, so it is let in).
    let (status, v) = c1.post_json("/api/replication/management/nudge.json", "{}");
    assert_eq!(status, 200, "{}", dump(&v));
    assert_write_ok(&v, "nudge");
}

#[test]
fn while_the_database_is_down_writes_fail_cleanly_and_discovery_keeps_the_last_state() {
    let mut db = MariaDb::start();
    let database = db.create_database();
    let (home_a, home_b) = two_polling_nodes(
        &db.url(&database),
        "connect_timeout_ms = 1000\nquery_timeout_ms = 2000\n",
    );
    let (a, b) = (home_a.start(), home_b.start());
    let (mut ca, mut cb) = (a.client(), b.client());
    let out = Inst::new(SVC, "pulled-out");
    let later = Inst::new(SVC, "later").ip("10.13.0.3");
    register(&mut ca, &[out.clone(), later.clone()]);
    register(&mut cb, &[out.clone(), later.clone()]);
    pull_out_instance(&mut ca, &out, "pullout");
    wait_for_ids(&mut cb, &["later"], "the pull-out before the outage");

    db.kill();
    let body = operate_instance_body(&instance_key(&later), "pullout", false);
    let v = management_post(&mut ca, OPERATE_INSTANCE, &body);
    let message = assert_fail_with_some_message(&v, "service-unavailable", "write while down");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(metric(&mut ca, "artemis_store_up").as_deref(), Some("0"));
    let b_down = wait_until(PROPAGATION_TIMEOUT, || {
        metric(&mut cb, "artemis_store_up").as_deref() == Some("0")
    });
    assert!(b_down, "B's polls notice the database is gone");
    let (st, cluster) = b.post_json("/api/status/cluster.json", "{}");
    assert_eq!(st, 200, "{}", dump(&cluster));
    assert_eq!(
        cluster["managementStoreUp"].as_bool(),
        Some(false),
        "cluster.json reports the shared store down: {}",
        dump(&cluster)
    );
    assert_eq!(
        lookup_ids(&mut cb, SVC),
        ["later"],
        "B keeps the last state"
    );
    assert_eq!(
        lookup_ids(&mut ca, SVC),
        ["later"],
        "A keeps the last state"
    );

    db.start_again();
    assert_eq!(
        db.root_sql(&format!(
            "SELECT INSTANCE_ID FROM {database}.instance ORDER BY INSTANCE_ID"
        )),
        "pulled-out\n",
        "nothing of the failed write was kept"
    );
    pull_in_instance(&mut ca, &out, "pullout");
    assert_eq!(metric(&mut ca, "artemis_store_up").as_deref(), Some("1"));
    let took = wait_for_ids(
        &mut cb,
        &["later", "pulled-out"],
        "the first write after the restart",
    );
    eprintln!("after the database restart, B converged in {took:?}");
    assert_eq!(metric(&mut cb, "artemis_store_up").as_deref(), Some("1"));
    assert!(
        a.stderr()
            .contains("the management database is unreachable"),
        "the loss is logged"
    );
    assert!(
        b.stderr().contains("the management database answers again"),
        "the recovery is logged"
    );
}
