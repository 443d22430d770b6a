//! One server per address and per data dir: a second `artemis server` on an address another one
//! listens on, or on a data dir another one holds, refuses to start (exit 1) and the first keeps
//! serving everything it had. The node's own cores still share its one listening socket.

use std::time::Duration;

use harness::*;

const SERVICE: &str = "exclusive-svc";
const INSTANCES: usize = 40;

fn instances() -> Vec<Inst> {
    (0..INSTANCES)
        .map(|i| Inst::new(SERVICE, &format!("inst-{i:02}")))
        .collect()
}

/// Every lookup, each on a fresh connection (which any core may accept), sees every instance.
fn assert_every_connection_sees_all(server: &Server, ctx: &str) {
    let mut expected: Vec<String> = instances()
        .iter()
        .map(|i| i.instance_id.clone().unwrap())
        .collect();
    expected.sort();
    for n in 0..20 {
        let ids = lookup_ids(&mut server.client(), SERVICE);
        assert_eq!(ids, expected, "{ctx}: lookup {n} on a fresh connection");
    }
}

#[test]
fn a_second_server_on_the_same_address_is_refused_and_the_first_keeps_serving() {
    let first = Server::start_sha(&["--shards", "2"], None);
    register(&mut first.client(), &instances());

    // A fresh data dir: the address alone decides.
    let listen = first.addr.to_string();
    let (status, stderr) = run_server_at(&listen, None, SHA_ARGS);
    assert_eq!(
        status.code(),
        Some(1),
        "second server on {listen}: exit {status:?}, stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("address in use") && stderr.contains(&listen),
        "stderr does not say that {listen} is in use:\n{stderr}"
    );
    assert_every_connection_sees_all(&first, "after the refused second server");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_naming_the_dir_and_holder() {
    let first = Server::start_sha(&[], None);
    register(&mut first.client(), &instances());

    let data_dir = first.data_dir().to_path_buf();
    let (status, stderr) = run_server_at("127.0.0.1:0", Some(&data_dir), SHA_ARGS);
    assert_eq!(
        status.code(),
        Some(1),
        "second server on the same data dir: exit {status:?}, stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&data_dir.display().to_string()) && stderr.contains("in use"),
        "stderr does not say that the data dir is in use:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.pid())),
        "stderr does not name the holder's pid {}:\n{stderr}",
        first.pid()
    );
    assert_every_connection_sees_all(&first, "after the refused second server");
}

#[test]
fn a_port_0_server_with_two_shards_serves_every_connection() {
    let server = Server::start_sha(&["--shards", "2"], None);
    assert_ne!(server.addr.port(), 0);
    register(&mut server.client(), &instances());
    // Held open together, so the cores share them out rather than serving them one by one.
    let mut held: Vec<Client> = (0..16).map(|_| server.client()).collect();
    for (n, client) in held.iter_mut().enumerate() {
        assert_eq!(
            lookup_ids(client, SERVICE).len(),
            INSTANCES,
            "connection {n}"
        );
    }
    assert_every_connection_sees_all(&server, "two shards on port 0");
}

#[test]
fn a_killed_server_leaves_its_address_and_data_dir_to_the_next() {
    let first = Server::start_sha(&["--shards", "2"], None);
    let listen = first.addr.to_string();
    let data_dir = first.data_dir().to_path_buf();
    // A keep-alive connection the kill leaves behind (its port in TIME_WAIT or half-closed).
    let mut client = first.client();
    register(&mut client, &instances());
    first.signal(libc::SIGKILL);
    let mut first = first;
    assert!(
        first.wait_exit(Duration::from_secs(10)).is_some(),
        "SIGKILL did not end the server"
    );

    // The kernel released the data dir lock with the process; the address is free again.
    let mut args: Vec<&str> = SHA_ARGS.to_vec();
    args.extend_from_slice(&["--shards", "2"]);
    let second = Server::start_at(&listen, &data_dir, &args);
    assert_eq!(second.addr.to_string(), listen);
    let (status, _) = second.client().get("/health");
    assert_eq!(status, 200);
}
