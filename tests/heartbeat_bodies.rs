//! Client heartbeats are read by a lazy scan of the body, with the full parse as the fallback
//! for anything unusual. Bodies that mean the same thing must get byte-for-byte the same answer
//! whichever way they are read (plain vs escaped ids, property-name case, byte order mark,
//! duplicates), over heartbeat.json and the WebSocket heartbeat channel alike.

use harness::*;

const SERVICE: &str = "hb-scan";
const KNOWN: &str = "known-1";

/// A Java-client instance of `SERVICE` with metadata that needs escaping when echoed.
fn inst(instance_id: &str) -> Inst {
    Inst::new(SERVICE, instance_id).metadata(&[("quote\"d", "é\n"), ("env", "it")])
}

/// The heartbeat body of one instance, as the Java client writes it.
fn body_of(i: &Inst) -> String {
    instances_body(std::slice::from_ref(i))
}

/// The answer of heartbeat.json and of the WebSocket channel to `body` (they must agree).
fn answers(c: &mut Client, ws: &mut Ws, body: &str) -> (u16, String) {
    let http = c.request("POST", HEARTBEAT, &[], body.as_bytes());
    send_text(ws, body);
    let over_ws = next_text(ws, body);
    if http.status == 200 {
        assert_eq!(
            over_ws,
            http.text(),
            "WebSocket and heartbeat.json answer {body:?} differently"
        );
    } else {
        // What Jackson cannot read gets a plain success over the WebSocket (spec §14.6).
        assert_eq!(over_ws, CANNED_SUCCESS, "{body:?} over the WebSocket");
    }
    (http.status, http.text())
}

/// Asserts that every variant of `plain` answers exactly as `plain` does, and returns that answer.
fn same_answers(c: &mut Client, ws: &mut Ws, plain: &str, variants: &[String]) -> (u16, String) {
    let expected = answers(c, ws, plain);
    for variant in variants {
        assert_eq!(
            answers(c, ws, variant),
            expected,
            "{variant:?} answers differently from {plain:?}"
        );
    }
    expected
}

/// Variants of a Java body that read the same: escaped key fields (fallback), other cases for
/// property names, a byte order mark, a duplicate key field resolved by "last wins", a string
/// port and an escaped URL.
fn variants(plain: &str) -> Vec<String> {
    let escaped_service = SERVICE.replace('-', "\\u002d");
    vec![
        plain.replace(
            &format!("\"serviceId\":\"{SERVICE}\""),
            &format!("\"serviceId\":\"{escaped_service}\""),
        ),
        plain
            .replace("\"regionId\":", "\"RegionId\":")
            .replace("\"instanceId\":", "\"INSTANCEID\":")
            .replace("\"url\":", "\"Url\":"),
        format!("\u{FEFF}{plain}"),
        // Before the real one, so the real one wins.
        plain.replacen("[{", "[{\"instanceId\":\"decoy\",", 1),
        plain.replace("\"port\":8080", "\"port\":\"8080\""),
        plain.replace("http://", "http:\\/\\/"),
        format!(" \n{plain}\t "),
    ]
}

#[test]
fn odd_heartbeat_bodies_answer_as_the_plain_ones() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let known = inst(KNOWN);
    register(&mut c, std::slice::from_ref(&known));
    let mut ws = ws_connect(&server, HB);

    let plain = body_of(&known);

    // A registered instance: every variant renews it.
    let (status, text) = same_answers(&mut c, &mut ws, &plain, &variants(&plain));
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_registry_ok(status, &v, "heartbeat of the registered instance");

    // An unknown one: data-not-found with the instance echoed in full, decoded the same way
    // whichever reading the body took.
    let ghost = inst("ghost-1");
    let plain = body_of(&ghost);
    let (status, text) = same_answers(&mut c, &mut ws, &plain, &variants(&plain));
    assert_eq!(status, 200);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_one_not_found(
        &v,
        &format!("sha/shajq/{SERVICE}/ghost-1"),
        &ghost,
        "heartbeat of a ghost",
    );

    // A batch mixing both, with null entries: one failure, in place.
    let batch = format!("{{\"instances\":[null,{},{}]}}", known.json(), ghost.json());
    let escaped = batch.replace(
        "\"instanceId\":\"ghost-1\"",
        "\"instanceId\":\"ghost\\u002d1\"",
    );
    let (_, text) = same_answers(&mut c, &mut ws, &batch, &[escaped]);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_one_not_found(
        &v,
        &format!("sha/shajq/{SERVICE}/ghost-1"),
        &ghost,
        "mixed batch",
    );
}

