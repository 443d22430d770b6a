//! The group tables: every write kind with its log rows, soft deletes, idempotent upserts by
//! natural key, the filtered reads, the log filters, reopening, and a failed batch.

use protocol::model::management::groups::{
    GroupChange, GroupData, GroupFilter, GroupInstanceFilter, GroupLogFilter, GroupLogKind,
    GroupLogRow, GroupOperator, GroupWrite, NewGroup, NewRouteRule, NewRouteRuleGroup,
    NewServiceInstance, RouteRuleFilter, RouteRuleGroupFilter, ServedGroup, ServedRouteRule,
    ServiceInstanceFilter,
};

use super::{at, for_each_store, Fixture};
use crate::test_support::{instance, write};
use crate::{Change, Store};

for_each_store!(
    weights_are_served_only_once_released,
    upserts_by_natural_key_are_idempotent_and_keep_the_first_spelling,
    soft_deleted_rules_and_groups_are_neither_loaded_nor_read_and_come_back_with_their_ids,
    deleting_links_is_hard_and_logs_the_rows_deleted,
    create_route_rule_inserts_what_is_missing_and_links_unreleased_weights,
    tags_are_upserted_and_deleted_by_any_condition_without_logs,
    group_pull_out_and_in_are_recorded_and_logged,
    operate_group_operation_creates_the_group_without_a_group_log,
    group_instances_are_listed_once_and_served_as_instance_ids,
    logical_instances_are_upserted_served_and_logged,
    canary_ips_create_the_rule_and_group_once_and_replace_the_members,
    filtered_reads_match_ignoring_case_and_skip_deleted_rows,
    group_logs_filter_by_their_own_fields_newest_first,
    reopening_loads_the_snapshot_the_last_commit_answered,
    a_failed_batch_changes_nothing,
    a_traffic_only_batch_answers_no_group_data,
);

fn operator(operation: &str) -> GroupOperator {
    GroupOperator {
        operation: operation.into(),
        operator_id: "alice".into(),
        reason: None,
        extensions: "{}".into(),
    }
}

fn change(change: GroupChange) -> Change {
    Change::Groups(GroupWrite {
        change,
        operator: operator("op"),
    })
}

/// Commit group changes at `at(second)`, answering the group data the commit read back.
fn commit(store: &mut impl Store, changes: Vec<GroupChange>, second: i64) -> GroupData {
    let changes: Vec<Change> = changes.into_iter().map(change).collect();
    store
        .commit(&changes, at(second))
        .expect("commit")
        .expect("a group write answers the group data")
}

fn rule(service: &str, name: &str, status: &str) -> NewRouteRule {
    NewRouteRule {
        service_id: service.into(),
        name: name.into(),
        description: Some("d".into()),
        status: status.into(),
        strategy: "weighted-round-robin".into(),
    }
}

fn group(service: &str, zone: &str, name: &str) -> NewGroup {
    NewGroup {
        service_id: service.into(),
        region_id: "sha".into(),
        zone_id: zone.into(),
        name: name.into(),
        app_id: "app".into(),
        description: None,
        status: "active".into(),
    }
}

fn link(rule: i64, group: i64, weight: Option<i32>) -> NewRouteRuleGroup {
    NewRouteRuleGroup {
        route_rule_id: rule,
        group_id: group,
        unreleased_weight: weight,
    }
}

fn logic(service: &str, instance: &str, ip: &str) -> NewServiceInstance {
    NewServiceInstance {
        service_id: service.into(),
        instance_id: instance.into(),
        ip: ip.into(),
        machine_name: "m".into(),
        metadata: r#"{"k":"v"}"#.into(),
        port: 8080,
        protocol: "http".into(),
        region_id: "sha".into(),
        zone_id: "z1".into(),
        group_id: "g".into(),
        health_check_url: "http://h".into(),
        url: "http://u".into(),
        description: None,
    }
}

fn logs(store: &mut impl Store, kind: GroupLogKind, filter: GroupLogFilter) -> Vec<GroupLogRow> {
    store.group_logs(kind, &filter, 100).unwrap()
}

