//! Registry endpoints: register / heartbeat / unregister, leases expiring, region and zone checks,
//! required fields, case-insensitive identities.

use harness::*;

/// The instance of spec §5.3's example.
fn example_instance() -> Inst {
    Inst {
        region_id: Some("SHA".into()),
        zone_id: Some("SHAJQ".into()),
        group_id: None,
        service_id: Some("myservice".into()),
        instance_id: Some("10.0.0.1:8080".into()),
        machine_name: Some("host1".into()),
        ip: Some("10.0.0.1".into()),
        port: 8080,
        protocol: Some("http".into()),
        url: Some("http://10.0.0.1:8080/api".into()),
        health_check_url: Some("http://10.0.0.1:8080/health".into()),
        status: Some("up".into()),
        metadata: Some(vec![("k".into(), "v".into())]),
    }
}

fn services_json(c: &mut Client) -> (u64, Vec<String>, Value) {
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "services.json: {}", dump(&v));
    assert_success_status(&v, "services.json");
    let version = v["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("services.json version not a number: {}", dump(&v)));
    let ids = v["services"]
        .as_array()
        .unwrap_or_else(|| panic!("services.json services not an array: {}", dump(&v)))
        .iter()
        .map(|s| s["serviceId"].as_str().unwrap_or("").to_string())
        .collect();
    (version, ids, v)
}

#[test]
fn register_lookup_heartbeat_unregister_round_trip() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = example_instance();

    let (_, before, _) = services_json(&mut c);
    assert!(!before.contains(&"myservice".to_string()));
    let (v0, _, _) = services_json(&mut c);

    // register: canonical SUCCESS body, alphabetical keys
    let (st, v) = c.post_json(REGISTER, &instances_body(std::slice::from_ref(&inst)));
    assert_registry_ok(st, &v, "register");
    assert_sorted_keys(&v, "register response");

    // lookup sees it with all 13 fields exactly as sent
    let (st, v) = c.post_json(LOOKUP, &lookup_body(&["myservice"]));
    assert_eq!(st, 200);
    assert_success_status(&v, "lookup");
    assert_sorted_keys(&v, "lookup response");
    assert_eq!(arr_len(&v["services"], "services"), 1);
    let svc = &v["services"][0];
    assert_eq!(svc["serviceId"].as_str(), Some("myservice"));
    assert!(svc.get("metadata").is_some() && svc["metadata"].is_null());
    assert_eq!(arr_len(&svc["instances"], "instances"), 1, "{}", dump(svc));
    assert_instance_eq(&svc["instances"][0], &inst, "looked-up instance");
    assert_eq!(arr_len(&svc["logicInstances"], "logicInstances"), 0);
    assert_eq!(arr_len(&svc["routeRules"], "routeRules"), 0);

    // services.json lists it, version grew
    let (v1, ids, sv) = services_json(&mut c);
    assert!(ids.contains(&"myservice".to_string()), "{}", dump(&sv));
    assert!(
        v1 > v0,
        "services.json version must grow on register: {v0} -> {v1}"
    );
    let listed = sv["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["serviceId"].as_str() == Some("myservice"))
        .unwrap()
        .clone();
    assert_eq!(arr_len(&listed["instances"], "services.json instances"), 1);
    assert_instance_eq(&listed["instances"][0], &inst, "services.json instance");

    // heartbeat: success, failedInstances null, message ""
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
    assert_registry_ok(st, &v, "heartbeat");

    // unregister: removed at once
    let (st, v) = c.post_json(UNREGISTER, &instances_body(std::slice::from_ref(&inst)));
    assert_registry_ok(st, &v, "unregister");
    let svc = lookup_one(&mut c, "myservice");
    assert_eq!(arr_len(&svc["instances"], "instances after unregister"), 0);

    let (v2, ids, sv) = services_json(&mut c);
    assert!(
        v2 > v1,
        "services.json version must grow on unregister: {v1} -> {v2}"
    );
    assert!(
        !ids.contains(&"myservice".to_string()),
        "empty service must leave services.json: {}",
        dump(&sv)
    );

    // a heartbeat after unregister is refused
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
    assert_eq!(st, 200);
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("partial_fail"));
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found")
    );

    // unregistering an unknown instance is still a success
    let (st, v) = c.post_json(
        UNREGISTER,
        &instances_body(&[Inst::new("never-registered", "x")]),
    );
    assert_registry_ok(st, &v, "unregister unknown");
}

