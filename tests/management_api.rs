//! The management API's surface (spec §10.1, §10.2, §10.5; issue 9): the management service
//! views, the shapes of the operation reads, every validation message, and the optional
//! write tokens.

use harness::*;

/// Asserts an instance of a management view: the registered `inst` with `status` overwritten
/// and the lease's `creationTime`, `renewalTime` and `ttl` added to its metadata.
fn assert_managed_instance(got: &Value, inst: &Inst, status: &str, ttl_ms: u64, ctx: &str) {
    let mut want = inst.clone();
    want.status = Some(status.into());
    let metadata = &got["metadata"];
    let field = |k: &str| -> u64 {
        metadata[k]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: metadata.{k} is not a string: {}", dump(got)))
            .parse()
            .unwrap_or_else(|e| panic!("{ctx}: metadata.{k} is not a number ({e}): {}", dump(got)))
    };
    assert_eq!(field("ttl"), ttl_ms, "{ctx}: metadata.ttl");
    let created = field("creationTime");
    let renewed = field("renewalTime");
    assert!(
        renewed >= created,
        "{ctx}: renewalTime {renewed} before creationTime {created}"
    );
    let mut kv: Vec<(String, String)> = want.metadata.clone().unwrap_or_default();
    for k in ["creationTime", "renewalTime", "ttl"] {
        kv.push((k.into(), metadata[k].as_str().unwrap().into()));
    }
    want.metadata = Some(kv);
    assert_instance_eq(got, &want, ctx);
}

#[test]
fn management_views_list_every_instance_with_its_status_and_lease() {
    const SVC: &str = "view-svc";
    const TTL_MS: u64 = 30_000;
    let server = Server::start_sha(&["--lease-ttl-ms", "30000"], None);
    let mut c = server.client();
    let pulled = Inst::new(SVC, "pulled");
    let mut starting = Inst::new(SVC, "starting").ip("10.4.0.2");
    starting.status = Some("starting".into());
    let on_server = Inst::new(SVC, "on-server").ip("10.4.0.9");
    let in_zone = Inst::new(SVC, "in-zone").zone("SHAOY").ip("10.4.0.3");
    let all = [
        pulled.clone(),
        starting.clone(),
        on_server.clone(),
        in_zone.clone(),
    ];
    register(&mut c, &all);
    pull_out_instance(&mut c, &pulled, PULL_OUT);
    pull_out_server(&mut c, "10.4.0.9", PULL_OUT);
    pull_out_zones(&mut c, &[SVC], "SHAOY", PULL_OUT);
    assert_discovered(&server, SVC, &["starting"], "three pulled out");

    let want_status = |id: &str| if id == "starting" { "up" } else { "down" };
    let check = |instances: &[Value], ctx: &str| {
        assert_eq!(
            instances.len(),
            all.len(),
            "{ctx}: every instance is listed"
        );
        for inst in &all {
            let id = inst.instance_id.as_deref().unwrap();
            let got = instances
                .iter()
                .find(|i| i["instanceId"].as_str() == Some(id))
                .unwrap_or_else(|| panic!("{ctx}: {id} not listed"));
            assert_managed_instance(got, inst, want_status(id), TTL_MS, &format!("{ctx}: {id}"));
        }
    };

    let v = management_services(&mut c);
    assert_sorted_keys(&v, "management services.json");
    assert!(v["version"].as_u64().is_some(), "version: {}", dump(&v));
    check(&listed_instances(&v["services"], SVC), "POST services.json");
    let (st, v) = c.get(&format!(
        "{MANAGEMENT_SERVICES}?regionId={REGION}&zoneId={ZONE}"
    ));
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "GET management services.json");
    check(&listed_instances(&v["services"], SVC), "GET services.json");

    // service.json finds the service whatever the spelling, and lists its groups.
    let v = management_service(&mut c, "VIEW-SVC");
    assert_sorted_keys(&v, "management service.json");
    assert!(v["groups"].is_array(), "groups: {}", dump(&v));
    check(
        &v["service"]["instances"]
            .as_array()
            .unwrap_or_else(|| panic!("service.instances: {}", dump(&v)))
            .iter()
            .cloned()
            .collect::<Vec<_>>(),
        "service.json",
    );

    // Discovery still serves the registered status of what it shows.
    let svc = lookup_one(&mut c, SVC);
    assert_instance_eq(
        &svc["instances"][0],
        &starting,
        "lookup keeps the registered status",
    );
}

