//! Self-checks of the test harness helpers, so a broken helper cannot make assertions vacuous.

mod common;

use common::*;

#[test]
fn sorted_key_check_rejects_unsorted_objects() {
    let sorted: Value =
        sonic_rs::from_str(r#"{"a":1,"b":{"x":1,"y":[{"m":1,"n":2}]},"metadata":{"z":1,"a":2}}"#)
            .unwrap();
    assert_sorted_keys(&sorted, "sorted");
    let unsorted: Value = sonic_rs::from_str(r#"{"a":1,"b":{"y":1,"x":2}}"#).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_sorted_keys(&unsorted, "unsorted")
    }));
    assert!(r.is_err(), "nested unsorted keys not detected");
}

#[test]
fn instance_comparison_is_strict() {
    let inst = Inst::new("svc", "id");
    assert_instance_eq(&inst.value(), &inst, "identical");
    let mut other = inst.value();
    other["port"] = sonic_rs::json!(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_instance_eq(&other, &inst, "port differs")
    }));
    assert!(r.is_err());
    let mut missing = inst.value();
    missing.as_object_mut().unwrap().remove(&"groupId");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_instance_eq(&missing, &inst, "key missing")
    }));
    assert!(r.is_err());
}

#[test]
fn helpers() {
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