#[test]
fn reregister_replaces_instance_data() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let first = Inst::new("replace-svc", "i-1").port(1111);
    let second = Inst::new("replace-svc", "i-1")
        .port(2222)
        .metadata(&[("version", "2")]);
    register(&mut c, &[first]);
    register(&mut c, std::slice::from_ref(&second));
    let svc = lookup_one(&mut c, "replace-svc");
    assert_eq!(arr_len(&svc["instances"], "instances"), 1, "{}", dump(&svc));
    assert_instance_eq(&svc["instances"][0], &second, "re-registered instance");
}

#[test]
fn heartbeat_of_unknown_instance_is_data_not_found_with_full_echo() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = example_instance();

    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
    assert_eq!(st, 200, "{}", dump(&v));
    assert_one_not_found(
        &v,
        "sha/shajq/myservice/10.0.0.1:8080",
        &inst,
        "heartbeat of an unknown instance",
    );

    // Mixed-case identities are lower-cased in the message; the echo keeps the spelling sent.
    let mixed = Inst::new("My.Service", "Inst-A").metadata(&[("Key", "Value")]);
    let (_, v) = heartbeat(&mut c, std::slice::from_ref(&mixed));
    assert_one_not_found(
        &v,
        "sha/shajq/my.service/inst-a",
        &mixed,
        "mixed-case instance",
    );

    // A non-blank groupId is part of Instance.toString() (spec §3.1).
    let grouped = Inst::new("gsvc", "g-1").group("Canary");
    let (_, v) = heartbeat(&mut c, std::slice::from_ref(&grouped));
    assert_one_not_found(
        &v,
        "sha/shajq/gsvc/canary/g-1",
        &grouped,
        "grouped instance",
    );

    // In a batch only the unknown one fails.
    let known = Inst::new("myservice", "known-1");
    register(&mut c, std::slice::from_ref(&known));
    let (_, v) = heartbeat(&mut c, &[known.clone(), inst.clone(), known.clone()]);
    assert_one_not_found(
        &v,
        "sha/shajq/myservice/10.0.0.1:8080",
        &inst,
        "batch with one unknown instance",
    );
}

#[test]
fn expired_lease_leaves_discovery_and_heartbeats_keep_it_alive() {
    let server = Server::start_sha(&[], Some(&manual_clock_short_ttl()));
    let mut c = server.client();
    let idle = Inst::new("expiry-svc", "idle");
    let alive = Inst::new("expiry-svc", "alive");

    register(&mut c, &[idle.clone(), alive.clone()]);
    let registered = server.clock_ms();
    let both = vec!["alive".to_string(), "idle".to_string()];
    assert_eq!(lookup_ids(&mut c, "expiry-svc"), both);

    // Just before the TTL ends both are listed; "alive" renews its lease there.
    server.advance_clock(SHORT_TTL_MS - 100);
    assert_eq!(lookup_ids(&mut c, "expiry-svc"), both);
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&alive));
    assert_registry_ok(st, &v, "heartbeat before the TTL ends");

    // Exactly at the deadline the idle lease is not yet expired; one expiry tick later it is.
    server.advance_clock_to(registered + SHORT_TTL_MS);
    assert_eq!(lookup_ids(&mut c, "expiry-svc"), both, "at the deadline");
    server.advance_clock(EXPIRY_TICK_MS);
    assert_eq!(
        lookup_ids(&mut c, "expiry-svc"),
        vec!["alive".to_string()],
        "one expiry tick past the un-heartbeated instance's deadline"
    );

    // Its heartbeat is now refused.
    let (_, v) = heartbeat(&mut c, std::slice::from_ref(&idle));
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{}",
        dump(&v)
    );

    // A client's heartbeat every 200 ms keeps "alive" listed for three more TTLs.
    for beat in 0..15 {
        server.advance_clock(200);
        let (st, v) = heartbeat(&mut c, std::slice::from_ref(&alive));
        assert_registry_ok(st, &v, &format!("heartbeat {beat}"));
    }
    assert_eq!(
        lookup_ids(&mut c, "expiry-svc"),
        vec!["alive".to_string()],
        "heartbeated instance must survive well past its TTL"
    );
}

