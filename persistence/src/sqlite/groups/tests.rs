//! The group tables on a real SQLite file: every write kind with its log rows, soft deletes,
//! idempotent upserts by natural key, the filtered reads, the log filters, reopening, and a
//! failed batch.

use protocol::model::management::groups::{
    GroupChange, GroupData, GroupFilter, GroupInstanceFilter, GroupLogFilter, GroupLogKind,
    GroupLogRow, GroupOperator, GroupWrite, NewGroup, NewRouteRule, NewRouteRuleGroup,
    NewServiceInstance, RouteRuleFilter, RouteRuleGroupFilter, ServedGroup, ServedRouteRule,
    ServiceInstanceFilter,
};

use crate::sqlite::SqliteStore;
use crate::test_support::{instance, write, TempDir};
use crate::{Change, Store};

fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(dir.file("artemis.db")).expect("open the database")
}

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

/// Commit group changes at `now_ms`, answering the group data the commit read back.
fn commit(store: &mut SqliteStore, changes: Vec<GroupChange>, now_ms: i64) -> GroupData {
    let changes: Vec<Change> = changes.into_iter().map(change).collect();
    store
        .commit(&changes, now_ms)
        .expect("commit")
        .expect("a group write answers the group data")
}

fn count(store: &SqliteStore, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
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

fn logs(store: &mut SqliteStore, kind: GroupLogKind, filter: GroupLogFilter) -> Vec<GroupLogRow> {
    store.group_logs(kind, &filter, 100).unwrap()
}

fn log_ids(store: &mut SqliteStore, kind: GroupLogKind, filter: GroupLogFilter) -> Vec<i64> {
    logs(store, kind, filter)
        .iter()
        .map(|row| row.meta().id)
        .collect()
}

/// A service with one active rule over two active groups, linked with unreleased weights.
fn rule_with_two_groups(store: &mut SqliteStore) -> GroupData {
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

#[test]
fn weights_are_served_only_once_released() {
    let dir = TempDir::new("release");
    let mut store = open(&dir);
    let data = rule_with_two_groups(&mut store);
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
        &mut store,
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
        &mut store,
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

#[test]
fn upserts_by_natural_key_are_idempotent_and_keep_the_first_spelling() {
    let dir = TempDir::new("upsert");
    let mut store = open(&dir);
    commit(
        &mut store,
        vec![GroupChange::UpsertRouteRules(vec![rule(
            "Svc", "Main", "active",
        )])],
        1,
    );
    let mut updated = rule("svc", "MAIN", "inactive");
    updated.strategy = "close-by-visit".into();
    updated.description = None;
    let data = commit(
        &mut store,
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
    assert_eq!(count(&store, "service_route_rule_log"), 3);

    let mut regrouped = group("SVC", "Z1", "G1");
    commit(
        &mut store,
        vec![GroupChange::UpsertGroups(vec![group("svc", "z1", "g1")])],
        3,
    );
    regrouped.app_id = "other".into();
    regrouped.status = "inactive".into();
    let data = commit(
        &mut store,
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
    assert_eq!(count(&store, "service_group_log"), 2);
}

#[test]
fn soft_deleted_rules_and_groups_are_neither_loaded_nor_read_and_come_back_with_their_ids() {
    let dir = TempDir::new("soft");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    let data = commit(
        &mut store,
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
    assert_eq!(count(&store, "service_route_rule"), 1, "soft, not hard");
    assert!(store
        .route_rules(&RouteRuleFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(store.groups(&GroupFilter::default()).unwrap().len(), 1);
    assert_eq!(
        count(&store, "service_route_rule_log"),
        2,
        "one log row per rule actually deleted"
    );
    // Links stay: Java never deletes them with the rule.
    assert_eq!(data.route_rule_groups().count(), 2);

    let data = commit(
        &mut store,
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

#[test]
fn deleting_links_is_hard_and_logs_the_rows_deleted() {
    let dir = TempDir::new("links");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    let data = commit(
        &mut store,
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
        &mut store,
        GroupLogKind::RouteRuleGroup,
        GroupLogFilter::default(),
    );
    match &newest[0] {
        GroupLogRow::RouteRuleGroup(r) => {
            assert_eq!((r.route_rule_id, r.group_id, r.weight), (1, 2, Some(7)));
            assert_eq!(r.meta.create_time_ms, 2_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(newest.len(), 3);
}

#[test]
fn create_route_rule_inserts_what_is_missing_and_links_unreleased_weights() {
    let dir = TempDir::new("create");
    let mut store = open(&dir);
    commit(
        &mut store,
        vec![GroupChange::UpsertRouteRules(vec![rule(
            "svc", "main", "inactive",
        )])],
        1,
    );
    let data = commit(
        &mut store,
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
    assert_eq!(count(&store, "service_route_rule_log"), 2);
    assert_eq!(count(&store, "service_group_log"), 2);
    assert_eq!(count(&store, "service_route_rule_group_log"), 3);
}

#[test]
fn tags_are_upserted_and_deleted_by_any_condition_without_logs() {
    let dir = TempDir::new("tags");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    let data = commit(
        &mut store,
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
        &mut store,
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
        &mut store,
        vec![GroupChange::DeleteGroupTags {
            group_id: Some(1),
            tag: None,
            value: Some("L".into()),
        }],
        4,
    );
    assert_eq!(data.all_group_tags().count(), 0);
    assert_eq!(count(&store, "service_group_tag_log"), 0);
}

#[test]
fn group_pull_out_and_in_are_recorded_and_logged() {
    let dir = TempDir::new("operations");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    let out = GroupChange::OperateGroups {
        operations: vec![(2, "pullout".into()), (2, "pullout".into())],
        complete: false,
    };
    let data = commit(&mut store, vec![out], 2);
    assert_eq!(data.group_operations(2).unwrap().operations, ["pullout"]);
    assert!(data.is_instance_down("svc", "sha", "z2", Some("g2"), "i1"));
    assert!(!data.is_instance_down("svc", "sha", "z1", Some("g1"), "i1"));

    let data = commit(
        &mut store,
        vec![GroupChange::OperateGroups {
            operations: vec![(2, "PULLOUT".into())],
            complete: true,
        }],
        3,
    );
    assert!(data.group_operations(2).is_none());
    assert!(!data.has_pulled_out_groups());
    let completes: Vec<bool> = logs(
        &mut store,
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
            &mut store,
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

#[test]
fn operate_group_operation_creates_the_group_without_a_group_log() {
    let dir = TempDir::new("operate-one");
    let mut store = open(&dir);
    let write = Change::Groups(GroupWrite {
        change: GroupChange::OperateGroup {
            group: group("svc", "z9", "new"),
            complete: false,
        },
        operator: operator("maintenance"),
    });
    let data = store.commit(&[write], 1).unwrap().unwrap();
    let created = data.groups().next().unwrap().clone();
    assert_eq!(created.group_key(), "svc/sha/z9/new");
    assert_eq!(
        data.group_operations(created.group_id).unwrap().operations,
        ["maintenance"]
    );
    assert_eq!(count(&store, "service_group_log"), 0);
    assert_eq!(count(&store, "service_group_operation_log"), 1);
}

#[test]
fn group_instances_are_listed_once_and_served_as_instance_ids() {
    let dir = TempDir::new("members");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    let data = commit(
        &mut store,
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
    assert_eq!(count(&store, "service_group_instance_log"), 3);
    let listed = store
        .group_instances(&GroupInstanceFilter {
            group_id: Some(1),
            instance_id: Some("I2".into()),
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    let id = listed[0].id;
    commit(
        &mut store,
        vec![GroupChange::DeleteGroupInstances(vec![id, 404])],
        3,
    );
    assert_eq!(
        store
            .group_instances(&GroupInstanceFilter::default())
            .unwrap()
            .iter()
            .map(|m| m.instance_id.as_str())
            .collect::<Vec<_>>(),
        ["i1"]
    );
    assert_eq!(count(&store, "service_group_instance_log"), 4);
}

#[test]
fn logical_instances_are_upserted_served_and_logged() {
    let dir = TempDir::new("logic");
    let mut store = open(&dir);
    commit(
        &mut store,
        vec![GroupChange::UpsertServiceInstances(vec![logic(
            "svc", "l1", "10.0.0.1",
        )])],
        1,
    );
    let data = commit(
        &mut store,
        vec![GroupChange::UpsertServiceInstances(vec![logic(
            "SVC", "L1", "10.0.0.2",
        )])],
        2,
    );
    let view = data.service("svc").unwrap();
    assert_eq!(view.logic_instances.len(), 1);
    assert_eq!(view.logic_instances[0].row.ip, "10.0.0.2");
    let read = store
        .service_instances(&ServiceInstanceFilter {
            service_id: Some("svc".into()),
            instance_id: None,
        })
        .unwrap();
    assert_eq!(read.len(), 1);
    let data = commit(
        &mut store,
        vec![GroupChange::DeleteServiceInstances(vec![read[0].id])],
        3,
    );
    assert!(data.service("svc").is_none());
    let rows = logs(
        &mut store,
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

fn canary(store: &mut SqliteStore, ips: &[&str], now_ms: i64) -> GroupData {
    commit(
        store,
        vec![GroupChange::UpdateCanary {
            service_id: "svc".into(),
            app_id: "app1".into(),
            region_id: "SHA".into(),
            instance_ids: ips.iter().map(|ip| ip.to_string()).collect(),
        }],
        now_ms,
    )
}

#[test]
fn canary_ips_create_the_rule_and_group_once_and_replace_the_members() {
    let dir = TempDir::new("canary");
    let mut store = open(&dir);
    let data = canary(&mut store, &["10.0.0.1", "10.0.0.2"], 1);
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
    assert_eq!(count(&store, "service_route_rule_log"), 0);
    assert_eq!(count(&store, "service_group_log"), 0);

    let data = canary(&mut store, &["10.0.0.2", "10.0.0.3"], 2);
    assert_eq!(
        data.service("svc").unwrap().route_rules[0].groups[0].instance_ids,
        ["10.0.0.2", "10.0.0.3"]
    );
    assert_eq!(data.route_rules().count(), 1);
    assert_eq!(data.groups().count(), 1);
    assert_eq!(data.route_rule_groups().count(), 1);
    let logged: Vec<String> = logs(
        &mut store,
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
    let data = canary(&mut store, &[], 3);
    assert!(data.service("svc").unwrap().route_rules[0].groups[0]
        .instance_ids
        .is_empty());
}

#[test]
fn filtered_reads_match_ignoring_case_and_skip_deleted_rows() {
    let dir = TempDir::new("reads");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    commit(
        &mut store,
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
        names(store.route_rules(&by_name).unwrap()),
        [(1, "svc".into()), (2, "other".into())]
    );
    let by_status = RouteRuleFilter {
        status: Some("Inactive".into()),
        ..RouteRuleFilter::default()
    };
    assert_eq!(
        names(store.route_rules(&by_status).unwrap()),
        [(2, "other".into())]
    );
    let by_id = RouteRuleFilter {
        route_rule_id: Some(2),
        service_id: Some("svc".into()),
        ..RouteRuleFilter::default()
    };
    assert!(store.route_rules(&by_id).unwrap().is_empty());

    let groups = store
        .groups(&GroupFilter {
            service_id: Some("SVC".into()),
            ..GroupFilter::default()
        })
        .unwrap();
    assert_eq!(groups.iter().map(|g| g.group_id).collect::<Vec<_>>(), [2]);

    let links = store
        .route_rule_groups(&RouteRuleGroupFilter {
            group_id: Some(2),
            ..RouteRuleGroupFilter::default()
        })
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].unreleased_weight, Some(7));
}

#[test]
fn group_logs_filter_by_their_own_fields_newest_first() {
    let dir = TempDir::new("group-logs");
    let mut store = open(&dir);
    commit(
        &mut store,
        vec![GroupChange::UpsertGroups(vec![
            group("svc-a", "z1", "g1"),
            group("svc-b", "z1", "g1"),
            group("svc-a", "z2", "g2"),
        ])],
        1,
    );
    commit(
        &mut store,
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
        log_ids(&mut store, GroupLogKind::Group, by_service.clone()),
        [3, 1]
    );
    assert_eq!(
        log_ids(&mut store, GroupLogKind::RouteRule, by_service),
        [1]
    );
    let by_zone = GroupLogFilter {
        zone_id: Some("z1".into()),
        operator_id: Some("ALICE".into()),
        operation: Some("op".into()),
        ..GroupLogFilter::default()
    };
    assert_eq!(log_ids(&mut store, GroupLogKind::Group, by_zone), [2, 1]);
    let foreign = GroupLogFilter {
        instance_id: Some("none".into()),
        ..GroupLogFilter::default()
    };
    assert_eq!(
        log_ids(&mut store, GroupLogKind::Group, foreign),
        [3, 2, 1],
        "a field the table lacks matches every row"
    );
    assert_eq!(
        store
            .group_logs(GroupLogKind::Group, &GroupLogFilter::default(), 2)
            .unwrap()
            .len(),
        2
    );
    match &logs(&mut store, GroupLogKind::Group, GroupLogFilter::default())[0] {
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

#[test]
fn reopening_loads_the_snapshot_the_last_commit_answered() {
    let dir = TempDir::new("reopen");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    commit(
        &mut store,
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
    let last = canary(&mut store, &["10.0.0.7"], 3);
    drop(store);
    let mut store = open(&dir);
    let loaded = store.load_management().unwrap();
    assert_eq!(**loaded.groups(), last);
}

#[test]
fn a_failed_batch_changes_nothing() {
    let dir = TempDir::new("failed-batch");
    let mut store = open(&dir);
    rule_with_two_groups(&mut store);
    // Any statement can fail half-way (a full disk, an I/O error): a trigger makes the last
    // change of the batch fail after the others have run inside the transaction.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON service_instance WHEN NEW.INSTANCE_ID = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let before = store.load_management().unwrap();
    let tables = [
        "service_group",
        "service_group_log",
        "service_route_rule_group",
        "instance",
        "instance_log",
        "service_group_operation",
    ];
    let counts: Vec<i64> = tables.iter().map(|t| count(&store, t)).collect();
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
    let error = store.commit(&batch, 5).unwrap_err();
    assert!(error.message.contains("boom"), "{error}");
    let after: Vec<i64> = tables.iter().map(|t| count(&store, t)).collect();
    assert_eq!(after, counts);
    assert_eq!(store.load_management().unwrap(), before);
    let weights: Vec<Option<i32>> = before
        .groups()
        .route_rule_groups()
        .map(|l| l.weight)
        .collect();
    assert_eq!(weights, [None, None]);
}

#[test]
fn a_traffic_only_batch_answers_no_group_data() {
    let dir = TempDir::new("traffic-only");
    let mut store = open(&dir);
    let answer = store
        .commit(
            &[Change::Traffic(write(
                instance("r", "s", "i"),
                "x",
                false,
                "a",
            ))],
            1,
        )
        .unwrap();
    assert_eq!(answer, None);
    assert_eq!(
        **store.load_management().unwrap().groups(),
        GroupData::default()
    );
}