fn log_ids(store: &mut impl Store, kind: GroupLogKind, filter: GroupLogFilter) -> Vec<i64> {
    logs(store, kind, filter)
        .iter()
        .map(|row| row.meta().id)
        .collect()
}

/// A service with one active rule over two active groups, linked with unreleased weights.
fn rule_with_two_groups(store: &mut impl Store) -> GroupData {
    commit(
        store,
        vec![
            GroupChange::UpsertRouteRules(vec![rule("svc", "main", "active")]),
            GroupChange::UpsertGroups(vec![group("svc", "z1", "g1"), group("svc", "z2", "g2")]),
            GroupChange::UpsertRouteRuleGroups(vec![link(1, 1, Some(3)), link(1, 2, Some(7))]),
        ],
        1_000,
    )
}

fn weights_are_served_only_once_released<F: Fixture>() {
    let mut f = F::new("release");
    let data = rule_with_two_groups(f.store());
    let served = |data: &GroupData| -> Vec<i32> {
        data.service("svc").unwrap().route_rules[0]
            .groups
            .iter()
            .map(|g| g.weight)
            .collect()
    };
    assert_eq!(served(&data), [5, 5], "unreleased weights are not served");
    let links: Vec<_> = data.route_rule_groups().cloned().collect();
    assert_eq!(
        (links[0].weight, links[0].unreleased_weight),
        (None, Some(3))
    );

    let data = commit(
        f.store(),
        vec![GroupChange::ReleaseRouteRuleGroups(vec![
            link(1, 1, Some(3)),
            link(1, 2, Some(7)),
        ])],
        2_000,
    );
    assert_eq!(served(&data), [3, 7]);
    assert_eq!(
        data.service("svc").unwrap().route_rules,
        [ServedRouteRule {
            route_id: "main".into(),
            strategy: "weighted-round-robin".into(),
            groups: vec![
                ServedGroup {
                    group_key: "svc/sha/z1/g1".into(),
                    weight: 3,
                    instance_ids: vec![],
                    tags: None,
                },
                ServedGroup {
                    group_key: "svc/sha/z2/g2".into(),
                    weight: 7,
                    instance_ids: vec![],
                    tags: None,
                },
            ],
        }]
    );
    let weights: Vec<Option<i32>> = logs(
        f.store(),
        GroupLogKind::RouteRuleGroup,
        GroupLogFilter::default(),
    )
    .iter()
    .map(|row| match row {
        GroupLogRow::RouteRuleGroup(r) => r.weight,
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(weights, [Some(7), Some(3), Some(7), Some(3)]);
}

fn upserts_by_natural_key_are_idempotent_and_keep_the_first_spelling<F: Fixture>() {
    let mut f = F::new("upsert");
    commit(
        f.store(),
        vec![GroupChange::UpsertRouteRules(vec![rule(
            "Svc", "Main", "active",
        )])],
        1,
    );
    let mut updated = rule("svc", "MAIN", "inactive");
    updated.strategy = "close-by-visit".into();
    updated.description = None;
    let data = commit(
        f.store(),
        vec![
            GroupChange::UpsertRouteRules(vec![updated.clone()]),
            GroupChange::UpsertRouteRules(vec![updated]),
        ],
        2,
    );
    let rules: Vec<_> = data.route_rules().cloned().collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (
            rules[0].route_rule_id,
            rules[0].service_id.as_str(),
            rules[0].name.as_str()
        ),
        (1, "Svc", "Main")
    );
    assert_eq!(
        (
            rules[0].status.as_str(),
            rules[0].strategy.as_str(),
            rules[0].description.as_deref()
        ),
        ("inactive", "close-by-visit", None)
    );
    assert_eq!(f.count("service_route_rule_log"), 3);

    let mut regrouped = group("SVC", "Z1", "G1");
    commit(
        f.store(),
        vec![GroupChange::UpsertGroups(vec![group("svc", "z1", "g1")])],
        3,
    );
    regrouped.app_id = "other".into();
    regrouped.status = "inactive".into();
    let data = commit(
        f.store(),
        vec![GroupChange::UpsertGroups(vec![regrouped])],
        4,
    );
    let groups: Vec<_> = data.groups().cloned().collect();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (
            groups[0].service_id.as_str(),
            groups[0].app_id.as_str(),
            groups[0].status.as_str()
        ),
        ("svc", "other", "inactive")
    );
    assert_eq!(f.count("service_group_log"), 2);
}