#[test]
fn legacy_instances_get_the_legacy_ttl() {
    let server = Server::start_sha(&[], Some(&manual_clock_short_ttl()));
    let mut c = server.client();
    let normal = Inst::new("ttl-class-svc", "normal");
    let legacy = Inst::new("ttl-class-svc", "legacy").metadata(&[("java_registry", "x")]);
    register(&mut c, &[normal, legacy]);
    let registered = server.clock_ms();

    // Past the normal TTL, short of the legacy one.
    server.advance_clock((SHORT_TTL_MS + SHORT_LEGACY_TTL_MS) / 2);
    assert_eq!(
        lookup_ids(&mut c, "ttl-class-svc"),
        vec!["legacy".to_string()],
        "between the normal and the legacy TTL"
    );
    server.advance_clock_to(registered + SHORT_LEGACY_TTL_MS);
    assert_eq!(
        lookup_ids(&mut c, "ttl-class-svc"),
        vec!["legacy".to_string()],
        "at the legacy deadline"
    );
    server.advance_clock(EXPIRY_TICK_MS);
    assert!(
        lookup_ids(&mut c, "ttl-class-svc").is_empty(),
        "one expiry tick past the legacy deadline"
    );
}

#[test]
fn region_mismatch_fails_only_that_instance() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();

    let a = Inst::new("region-svc", "a");
    let bad = Inst::new("region-svc", "bad").region("OTHER");
    let b = Inst::new("region-svc", "b");
    let (st, v) = c.post_json(
        REGISTER,
        &instances_body(&[a.clone(), bad.clone(), b.clone()]),
    );
    assert_eq!(st, 200);
    let rs = &v["responseStatus"];
    assert_eq!(rs["status"].as_str(), Some("partial_fail"), "{}", dump(&v));
    assert_eq!(rs["errorCode"].as_str(), Some("partial_fail"));
    assert_eq!(rs["message"].as_str(), Some(""));
    assert_eq!(arr_len(&v["failedInstances"], "failedInstances"), 1);
    let f = &v["failedInstances"][0];
    assert_eq!(
        f["errorCode"].as_str(),
        Some("no-permission"),
        "{}",
        dump(&v)
    );
    assert_instance_eq(&f["instance"], &bad, "no-permission echo");
    let msg = f["errorMessage"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("other/shajq/region-svc/bad: ")
            && msg.contains("regionId is not the same as the registry node"),
        "errorMessage: {msg:?}"
    );
    assert_eq!(
        lookup_ids(&mut c, "region-svc"),
        vec!["a".to_string(), "b".to_string()]
    );

    // Several failures are reported in request order; a blank region is refused; the region
    // comparison is case-insensitive.
    let lower = Inst::new("region-svc", "lower").region("sha");
    let blank = Inst::new("region-svc", "blank").region("");
    let x1 = Inst::new("region-svc", "x1").region("NTG");
    let x2 = Inst::new("region-svc", "x2").region("SHA2");
    let (_, v) = c.post_json(
        REGISTER,
        &instances_body(&[x1.clone(), lower.clone(), blank.clone(), x2.clone()]),
    );
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("partial_fail"));
    assert_eq!(
        arr_len(&v["failedInstances"], "failedInstances"),
        3,
        "{}",
        dump(&v)
    );
    for (i, want) in [&x1, &blank, &x2].into_iter().enumerate() {
        let f = &v["failedInstances"][i];
        assert_eq!(f["errorCode"].as_str(), Some("no-permission"));
        assert_instance_eq(&f["instance"], want, &format!("failedInstances[{i}]"));
    }
    assert_eq!(
        lookup_ids(&mut c, "region-svc"),
        vec!["a".to_string(), "b".to_string(), "lower".to_string()]
    );

    // Heartbeat and unregister apply the same check.
    let (_, v) = heartbeat(&mut c, std::slice::from_ref(&bad));
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("no-permission")
    );
    let other_a = Inst::new("region-svc", "a").region("OTHER");
    let (_, v) = c.post_json(UNREGISTER, &instances_body(&[other_a]));
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("no-permission")
    );
    assert!(lookup_ids(&mut c, "region-svc").contains(&"a".to_string()));

    // All failed: still partial_fail.
    let (_, v) = c.post_json(REGISTER, &instances_body(&[x1.clone(), x2.clone()]));
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("partial_fail"));
    assert_eq!(arr_len(&v["failedInstances"], "failedInstances"), 2);
}

