use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::AtomicUsize;

use super::*;
use crate::cluster::topology::{Peer, PeerAddress, Topology};
use crate::config::cluster::NodeEntry;

const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        body: body.as_bytes().to_vec(),
    }
}

fn node_json(status: &str, flags: &str) -> String {
    format!(
        r#"{{"nodeStatus":{{{flags}"node":{{"url":"http://10.0.0.2:8080/","zone":{{"metadata":null,"regionId":"SHA","zoneId":"z1"}}}},"status":"{status}"}},"responseStatus":{OK}}}"#
    )
}

const ALL_FLAGS: &str = r#""allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":false,"canServiceDiscovery":true,"canServiceRegistry":true,"#;

#[test]
fn node_json_answers_are_read_into_a_status() {
    let polled = PolledStatus::from_answer(&answer(200, &node_json("up", ALL_FLAGS))).unwrap();
    assert_eq!(
        polled,
        PolledStatus {
            status: NodeStatus::Up,
            advertised_url: Some("http://10.0.0.2:8080/".into()),
            can_service_registry: true,
            can_service_discovery: true,
            allow_registry_from_other_zone: false,
            allow_discovery_from_other_zone: true,
        }
    );
    // A starting Java node leaves its flags null: they read as false.
    let starting = PolledStatus::from_answer(&answer(200, &node_json("starting", ""))).unwrap();
    assert_eq!(starting.status, NodeStatus::Starting);
    assert!(!starting.can_service_registry && !starting.allow_discovery_from_other_zone);
    let odd = PolledStatus::from_answer(&answer(200, &node_json("sleeping", ""))).unwrap();
    assert_eq!(odd.status, NodeStatus::Unknown);
}

