//! The operation logs (spec §10.6): every management write appends one row, and each log
//! endpoint filters by each of its fields as Java's DAO does (exact match; blank or absent
//! matches everything).

use harness::*;

/// One write of the log test: (serviceId or serverId, instanceId or zoneId, operation,
/// operatorId, complete).
type Written = (&'static str, &'static str, &'static str, &'static str, bool);

/// A log filter on the four string fields of [`Written`], in order; `None` matches anything.
type Filter<'a> = [Option<&'a str>; 4];

/// The written entries a filter must return: every field of `filter` that is `Some` matches.
fn expected(writes: &[Written], filter: Filter, complete: Option<bool>) -> Vec<Written> {
    let mut out: Vec<Written> = writes
        .iter()
        .filter(|w| {
            let fields = [w.0, w.1, w.2, w.3];
            fields
                .iter()
                .zip(filter.iter())
                .all(|(f, want)| want.is_none_or(|x| x == *f))
                && complete.is_none_or(|c| c == w.4)
        })
        .copied()
        .collect();
    out.sort();
    out
}

/// Checks a log row's shape: exactly `keys`, a positive id, epoch-ms times near now, a boolean
/// `complete`, and the region; returns (first, second, operation, operatorId, complete), where
/// first and second are the row's `fields` ("" for a field named "", which the table lacks).
fn log_row(
    row: &Value,
    keys: &[&str],
    fields: [&str; 2],
    ctx: &str,
) -> (String, String, String, String, bool) {
    let got: Vec<&str> = row.as_object().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(got, keys, "{ctx}: log row keys: {}", dump(row));
    assert!(
        row["id"].as_i64().is_some_and(|id| id > 0),
        "{ctx}: id: {}",
        dump(row)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for t in ["createTime", "updateTime"] {
        let ms = row[t]
            .as_i64()
            .unwrap_or_else(|| panic!("{ctx}: {t} is not epoch ms: {}", dump(row)));
        assert!(
            (ms - now).abs() < 600_000,
            "{ctx}: {t} {ms} is not epoch ms near now ({now})"
        );
    }
    assert_eq!(
        row["regionId"].as_str(),
        Some(REGION),
        "{ctx}: {}",
        dump(row)
    );
    let s = |k: &str| {
        if k.is_empty() {
            return String::new();
        }
        row[k]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: {k}: {}", dump(row)))
            .to_string()
    };
    (
        s(fields[0]),
        s(fields[1]),
        s("operation"),
        s("operatorId"),
        row["complete"]
            .as_bool()
            .unwrap_or_else(|| panic!("{ctx}: complete is not a boolean: {}", dump(row))),
    )
}

/// Runs every single-field filter (and a combination) of one log endpoint against the writes
/// made, comparing the rows returned with the rows expected. `fields` names the endpoint's key
/// fields in the order of [`Written`]; "" for a table with only one.
fn check_log_filters(
    c: &mut Client,
    path: &str,
    keys: &[&str],
    fields: [&str; 2],
    writes: &[Written],
) {
    let query = |c: &mut Client, filter: &str| -> Vec<Written> {
        let rows = logs(c, path, filter);
        let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "{path} {filter}: ids repeat");
        let mut got: Vec<Written> = rows
            .iter()
            .map(|r| {
                let (a, b, op, who, done) = log_row(r, keys, fields, &format!("{path} {filter}"));
                // Map back onto the static strings written, so the lists compare directly.
                *writes
                    .iter()
                    .find(|w| (w.0, w.1, w.2, w.3, w.4) == (&*a, &*b, &*op, &*who, done))
                    .unwrap_or_else(|| panic!("{path} {filter}: a row nobody wrote: {}", dump(r)))
            })
            .collect();
        got.sort();
        got
    };
    let field_names = [fields[0], fields[1], "operation", "operatorId"];
    assert_eq!(
        query(c, "{}"),
        expected(writes, [None; 4], None),
        "{path}: no filter"
    );
    assert_eq!(
        query(c, r#"{"regionId":"SHA"}"#),
        expected(writes, [None; 4], None),
        "{path}: regionId"
    );
    assert!(
        query(c, r#"{"regionId":"NOPE"}"#).is_empty(),
        "{path}: another region"
    );
    for (i, name) in field_names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        let mut values: Vec<&str> = writes.iter().map(|w| [w.0, w.1, w.2, w.3][i]).collect();
        values.sort();
        values.dedup();
        values.push("no-such-value");
        for value in values {
            let mut filter = [None; 4];
            filter[i] = Some(value);
            let body = format!(r#"{{"{name}":"{value}"}}"#);
            assert_eq!(
                query(c, &body),
                expected(writes, filter, None),
                "{path} {body}"
            );
        }
        // A blank value filters nothing, as in Java's DAO.
        let body = format!(r#"{{"{name}":" "}}"#);
        assert_eq!(
            query(c, &body),
            expected(writes, [None; 4], None),
            "{path} {body}"
        );
    }
    for done in [true, false] {
        let body = format!(r#"{{"complete":{done}}}"#);
        assert_eq!(
            query(c, &body),
            expected(writes, [None; 4], Some(done)),
            "{path} {body}"
        );
    }
    // Fields combine: the key fields of the first write and its operator, not complete.
    let first = writes[0];
    let mut body = sonic_rs::json!({"operatorId": first.3, "complete": false});
    let mut filter = [None, None, None, Some(first.3)];
    for (i, (name, value)) in fields.iter().zip([first.0, first.1]).enumerate() {
        if !name.is_empty() {
            body.as_object_mut().unwrap().insert(name, value);
            filter[i] = Some(value);
        }
    }
    let body = dump(&body);
    assert_eq!(
        query(c, &body),
        expected(writes, filter, Some(false)),
        "{path} {body}"
    );
}

#[test]
fn log_queries_filter_by_each_field() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();

    let instance_writes: [Written; 5] = [
        ("log-svc-a", "i1", "deploy", "alice", false),
        ("log-svc-a", "i1", "deploy", "bob", true),
        ("log-svc-a", "i2", "incident", "alice", false),
        ("log-svc-b", "i1", "deploy", "carol", false),
        ("log-svc-b", "i3", "canary", "bob", false),
    ];
    for (svc, id, op, who, done) in instance_writes {
        let key = instance_key(&Inst::new(svc, id));
        let body = with_field(
            &operate_instance_body(&key, op, done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_INSTANCE, &body), &body);
    }
    let server_writes: [Written; 4] = [
        ("10.2.0.1", "", "deploy", "alice", false),
        ("10.2.0.1", "", "deploy", "alice", true),
        ("10.2.0.2", "", "incident", "bob", false),
        ("10.2.0.3", "", "deploy", "carol", false),
    ];
    for (ip, _, op, who, done) in server_writes {
        let body = with_field(
            &operate_server_body(&server_key(REGION, ip), op, done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_SERVER, &body), &body);
    }
    let zone_writes: [Written; 4] = [
        ("log-svc-a", "SHAJQ", "drill", "alice", false),
        ("log-svc-a", "SHAJQ", "drill", "bob", true),
        ("log-svc-a", "SHAOY", "outage", "alice", false),
        ("log-svc-b", "SHAJQ", "drill", "carol", false),
    ];
    for (svc, zone, op, who, done) in zone_writes {
        let body = with_field(
            &operate_zone_body(&[zone_key(REGION, svc, zone)], &[op], done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_ZONE, &body), &body);
    }

    check_log_filters(
        &mut c,
        INSTANCE_LOGS,
        &INSTANCE_LOG_KEYS,
        ["serviceId", "instanceId"],
        &instance_writes,
    );
    check_log_filters(
        &mut c,
        SERVER_LOGS,
        &SERVER_LOG_KEYS,
        ["serverId", ""],
        &server_writes,
    );
    check_log_filters(
        &mut c,
        ZONE_LOGS,
        &ZONE_LOG_KEYS,
        ["serviceId", "zoneId"],
        &zone_writes,
    );
}