#[test]
fn lookup_from_another_region_gets_null_lists() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new("rsvc", "1")]);
    let (st, v) = c.post_json(
        LOOKUP,
        &lookup_body_from("OTHER", ZONE, &["rsvc", "unknown"]),
    );
    assert_eq!(st, 200);
    assert_success_status(&v, "lookup other region");
    assert_eq!(arr_len(&v["services"], "services"), 2);
    for (i, id) in ["rsvc", "unknown"].into_iter().enumerate() {
        let s = &v["services"][i];
        assert_eq!(s["serviceId"].as_str(), Some(id));
        for k in ["instances", "logicInstances", "routeRules", "metadata"] {
            assert!(
                s.get(k).is_some() && s[k].is_null(),
                "services[{i}].{k} must be null: {}",
                dump(&v)
            );
        }
    }
    // Region comparison is case-insensitive.
    let (_, v) = c.post_json(LOOKUP, &lookup_body_from("sha", ZONE, &["rsvc"]));
    assert_eq!(arr_len(&v["services"][0]["instances"], "instances"), 1);
}

#[test]
fn zone_policy_refuses_other_zone_when_disabled() {
    let server = Server::start_sha(
        &[],
        Some("[registry]\nallow_from_other_zone = false\n[discovery]\nallow_from_other_zone = false\n"),
    );
    let mut c = server.client();
    let other = Inst::new("zsvc", "other").zone("SHAOY");
    let same_case = Inst::new("zsvc", "same").zone("shajq");
    let (st, v) = c.post_json(
        REGISTER,
        &instances_body(&[other.clone(), same_case.clone()]),
    );
    assert_eq!(st, 200);
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("partial_fail"));
    assert_eq!(
        arr_len(&v["failedInstances"], "failedInstances"),
        1,
        "{}",
        dump(&v)
    );
    let f = &v["failedInstances"][0];
    assert_eq!(f["errorCode"].as_str(), Some("no-permission"));
    assert_instance_eq(&f["instance"], &other, "zone echo");
    let msg = f["errorMessage"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("sha/shaoy/zsvc/other: ")
            && msg.contains("zoneId is not the same as the registry node"),
        "errorMessage: {msg:?}"
    );
    assert_eq!(lookup_ids(&mut c, "zsvc"), vec!["same".to_string()]);

    // [discovery] allow_from_other_zone = false: a lookup from another zone gets null lists.
    let (_, v) = c.post_json(LOOKUP, &lookup_body_from(REGION, "SHAOY", &["zsvc"]));
    assert_success_status(&v, "other-zone lookup");
    assert!(
        v["services"][0]["instances"].is_null(),
        "other-zone lookup must get null lists: {}",
        dump(&v)
    );
}