#[test]
fn operation_reads_answer_in_the_java_shapes() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let a = Inst::new("shape-svc", "a");
    let key = instance_key(&a);

    // Nothing yet: null operations, empty lists, not down.
    let v = management_read(
        &mut c,
        INSTANCE_OPERATIONS,
        &format!(r#"{{"instanceKey":{}}}"#, dump(&key)),
    );
    assert_sorted_keys(&v, "instance-operations");
    assert!(
        v.get("operations").is_some() && v["operations"].is_null(),
        "operations must be present and null: {}",
        dump(&v)
    );
    for (path, field) in [
        (ALL_INSTANCE_OPERATIONS, "allInstanceOperations"),
        (ALL_SERVER_OPERATIONS, "allServerOperations"),
        (ALL_ZONE_OPERATIONS, "allZoneOperations"),
    ] {
        let v = management_read(&mut c, path, r#"{"regionId":"SHA"}"#);
        assert_eq!(arr_len(&v[field], field), 0, "{path}: {}", dump(&v));
    }
    assert!(!is_instance_down(&mut c, &a));
    assert!(!is_server_down(&mut c, &server_key(REGION, "10.0.0.1")));
    assert!(!is_zone_down(&mut c, &zone_key(REGION, "shape-svc", ZONE)));
    assert!(zone_operations(&mut c, &zone_key(REGION, "shape-svc", ZONE)).is_empty());

    pull_out_instance(&mut c, &a, PULL_OUT);
    let v = management_read(
        &mut c,
        INSTANCE_OPERATIONS,
        &format!(r#"{{"instanceKey":{}}}"#, dump(&key)),
    );
    assert_sorted_keys(&v, "instance-operations");
    let ops = &v["operations"];
    assert_eq!(ops.as_object().unwrap().len(), 2, "{}", dump(&v));
    assert!(same_key(&ops["instanceKey"], &key), "{}", dump(&v));
    assert_eq!(
        ops["instanceKey"].as_object().unwrap().len(),
        3,
        "{}",
        dump(&v)
    );
    assert_eq!(ops["operations"], sonic_rs::json!([PULL_OUT]));

    // The region filter of all-instance-operations: exact region, or every region when blank;
    // the GET variant answers the same.
    let one = vec![(key_string(&key), vec![PULL_OUT.to_string()])];
    assert_eq!(all_instance_operations(&mut c, Some(REGION)), one);
    assert_eq!(all_instance_operations(&mut c, None), one);
    assert_eq!(all_instance_operations(&mut c, Some(" ")), one);
    assert!(all_instance_operations(&mut c, Some("OTHER")).is_empty());
    for query in ["?regionId=SHA", ""] {
        let (st, v) = c.get(&format!("{ALL_INSTANCE_OPERATIONS}{query}"));
        assert_eq!(st, 200, "{}", dump(&v));
        assert_success_status(&v, "GET all-instance-operations");
        assert_sorted_keys(&v, "GET all-instance-operations");
        assert_eq!(
            key_operations(&v["allInstanceOperations"], "instanceKey"),
            one,
            "GET all-instance-operations{query}"
        );
    }
    let (_, v) = c.get(&format!("{ALL_INSTANCE_OPERATIONS}?regionId=OTHER"));
    assert_eq!(
        arr_len(&v["allInstanceOperations"], "GET ?regionId=OTHER"),
        0
    );
}

#[test]
fn every_validation_message_of_the_instance_and_server_endpoints() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let key = |region: Value, service: Value, instance: Value| sonic_rs::json!({"regionId": region, "serviceId": service, "instanceId": instance});
    let s = |v: &str| Value::from(v);
    let null = Value::new;
    let good = operate_instance_body(&key(s("SHA"), s("svc"), s("i")), PULL_OUT, false);
    // (body, message): the first blank field in Java's check order names the failure.
    let instance_cases: Vec<(String, &str)> = vec![
        (
            operate_instance_body(&key(s(""), s("svc"), s("i")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(s("  "), s("svc"), s("i")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(null(), s("svc"), s("i")), PULL_OUT, true),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(null(), null(), null()), "", false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s(" \t"), s("i")), PULL_OUT, false),
            "serviceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), null(), null()), PULL_OUT, false),
            "serviceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s("svc"), s("")), PULL_OUT, false),
            "instanceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s("svc"), s("i")), " ", false),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operation", null()),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operatorId", s(" ")),
            "operatorId is null or empty",
        ),
        (
            with_field(&good, "operatorId", null()),
            "operatorId is null or empty",
        ),
    ];
    for (body, message) in &instance_cases {
        let v = management_post(&mut c, OPERATE_INSTANCE, body);
        assert_fail(
            &v,
            "bad-request",
            message,
            &format!("operate-instance {body}"),
        );
    }

    let skey =
        |region: Value, server: Value| sonic_rs::json!({"regionId": region, "serverId": server});
    let good = operate_server_body(&skey(s("SHA"), s("10.0.0.1")), PULL_OUT, false);
    let server_cases: Vec<(String, &str)> = vec![
        (
            operate_server_body(&skey(s(" "), s("10.0.0.1")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_server_body(&skey(null(), null()), PULL_OUT, true),
            "regionId is null or empty",
        ),
        (
            operate_server_body(&skey(s("SHA"), s("")), PULL_OUT, false),
            "serverId is null or empty",
        ),
        (
            operate_server_body(&skey(s("SHA"), s("10.0.0.1")), "", false),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operatorId", s("\t")),
            "operatorId is null or empty",
        ),
    ];
    for (body, message) in &server_cases {
        let v = management_post(&mut c, OPERATE_SERVER, body);
        assert_fail(
            &v,
            "bad-request",
            message,
            &format!("operate-server {body}"),
        );
    }

    let read_cases: [(&str, &str, &str); 7] = [
        (INSTANCE_OPERATIONS, "{}", "request.instanceKey is null"),
        (
            INSTANCE_OPERATIONS,
            r#"{"instanceKey":null}"#,
            "request.instanceKey is null",
        ),
        (SERVER_OPERATIONS, "{}", "request.serverKey is null"),
        (INSTANCE_DOWN, "{}", "request.instance is null"),
        // sic: Java's messages, typos included.
        (SERVER_DOWN, "{}", "request.serverKey null"),
        (
            MANAGEMENT_SERVICE,
            "{}",
            "Request is null or request.servcieId is null.",
        ),
        (
            MANAGEMENT_SERVICE,
            r#"{"serviceId":"  "}"#,
            "Request is null or request.servcieId is null.",
        ),
    ];
    for (path, body, message) in read_cases {
        let v = management_post(&mut c, path, body);
        assert_fail(&v, "bad-request", message, &format!("{path} {body}"));
    }

    // None of the refused writes left a trace.
    assert!(all_instance_operations(&mut c, None).is_empty());
    assert!(all_server_operations(&mut c, None).is_empty());
    assert!(logs(&mut c, INSTANCE_LOGS, "{}").is_empty());
    assert!(logs(&mut c, SERVER_LOGS, "{}").is_empty());
}

#[test]
fn a_zone_write_without_a_complete_key_is_refused_and_changes_nothing() {
    const SVC: &str = "zone-check-svc";
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new(SVC, "a")]);
    // Java leaves these to its DAO's argument checks (ZoneOperationDao.checkInsertOrUpdateArgument),
    // which fail the whole write; it names no message of its own, so only the refusal and its
    // lack of effect are asserted.
    let bodies = [
        operate_zone_body(&[zone_key(REGION, SVC, "")], &[PULL_OUT], false),
        operate_zone_body(&[zone_key(REGION, "", ZONE)], &[PULL_OUT], false),
        operate_zone_body(&[zone_key("", SVC, ZONE)], &[PULL_OUT], false),
        operate_zone_body(&[zone_key(REGION, SVC, ZONE)], &["  "], false),
        operate_zone_body(&[], &[PULL_OUT], false),
    ];
    for body in &bodies {
        let v = management_post(&mut c, OPERATE_ZONE, body);
        let code = v["responseStatus"]["errorCode"].as_str().unwrap_or("");
        assert!(
            matches!(code, "bad-request" | "internal-service-error"),
            "operate-zone-operations {body}: {}",
            dump(&v)
        );
        assert_fail_with_some_message(&v, code, &format!("operate-zone-operations {body}"));
    }
    assert_discovered(&server, SVC, &["a"], "after the refused zone writes");
    assert!(all_zone_operations(&mut c, None).is_empty());
    assert!(logs(&mut c, ZONE_LOGS, "{}").is_empty());
}