#[test]
fn answers_that_are_no_node_status_are_refused() {
    let refused = |a: Answer| PolledStatus::from_answer(&a).unwrap_err();
    assert!(refused(answer(404, "{}")).contains("HTTP 404"));
    assert!(refused(answer(200, "not json")).contains("invalid JSON"));
    let fail = r#"{"nodeStatus":null,"responseStatus":{"errorCode":"internal-service-error","message":"x","status":"fail"}}"#;
    assert!(refused(answer(200, fail)).contains("responseStatus"));
    let no_status = format!(r#"{{"nodeStatus":null,"responseStatus":{OK}}}"#);
    assert!(refused(answer(200, &no_status)).contains("nodeStatus"));
}

fn up() -> PolledStatus {
    PolledStatus {
        status: NodeStatus::Up,
        advertised_url: None,
        can_service_registry: true,
        can_service_discovery: true,
        allow_registry_from_other_zone: true,
        allow_discovery_from_other_zone: false,
    }
}

#[test]
fn transitions_and_unreachable_warnings_follow_the_clock() {
    let health = PeerHealth::default();
    assert!(!health.polled());
    // First answer: unknown (never polled) → up, the answer's time kept.
    let notes = record(&health, Some(&up()), 5, 1_700_000_000_000);
    assert_eq!(notes.changed, Some((NodeStatus::Unknown, NodeStatus::Up)));
    assert!(!notes.warn_unreachable);
    assert!(health.polled() && health.is_up() && health.can_serve_registry());
    assert!(health
        .allow_registry_from_other_zone
        .load(Ordering::Relaxed));
    assert_eq!(
        health.last_seen_ms.load(Ordering::Relaxed),
        1_700_000_000_000
    );
    // Same answer again: nothing to log.
    assert_eq!(record(&health, Some(&up()), 10, 1), PollNotes::default());
    // Silent: unknown at once, flags off, warned once.
    let notes = record(&health, None, 1_000, 2);
    assert_eq!(notes.changed, Some((NodeStatus::Up, NodeStatus::Unknown)));
    assert!(notes.warn_unreachable);
    assert!(
        !health.can_serve_registry()
            && !health
                .allow_registry_from_other_zone
                .load(Ordering::Relaxed)
    );
    assert_eq!(
        health.last_seen_ms.load(Ordering::Relaxed),
        1,
        "kept from the last answer"
    );
    // Still silent within the minute: no change, no warning.
    let notes = record(&health, None, 1_000 + UNREACHABLE_WARN_EVERY_MS - 1, 3);
    assert_eq!(notes, PollNotes::default());
    assert_eq!(health.failed_polls.load(Ordering::Relaxed), 2);
    // A minute after the warning: warned again.
    let notes = record(&health, None, 1_000 + UNREACHABLE_WARN_EVERY_MS, 4);
    assert!(notes.warn_unreachable && notes.changed.is_none());
    // Back: up again, the count of silent polls reset, and the next silence warns at once.
    let notes = record(&health, Some(&up()), 70_000, 5);
    assert_eq!(notes.changed, Some((NodeStatus::Unknown, NodeStatus::Up)));
    assert_eq!(health.failed_polls.load(Ordering::Relaxed), 0);
    assert!(record(&health, None, 70_010, 6).warn_unreachable);
    assert_eq!(health.polls.load(Ordering::Relaxed), 7);
}

#[test]
fn a_peer_reporting_starting_serves_by_its_flags() {
    let health = PeerHealth::default();
    let starting = PolledStatus {
        status: NodeStatus::Starting,
        can_service_registry: false,
        can_service_discovery: true,
        ..up()
    };
    let notes = record(&health, Some(&starting), 1, 1);
    assert_eq!(
        notes.changed,
        Some((NodeStatus::Unknown, NodeStatus::Starting))
    );
    assert!(!health.can_serve_registry() && health.can_serve_discovery());
}

/// A peer at `url` (127.0.0.1), resolved.
fn cluster_with_peer(url: &str) -> ClusterState {
    let address = PeerAddress::parse(url).unwrap();
    assert!(address.resolve());
    let topology = Topology {
        local: None,
        peers: vec![Peer {
            id: 0,
            entry: NodeEntry {
                zone_id: "z1".into(),
                url: url.into(),
            },
            address,
        }],
    };
    ClusterState::new(topology, false, None)
}

/// Serve every request on every connection with `status` and an empty JSON body, counting the
/// requests. Runs until the test process ends.
fn answering_server(status: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let counted = counted.clone();
            std::thread::spawn(move || serve(stream, status, &counted));
        }
    });
    (url, requests)
}

fn serve(stream: std::net::TcpStream, status: u16, requests: &AtomicUsize) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        requests.fetch_add(1, Ordering::SeqCst);
        let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}");
        writer.write_all(answer.as_bytes()).unwrap();
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_poll_tries_three_times_before_the_peer_counts_as_unknown() {
    let (url, requests) = answering_server(503);
    let cluster = cluster_with_peer(&url);
    block_on(async {
        let mut client = new_client(&cluster);
        poll_and_record(&mut client, &cluster, 0, Duration::from_secs(5)).await;
    });
    assert_eq!(requests.load(Ordering::SeqCst), TRIES_PER_POLL as usize);
    let health = &cluster.peers[0].health;
    assert_eq!(health.status.get(), NodeStatus::Unknown);
    assert_eq!(health.failed_polls.load(Ordering::Relaxed), 1);
}

#[test]
fn a_refused_connection_is_not_retried() {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(!TryFailure::Unreachable(PeerError::Io(refused)).worth_retrying());
    assert!(!TryFailure::Unreachable(PeerError::NoAddress).worth_retrying());
    assert!(TryFailure::Unreachable(PeerError::Timeout).worth_retrying());
    assert!(TryFailure::Unusable("HTTP 503".into()).worth_retrying());
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = cluster_with_peer(&format!("http://127.0.0.1:{port}/"));
    let result = block_on(async {
        let mut client = new_client(&cluster);
        poll(&mut client, &cluster, 0, Duration::from_secs(5)).await
    });
    let why = result.unwrap_err();
    assert!(why.to_lowercase().contains("refused"), "{why}");
}
