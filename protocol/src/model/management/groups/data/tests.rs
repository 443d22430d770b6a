use super::*;
use crate::model::management::groups::rows::GroupTag;

fn rule(id: i64, service: &str, name: &str, status: &str) -> ServiceRouteRule {
    ServiceRouteRule {
        route_rule_id: id,
        service_id: service.into(),
        name: name.into(),
        description: None,
        status: status.into(),
        strategy: "weighted-round-robin".into(),
    }
}

fn group(id: i64, service: &str, zone: &str, name: &str, status: &str) -> Group {
    Group {
        group_id: id,
        service_id: service.into(),
        region_id: "SHA".into(),
        zone_id: zone.into(),
        name: name.into(),
        app_id: "app".into(),
        description: None,
        status: status.into(),
    }
}

fn link(id: i64, rule: i64, group: i64, weight: Option<i32>) -> RouteRuleGroup {
    RouteRuleGroup {
        route_rule_group_id: id,
        route_rule_id: rule,
        group_id: group,
        weight,
        unreleased_weight: Some(99),
    }
}

fn logic(id: i64, service: &str, instance: &str) -> ServiceInstance {
    ServiceInstance {
        id,
        service_id: service.into(),
        instance_id: instance.into(),
        ip: "10.0.0.9".into(),
        machine_name: "m".into(),
        metadata: r#"{"k":"v"}"#.into(),
        port: 80,
        protocol: "http".into(),
        region_id: "SHA".into(),
        zone_id: "z1".into(),
        group_id: "g1".into(),
        health_check_url: "http://h".into(),
        url: "http://u".into(),
        description: None,
    }
}

/// Two services: `Svc` with an active rule over an active and an inactive group, an inactive
/// rule, and a rule whose only group is inactive; `other` with a logical instance only.
fn rows() -> GroupRows {
    GroupRows {
        route_rules: vec![
            rule(3, "svc", "dead", "active"),
            rule(1, "Svc", "main", "ACTIVE"),
            rule(2, "svc", "off", "inactive"),
        ],
        route_rule_groups: vec![
            link(11, 1, 21, Some(30)),
            link(10, 1, 20, None),
            link(12, 1, 22, Some(20_000)),
            link(13, 2, 20, Some(1)),
            link(14, 3, 22, Some(1)),
        ],
        groups: vec![
            group(20, "svc", "z1", "G1", "active"),
            group(21, "svc", "z2", "g2", "Active"),
            group(22, "svc", "z3", "g3", "inactive"),
        ],
        tags: vec![
            (
                41,
                GroupTag {
                    group_id: 20,
                    tag: "b".into(),
                    value: "2".into(),
                },
            ),
            (
                40,
                GroupTag {
                    group_id: 20,
                    tag: "a".into(),
                    value: "1".into(),
                },
            ),
        ],
        operations: vec![(1, 21, "pullout".into()), (2, 77, "orphan".into())],
        group_instances: vec![
            GroupInstance {
                id: 31,
                group_id: 20,
                instance_id: "i2".into(),
            },
            GroupInstance {
                id: 30,
                group_id: 20,
                instance_id: "i1".into(),
            },
        ],
        service_instances: vec![logic(51, "other", "l2"), logic(50, "other", "l1")],
    }
}

#[test]
fn active_rules_serve_their_active_groups_with_released_weights_tags_and_members() {
    let data = GroupData::new(rows());
    let view = data.service("SVC").expect("svc has a served rule");
    assert_eq!(
        view.route_rules,
        vec![ServedRouteRule {
            route_id: "main".into(),
            strategy: "weighted-round-robin".into(),
            groups: vec![
                ServedGroup {
                    group_key: "svc/sha/z1/g1".into(),
                    weight: 5,
                    instance_ids: vec!["i1".into(), "i2".into()],
                    tags: Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
                },
                ServedGroup {
                    group_key: "svc/sha/z2/g2".into(),
                    weight: 30,
                    instance_ids: vec![],
                    tags: None,
                },
            ],
        }]
    );
    assert!(view.logic_instances.is_empty());
    let other = data.service("other").unwrap();
    assert!(other.route_rules.is_empty());
    let ids: Vec<&str> = other
        .logic_instances
        .iter()
        .map(|i| i.row.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["l1", "l2"]);
    assert!(data.service("nobody").is_none());
}

