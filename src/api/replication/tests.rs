use std::net::{IpAddr, Ipv4Addr};

use super::auth::{authorize, host_and_port, Policy, Presented, Refusal};
use crate::server::conn::ListenerRole;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));

fn presented(listener: ListenerRole, secret: Option<&[u8]>, remote: IpAddr) -> Presented<'_> {
    Presented {
        listener,
        secret,
        remote,
    }
}

fn only_peer(ip: IpAddr) -> bool {
    ip == PEER
}

#[test]
fn without_a_secret_only_node_hosts_get_in() {
    let policy = Policy {
        cluster_listener: false,
        secret: None,
    };
    let main = ListenerRole::Main;
    assert_eq!(
        authorize(&policy, &presented(main, None, PEER), only_peer),
        Ok(())
    );
    assert_eq!(
        authorize(&policy, &presented(main, None, STRANGER), only_peer),
        Err(Refusal::UnknownHost(STRANGER))
    );
    // A header does not open the door when no secret is configured.
    assert_eq!(
        authorize(&policy, &presented(main, Some(b"x"), STRANGER), only_peer),
        Err(Refusal::UnknownHost(STRANGER))
    );
}

#[test]
fn with_a_secret_the_secret_decides_and_not_the_address() {
    let policy = Policy {
        cluster_listener: false,
        secret: Some("s3cret"),
    };
    let main = ListenerRole::Main;
    let never = |_| panic!("the address is not asked about when a secret is set");
    assert_eq!(
        authorize(&policy, &presented(main, Some(b"s3cret"), STRANGER), never),
        Ok(())
    );
    assert_eq!(
        authorize(&policy, &presented(main, None, PEER), never),
        Err(Refusal::MissingSecret)
    );
    for wrong in [&b"s3creT"[..], b"s3cre", b"s3crets", b"", b"s3cret\0"] {
        assert_eq!(
            authorize(&policy, &presented(main, Some(wrong), PEER), never),
            Err(Refusal::WrongSecret),
            "{wrong:?}"
        );
    }
    // A secret that is a repetition of the right one (the comparison wraps around the secret).
    assert_eq!(
        authorize(
            &policy,
            &presented(main, Some(b"s3crets3cret"), PEER),
            never
        ),
        Err(Refusal::WrongSecret)
    );
}

#[test]
fn with_a_cluster_listener_the_main_port_refuses_replication() {
    let policy = Policy {
        cluster_listener: true,
        secret: None,
    };
    assert_eq!(
        authorize(
            &policy,
            &presented(ListenerRole::Main, None, PEER),
            only_peer
        ),
        Err(Refusal::NotOnClusterListener)
    );
    assert_eq!(
        authorize(
            &policy,
            &presented(ListenerRole::Cluster, None, PEER),
            only_peer
        ),
        Ok(())
    );
    assert_eq!(
        authorize(
            &policy,
            &presented(ListenerRole::Cluster, None, STRANGER),
            only_peer
        ),
        Err(Refusal::UnknownHost(STRANGER))
    );
}

#[test]
fn url_hosts_and_ports() {
    assert_eq!(
        host_and_port("http://127.0.0.1:8080/"),
        Some(("127.0.0.1", 8080))
    );
    assert_eq!(
        host_and_port("HTTP://node-1/artemis-service/"),
        Some(("node-1", 80))
    );
    assert_eq!(host_and_port("https://node-1"), Some(("node-1", 443)));
    assert_eq!(host_and_port("http://[::1]:9/x"), Some(("::1", 9)));
    assert_eq!(host_and_port("http://[::1]/"), Some(("::1", 80)));
    assert_eq!(host_and_port("http://user@h:1/"), Some(("h", 1)));
    assert_eq!(host_and_port("ftp://h/"), None);
    assert_eq!(host_and_port("http:///x"), None);
    assert_eq!(host_and_port("http://h:port/"), None);
}