#[test]
fn tokens_guard_every_write_when_configured_and_never_show() {
    const ALPHA: &str = "tok-alpha-1f3e77";
    const BETA: &str = "tok-beta-9c2d41";
    const SVC: &str = "token-svc";
    let config = format!("[management]\ntokens = [\"{ALPHA}\", \"{BETA}\"]\n");
    let server = Server::start_sha(&[], Some(&config));
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    register(&mut c, &[a.clone(), Inst::new(SVC, "b").ip("10.0.0.2")]);
    let pull_a = operate_instance_body(&instance_key(&a), PULL_OUT, false);

    let refused: Vec<(String, Vec<(&str, String)>)> = vec![
        (pull_a.clone(), vec![]),
        (with_field(&pull_a, "token", "wrong".into()), vec![]),
        (with_field(&pull_a, "token", "tok-alpha".into()), vec![]),
        (with_field(&pull_a, "token", "".into()), vec![]),
        (
            pull_a.clone(),
            vec![("Authorization", "Bearer wrong".into())],
        ),
        (
            pull_a.clone(),
            vec![("Authorization", format!("Basic {ALPHA}"))],
        ),
        (pull_a.clone(), vec![("Authorization", "Bearer ".into())]),
    ];
    for (body, headers) in &refused {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.request("POST", OPERATE_INSTANCE, &hs, body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_fail_with_some_message(&r.json(), "no-permission", &format!("{body} {headers:?}"));
    }
    assert_discovered(&server, SVC, &["a", "b"], "after refused writes");
    assert!(
        logs(&mut c, INSTANCE_LOGS, "{}").is_empty(),
        "a refused write logs nothing"
    );

    // Either token, in the header or in the body.
    let bearer = format!("Bearer {ALPHA}");
    let r = c.request(
        "POST",
        OPERATE_INSTANCE,
        &[("Authorization", &bearer)],
        pull_a.as_bytes(),
    );
    assert_write_ok(&r.json(), "pull-out with a bearer token");
    assert_discovered(&server, SVC, &["b"], "pulled out with a token");
    let pull_server = with_field(
        &operate_server_body(&server_key(REGION, "10.0.0.2"), PULL_OUT, false),
        "token",
        BETA.into(),
    );
    assert_write_ok(
        &management_post(&mut c, OPERATE_SERVER, &pull_server),
        "server pull-out with a body token",
    );
    assert_discovered(&server, SVC, &[], "server pulled out too");

    // Pull-ins and zone writes are writes too.
    let pull_in_a = operate_instance_body(&instance_key(&a), PULL_OUT, true);
    let v = management_post(&mut c, OPERATE_INSTANCE, &pull_in_a);
    assert_fail_with_some_message(&v, "no-permission", "pull-in without a token");
    let zone = operate_zone_body(&[zone_key(REGION, SVC, ZONE)], &[PULL_OUT], false);
    let v = management_post(&mut c, OPERATE_ZONE, &zone);
    assert_fail_with_some_message(&v, "no-permission", "zone write without a token");
    assert!(all_zone_operations(&mut c, None).is_empty());
    let r = c.request(
        "POST",
        OPERATE_ZONE,
        &[("Authorization", &bearer)],
        zone.as_bytes(),
    );
    assert_write_ok(&r.json(), "zone write with a token");

    // Reads stay open, and no answer or server log line shows a token.
    let mut seen = String::new();
    for (path, body) in [
        (INSTANCE_LOGS, "{}"),
        (SERVER_LOGS, "{}"),
        (ZONE_LOGS, "{}"),
        (ALL_INSTANCE_OPERATIONS, "{}"),
        (ALL_SERVER_OPERATIONS, "{}"),
        (ALL_ZONE_OPERATIONS, "{}"),
        (MANAGEMENT_SERVICES, "{}"),
    ] {
        seen.push_str(&dump(&management_read(&mut c, path, body)));
    }
    assert_eq!(logs(&mut c, INSTANCE_LOGS, "{}").len(), 1);
    assert_eq!(logs(&mut c, SERVER_LOGS, "{}").len(), 1);
    assert_eq!(logs(&mut c, ZONE_LOGS, "{}").len(), 1);
    for token in [ALPHA, BETA] {
        assert!(!seen.contains(token), "a read answer shows a token: {seen}");
        assert!(
            !server.stderr().contains(token),
            "the server's log shows a token"
        );
    }
}
