//! Nodes of one cluster as real processes on local ports (spec §8, §9.3, §11.8): what a node says
//! of its peers follows them coming up and going away (node.json, cluster.json, up-*-nodes.json,
//! /metrics); a node no peer answers stays `starting` (and not ready), however long it waits; a
//! node whose peers answer but are all `starting` goes `up` with its saved registry once
//! `cluster.bootstrap_wait_ms` passes; a node started next to an up peer (an artemis node, or a
//! stand-in answering as a Java node does) copies its registry, drops the one it saved at its
//! last stop, and reports `up` only once it serves the copy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::*;

/// Long enough for any change to show with peers polled every 100 ms; it only catches hangs.
const CHANGE: Duration = Duration::from_secs(20);

/// Peers polled every 100 ms; `cluster.json` asked as often as the test likes.
fn config(bootstrap_wait_ms: u64) -> String {
    format!(
        "[cluster]\nhealth_check_interval_ms = 100\nhealth_check_timeout_ms = 1000\n\
         bootstrap_wait_ms = {bootstrap_wait_ms}\n\
         [rate_limits.status]\nenabled = false\n"
    )
}

/// The node on `addr` of the cluster of `all`; `force_up` for the first node of a cluster.
fn start_node(addr: SocketAddr, all: &[SocketAddr], force_up: bool, wait_ms: u64) -> Server {
    start_node_with_env(addr, all, force_up, wait_ms, &[])
}

fn start_node_with_env(
    addr: SocketAddr,
    all: &[SocketAddr],
    force_up: bool,
    wait_ms: u64,
    env: &[(&str, &str)],
) -> Server {
    let nodes = cluster_nodes_arg(all);
    let mut args: Vec<&str> = SHA_ARGS.to_vec();
    args.extend(["--cluster-nodes", &nodes]);
    if force_up {
        args.push("--force-up");
    }
    Server::start_listening_with_env(&addr.to_string(), &args, Some(&config(wait_ms)), env)
}

/// `--cluster-nodes` naming `all`, plus `--force-up` if asked: a start of a [`NodeHome`].
fn cluster_args(all: &[SocketAddr], force_up: bool) -> Vec<String> {
    let mut args = vec!["--cluster-nodes".to_string(), cluster_nodes_arg(all)];
    if force_up {
        args.push("--force-up".into());
    }
    args
}

fn start_home(home: &NodeHome, addr: SocketAddr, all: &[SocketAddr], force_up: bool) -> Server {
    let args = cluster_args(all, force_up);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    home.start_listening(addr, &args)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    assert!(wait_until(CHANGE, &mut f), "not within {CHANGE:?}: {what}");
}

fn metric(server: &Server, line_start: &str) -> Option<f64> {
    let r = server.client().request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    r.text().lines().find_map(|l| {
        let rest = l.strip_prefix(line_start)?;
        rest.strip_prefix(' ')?.parse().ok()
    })
}

fn ready(server: &Server) -> (u16, Value) {
    let r = server.client().request("GET", "/ready", &[], b"");
    (r.status, r.json())
}

