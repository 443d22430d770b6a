//! Group data and group pull-outs as a shard serves and announces them, with snapshots built
//! directly from rows.

use std::sync::Arc;

use protocol::model::management::{InstanceKey, ServerKey, Target};
use protocol::model::{write_instance, write_reload_instance, Instance};

use crate::changes::NodeShared;
use crate::shard::group_fixtures::Groups;
use crate::shard::tests::{config, fields, list, lookup, pushes};
use crate::shard::{Served, Shard};

/// An instance of `svc` in region `r` at 10.0.0.1, as the shard stores it.
fn stored(id: &str, zone: &str, group: Option<&str>) -> Arc<[u8]> {
    let instance = Instance {
        region_id: Some("r".into()),
        zone_id: Some(zone.into()),
        group_id: group.map(Into::into),
        service_id: Some("svc".into()),
        instance_id: Some(id.into()),
        ip: Some("10.0.0.1".into()),
        port: 8080,
        ..Instance::default()
    };
    let mut out = Vec::new();
    write_instance(&mut out, &instance);
    out.into()
}

fn register(s: &mut Shard, id: &str, zone: &str, group: Option<&str>, now: u64) {
    let place = crate::place::join("r", zone, "10.0.0.1");
    s.register("svc", id, false, stored(id, zone, group), &place, now);
}

fn text(json: &[u8]) -> &str {
    std::str::from_utf8(json).unwrap()
}

/// `"<changeType> <instanceId>"` of every pushed change, in order.
fn kinds(s: &mut Shard) -> Vec<String> {
    pushes(s)
        .iter()
        .map(|(_, m, _)| {
            let field = |name: &str| {
                let value = sonic_rs::get(m, &[name]).unwrap();
                value.as_raw_str().trim_matches('"').to_owned()
            };
            let id = sonic_rs::get(m, &["instance", "instanceId"]).unwrap();
            format!(
                "{} {}",
                field("changeType"),
                id.as_raw_str().trim_matches('"')
            )
        })
        .collect()
}

fn reload_message(service: &str, time_ms: u64) -> String {
    let mut instance = Vec::new();
    write_reload_instance(&mut instance, service);
    format!(
        r#"{{"changeTime":{time_ms},"changeType":"reload","instance":{}}}"#,
        text(&instance)
    )
}

fn delta(s: &Shard, since: u64) -> String {
    let mut out = Vec::new();
    s.delta_since(since, &mut out).expect("in the log");
    String::from_utf8(out).unwrap()
}

/// A rule `main` of `svc` over groups g1 (zone z) and g2 (zone z2) at weights 3 and 7; its id,
/// and g1's.
fn main_rule(groups: &mut Groups) -> (i64, i64) {
    let g1 = groups.group("svc", "r", "z", "g1");
    let g2 = groups.group("svc", "r", "z2", "g2");
    let main = groups.rule("svc", "main");
    groups.link(main, g1, Some(3));
    groups.link(main, g2, Some(7));
    groups.tag(g2, "env", "blue");
    (main, g1)
}