#[test]
fn zone_policy_allows_other_zone_by_default() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new("zsvc", "other").zone("SHAOY")]);
    let (_, v) = c.post_json(LOOKUP, &lookup_body_from(REGION, "SHAOY", &["zsvc"]));
    assert_eq!(arr_len(&v["services"][0]["instances"], "instances"), 1);
}

#[test]
fn service_and_instance_ids_are_case_insensitive() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = Inst::new("MySvc", "Inst-A");
    register(&mut c, std::slice::from_ref(&inst));

    for asked in ["mysvc", "MYSVC", "MySvc"] {
        let svc = lookup_one(&mut c, asked);
        assert_eq!(
            svc["serviceId"].as_str(),
            Some(asked),
            "Service.serviceId echoes the lookup spelling"
        );
        assert_eq!(arr_len(&svc["instances"], "instances"), 1, "lookup {asked}");
        assert_instance_eq(&svc["instances"][0], &inst, "registered spelling echoed");
    }

    let mut hb = Inst::new("MYSVC", "INST-A");
    hb.url = inst.url.clone();
    let (st, v) = heartbeat(&mut c, &[hb]);
    assert_registry_ok(st, &v, "heartbeat with other case");

    // Registering the same identity with another spelling replaces it (no duplicate).
    let respelled = Inst::new("mysvc", "inst-a").port(9090);
    register(&mut c, std::slice::from_ref(&respelled));
    let svc = lookup_one(&mut c, "MySvc");
    assert_eq!(arr_len(&svc["instances"], "instances"), 1, "{}", dump(&svc));
    assert_instance_eq(&svc["instances"][0], &respelled, "latest spelling");

    unregister(&mut c, &[Inst::new("mysvc", "INST-A")]);
    for asked in ["mysvc", "MYSVC"] {
        let svc = lookup_one(&mut c, asked);
        assert_eq!(
            arr_len(&svc["instances"], "instances"),
            0,
            "after unregister"
        );
    }
}

#[test]
fn missing_required_fields_are_internal_service_error() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();

    let no_url = Inst::new("req-svc", "no-url").url(None);
    let blank_url = Inst::new("req-svc", "blank-url").url(Some("   "));
    let ok = Inst::new("req-svc", "ok");
    let (st, v) = c.post_json(
        REGISTER,
        &instances_body(&[no_url.clone(), ok.clone(), blank_url.clone()]),
    );
    assert_eq!(st, 200, "{}", dump(&v));
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("partial_fail"));
    assert_eq!(
        arr_len(&v["failedInstances"], "failedInstances"),
        2,
        "{}",
        dump(&v)
    );
    for (i, want) in [&no_url, &blank_url].into_iter().enumerate() {
        let f = &v["failedInstances"][i];
        assert_eq!(f["errorCode"].as_str(), Some("internal-service-error"));
        let msg = f["errorMessage"].as_str().unwrap_or("");
        assert!(
            msg.contains("argument instance.url is null or whitespace"),
            "errorMessage: {msg:?}"
        );
        assert_instance_eq(&f["instance"], want, "echo of invalid instance");
    }
    assert_eq!(lookup_ids(&mut c, "req-svc"), vec!["ok".to_string()]);

    // url key absent altogether
    let mut raw = Inst::new("req-svc", "absent-url").value();
    raw.as_object_mut().unwrap().remove(&"url");
    let (_, v) = c.post_json(REGISTER, &format!("{{\"instances\":[{}]}}", dump(&raw)));
    let msg = v["failedInstances"][0]["errorMessage"]
        .as_str()
        .unwrap_or("");
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("internal-service-error"),
        "{}",
        dump(&v)
    );
    assert!(
        msg.contains("argument instance.url is null or whitespace"),
        "{msg:?}"
    );

    // serviceId / instanceId missing
    let mut no_svc = Inst::new("x", "no-svc");
    no_svc.service_id = None;
    let mut no_id = Inst::new("req-svc", "x");
    no_id.instance_id = Some(" ".into());
    let (_, v) = c.post_json(REGISTER, &instances_body(&[no_svc, no_id]));
    assert_eq!(
        arr_len(&v["failedInstances"], "failedInstances"),
        2,
        "{}",
        dump(&v)
    );
    let m0 = v["failedInstances"][0]["errorMessage"]
        .as_str()
        .unwrap_or("");
    let m1 = v["failedInstances"][1]["errorMessage"]
        .as_str()
        .unwrap_or("");
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("internal-service-error")
    );
    assert_eq!(
        v["failedInstances"][1]["errorCode"].as_str(),
        Some("internal-service-error")
    );
    assert!(
        m0.contains("argument instance.serviceId is null or whitespace"),
        "{m0:?}"
    );
    assert!(
        m1.contains("argument instance.instanceId is null or whitespace"),
        "{m1:?}"
    );
    assert_eq!(lookup_ids(&mut c, "req-svc"), vec!["ok".to_string()]);
}

