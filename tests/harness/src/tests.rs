//! Self-checks of the harness, so a broken helper cannot make the black-box assertions vacuous.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::*;

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn sorted_key_check_rejects_unsorted_objects() {
    let sorted: Value =
        sonic_rs::from_str(r#"{"a":1,"b":{"x":1,"y":[{"m":1,"n":2}]},"metadata":{"z":1,"a":2}}"#)
            .unwrap();
    assert_sorted_keys(&sorted, "sorted");
    let unsorted: Value = sonic_rs::from_str(r#"{"a":1,"b":{"y":1,"x":2}}"#).unwrap();
    assert!(
        panics(|| assert_sorted_keys(&unsorted, "unsorted")),
        "nested unsorted keys not detected"
    );
}

#[test]
fn instance_comparison_is_strict() {
    let inst = Inst::new("svc", "id");
    assert_instance_eq(&inst.value(), &inst, "identical");
    let mut other = inst.value();
    other["port"] = sonic_rs::json!(1);
    assert!(panics(|| assert_instance_eq(&other, &inst, "port differs")));
    let mut missing = inst.value();
    missing.as_object_mut().unwrap().remove(&"groupId");
    assert!(panics(|| assert_instance_eq(
        &missing,
        &inst,
        "key missing"
    )));
}

#[test]
fn payload_builders_and_format_checks() {
    assert!(is_java_timestamp("2024-02-29 23:59:59.123"));
    assert!(!is_java_timestamp("2024-02-29T23:59:59.123"));
    assert!(!is_java_timestamp("2024-02-29 23:59:59"));
    assert_eq!(
        chunked(b"hello world", &[5]),
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    );
    assert_eq!(
        Inst::new("MySvc", "Id-1").group("G").key_string(),
        "sha/shajq/mysvc/g/id-1"
    );
    let body = lookup_body(&["a"]);
    let v: Value = sonic_rs::from_str(&body).unwrap();
    assert_eq!(v["discoveryConfigs"][0]["serviceId"].as_str(), Some("a"));
}

#[test]
fn raw_frames_parse_back_at_every_length_encoding() {
    for len in [0usize, 125, 126, 0xffff, 0x1_0000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        for masked in [false, true] {
            let wire = frame_b0(0x80 | OP_TEXT, &payload, masked);
            let (frame, used) = ws::raw::parse_server_frame(&wire)
                .unwrap_or_else(|| panic!("length {len}: not parsed back"));
            assert_eq!(used, wire.len(), "length {len}");
            assert_eq!(
                frame,
                Raw::Frame {
                    b0: 0x80 | OP_TEXT,
                    masked,
                    payload: payload.clone()
                },
                "length {len}, masked {masked}"
            );
            assert!(
                ws::raw::parse_server_frame(&wire[..wire.len() - 1]).is_none(),
                "length {len}: a truncated frame must wait for more bytes"
            );
        }
    }
}

#[test]
fn sample_handshake_key_matches_rfc_6455() {
    assert_eq!(
        tungstenite::handshake::derive_accept_key(SAMPLE_KEY.as_bytes()),
        SAMPLE_ACCEPT
    );
}

#[test]
fn wait_until_reports_both_outcomes() {
    let mut calls = 0;
    assert!(wait_until(SOON, || {
        calls += 1;
        calls == 3
    }));
    assert_eq!(calls, 3);
    assert!(!wait_until(std::time::Duration::from_millis(50), || false));
}

#[test]
fn database_header_user_version_round_trips() {
    let home = NodeHome::new(None, &[]);
    let db = home.db_path();
    std::fs::write(&db, empty_database(7)).unwrap();
    assert_eq!(user_version(&db), 7);
    set_user_version(&db, 0x0102_0304);
    assert_eq!(user_version(&db), 0x0102_0304);
    let bytes = read_bytes(&db);
    assert_eq!(&bytes[60..64], &[1, 2, 3, 4], "big-endian at offset 60");
    assert_eq!(bytes.len(), 4096, "only the header changed");
}

#[test]
fn key_comparison_ignores_case_but_not_content() {
    let want = zone_key("SHA", "Svc", "ZoneA");
    assert!(same_key(&zone_key("sha", "SVC", "zonea"), &want));
    assert!(!same_key(&zone_key("sha", "SVC", "zoneb"), &want));
    assert!(!same_key(&server_key("SHA", "10.0.0.1"), &want));
}

#[test]
fn cluster_config_has_one_cluster_table_with_overrides_applied() {
    let toml = ClusterSpec::new(2)
        .cluster("health_check_interval_ms", "50")
        .secret("s-1")
        .toml("[self_preservation]\nenabled = false")
        .config_toml();
    assert_eq!(toml.matches("[cluster]").count(), 1, "{toml}");
    assert!(toml.contains("health_check_interval_ms = 50\n"), "{toml}");
    assert!(!toml.contains("health_check_interval_ms = 200"), "{toml}");
    assert!(toml.contains("secret = \"s-1\"\n"), "{toml}");
    assert!(
        toml.ends_with("[self_preservation]\nenabled = false\n"),
        "{toml}"
    );
}

#[test]
fn free_ports_are_distinct() {
    let ports = local_cluster::free_ports(8);
    let mut unique = ports.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "{ports:?}");
}