#[test]
fn reads_list_rows_by_id() {
    let data = GroupData::new(rows());
    let ids: Vec<i64> = data.route_rules().map(|r| r.route_rule_id).collect();
    assert_eq!(ids, [1, 2, 3]);
    let ids: Vec<i64> = data
        .route_rule_groups()
        .map(|r| r.route_rule_group_id)
        .collect();
    assert_eq!(ids, [10, 11, 12, 13, 14]);
    let ids: Vec<i64> = data.groups().map(|g| g.group_id).collect();
    assert_eq!(ids, [20, 21, 22]);
    let ids: Vec<i64> = data.group_instances().map(|m| m.id).collect();
    assert_eq!(ids, [30, 31]);
    assert_eq!(
        data.group_tags(20).unwrap().tags,
        [("a".to_owned(), "1".to_owned()), ("b".into(), "2".into())]
    );
    assert_eq!(data.all_group_tags().count(), 1);
    assert!(data.group_tags(21).is_none());
    let ops: Vec<i64> = data.all_group_operations().map(|o| o.group_id).collect();
    assert_eq!(ops, [21, 77]);
    assert_eq!(data.group_operations(21).unwrap().operations, ["pullout"]);
}

#[test]
fn a_pulled_out_group_hides_the_instances_under_its_key() {
    let data = GroupData::new(rows());
    assert!(data.has_pulled_out_groups());
    assert!(data.is_group_down("svc/sha/z2/g2/i1"));
    assert!(data.is_group_down("SVC/SHA//z2/G2/i1/"));
    assert!(!data.is_group_down("svc/sha/z2/g22/i1"));
    assert!(!data.is_group_down("svc/sha/z1/g1/i1"));
    assert!(!data.is_group_down("svc/sha/z2"));
    assert!(data.is_instance_down("Svc", "sha", "Z2", Some("g2"), "x"));
    assert!(!data.is_instance_down("svc", "sha", "z2", None, "x"));
}

#[test]
fn the_default_group_is_pulled_out_by_its_name() {
    let mut rows = rows();
    rows.groups
        .push(group(23, "svc", "z9", "default", "active"));
    rows.operations.push((3, 23, "x".into()));
    let data = GroupData::new(rows);
    assert!(data.is_instance_down("svc", "sha", "z9", None, "i"));
    assert!(data.is_instance_down("svc", "sha", "z9", Some(" DEFAULT"), "i"));
    assert!(!data.is_instance_down("svc", "sha", "z9", Some("blue"), "i"));
}

#[test]
fn operations_of_deleted_groups_pull_nothing_out() {
    let mut rows = rows();
    rows.operations = vec![(1, 99, "x".into())];
    let data = GroupData::new(rows);
    assert!(!data.has_pulled_out_groups());
    assert!(!data.is_group_down("svc/sha/z2/g2/i1"));
}

#[test]
fn reloads_name_the_services_whose_served_view_changed() {
    let old = GroupData::new(rows());
    assert!(old.reloads_since(&old).is_empty());

    let mut released = rows();
    released.route_rule_groups[0].weight = Some(31);
    let new = GroupData::new(released);
    assert_eq!(
        new.reloads_since(&old).into_iter().collect::<Vec<_>>(),
        ["svc"]
    );

    let mut unreleased = rows();
    unreleased.route_rule_groups[0].unreleased_weight = Some(1);
    assert!(GroupData::new(unreleased).reloads_since(&old).is_empty());

    let mut logic_gone = rows();
    logic_gone.service_instances.clear();
    let new = GroupData::new(logic_gone);
    assert_eq!(
        new.reloads_since(&old).into_iter().collect::<Vec<_>>(),
        ["other"]
    );
    assert_eq!(
        old.reloads_since(&new).into_iter().collect::<Vec<_>>(),
        ["other"]
    );

    let mut tagged = rows();
    tagged.tags.push((
        42,
        GroupTag {
            group_id: 21,
            tag: "t".into(),
            value: "v".into(),
        },
    ));
    let new = GroupData::new(tagged);
    assert_eq!(
        new.reloads_since(&old).into_iter().collect::<Vec<_>>(),
        ["svc"]
    );
}

#[test]
fn pull_out_changes_name_the_group_service() {
    let old = GroupData::new(rows());
    assert!(old.pull_outs_since(&old).is_empty());
    let mut pulled_in = rows();
    pulled_in.operations.remove(0);
    let new = GroupData::new(pulled_in);
    assert_eq!(
        new.pull_outs_since(&old).into_iter().collect::<Vec<_>>(),
        ["svc"]
    );
    assert_eq!(
        old.pull_outs_since(&new).into_iter().collect::<Vec<_>>(),
        ["svc"]
    );
    // A pull-out does not change what is served, only what is visible.
    assert!(new.reloads_since(&old).is_empty());
}