fn soft_deleted_rules_and_groups_are_neither_loaded_nor_read_and_come_back_with_their_ids<
    F: Fixture,
>() {
    let mut f = F::new("soft");
    rule_with_two_groups(f.store());
    let data = commit(
        f.store(),
        vec![
            GroupChange::DeleteRouteRules(vec![1, 1, 99]),
            GroupChange::DeleteGroups(vec![2]),
        ],
        2_000,
    );
    assert_eq!(data.route_rules().count(), 0);
    assert_eq!(data.groups().map(|g| g.group_id).collect::<Vec<_>>(), [1]);
    assert!(
        data.service("svc").is_none(),
        "a deleted rule is not served"
    );
    assert_eq!(f.count("service_route_rule"), 1, "soft, not hard");
    assert!(f
        .store()
        .route_rules(&RouteRuleFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(f.store().groups(&GroupFilter::default()).unwrap().len(), 1);
    assert_eq!(
        f.count("service_route_rule_log"),
        2,
        "one log row per rule actually deleted"
    );
    // Links stay: Java never deletes them with the rule.
    assert_eq!(data.route_rule_groups().count(), 2);

    let data = commit(
        f.store(),
        vec![
            GroupChange::UpsertRouteRules(vec![rule("svc", "main", "active")]),
            GroupChange::UpsertGroups(vec![group("svc", "z2", "g2")]),
        ],
        3_000,
    );
    assert_eq!(data.route_rules().next().unwrap().route_rule_id, 1);
    assert_eq!(
        data.groups().map(|g| g.group_id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(data.service("svc").unwrap().route_rules[0].groups.len(), 2);
}

fn deleting_links_is_hard_and_logs_the_rows_deleted<F: Fixture>() {
    let mut f = F::new("links");
    rule_with_two_groups(f.store());
    let data = commit(
        f.store(),
        vec![GroupChange::DeleteRouteRuleGroups(vec![2, 5])],
        2_000,
    );
    assert_eq!(
        data.route_rule_groups()
            .map(|l| l.route_rule_group_id)
            .collect::<Vec<_>>(),
        [1]
    );
    let newest = logs(
        f.store(),
        GroupLogKind::RouteRuleGroup,
        GroupLogFilter::default(),
    );
    match &newest[0] {
        GroupLogRow::RouteRuleGroup(r) => {
            assert_eq!((r.route_rule_id, r.group_id, r.weight), (1, 2, Some(7)));
            assert_eq!(r.meta.create_time_ms, at(2_000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(newest.len(), 3);
}

fn create_route_rule_inserts_what_is_missing_and_links_unreleased_weights<F: Fixture>() {
    let mut f = F::new("create");
    commit(
        f.store(),
        vec![GroupChange::UpsertRouteRules(vec![rule(
            "svc", "main", "inactive",
        )])],
        1,
    );
    let data = commit(
        f.store(),
        vec![GroupChange::CreateRouteRule {
            rule: rule("svc", "MAIN", "active"),
            groups: vec![group("svc", "z1", "g1"), group("svc", "z2", "g2")],
            links: vec![(0, 3), (1, 7), (0, 9)],
        }],
        2,
    );
    let rule_row = data.route_rules().next().unwrap().clone();
    assert_eq!(
        (rule_row.name.as_str(), rule_row.status.as_str()),
        ("main", "inactive"),
        "an existing rule keeps its fields"
    );
    let links: Vec<(i64, i64, Option<i32>, Option<i32>)> = data
        .route_rule_groups()
        .map(|l| (l.route_rule_id, l.group_id, l.weight, l.unreleased_weight))
        .collect();
    assert_eq!(links, [(1, 1, None, Some(9)), (1, 2, None, Some(7))]);
    assert_eq!(f.count("service_route_rule_log"), 2);
    assert_eq!(f.count("service_group_log"), 2);
    assert_eq!(f.count("service_route_rule_group_log"), 3);
}

fn tags_are_upserted_and_deleted_by_any_condition_without_logs<F: Fixture>() {
    let mut f = F::new("tags");
    rule_with_two_groups(f.store());
    let data = commit(
        f.store(),
        vec![GroupChange::UpsertGroupTags(vec![
            (1, "color".into(), "blue".into()),
            (1, "size".into(), "l".into()),
            (2, "color".into(), "red".into()),
            (1, "COLOR".into(), "green".into()),
        ])],
        2,
    );
    assert_eq!(
        data.group_tags(1).unwrap().tags,
        [
            ("color".to_owned(), "green".to_owned()),
            ("size".into(), "l".into())
        ]
    );
    assert_eq!(
        data.service("svc").unwrap().route_rules[0].groups[0].tags,
        Some(vec![
            ("color".to_owned(), "green".to_owned()),
            ("size".into(), "l".into())
        ])
    );
    let data = commit(
        f.store(),
        vec![GroupChange::DeleteGroupTags {
            group_id: None,
            tag: Some("Color".into()),
            value: None,
        }],
        3,
    );
    assert_eq!(
        data.group_tags(1).unwrap().tags,
        [("size".to_owned(), "l".to_owned())]
    );
    assert!(data.group_tags(2).is_none());
    let data = commit(
        f.store(),
        vec![GroupChange::DeleteGroupTags {
            group_id: Some(1),
            tag: None,
            value: Some("L".into()),
        }],
        4,
    );
    assert_eq!(data.all_group_tags().count(), 0);
    assert_eq!(f.count("service_group_tag_log"), 0);
}

fn group_pull_out_and_in_are_recorded_and_logged<F: Fixture>() {
    let mut f = F::new("operations");
    rule_with_two_groups(f.store());
    let out = GroupChange::OperateGroups {
        operations: vec![(2, "pullout".into()), (2, "pullout".into())],
        complete: false,
    };
    let data = commit(f.store(), vec![out], 2);
    assert_eq!(data.group_operations(2).unwrap().operations, ["pullout"]);
    assert!(data.is_instance_down("svc", "sha", "z2", Some("g2"), "i1"));
    assert!(!data.is_instance_down("svc", "sha", "z1", Some("g1"), "i1"));

    let data = commit(
        f.store(),
        vec![GroupChange::OperateGroups {
            operations: vec![(2, "PULLOUT".into())],
            complete: true,
        }],
        3,
    );
    assert!(data.group_operations(2).is_none());
    assert!(!data.has_pulled_out_groups());
    let completes: Vec<bool> = logs(
        f.store(),
        GroupLogKind::GroupOperation,
        GroupLogFilter::default(),
    )
    .iter()
    .map(|row| match row {
        GroupLogRow::GroupOperation(r) => r.complete,
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(completes, [true, false, false]);
    assert_eq!(
        log_ids(
            f.store(),
            GroupLogKind::GroupOperation,
            GroupLogFilter {
                complete: Some(false),
                group_id: Some(2),
                ..GroupLogFilter::default()
            }
        ),
        [2, 1]
    );
}

fn operate_group_operation_creates_the_group_without_a_group_log<F: Fixture>() {
    let mut f = F::new("operate-one");
    let write = Change::Groups(GroupWrite {
        change: GroupChange::OperateGroup {
            group: group("svc", "z9", "new"),
            complete: false,
        },
        operator: operator("maintenance"),
    });
    let data = f.store().commit(&[write], at(1)).unwrap().unwrap();
    let created = data.groups().next().unwrap().clone();
    assert_eq!(created.group_key(), "svc/sha/z9/new");
    assert_eq!(
        data.group_operations(created.group_id).unwrap().operations,
        ["maintenance"]
    );
    assert_eq!(f.count("service_group_log"), 0);
    assert_eq!(f.count("service_group_operation_log"), 1);
}

fn group_instances_are_listed_once_and_served_as_instance_ids<F: Fixture>() {
    let mut f = F::new("members");
    rule_with_two_groups(f.store());
    let data = commit(
        f.store(),
        vec![GroupChange::InsertGroupInstances(vec![
            (1, "i1".into()),
            (1, "i2".into()),
            (1, "I1".into()),
        ])],
        2,
    );
    assert_eq!(
        data.service("svc").unwrap().route_rules[0].groups[0].instance_ids,
        ["i1", "i2"]
    );
    assert_eq!(f.count("service_group_instance_log"), 3);
    let listed = f
        .store()
        .group_instances(&GroupInstanceFilter {
            group_id: Some(1),
            instance_id: Some("I2".into()),
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    let id = listed[0].id;
    commit(
        f.store(),
        vec![GroupChange::DeleteGroupInstances(vec![id, 404])],
        3,
    );
    assert_eq!(
        f.store()
            .group_instances(&GroupInstanceFilter::default())
            .unwrap()
            .iter()
            .map(|m| m.instance_id.as_str())
            .collect::<Vec<_>>(),
        ["i1"]
    );
    assert_eq!(f.count("service_group_instance_log"), 4);
}

fn logical_instances_are_upserted_served_and_logged<F: Fixture>() {
    let mut f = F::new("logic");
    commit(
        f.store(),
        vec![GroupChange::UpsertServiceInstances(vec![logic(
            "svc", "l1", "10.0.0.1",
        )])],
        1,
    );
    let data = commit(
        f.store(),
        vec![GroupChange::UpsertServiceInstances(vec![logic(
            "SVC", "L1", "10.0.0.2",
        )])],
        2,
    );
    let view = data.service("svc").unwrap();
    assert_eq!(view.logic_instances.len(), 1);
    assert_eq!(view.logic_instances[0].row.ip, "10.0.0.2");
    let read = f
        .store()
        .service_instances(&ServiceInstanceFilter {
            service_id: Some("svc".into()),
            instance_id: None,
        })
        .unwrap();
    assert_eq!(read.len(), 1);
    let data = commit(
        f.store(),
        vec![GroupChange::DeleteServiceInstances(vec![read[0].id])],
        3,
    );
    assert!(data.service("svc").is_none());
    let rows = logs(
        f.store(),
        GroupLogKind::ServiceInstance,
        GroupLogFilter::default(),
    );
    assert_eq!(rows.len(), 3);
    match &rows[0] {
        GroupLogRow::ServiceInstance(r) => {
            assert_eq!(
                (r.instance_id.as_str(), r.ip.as_str(), r.metadata.as_str()),
                ("l1", "10.0.0.2", r#"{"k":"v"}"#)
            );
            assert_eq!(
                (r.meta.reason.as_deref(), r.meta.extensions.as_deref()),
                (None, None)
            );
        }
        other => panic!("{other:?}"),
    }
}

fn canary(store: &mut impl Store, ips: &[&str], second: i64) -> GroupData {
    commit(
        store,
        vec![GroupChange::UpdateCanary {
            service_id: "svc".into(),
            app_id: "app1".into(),
            region_id: "SHA".into(),
            instance_ids: ips.iter().map(|ip| ip.to_string()).collect(),
        }],
        second,
    )
}

fn canary_ips_create_the_rule_and_group_once_and_replace_the_members<F: Fixture>() {
    let mut f = F::new("canary");
    let data = canary(f.store(), &["10.0.0.1", "10.0.0.2"], 1);
    let rules = &data.service("svc").unwrap().route_rules;
    assert_eq!(
        rules,
        &[ServedRouteRule {
            route_id: "canary-route-rule".into(),
            strategy: "weighted-round-robin".into(),
            groups: vec![ServedGroup {
                group_key: "svc/sha/canary/app1".into(),
                weight: 5,
                instance_ids: vec!["10.0.0.1".into(), "10.0.0.2".into()],
                tags: None,
            }],
        }]
    );
    let link = data.route_rule_groups().next().unwrap().clone();
    assert_eq!((link.weight, link.unreleased_weight), (None, Some(5)));
    assert_eq!(f.count("service_route_rule_log"), 0);
    assert_eq!(f.count("service_group_log"), 0);

    let data = canary(f.store(), &["10.0.0.2", "10.0.0.3"], 2);
    assert_eq!(
        data.service("svc").unwrap().route_rules[0].groups[0].instance_ids,
        ["10.0.0.2", "10.0.0.3"]
    );
    assert_eq!(data.route_rules().count(), 1);
    assert_eq!(data.groups().count(), 1);
    assert_eq!(data.route_rule_groups().count(), 1);
    let logged: Vec<String> = logs(
        f.store(),
        GroupLogKind::GroupInstance,
        GroupLogFilter::default(),
    )
    .iter()
    .map(|row| match row {
        GroupLogRow::GroupInstance(r) => r.instance_id.clone(),
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(logged, ["10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.1"]);
    let data = canary(f.store(), &[], 3);
    assert!(data.service("svc").unwrap().route_rules[0].groups[0]
        .instance_ids
        .is_empty());
}

fn filtered_reads_match_ignoring_case_and_skip_deleted_rows<F: Fixture>() {
    let mut f = F::new("reads");
    rule_with_two_groups(f.store());
    commit(
        f.store(),
        vec![
            GroupChange::UpsertRouteRules(vec![rule("other", "main", "inactive")]),
            GroupChange::DeleteGroups(vec![1]),
        ],
        2,
    );
    let names = |rules: Vec<protocol::model::management::groups::ServiceRouteRule>| {
        rules
            .into_iter()
            .map(|r| (r.route_rule_id, r.service_id))
            .collect::<Vec<_>>()
    };
    let by_name = RouteRuleFilter {
        name: Some("MAIN".into()),
        ..RouteRuleFilter::default()
    };
    assert_eq!(
        names(f.store().route_rules(&by_name).unwrap()),
        [(1, "svc".into()), (2, "other".into())]
    );
    let by_status = RouteRuleFilter {
        status: Some("Inactive".into()),
        ..RouteRuleFilter::default()
    };
    assert_eq!(
        names(f.store().route_rules(&by_status).unwrap()),
        [(2, "other".into())]
    );
    let by_id = RouteRuleFilter {
        route_rule_id: Some(2),
        service_id: Some("svc".into()),
        ..RouteRuleFilter::default()
    };
    assert!(f.store().route_rules(&by_id).unwrap().is_empty());

    let groups = f
        .store()
        .groups(&GroupFilter {
            service_id: Some("SVC".into()),
            ..GroupFilter::default()
        })
        .unwrap();
    assert_eq!(groups.iter().map(|g| g.group_id).collect::<Vec<_>>(), [2]);

    let links = f
        .store()
        .route_rule_groups(&RouteRuleGroupFilter {
            group_id: Some(2),
            ..RouteRuleGroupFilter::default()
        })
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].unreleased_weight, Some(7));
}

fn group_logs_filter_by_their_own_fields_newest_first<F: Fixture>() {
    let mut f = F::new("group-logs");
    commit(
        f.store(),
        vec![GroupChange::UpsertGroups(vec![
            group("svc-a", "z1", "g1"),
            group("svc-b", "z1", "g1"),
            group("svc-a", "z2", "g2"),
        ])],
        1,
    );
    commit(
        f.store(),
        vec![GroupChange::UpsertRouteRules(vec![
            rule("svc-a", "r1", "active"),
            rule("svc-b", "r1", "active"),
        ])],
        2,
    );
    let by_service = GroupLogFilter {
        service_id: Some("SVC-A".into()),
        ..GroupLogFilter::default()
    };
    assert_eq!(
        log_ids(f.store(), GroupLogKind::Group, by_service.clone()),
        [3, 1]
    );
    assert_eq!(log_ids(f.store(), GroupLogKind::RouteRule, by_service), [1]);
    let by_zone = GroupLogFilter {
        zone_id: Some("z1".into()),
        operator_id: Some("ALICE".into()),
        operation: Some("op".into()),
        ..GroupLogFilter::default()
    };
    assert_eq!(log_ids(f.store(), GroupLogKind::Group, by_zone), [2, 1]);
    let foreign = GroupLogFilter {
        instance_id: Some("none".into()),
        ..GroupLogFilter::default()
    };
    assert_eq!(
        log_ids(f.store(), GroupLogKind::Group, foreign),
        [3, 2, 1],
        "a field the table lacks matches every row"
    );
    assert_eq!(
        f.store()
            .group_logs(GroupLogKind::Group, &GroupLogFilter::default(), 2)
            .unwrap()
            .len(),
        2
    );
    match &logs(f.store(), GroupLogKind::Group, GroupLogFilter::default())[0] {
        GroupLogRow::Group(r) => {
            assert_eq!(
                (r.app_id.as_str(), r.status.as_str(), r.meta.token.as_str()),
                ("app", "active", "")
            );
            assert_eq!(r.meta.extensions.as_deref(), Some("{}"));
        }
        other => panic!("{other:?}"),
    }
}

fn reopening_loads_the_snapshot_the_last_commit_answered<F: Fixture>() {
    let mut f = F::new("reopen");
    rule_with_two_groups(f.store());
    commit(
        f.store(),
        vec![
            GroupChange::UpsertGroupTags(vec![(1, "k".into(), "v".into())]),
            GroupChange::OperateGroups {
                operations: vec![(2, "x".into())],
                complete: false,
            },
            GroupChange::InsertGroupInstances(vec![(1, "i1".into())]),
            GroupChange::UpsertServiceInstances(vec![logic("svc", "l1", "10.0.0.1")]),
        ],
        2,
    );
    let last = canary(f.store(), &["10.0.0.7"], 3);
    f.reopen();
    let loaded = f.store().load_management().unwrap();
    assert_eq!(**loaded.groups(), last);
}

fn a_failed_batch_changes_nothing<F: Fixture>() {
    let mut f = F::new("failed-batch");
    rule_with_two_groups(f.store());
    // Any statement can fail half-way (a full disk, an I/O error): a trigger makes the last
    // change of the batch fail after the others have run inside the transaction.
    f.fail_logical_instance_inserts("boom");
    let before = f.store().load_management().unwrap();
    let tables = [
        "service_group",
        "service_group_log",
        "service_route_rule_group",
        "instance",
        "instance_log",
        "service_group_operation",
    ];
    let counts: Vec<i64> = tables.iter().map(|t| f.count(t)).collect();
    let batch = [
        change(GroupChange::UpsertGroups(vec![group("svc", "z3", "g3")])),
        Change::Traffic(write(instance("sha", "svc", "i1"), "pullout", false, "bob")),
        change(GroupChange::ReleaseRouteRuleGroups(vec![link(
            1,
            1,
            Some(3),
        )])),
        change(GroupChange::OperateGroups {
            operations: vec![(1, "x".into())],
            complete: false,
        }),
        change(GroupChange::UpsertServiceInstances(vec![logic(
            "svc", "boom", "ip",
        )])),
    ];
    let error = f.store().commit(&batch, at(5)).unwrap_err();
    assert!(error.message.contains("boom"), "{error}");
    let after: Vec<i64> = tables.iter().map(|t| f.count(t)).collect();
    assert_eq!(after, counts);
    assert_eq!(f.store().load_management().unwrap(), before);
    let weights: Vec<Option<i32>> = before
        .groups()
        .route_rule_groups()
        .map(|l| l.weight)
        .collect();
    assert_eq!(weights, [None, None]);
}

fn a_traffic_only_batch_answers_no_group_data<F: Fixture>() {
    let mut f = F::new("traffic-only");
    let answer = f
        .store()
        .commit(
            &[Change::Traffic(write(
                instance("r", "s", "i"),
                "x",
                false,
                "a",
            ))],
            at(1),
        )
        .unwrap();
    assert_eq!(answer, None);
    assert_eq!(
        **f.store().load_management().unwrap().groups(),
        GroupData::default()
    );
}
