//! `cluster.listen`: peers list each other by their cluster listener's URL and replicate there;
//! the main port refuses replication; clients asking up-*-nodes get each node's advertised
//! (main) URL, learned from its node.json.

use std::net::SocketAddr;
use std::time::Duration;

use harness::*;

const CHANGE: Duration = Duration::from_secs(20);

fn start(main: SocketAddr, cluster: SocketAddr, nodes: &str, force_up: bool) -> Server {
    let config = format!(
        "[cluster]\nlisten = \"{cluster}\"\nhealth_check_interval_ms = 100\n\
         [rate_limits.cluster]\nenabled = false\n"
    );
    let mut args: Vec<&str> = SHA_ARGS.to_vec();
    args.extend(["--cluster-nodes", nodes]);
    if force_up {
        args.push("--force-up");
    }
    Server::start_listening(&main.to_string(), &args, Some(&config))
}

#[test]
fn peers_replicate_over_their_cluster_listeners() {
    let [main_a, main_b, peer_a, peer_b] = [(); 4].map(|()| free_local_addr());
    let nodes = format!("{ZONE}:http://{peer_a}/,http://{peer_b}/");
    let a = start(main_a, peer_a, &nodes, true);
    let b = start(main_b, peer_b, &nodes, false);
    assert!(
        wait_until(CHANGE, || own_status(&b) == "up"),
        "b never copied the registry from a over the cluster listeners: {}",
        b.stderr()
    );

    let inst = Inst::new("svc-listener", "i-1");
    register(&mut a.client(), std::slice::from_ref(&inst));
    assert!(
        wait_until(CHANGE, || lookup_ids(&mut b.client(), "svc-listener")
            == vec!["i-1".to_string()]),
        "the register on a never reached b"
    );

    // Replication on a main port is refused: it belongs to the cluster listener.
    let (status, body) = a.post_json(
        "/api/replication/registry/register.json",
        &instances_body(&[Inst::new("svc-listener", "forged")]),
    );
    assert_eq!(status, 403, "{}", dump(&body));
    assert_eq!(
        lookup_ids(&mut a.client(), "svc-listener"),
        vec!["i-1".to_string()]
    );

    // Clients are given each node's main URL, not the private one the peers use.
    let mut want = vec![format!("http://{main_a}/"), format!("http://{main_b}/")];
    want.sort();
    assert!(
        wait_until(CHANGE, || {
            let mut urls = up_node_urls(&a, "registry").unwrap_or_default();
            urls.sort();
            urls == want
        }),
        "up-registry-nodes on a: {:?}, want {want:?}",
        up_node_urls(&a, "registry")
    );
}