#[test]
fn lookups_serve_the_group_view_from_the_cached_bytes() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "a", "z", Some("g1"), 0);
    let mut groups = Groups::default();
    main_rule(&mut groups);
    groups.logical("svc", "l1", "10.0.0.9");
    groups.logical("solo", "l9", "10.0.0.8");
    assert_eq!(s.apply_management(groups.snapshot(1, &[]), 1), 0);

    let served = fields(&mut s, "svc").unwrap();
    assert_eq!(
        list(&served, "routeRules"),
        concat!(
            r#"[{"groups":[{"groupKey":"svc/r/z/g1","instanceIds":[],"instances":null,"#,
            r#""metadata":null,"weight":3},{"groupKey":"svc/r/z2/g2","instanceIds":[],"#,
            r#""instances":null,"metadata":{"env":"blue"},"weight":7}],"routeId":"main","#,
            r#""strategy":"weighted-round-robin"}]"#
        )
    );
    assert!(list(&served, "logicInstances").contains(r#""instanceId":"l1""#));
    assert!(
        Arc::ptr_eq(&served, &fields(&mut s, "SVC").unwrap()),
        "every lookup is served the cached bytes"
    );
    let listed = text(&s.services_json()).to_owned();
    assert!(listed.contains(r#""routeRules":[{"groups":[{"groupKey":"svc/r/z/g1""#));

    // A service with only group data: no instance, its logical instances, served from cache.
    let Served::GroupsOnly(solo) = s.served("Solo") else {
        panic!("solo has group data");
    };
    assert_eq!(list(&solo, "instances"), "[]");
    assert!(list(&solo, "logicInstances").contains(r#""instanceId":"l9""#));
    assert_eq!(list(&solo, "routeRules"), "[]");
    let Served::GroupsOnly(again) = s.served("solo") else {
        panic!("still served");
    };
    assert!(Arc::ptr_eq(&solo, &again));
    assert!(matches!(s.served("nobody"), Served::Unknown));
    assert!(
        !listed.contains("solo"),
        "services.json lists registered services only"
    );
}

#[test]
fn a_released_weight_reloads_the_service_with_a_version_bump_and_a_delta_entry() {
    let mut s = Shard::standalone(config(), 0);
    let start = s.node_version();
    register(&mut s, "a", "z", Some("g1"), 0);
    s.subscribe("svc", 1);
    let mut groups = Groups::default();
    let (main, g1) = main_rule(&mut groups);
    s.apply_management(groups.snapshot(1, &[]), 10);
    assert_eq!(
        pushes(&mut s),
        [("svc".to_string(), reload_message("svc", 10), vec![1])],
        "the rule appeared"
    );
    let version = s.node_version();
    let before = fields(&mut s, "svc").unwrap();

    groups.release(main, g1, 4);
    s.apply_management(groups.snapshot(2, &[]), 20);
    assert_eq!(
        pushes(&mut s),
        [("svc".to_string(), reload_message("svc", 20), vec![1])]
    );
    assert_eq!(s.node_version(), version + 1, "one change");
    let after = fields(&mut s, "svc").unwrap();
    assert!(!Arc::ptr_eq(&before, &after), "rebuilt");
    assert!(list(&after, "routeRules").contains(
        r#""groupKey":"svc/r/z/g1","instanceIds":[],"instances":null,"metadata":null,"weight":4}"#
    ));
    assert_eq!(
        delta(&s, version),
        format!(r#""svc":[{}]"#, reload_message("svc", 20))
    );

    // The same rows again: nothing to announce, nothing rebuilt.
    s.apply_management(groups.snapshot(3, &[]), 30);
    assert!(pushes(&mut s).is_empty());
    assert_eq!(s.node_version(), version + 1);
    assert!(Arc::ptr_eq(&after, &fields(&mut s, "svc").unwrap()));

    // Deltas keep the last reload of a service, after its instance changes.
    groups.release(main, g1, 5);
    s.apply_management(groups.snapshot(4, &[]), 40);
    let instance = text(&stored("a", "z", Some("g1"))).to_owned();
    assert_eq!(
        delta(&s, start),
        format!(
            r#""svc":[{},{}]"#,
            format_args!(r#"{{"changeTime":0,"changeType":"new","instance":{instance}}}"#),
            reload_message("svc", 40)
        )
    );
}

#[test]
fn a_group_pull_out_hides_its_instances_and_a_pull_in_brings_them_back() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "a", "z", Some("G1"), 0);
    register(&mut s, "b", "z", Some("g1"), 0);
    register(&mut s, "c", "z", None, 0);
    register(&mut s, "e", "z2", Some("g1"), 0);
    s.subscribe("svc", 1);
    let mut groups = Groups::default();
    let g1 = groups.group("svc", "r", "z", "g1");
    groups.pull_out(g1);
    assert_eq!(s.apply_management(groups.snapshot(1, &[]), 1), 2);
    assert_eq!(kinds(&mut s), ["delete a", "delete b"]);
    let served = lookup(&mut s, "svc").unwrap();
    assert!(served.contains(r#""instanceId":"c""#) && served.contains(r#""instanceId":"e""#));
    assert!(!served.contains(r#""instanceId":"a""#) && !served.contains(r#""instanceId":"b""#));
    let mut hidden = Vec::new();
    s.for_each_instance(Some("svc"), |v| {
        if v.hidden {
            hidden.push(v.instance_id.to_string());
        }
    });
    hidden.sort();
    assert_eq!(hidden, ["a", "b"], "the management views see them down");

    // Registering into a pulled-out group is hidden and silent.
    register(&mut s, "d", "z", Some("g1"), 2);
    assert!(kinds(&mut s).is_empty());
    assert!(!lookup(&mut s, "svc")
        .unwrap()
        .contains(r#""instanceId":"d""#));

    groups.pull_in(g1);
    assert_eq!(s.apply_management(groups.snapshot(2, &[]), 3), 3);
    let mut back = kinds(&mut s);
    back.sort();
    assert_eq!(
        back,
        ["new a", "new b", "new d"],
        "no reload: no view changed"
    );
    assert_eq!(
        lookup(&mut s, "svc").unwrap().matches("instanceId").count(),
        5
    );
}

#[test]
fn pull_outs_of_logical_instances_reload_their_service() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "a", "z", None, 0);
    let mut groups = Groups::default();
    groups.logical("svc", "l1", "10.0.0.9");
    groups.logical("svc", "l2", "10.0.0.8");
    s.apply_management(groups.snapshot(1, &[]), 1);
    s.subscribe("svc", 1);
    let logical = |s: &mut Shard| {
        let logical = list(&fields(s, "svc").unwrap(), "logicInstances");
        ["l1", "l2"]
            .into_iter()
            .filter(|id| logical.contains(&format!(r#""instanceId":"{id}""#)))
            .collect::<Vec<_>>()
    };
    assert_eq!(logical(&mut s), ["l1", "l2"]);

    let instance = Target::Instance(InstanceKey {
        region_id: "R".into(),
        service_id: "SVC".into(),
        instance_id: "L1".into(),
    });
    s.apply_management(groups.snapshot(2, &[instance]), 2);
    assert_eq!(kinds(&mut s), ["reload reload"]);
    assert_eq!(logical(&mut s), ["l2"]);

    // Still hidden, by its server now: nothing changed for clients.
    let server = Target::Server(ServerKey {
        region_id: "r".into(),
        server_id: "10.0.0.9".into(),
    });
    s.apply_management(groups.snapshot(3, &[server]), 3);
    assert!(kinds(&mut s).is_empty());
    assert_eq!(logical(&mut s), ["l2"]);

    // Its group (region r, zone z, group g) pulled out: both hidden.
    let group = groups.group("svc", "r", "z", "g");
    groups.pull_out(group);
    s.apply_management(groups.snapshot(4, &[]), 4);
    assert_eq!(kinds(&mut s), ["reload reload"]);
    assert!(logical(&mut s).is_empty());
    assert!(
        lookup(&mut s, "svc")
            .unwrap()
            .contains(r#""instanceId":"a""#),
        "a is in the default group"
    );

    groups.pull_in(group);
    s.apply_management(groups.snapshot(5, &[]), 5);
    assert_eq!(kinds(&mut s), ["reload reload"]);
    assert_eq!(logical(&mut s), ["l1", "l2"]);
}

#[test]
fn canary_groups_follow_registrations_and_keep_pulled_out_instances() {
    let mut s = Shard::standalone(config(), 0);
    let mut groups = Groups::default();
    let canary = groups.group("svc", "r", "canary", "app");
    let rule = groups.rule("svc", "canary-route-rule");
    groups.link(rule, canary, Some(5));
    groups.member(canary, "l1");
    groups.logical("svc", "l1", "10.0.0.9");
    register(&mut s, "a", "canary", Some("app"), 0);
    register(&mut s, "x", "z", Some("app"), 0);
    s.apply_management(groups.snapshot(1, &[]), 1);
    s.subscribe("svc", 1);
    let canary_instances = |s: &mut Shard| {
        let rules = list(&fields(s, "svc").unwrap(), "routeRules");
        let path = sonic_rs::pointer![0, "groups", 0, "instances"];
        let instances = sonic_rs::get(&rules, &path).unwrap();
        sonic_rs::from_str::<Vec<sonic_rs::Value>>(instances.as_raw_str())
            .unwrap()
            .iter()
            .map(|i| sonic_rs::to_string(&i["instanceId"]).unwrap())
            .collect::<Vec<String>>()
    };
    assert_eq!(canary_instances(&mut s), [r#""a""#, r#""l1""#]);

    register(&mut s, "b", "canary", Some("APP"), 2);
    assert_eq!(kinds(&mut s), ["new b"], "a registration is no reload");
    assert_eq!(canary_instances(&mut s), [r#""a""#, r#""b""#, r#""l1""#]);

    let pulled = Target::Instance(InstanceKey {
        region_id: "r".into(),
        service_id: "svc".into(),
        instance_id: "a".into(),
    });
    s.apply_management(groups.snapshot(2, &[pulled]), 3);
    assert_eq!(kinds(&mut s), ["delete a"]);
    assert!(!lookup(&mut s, "svc")
        .unwrap()
        .contains(r#""instanceId":"a""#));
    assert_eq!(
        canary_instances(&mut s),
        [r#""a""#, r#""b""#, r#""l1""#],
        "Java resolves canary groups before pull-outs are removed"
    );
}

#[test]
fn only_the_owner_of_a_service_announces_its_reload() {
    let shared = Arc::new(NodeShared::new(2, 0));
    let mut shards = [
        Shard::new(0, config(), shared.clone(), 0),
        Shard::new(1, config(), shared.clone(), 0),
    ];
    let service = (0..)
        .map(|n| format!("Ghost{n}"))
        .find(|id| shared.router.shard_of(id) == 1)
        .unwrap();
    let mut groups = Groups::default();
    let group = groups.group(&service, "r", "z", "g");
    let rule = groups.rule(&service, "main");
    groups.link(rule, group, None);
    for shard in &mut shards {
        shard.subscribe_all(0);
        shard.apply_management(groups.snapshot(1, &[]), 7);
    }
    assert!(pushes(&mut shards[0]).is_empty());
    let lower = service.to_ascii_lowercase();
    assert_eq!(
        pushes(&mut shards[1]),
        [(lower.clone(), reload_message(&lower, 7), vec![0])],
        "no instance registered: the lower-case id"
    );
    assert_eq!(delta(&shards[0], 0), "");
    assert_eq!(
        delta(&shards[1], 0),
        format!(r#""{lower}":[{}]"#, reload_message(&lower, 7))
    );
}