#[test]
fn peers_coming_up_and_going_away_show_in_every_status() {
    let addrs = [free_local_addr(), free_local_addr(), free_local_addr()];
    let urls: Vec<String> = addrs.iter().map(|&a| node_url(a)).collect();
    let a = start_node(addrs[0], &addrs, true, 60_000);

    // Forced up; its peers do not run: never answered, so unknown with null flags.
    let own = node_status(&a);
    assert_eq!(own["status"].as_str(), Some("up"), "{}", dump(&own));
    assert_eq!(own["canServiceRegistry"].as_bool(), Some(true));
    assert_eq!(own["canServiceDiscovery"].as_bool(), Some(true));
    assert_eq!(ready(&a).0, 200);
    let nodes = cluster_statuses(&a);
    let listed: Vec<&str> = nodes
        .iter()
        .map(|n| n["node"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed, urls,
        "this node first, then the peers in config order"
    );
    assert_eq!(nodes[0]["status"].as_str(), Some("up"));
    assert!(
        nodes[0].get("replication").is_none(),
        "no replication towards itself: {}",
        dump(&nodes[0])
    );
    for peer in &nodes[1..] {
        assert_eq!(peer["status"].as_str(), Some("unknown"), "{}", dump(peer));
        assert!(peer["canServiceRegistry"].is_null(), "{}", dump(peer));
        assert_eq!(peer["node"]["zone"]["regionId"].as_str(), Some(REGION));
        assert_eq!(peer["node"]["zone"]["zoneId"].as_str(), Some(ZONE));
        let replication = &peer["replication"];
        assert_eq!(replication["queued"].as_u64(), Some(0), "{}", dump(peer));
        assert_eq!(replication["resyncing"].as_bool(), Some(false));
        assert_sorted_keys(peer, "peer status");
    }
    assert_eq!(up_node_urls(&a, "registry"), Some(vec![urls[0].clone()]));
    assert_eq!(up_node_urls(&a, "discovery"), Some(vec![urls[0].clone()]));
    assert_eq!(metric(&a, "artemis_node_up"), Some(1.0));
    let b_up_metric = format!("artemis_cluster_peer_up{{peer=\"{}\"}}", urls[1]);
    assert_eq!(metric(&a, &b_up_metric), Some(0.0));

    // B comes up (forced too: this test is about polling, not the copy).
    let mut b = start_node(addrs[1], &addrs, true, 60_000);
    wait_for("A sees B up", || status_of(&a, &urls[1]) == "up");
    let seen = cluster_statuses(&a);
    assert_eq!(seen[1]["canServiceRegistry"].as_bool(), Some(true));
    assert_eq!(seen[2]["status"].as_str(), Some("unknown"), "C still down");
    assert_eq!(
        up_node_urls(&a, "registry"),
        Some(vec![urls[0].clone(), urls[1].clone()])
    );
    assert_eq!(
        up_node_urls(&a, "discovery"),
        Some(vec![urls[0].clone(), urls[1].clone()])
    );
    assert_eq!(metric(&a, &b_up_metric), Some(1.0));
    wait_for("B sees A up", || status_of(&b, &urls[0]) == "up");
    assert_eq!(
        cluster_statuses(&b)[0]["node"]["url"].as_str(),
        Some(urls[1].as_str())
    );

    // B goes away without a word.
    b.signal(libc::SIGKILL);
    b.wait_exit(SOON).expect("B killed");
    wait_for("A sees B gone", || status_of(&a, &urls[1]) == "unknown");
    assert_eq!(up_node_urls(&a, "registry"), Some(vec![urls[0].clone()]));
    assert_eq!(metric(&a, &b_up_metric), Some(0.0));
    let stderr = a.stderr();
    assert!(
        stderr.contains("peer status changed") && stderr.contains("peer gives no status"),
        "A logs B's changes and its silence:\n{stderr}"
    );
}

#[test]
fn a_node_no_peer_answers_stays_starting_past_the_wait() {
    const WAIT_MS: u64 = 1_500;
    let addrs = [free_local_addr(), free_local_addr()];
    // The peer never runs.
    let started = Instant::now();
    let a = start_node(addrs[0], &addrs, false, WAIT_MS);
    let own = node_status(&a);
    assert_eq!(own["status"].as_str(), Some("starting"), "{}", dump(&own));
    assert_eq!(own["canServiceRegistry"].as_bool(), Some(false));
    assert_eq!(own["canServiceDiscovery"].as_bool(), Some(false));
    let (st, why) = ready(&a);
    assert_eq!(st, 503, "{}", dump(&why));
    assert_eq!(why["status"].as_str(), Some("starting"));
    assert!(
        why["reason"]
            .as_str()
            .is_some_and(|r| r.contains("copies the registry")),
        "{}",
        dump(&why)
    );
    // Nobody may serve: not this node, not the unknown peer.
    assert_eq!(up_node_urls(&a, "registry"), None);
    assert_eq!(up_node_urls(&a, "discovery"), None);
    assert_eq!(metric(&a, "artemis_node_up"), Some(0.0));
    // The wait is over (the warning says so), and without a peer's answer the node still
    // waits: it may be cut off from a cluster that serves.
    wait_for("the cut-off warning", || {
        a.stderr().contains("no peer of the cluster answers")
    });
    assert!(started.elapsed() >= Duration::from_millis(WAIT_MS));
    assert!(a.stderr().contains("--force-up"), "{}", a.stderr());
    assert_eq!(own_status(&a), "starting");
    assert_eq!(ready(&a).0, 503);
    assert_eq!(metric(&a, "artemis_node_up"), Some(0.0));
}

#[test]
fn a_node_next_to_a_starting_peer_goes_up_with_its_saved_registry_after_the_wait() {
    const WAIT_MS: u64 = 1_500;
    let addrs = [free_local_addr(), free_local_addr()];
    let home = NodeHome::new(Some(&config(WAIT_MS)), &[]);
    // A first run of A (forced up, its peer away) leaves a saved registry.
    let mut a = start_home(&home, addrs[0], &addrs, true);
    let saved = Inst::new("saved-svc", "s1");
    register(&mut a.client(), std::slice::from_ref(&saved));
    a.stop_gracefully();

    // The whole cluster restarts: B waits far longer than the test, so it answers `starting`.
    let b = start_node(addrs[1], &addrs, false, 3_600_000);
    let started = Instant::now();
    let a = start_home(&home, addrs[0], &addrs, false);
    wait_for("A sees B starting", || {
        status_of(&a, &node_url(addrs[1])) == "starting"
    });
    assert_eq!(
        own_status(&a),
        "starting",
        "the saved registry is not served yet"
    );
    wait_for("A up after the wait", || own_status(&a) == "up");
    assert!(
        started.elapsed() >= Duration::from_millis(WAIT_MS),
        "up after {:?}",
        started.elapsed()
    );
    assert_eq!(ready(&a).0, 200);
    assert_eq!(lookup_ids(&mut a.client(), "saved-svc"), ["s1"]);
    let stderr = a.stderr();
    assert!(
        stderr.contains("none has been up for cluster.bootstrap_wait_ms")
            && stderr.contains("restored=1"),
        "A says it went up without a copy, with its saved registry:\n{stderr}"
    );

    // B copies A's registry as soon as A is up: the cluster serves the saved registry.
    wait_for("B up", || own_status(&b) == "up");
    assert_eq!(lookup_ids(&mut b.client(), "saved-svc"), ["s1"]);
}

#[test]
fn a_node_stopped_while_starting_saves_its_saved_registry_again() {
    let addrs = [free_local_addr(), free_local_addr()];
    let home = NodeHome::new(Some(&config(3_600_000)), &[]);
    let mut a = start_home(&home, addrs[0], &addrs, true);
    register(&mut a.client(), &[Inst::new("aside-svc", "a1")]);
    a.stop_gracefully();
    // No peer answers: the node keeps the saved registry aside, and stops so.
    let mut a = start_home(&home, addrs[0], &addrs, false);
    assert_eq!(own_status(&a), "starting");
    a.stop_gracefully();
    // The operator forces it up: the registry saved two stops ago is still there.
    let a = start_home(&home, addrs[0], &addrs, true);
    assert_eq!(lookup_ids(&mut a.client(), "aside-svc"), ["a1"]);
}

#[test]
fn a_node_restarted_next_to_an_up_peer_serves_the_peers_registry_not_its_saved_one() {
    let (own, away) = (free_local_addr(), free_local_addr());
    let home = NodeHome::new(Some(&config(3_600_000)), &[]);
    let mut b = start_home(&home, own, &[own, away], true);
    let kept = Inst::new("restart-svc", "kept").metadata(&[("version", "old")]);
    let gone = Inst::new("restart-svc", "gone");
    register(&mut b.client(), &[kept.clone(), gone.clone()]);
    b.stop_gracefully();

    // While B was down, the cluster unregistered `gone` and updated `kept`: the up peer holds
    // only the new `kept`.
    let kept_now = kept.clone().metadata(&[("version", "new")]);
    let registry = format!(
        r#"[{{"instances":[{}],"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"restart-svc"}}]"#,
        kept_now.json()
    );
    let peer = JavaShapedPeer::start(REGION, ZONE, "up", registry);
    let b = start_home(&home, own, &[own, peer.addr], false);
    wait_for("B up", || own_status(&b) == "up");
    let mut c = b.client();
    assert_eq!(lookup_ids(&mut c, "restart-svc"), ["kept"]);
    let served = lookup_one(&mut c, "restart-svc")["instances"][0].clone();
    assert_eq!(
        served["metadata"]["version"].as_str(),
        Some("new"),
        "{}",
        dump(&served)
    );
    let stderr = b.stderr();
    let copied = stderr
        .lines()
        .find(|l| l.contains("registry copied from a peer"))
        .unwrap_or_else(|| panic!("no copy logged:\n{stderr}"));
    assert!(
        copied.contains("instances=1") && copied.contains("saved_discarded=2"),
        "{copied}"
    );
}

#[test]
fn systemd_hears_ready_only_once_the_node_is_up() {
    let dir = std::env::temp_dir().join(format!("artemis-cluster-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // The peer answers `starting`: this node goes up without a copy once the wait is over.
    let peer = JavaShapedPeer::start(REGION, ZONE, "starting", "[]".into());
    let own = free_local_addr();
    let env = [("NOTIFY_SOCKET", path.to_str().unwrap())];
    let a = start_node_with_env(own, &[own, peer.addr], false, 1_500, &env);

    let mut received: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let is_ready = |m: &String| m.lines().any(|l| l == "READY=1");
    wait_for("READY=1", || {
        if let Ok(n) = socket.recv(&mut buf) {
            received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        received.iter().any(is_ready)
    });
    // READY=1 came once the node was up, after it said what it waited for.
    assert_eq!(own_status(&a), "up");
    let ready = received.iter().position(is_ready).unwrap();
    let waiting = "STATUS=starting: waiting for an up peer to copy the registry from";
    assert!(
        received[..ready].iter().any(|m| m == waiting),
        "{received:?}"
    );
    let status = received[ready]
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="));
    assert!(
        status.is_some_and(|s| s.starts_with("serving ") && s.ends_with(&own.to_string())),
        "{received:?}"
    );
    drop(a);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_node_reports_up_only_once_it_serves_the_registry_copied_from_an_up_peer() {
    let addrs = [free_local_addr(), free_local_addr()];
    let a = start_node(addrs[0], &addrs, true, 60_000);
    let services = ["copy-svc-0", "copy-svc-1", "copy-svc-2"];
    let mut want: Vec<Vec<String>> = Vec::new();
    let mut c = a.client();
    for service in services {
        let insts: Vec<Inst> = (0..25)
            .map(|i| Inst::new(service, &format!("{service}-i{i:02}")))
            .collect();
        register(&mut c, &insts);
        let mut ids: Vec<String> = insts
            .iter()
            .map(|i| i.instance_id.clone().unwrap())
            .collect();
        ids.sort();
        want.push(ids);
    }

    // B is not forced: it copies A's registry first, and waits as long as it needs to.
    let b = start_node(addrs[1], &addrs, false, 3_600_000);
    wait_for("B up", || own_status(&b) == "up");
    let mut c = b.client();
    for (service, ids) in services.iter().zip(&want) {
        assert_eq!(&lookup_ids(&mut c, service), ids, "{service} on B once up");
    }
    assert_eq!(ready(&b).0, 200);
    // The copy brought all of them (A's replication may also have sent some to the starting B).
    let stderr = b.stderr();
    let copied = stderr
        .lines()
        .find(|l| l.contains("registry copied from a peer"))
        .unwrap_or_else(|| panic!("no copy logged:\n{stderr}"));
    assert!(copied.contains("instances=75"), "{copied}");
}

/// A peer that answers as a Java node does: `node.json` says `status`, `services.json` gives
/// `registry` (a `services` JSON list); anything else is 404. Keeps the bodies of the
/// `services.json` requests it got, inflated.
struct JavaShapedPeer {
    addr: SocketAddr,
    copy_requests: Arc<Mutex<Vec<String>>>,
}

impl JavaShapedPeer {
    fn start(region: &str, zone: &str, status: &str, registry: String) -> JavaShapedPeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let node_status = format!(
            r#"{{"nodeStatus":{{"allowDiscoveryFromOtherZone":false,"allowRegistryFromOtherZone":false,"canServiceDiscovery":true,"canServiceRegistry":true,"node":{{"url":"http://{addr}/","zone":{{"metadata":null,"regionId":"{region}","zoneId":"{zone}"}}}},"status":"{status}"}},"responseStatus":{{"errorCode":"success","message":"","status":"success"}}}}"#
        );
        let services = format!(
            r#"{{"responseStatus":{{"errorCode":"success","message":"","status":"success"}},"services":{registry}}}"#
        );
        let copy_requests = Arc::new(Mutex::new(Vec::new()));
        let kept = copy_requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (node_status, services, kept) =
                    (node_status.clone(), services.clone(), kept.clone());
                std::thread::spawn(move || {
                    serve_java_shaped(stream, &node_status, &services, &kept);
                });
            }
        });
        JavaShapedPeer {
            addr,
            copy_requests,
        }
    }
}

/// One connection: requests with Content-Length bodies, answered in turn (keep-alive).
fn serve_java_shaped(
    stream: TcpStream,
    node_status: &str,
    services: &str,
    kept: &Mutex<Vec<String>>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let (mut length, mut gzipped) = (0usize, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((&line, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            if name.eq_ignore_ascii_case("content-encoding") {
                gzipped = value.trim().eq_ignore_ascii_case("gzip");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (status, answer) = match path.as_str() {
            "/api/status/node.json" => (200, node_status),
            "/api/replication/registry/services.json" => {
                assert!(gzipped, "peers send gzip bodies, as Java nodes do");
                let mut text = String::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_string(&mut text)
                    .unwrap();
                kept.lock().unwrap().push(text);
                (200, services)
            }
            _ => (404, "{}"),
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(answer.as_bytes()).is_err()
        {
            return;
        }
    }
}

#[test]
fn a_node_copies_the_registry_of_a_java_shaped_peer_before_it_reports_up() {
    let instance = |service: &str, id: &str, region: &str| {
        format!(
            r#"{{"groupId":null,"healthCheckUrl":null,"instanceId":"{id}","ip":"10.0.0.7","machineName":null,"metadata":{{"java_registry":"yes"}},"port":8080,"protocol":"http","regionId":"{region}","serviceId":"{service}","status":"up","url":"http://10.0.0.7:8080/{id}","zoneId":"SHAJQ"}}"#
        )
    };
    let service = |id: &str, instances: &[String]| {
        format!(
            r#"{{"instances":[{}],"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"{id}"}}"#,
            instances.join(",")
        )
    };
    let registry = format!(
        "[{},{},null]",
        service(
            "java-svc-a",
            &[
                instance("java-svc-a", "a1", "SHA"),
                instance("java-svc-a", "a2", "sha")
            ]
        ),
        // An instance of another region is not this node's to hold.
        service(
            "java-svc-b",
            &[
                instance("java-svc-b", "b1", "SHA"),
                instance("java-svc-b", "x", "FRA")
            ]
        ),
    );
    let peer = JavaShapedPeer::start(REGION, ZONE, "up", registry);
    let own = free_local_addr();
    let b = start_node(own, &[own, peer.addr], false, 3_600_000);
    wait_for("B up", || own_status(&b) == "up");
    let mut c = b.client();
    assert_eq!(lookup_ids(&mut c, "java-svc-a"), ["a1", "a2"]);
    assert_eq!(lookup_ids(&mut c, "java-svc-b"), ["b1"]);
    let a1 = lookup_one(&mut c, "java-svc-a")["instances"][0].clone();
    assert_eq!(
        a1["metadata"]["java_registry"].as_str(),
        Some("yes"),
        "{}",
        dump(&a1)
    );
    let requests = peer.copy_requests.lock().unwrap().clone();
    assert_eq!(
        requests.first().map(String::as_str),
        Some(r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#),
        "{requests:?}"
    );
    let stderr = b.stderr();
    assert!(stderr.contains("copied instance left out"), "{stderr}");
}