#[test]
fn empty_instance_list_is_a_logical_bad_request() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    for path in [REGISTER, HEARTBEAT, UNREGISTER] {
        for body in [r#"{"instances":[]}"#, r#"{"instances":null}"#, "{}", "null"] {
            let (st, v) = c.post_json(path, body);
            assert_eq!(st, 200, "{path} {body}: {}", dump(&v));
            assert_eq!(v["responseStatus"]["status"].as_str(), Some("fail"));
            assert_eq!(
                v["responseStatus"]["errorCode"].as_str(),
                Some("bad-request"),
                "{path} {body}: {}",
                dump(&v)
            );
            assert!(v["failedInstances"].is_null());
        }
    }
}

#[test]
fn legacy_instances_register_heartbeat_and_unregister() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let legacy = Inst::new("legacy-svc", "l-1").metadata(&[("java_registry", "x")]);
    register(&mut c, std::slice::from_ref(&legacy));
    let svc = lookup_one(&mut c, "legacy-svc");
    assert_instance_eq(&svc["instances"][0], &legacy, "legacy instance in lookup");
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&legacy));
    assert_registry_ok(st, &v, "legacy heartbeat");
    unregister(&mut c, std::slice::from_ref(&legacy));
    assert!(lookup_ids(&mut c, "legacy-svc").is_empty());
}

#[test]
fn strings_round_trip_exactly_and_null_entries_are_skipped() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let tricky = "quote\" backslash\\ slash/ nl\n tab\t ctl\u{1} é 中文 😀 </script>";
    let mut inst = Inst::new("esc-svc", "e\"1").metadata(&[("k\"ey", tricky), ("empty", "")]);
    inst.machine_name = Some(tricky.into());
    inst.status = Some("starting".into());
    let body = format!("{{\"instances\":[null,{},null]}}", inst.json());
    let (st, v) = c.post_json(REGISTER, &body);
    assert_registry_ok(st, &v, "register with null entries and escapes");
    let svc = lookup_one(&mut c, "esc-svc");
    assert_eq!(arr_len(&svc["instances"], "instances"), 1, "{}", dump(&svc));
    assert_instance_eq(&svc["instances"][0], &inst, "escaped strings round trip");

    // The same through the heartbeat failure echo.
    let ghost = Inst::new("esc-svc", "ghost").metadata(&[("k", tricky)]);
    let (_, v) = heartbeat(&mut c, std::slice::from_ref(&ghost));
    assert_instance_eq(&v["failedInstances"][0]["instance"], &ghost, "escaped echo");
}

#[test]
fn lookup_without_request_region_gets_null_lists() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new("nr-svc", "1")]);
    for body in [
        r#"{"discoveryConfigs":[{"serviceId":"nr-svc"}]}"#,
        r#"{"discoveryConfigs":[{"serviceId":"nr-svc","regionId":"SHA"}],"regionId":"  "}"#,
    ] {
        let (st, v) = c.post_json(LOOKUP, body);
        assert_eq!(st, 200, "{body}");
        assert_success_status(&v, body);
        assert_eq!(v["services"][0]["serviceId"].as_str(), Some("nr-svc"));
        assert!(
            v["services"][0]["instances"].is_null(),
            "blank request region must not match: {}",
            dump(&v)
        );
    }
}

