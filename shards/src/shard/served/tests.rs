use super::*;
use crate::shard::group_fixtures::Groups;
use protocol::model::management::{InstanceKey, Target};
use protocol::model::{write_instance, Instance};

/// A registered instance of `svc` in region `r` as the shard stores it.
fn stored(id: &str, zone: &str, group: Option<&str>) -> Vec<u8> {
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
    out
}

fn member<'a>(id: &'a str, json: &'a [u8], hidden: bool) -> Member<'a> {
    Member {
        instance_id: id,
        json,
        hidden,
    }
}

fn text(served: &ServedFields) -> &str {
    std::str::from_utf8(&served.fields).unwrap()
}

/// One list field of built Service fields, as served.
fn list(served: &ServedFields, name: &str) -> String {
    let object = format!("{{{}}}", text(served));
    let value = sonic_rs::get(&object, &[name]).unwrap_or_else(|e| panic!("{name}: {e}"));
    value.as_raw_str().to_owned()
}

fn utf8(json: &[u8]) -> &str {
    std::str::from_utf8(json).unwrap()
}

fn pulled_out_instance(id: &str) -> Target {
    Target::Instance(InstanceKey {
        region_id: "r".into(),
        service_id: "svc".into(),
        instance_id: id.into(),
    })
}

#[test]
fn without_group_data_the_lists_are_empty_and_hidden_instances_left_out() {
    let (a, b) = (stored("a", "z", None), stored("b", "z", None));
    let members = [member("a", &a, false), member("b", &b, true)];
    let none = ManagementSnapshot::default();
    let served = build("svc", members.iter().copied(), &none);
    assert_eq!(
        text(&served),
        format!(
            r#""instances":[{}],"logicInstances":[],"metadata":null,"routeRules":[]"#,
            utf8(&a)
        )
    );
    assert!(served.has_instances);
    let hidden = [member("b", &b, true)];
    let served = build("svc", hidden.iter().copied(), &none);
    assert_eq!(list(&served, "instances"), "[]");
    assert!(!served.has_instances);
}

#[test]
fn route_rules_and_unhidden_logical_instances_come_from_the_view() {
    let mut groups = Groups::default();
    let g1 = groups.group("svc", "r", "z", "g1");
    let g2 = groups.group("svc", "r", "z2", "g2");
    let main = groups.rule("Svc", "main");
    groups.link(main, g1, Some(3));
    groups.link(main, g2, Some(7));
    groups.tag(g1, "env", "blue");
    groups.member(g2, "b");
    groups.logical("svc", "l1", "10.0.0.9");
    groups.logical("SVC", "l2", "10.0.0.8");
    let snapshot = groups.snapshot(1, &[pulled_out_instance("l2")]);
    let a = stored("a", "z", Some("g1"));
    let served = build("SVC", [member("a", &a, false)].into_iter(), &snapshot);
    assert_eq!(
        list(&served, "routeRules"),
        concat!(
            r#"[{"groups":[{"groupKey":"svc/r/z/g1","instanceIds":[],"instances":null,"#,
            r#""metadata":{"env":"blue"},"weight":3},{"groupKey":"svc/r/z2/g2","#,
            r#""instanceIds":["b"],"instances":null,"metadata":null,"weight":7}],"#,
            r#""routeId":"main","strategy":"weighted-round-robin"}]"#
        )
    );
    assert_eq!(
        list(&served, "logicInstances"),
        concat!(
            r#"[{"groupId":"g","healthCheckUrl":"http://h","instanceId":"l1","ip":"10.0.0.9","#,
            r#""machineName":"m","metadata":{},"port":80,"protocol":"http","regionId":"r","#,
            r#""serviceId":"svc","status":"up","url":"http://u","zoneId":"z"}]"#
        ),
        "l2 is pulled out"
    );
    assert_eq!(list(&served, "instances"), format!("[{}]", utf8(&a)));
}

#[test]
fn canary_groups_list_their_instances_pulled_out_ones_too() {
    let mut groups = Groups::default();
    let canary = groups.group("svc", "r", "canary", "app");
    let other = groups.group("svc", "r", "z", "g");
    let rule = groups.rule("svc", "Canary-Route-Rule");
    groups.link(rule, canary, None);
    let main = groups.rule("svc", "main");
    groups.link(main, other, Some(1));
    groups.member(canary, "l1");
    groups.member(canary, "missing");
    groups.logical("svc", "l1", "10.0.0.9");
    let snapshot = groups.snapshot(1, &[]);
    let (a, b) = (
        stored("a", "canary", Some("app")),
        stored("b", "z", Some("app")),
    );
    // `a` is in the canary group by its group key, hidden or not; `b` is in another zone.
    let members = [member("a", &a, true), member("b", &b, false)];
    let served = build("svc", members.iter().copied(), &snapshot);
    let rules = list(&served, "routeRules");
    let logical = list(&served, "logicInstances");
    let expected = format!(
        r#"[{{"groups":[{{"groupKey":"svc/r/canary/app","instanceIds":["l1","missing"],"instances":[{},{}],"metadata":null,"weight":5}}],"routeId":"Canary-Route-Rule","strategy":"weighted-round-robin"}},{{"groups":[{{"groupKey":"svc/r/z/g","instanceIds":[],"instances":null,"metadata":null,"weight":1}}],"routeId":"main","strategy":"weighted-round-robin"}}]"#,
        utf8(&a),
        &logical[1..logical.len() - 1]
    );
    assert_eq!(rules, expected);
}

#[test]
fn a_group_pull_out_covers_the_instances_whose_key_it_prefixes() {
    let mut groups = Groups::default();
    let g1 = groups.group("svc", "r", "z", "G1");
    let default = groups.group("svc", "r", "z9", "default");
    groups.pull_out(g1);
    groups.pull_out(default);
    let snapshot = groups.snapshot(1, &[]);
    let down = |zone: &str, group: Option<&str>| {
        let json = stored("i", zone, group);
        Placed::stored("SVC", "i", &json).is_down(&snapshot)
    };
    assert!(down("z", Some("g1")));
    assert!(down("Z", Some("G1")), "keys are compared in lower case");
    assert!(
        !down("z", None),
        "the default group of zone z is not pulled out"
    );
    assert!(!down("z2", Some("g1")));
    assert!(down("z9", None), "no group is the default group");
    assert!(down("z9", Some("Default")));
}

#[test]
fn a_group_pull_out_hides_logical_instances_of_the_group() {
    let mut groups = Groups::default();
    groups.logical("svc", "l1", "10.0.0.9");
    let shown = |groups: &Groups| {
        let snapshot = groups.snapshot(1, &[]);
        let view = snapshot.groups().service("svc").expect("svc has a view");
        logical_visible(&snapshot, &view.logic_instances[0].row)
    };
    assert!(shown(&groups));
    let other_zone = groups.group("svc", "r", "z2", "g");
    groups.pull_out(other_zone);
    assert!(shown(&groups));
    let its_group = groups.group("svc", "r", "z", "g");
    groups.pull_out(its_group);
    assert!(!shown(&groups));
}
