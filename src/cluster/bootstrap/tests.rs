use super::*;
use crate::cluster::health::PolledStatus;
use crate::cluster::NodeStatus;
use crate::config::cluster::NodesSpec;
use crate::config::Config;

const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

/// This node is `http://127.0.0.1:8081/` in zone z1.
fn cluster(nodes: &str) -> ClusterState {
    let mut config = Config {
        zone_id: "z1".into(),
        ..Config::default()
    };
    config.cluster.nodes = NodesSpec::Java(nodes.into());
    let topology = Topology::from_config(&config, &["http://127.0.0.1:8081/"]).unwrap();
    ClusterState::new(topology, false, None)
}

fn urls(cluster: &ClusterState, ids: &[usize]) -> Vec<String> {
    let peers = &cluster.topology.peers;
    ids.iter().map(|&id| peers[id].entry.url.clone()).collect()
}

fn set_status(cluster: &ClusterState, id: usize, status: NodeStatus) {
    let polled = PolledStatus {
        status,
        advertised_url: None,
        can_service_registry: false,
        can_service_discovery: false,
        allow_registry_from_other_zone: false,
        allow_discovery_from_other_zone: false,
    };
    cluster.peers[id].health.record(Some(&polled), 1);
}

#[test]
fn peers_of_this_zone_come_first_then_the_others_in_config_order() {
    let c = cluster(
        "z2:http://10.0.0.1:1,http://10.0.0.2:1;z1:http://10.0.0.3:1,http://127.0.0.1:8081;\
         z3:http://10.0.0.4:1;z1:http://10.0.0.5:1",
    );
    assert_eq!(
        urls(&c, &copy_order(&c.topology)),
        [
            "http://10.0.0.3:1/",
            "http://10.0.0.5:1/",
            "http://10.0.0.1:1/",
            "http://10.0.0.2:1/",
            "http://10.0.0.4:1/",
        ]
    );
}

#[test]
fn only_up_peers_are_asked_for_a_copy() {
    let c = cluster(
        "z2:http://10.0.0.1:1,http://10.0.0.2:1;z1:http://127.0.0.1:8081,http://10.0.0.3:1",
    );
    assert!(up_peers(&c).is_empty(), "never polled");
    set_status(&c, 0, NodeStatus::Up);
    set_status(&c, 1, NodeStatus::Starting);
    set_status(&c, 2, NodeStatus::Up);
    assert_eq!(
        urls(&c, &up_peers(&c)),
        ["http://10.0.0.3:1/", "http://10.0.0.1:1/"]
    );
    c.peers[2].health.record(None, 2);
    assert_eq!(urls(&c, &up_peers(&c)), ["http://10.0.0.1:1/"]);
    assert!(c.any_peer_up());
}

#[test]
fn peers_are_seen_up_answering_or_silent() {
    let c = cluster("z1:http://127.0.0.1:8081,http://10.0.0.1:1,http://10.0.0.2:1");
    assert_eq!(peers_seen(&c), PeersSeen::Silent, "never polled");
    c.peers[0].health.record(None, 1);
    assert_eq!(peers_seen(&c), PeersSeen::Silent, "no answer");
    set_status(&c, 1, NodeStatus::Starting);
    assert_eq!(peers_seen(&c), PeersSeen::AnsweringNoneUp);
    set_status(&c, 1, NodeStatus::Down);
    assert_eq!(
        peers_seen(&c),
        PeersSeen::AnsweringNoneUp,
        "down is an answer"
    );
    set_status(&c, 0, NodeStatus::Up);
    assert_eq!(peers_seen(&c), PeersSeen::Up);
    // Its next poll gets no answer: the other peer still answers.
    c.peers[0].health.record(None, 2);
    assert_eq!(peers_seen(&c), PeersSeen::AnsweringNoneUp);
    c.peers[1].health.record(None, 2);
    assert_eq!(peers_seen(&c), PeersSeen::Silent);
}

#[test]
fn the_wait_is_over_when_peers_answered_and_none_was_up_for_the_whole_wait() {
    let mut wait = PeerWait::new(1_000, 500);
    assert_eq!(wait.look(1_000, PeersSeen::Silent), WaitVerdict::Wait);
    assert_eq!(
        wait.look(1_200, PeersSeen::AnsweringNoneUp),
        WaitVerdict::Wait
    );
    assert_eq!(wait.look(1_499, PeersSeen::Silent), WaitVerdict::Wait);
    // The peer that answered at 1_200 is silent now: it still answered in the wait.
    assert_eq!(wait.look(1_500, PeersSeen::Silent), WaitVerdict::Over);

    // A peer seen up starts the wait again, and the answers before it no longer count.
    let mut wait = PeerWait::new(1_000, 500);
    assert_eq!(
        wait.look(1_100, PeersSeen::AnsweringNoneUp),
        WaitVerdict::Wait
    );
    assert_eq!(wait.look(1_400, PeersSeen::Up), WaitVerdict::Wait);
    assert_eq!(
        wait.look(1_899, PeersSeen::AnsweringNoneUp),
        WaitVerdict::Wait
    );
    assert_eq!(wait.look(1_900, PeersSeen::Silent), WaitVerdict::Over);
    let mut wait = PeerWait::new(1_000, 500);
    wait.look(1_100, PeersSeen::AnsweringNoneUp);
    wait.look(1_400, PeersSeen::Up);
    assert!(matches!(
        wait.look(1_900, PeersSeen::Silent),
        WaitVerdict::CutOff { .. }
    ));

    // A wait of 0 is over at the first look that finds peers answering and none up.
    assert_eq!(
        PeerWait::new(7, 0).look(7, PeersSeen::AnsweringNoneUp),
        WaitVerdict::Over
    );
    assert_eq!(
        PeerWait::new(7, 0).look(7, PeersSeen::Up),
        WaitVerdict::Wait
    );
}