/// `leases.json` for the leases of one service, with the node's self-preservation summary.
fn leases_status(c: &mut Client, service_id: &str) -> Value {
    let (st, v) = c.post_json(
        "/api/status/leases.json",
        &format!(r#"{{"serviceIds":["{service_id}"]}}"#),
    );
    assert_eq!(st, 200, "leases.json: {}", dump(&v));
    v
}

/// The self-preservation counters of a `leases.json` answer, for failure messages.
fn safe_counters(v: &Value) -> String {
    format!(
        "isSafe {} leaseUpdateMaxCount {} leaseUpdateCountLastTimeWindow {}",
        v["isSafe"], v["leaseUpdateMaxCount"], v["leaseUpdateCountLastTimeWindow"]
    )
}

#[test]
fn expiry_works_with_self_preservation_enabled_below_its_threshold() {
    // Default self-preservation (10 s window, judges only once a window held 50 renewals): a
    // small node whose renewals stop still expires leases.
    let config = format!(
        "[testing]\nmanual_clock = true\n[lease]\nttl_ms = 5000\nwheel_tick_ms = {EXPIRY_TICK_MS}\n"
    );
    let server = Server::start_sha(&[], Some(&config));
    let mut c = server.client();
    let inst = Inst::new("sp-small", "1");
    register(&mut c, std::slice::from_ref(&inst));
    // Four heartbeats a second for one window: 40 renewals in it.
    let mut now = server.clock_ms();
    let mut last_heartbeat = now;
    for beat in 0..40 {
        let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
        assert_registry_ok(st, &v, &format!("heartbeat {beat}"));
        last_heartbeat = now;
        now = server.advance_clock(250);
    }
    // Silence, second by second (each shard re-evaluates once per clock second) up to the
    // deadline: the window count falls well below 85% of its maximum, but that maximum is under
    // the threshold, so nothing is held.
    let deadline = last_heartbeat + 5000;
    while now + 1000 <= deadline {
        now = server.advance_clock(1000);
    }
    server.advance_clock_to(deadline);
    assert_eq!(lookup_ids(&mut c, "sp-small"), vec!["1".to_string()]);
    let v = leases_status(&mut c, "sp-small");
    let max = v["leaseUpdateMaxCount"].as_u64().unwrap_or(0);
    let window = v["leaseUpdateCountLastTimeWindow"].as_u64().unwrap_or(0);
    assert!(
        (1..50).contains(&max) && window * 100 < max * 85,
        "renewals counted, below the threshold, then collapsed: {}",
        safe_counters(&v)
    );
    assert_eq!(v["isSafe"].as_bool(), Some(true), "{}", safe_counters(&v));
    server.advance_clock(EXPIRY_TICK_MS);
    assert!(
        lookup_ids(&mut c, "sp-small").is_empty(),
        "lease still in discovery one expiry tick past its deadline"
    );
}

/// The lease TTL in [`self_preservation_scenario`].
const PRESERVED_TTL_MS: u64 = 5000;

/// Heartbeats from 20 instances for `heartbeat_ms` of clock time, then silence (a partition, as
/// seen by the node): evictions must be suspended, so the leases outlive their 5 s TTL.
fn self_preservation_scenario(window_ms: u64, heartbeat_ms: u64) {
    let config = format!(
        "[testing]\nmanual_clock = true\n[lease]\nttl_ms = {PRESERVED_TTL_MS}\n\
         [self_preservation]\nenabled = true\nwindow_ms = {window_ms}\n\
         percentage_threshold = 85\nmax_count_threshold = 20\n"
    );
    let server = Server::start_sha(&[], Some(&config));
    let mut c = server.client();
    let insts: Vec<Inst> = (0..20)
        .map(|i| Inst::new("sp-svc", &format!("sp-{i:02}")))
        .collect();
    register(&mut c, &insts);
    let v = leases_status(&mut c, "sp-svc");
    assert_eq!(
        v["isSafeCheckEnabled"].as_bool(),
        Some(true),
        "{}",
        dump(&v)
    );

    // A batch of 20 renewals every 50 ms: 400 a second.
    let mut now = server.clock_ms();
    let stop_at = now + heartbeat_ms;
    let mut last_heartbeat = now;
    while now < stop_at {
        let (st, v) = heartbeat(&mut c, &insts);
        assert_registry_ok(st, &v, "heartbeat batch");
        last_heartbeat = now;
        now = server.advance_clock(50);
    }

    // Silence. Each shard re-evaluates once per clock second, so the clock moves second by
    // second until the verdict turns.
    let mut last = Value::new();
    let mut unsafe_seen = false;
    for _ in 0..4 {
        now = server.advance_clock(1000);
        last = leases_status(&mut c, "sp-svc");
        if last["isSafe"].as_bool() == Some(false) {
            unsafe_seen = true;
            break;
        }
    }
    assert!(
        unsafe_seen,
        "window_ms {window_ms}: isSafe still true 4 s after heartbeats stopped: {}",
        safe_counters(&last)
    );

    // The leases are held in discovery all the way to 2 s past their TTL.
    let held_until = last_heartbeat + PRESERVED_TTL_MS + 2000;
    while now < held_until {
        now = server.advance_clock(250);
        assert_eq!(
            lookup_ids(&mut c, "sp-svc").len(),
            20,
            "window_ms {window_ms}: self-preservation must keep expired leases in discovery \
             ({} ms after the last heartbeat)",
            now - last_heartbeat
        );
    }
    let v = leases_status(&mut c, "sp-svc");
    assert_eq!(v["isSafe"].as_bool(), Some(false), "{}", safe_counters(&v));
    // They are expired all the same: a heartbeat asks the client to re-register.
    let (_, v) = heartbeat(&mut c, &insts[..1]);
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{}",
        dump(&v)
    );
    // Unregister still removes at once.
    unregister(&mut c, &insts[1..2]);
    assert_eq!(lookup_ids(&mut c, "sp-svc").len(), 19);
}