#[test]
fn refusals_read_the_same_from_plain_and_escaped_fields() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let mut ws = ws_connect(&server, HB);

    // Another region: the message quotes the regionId as decoded.
    let other = inst(KNOWN).region("NOPE");
    let plain = body_of(&other);
    let escaped = plain.replace("\"regionId\":\"NOPE\"", "\"regionId\":\"NO\\u0050E\"");
    let (_, text) = same_answers(&mut c, &mut ws, &plain, &[escaped]);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    let message = v["failedInstances"][0]["errorMessage"]
        .as_str()
        .unwrap_or("");
    assert!(
        message.contains("regionId: NOPE, registry node.regionId: SHA"),
        "{}",
        dump(&v)
    );

    // A blank url, plain or escaped, and a blank instanceId: Java's required-field message.
    let blank = inst(KNOWN).url(Some(" "));
    let plain = body_of(&blank);
    let escaped = plain.replace("\"url\":\" \"", "\"url\":\"\\u0020\"");
    let (_, text) = same_answers(&mut c, &mut ws, &plain, &[escaped]);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_eq!(
        v["failedInstances"][0]["errorMessage"].as_str(),
        Some("sha/shajq/hb-scan/known-1: Exception: argument instance.url is null or whitespace"),
        "{}",
        dump(&v)
    );
    let no_url = body_of(&inst(KNOWN).url(None));
    let (_, text) = same_answers(&mut c, &mut ws, &no_url, &[]);
    assert!(
        text.contains("argument instance.url is null or whitespace"),
        "{text}"
    );
    let no_id = body_of(&inst(" \t"));
    let (_, text) = same_answers(&mut c, &mut ws, &no_id, &[]);
    assert!(
        text.contains("argument instance.instanceId is null or whitespace"),
        "{text}"
    );
}

#[test]
fn request_level_answers_are_unchanged() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let mut ws = ws_connect(&server, HB);

    let (status, text) = same_answers(&mut c, &mut ws, "null", &[" null ".into()]);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        v["responseStatus"]["message"].as_str(),
        Some("request is null")
    );

    let (_, text) = same_answers(
        &mut c,
        &mut ws,
        "{\"instances\":[]}",
        &[
            "{}".into(),
            "{\"Instances\":null}".into(),
            "{\"instances\":[],\"instances\":null}".into(),
        ],
    );
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_eq!(
        v["responseStatus"]["message"].as_str(),
        Some("request.instances is null or empty."),
        "{text}"
    );

    // Only null entries: nothing to do, plain success.
    let (status, text) = same_answers(&mut c, &mut ws, "{\"instances\":[null]}", &[]);
    let v: Value = sonic_rs::from_str(&text).unwrap();
    assert_registry_ok(status, &v, "null entries only");

    // Unreadable bodies: 400 with the parser's message (the canned success over WebSocket).
    for bad in [
        "{\"instances\":[{\"port\":\"x\"}]}",
        "{\"instances\":[{\"serviceId\":{}}]}",
        "{\"instances\":[1]}",
        "{\"instances\":[]} x",
        "{\"instances\":[{\"serviceId\":\"a\"]}",
    ] {
        let (status, text) = answers(&mut c, &mut ws, bad);
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("invalid JSON body: "), "{bad}: {text}");
    }
    let deep = format!(
        "{{\"x\":{}{},\"instances\":[]}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let (status, text) = answers(&mut c, &mut ws, &deep);
    assert_eq!(status, 400);
    assert!(text.contains("nesting deeper than"), "{text}");
}