#[test]
fn a_node_no_peer_answers_keeps_waiting_and_warns_now_and_then() {
    let warned = |v: WaitVerdict| match v {
        WaitVerdict::CutOff { warn } => warn,
        other => panic!("cut off expected, got {other:?}"),
    };
    let mut wait = PeerWait::new(0, 500);
    assert_eq!(wait.look(499, PeersSeen::Silent), WaitVerdict::Wait);
    assert!(warned(wait.look(500, PeersSeen::Silent)), "warns at once");
    assert!(!warned(wait.look(1_500, PeersSeen::Silent)));
    let again = 500 + CUT_OFF_WARN_EVERY_MS;
    assert!(!warned(wait.look(again - 1, PeersSeen::Silent)));
    assert!(
        warned(wait.look(again, PeersSeen::Silent)),
        "and again later"
    );
    assert!(!warned(wait.look(again + 1, PeersSeen::Silent)));
    // Hours later a peer answers, starting: the wait has long been over.
    assert_eq!(
        wait.look(10_000_000, PeersSeen::AnsweringNoneUp),
        WaitVerdict::Over
    );

    // After a peer was seen up, being cut off is a new wait that warns at once again.
    let mut wait = PeerWait::new(0, 500);
    assert!(warned(wait.look(500, PeersSeen::Silent)));
    assert_eq!(wait.look(600, PeersSeen::Up), WaitVerdict::Wait);
    assert_eq!(wait.look(1_099, PeersSeen::Silent), WaitVerdict::Wait);
    assert!(warned(wait.look(1_100, PeersSeen::Silent)));
}

#[test]
fn the_request_names_this_nodes_region_and_zone() {
    assert_eq!(
        copy_request("SHA", "z\"1"),
        br#"{"regionId":"SHA","zoneId":"z\"1"}"#
    );
}

const INSTANCE_A: &str = r#"{"regionId":"sha","zoneId":"z2","serviceId":"Svc","instanceId":"a","ip":"10.0.0.9","port":80,"url":"http://10.0.0.9/","metadata":{"java_registry":"x"}}"#;
const INSTANCE_B: &str =
    r#"{"regionId":"SHA","zoneId":"z1","serviceId":"svc2","instanceId":"b","url":"http://b/"}"#;

fn checks() -> CopyChecks<'static> {
    CopyChecks {
        region_id: "SHA",
        limits: FieldLimits {
            max_id_bytes: 64,
            max_metadata_bytes: 1024,
        },
    }
}

#[test]
fn a_copy_lists_every_instance_of_every_service() {
    let body = format!(
        r#"{{"responseStatus":{OK},"services":[{{"serviceId":"svc","instances":[{INSTANCE_A},null]}},null,{{"serviceId":"e","instances":null}},{{"serviceId":"svc2","instances":[{INSTANCE_B}]}}]}}"#
    );
    let copy = read_copy(body.as_bytes()).unwrap();
    let ids: Vec<&str> = instances(&copy)
        .map(|i| i.instance_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);

    let item = register_item(instances(&copy).next().unwrap(), &checks()).unwrap();
    assert_eq!(&*item.service_id, "Svc");
    assert_eq!(&*item.instance_id, "a");
    assert!(item.legacy, "java_registry metadata makes a legacy lease");
    assert_eq!(&*item.place, &*shards::place::join("sha", "z2", "10.0.0.9"));
    let stored = std::str::from_utf8(&item.json).unwrap();
    assert!(stored.starts_with(r#"{"groupId":null,"#), "{stored}");
    assert!(stored.contains(r#""zoneId":"z2""#), "{stored}");
}

#[test]
fn an_empty_copy_is_a_copy_and_failures_are_not() {
    let empty = format!(r#"{{"responseStatus":{OK},"services":[]}}"#);
    assert_eq!(instances(&read_copy(empty.as_bytes()).unwrap()).count(), 0);
    let null = format!(r#"{{"responseStatus":{OK},"services":null}}"#);
    assert!(read_copy(null.as_bytes()).unwrap_err().contains("services"));
    let refused = br#"{"responseStatus":{"errorCode":"no-permission","message":"forbidden","status":"fail"},"services":null}"#;
    let why = read_copy(refused).unwrap_err();
    assert!(
        why.contains("no-permission") && why.contains("forbidden"),
        "{why}"
    );
    assert!(read_copy(b"<html>").unwrap_err().contains("invalid JSON"));
}

#[test]
fn instances_of_another_region_or_incomplete_ones_are_left_out() {
    let copy =
        |json: &str| format!(r#"{{"responseStatus":{OK},"services":[{{"instances":[{json}]}}]}}"#);
    let check = |json: &str| {
        let body = copy(json);
        let answer = read_copy(body.as_bytes()).unwrap();
        let instance = instances(&answer).next().unwrap();
        register_item(instance, &checks()).map(|_| ())
    };
    assert!(check(INSTANCE_B).is_ok());
    let other_region = INSTANCE_B.replace("\"SHA\"", "\"FRA\"");
    assert!(check(&other_region).unwrap_err().contains("FRA"));
    let no_url = INSTANCE_B.replace(r#","url":"http://b/""#, "");
    assert!(check(&no_url).unwrap_err().contains("url"));
    let long_id = INSTANCE_B.replace(r#""b""#, &format!("\"{}\"", "b".repeat(65)));
    assert!(check(&long_id).is_err());
}