#[test]
fn self_preservation_holds_expiry_when_heartbeats_collapse() {
    self_preservation_scenario(3000, 3500);
}

/// The smallest window the config accepts (1 s) must work too.
#[test]
fn self_preservation_with_one_second_window() {
    self_preservation_scenario(1000, 2000);
}

#[test]
fn reregistering_with_java_registry_moves_the_lease_class() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let normal = Inst::new("move-svc", "m-1");
    let legacy = Inst::new("move-svc", "m-1").metadata(&[("java_registry", "x")]);
    let count = |c: &mut Client, path: &str| {
        let (_, v) = c.post_json(path, r#"{"serviceIds":["move-svc"]}"#);
        v["leases"]
            .get("move-svc")
            .and_then(|l| l.as_array().map(|a| a.len()))
            .unwrap_or(0)
    };
    register(&mut c, std::slice::from_ref(&normal));
    assert_eq!(count(&mut c, "/api/status/leases.json"), 1);
    assert_eq!(count(&mut c, "/api/status/legacy-leases.json"), 0);
    register(&mut c, std::slice::from_ref(&legacy));
    assert_eq!(count(&mut c, "/api/status/leases.json"), 0);
    assert_eq!(count(&mut c, "/api/status/legacy-leases.json"), 1);
    assert_eq!(lookup_ids(&mut c, "move-svc"), vec!["m-1".to_string()]);
    // A blank java_registry value is not legacy.
    let blank = Inst::new("move-svc", "m-2").metadata(&[("java_registry", "  ")]);
    register(&mut c, std::slice::from_ref(&blank));
    assert_eq!(count(&mut c, "/api/status/leases.json"), 1);
}
