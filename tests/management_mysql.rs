//! The shared management store (issue 13) through the real binary: with `persistence.url` (or
//! `--persistence-url`) pull-outs live in a MySQL/MariaDB database in Java Artemis's tables and
//! survive a restart, the saved registry stays in the node's own SQLite file, the password is
//! never shown, and a database the node cannot use stops the start with exit code 2.
//!
//! One real MariaDB server per run of this file (`harness::mariadb`), one database per test.

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
