//! gzip answers: lookup, service and services.json requests that send `Accept-Encoding: gzip`
//! (as the Java client's HTTP stack does) get `Content-Encoding: gzip` bodies that inflate to
//! exactly the uncompressed answer, from the second request for the same cached view on (the
//! first is answered uncompressed, see `server::gzip_cache`). Everything through the real binary
//! over TCP; bodies inflated with an independent decoder.

use std::io::Read;

use flate2::read::GzDecoder;
use harness::*;

/// A service whose cached view is large enough to be shared (and so compressed).
const SERVICE_ID: &str = "gz-svc";
const INSTANCES: usize = 100;

fn populated(extra: &[&str], config: Option<&str>) -> Server {
    let mut args = vec!["--shards", "2"];
    args.extend_from_slice(SHA_ARGS);
    args.extend_from_slice(extra);
    let server = Server::start_listening("127.0.0.1:0", &args, config);
    let mut client = server.client();
    let insts: Vec<Inst> = (0..INSTANCES)
        .map(|n| {
            Inst::new(SERVICE_ID, &format!("gz-{n}")).ip(&format!("10.1.{}.{}", n / 200, n % 200))
        })
        .collect();
    register(&mut client, &insts);
    server
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut decoder = GzDecoder::new(body);
    let mut plain = Vec::new();
    decoder
        .read_to_end(&mut plain)
        .unwrap_or_else(|e| panic!("not a gzip member ({e}): {} bytes", body.len()));
    assert!(
        decoder.into_inner().is_empty(),
        "bytes after the gzip member"
    );
    plain
}

const GZIP: &[(&str, &str)] = &[("Accept-Encoding", "gzip,deflate")];

fn ask(
    client: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let response = client.request(method, path, headers, body.as_bytes());
    assert_eq!(response.status, 200, "{method} {path}: {}", response.text());
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str()),
        "{method} {path}"
    );
    response
}

/// Asks with `Accept-Encoding: gzip` until the answer comes compressed (the second time at the
/// latest) and returns it inflated, after checking its headers.
fn ask_gzip(client: &mut Client, method: &str, path: &str, body: &str) -> Vec<u8> {
    let first = ask(client, method, path, GZIP, body);
    let second = ask(client, method, path, GZIP, body);
    assert_eq!(
        second.header("content-encoding"),
        Some("gzip"),
        "{method} {path}: the second request for the same answer is compressed"
    );
    assert_eq!(second.header("vary"), Some("Accept-Encoding"));
    assert_eq!(second.header("content-type"), Some("application/json"));
    let inflated = gunzip(&second.body);
    if first.header("content-encoding").is_none() {
        assert_eq!(
            first.body, inflated,
            "{method} {path}: first (plain) and second answers"
        );
    } else {
        assert_eq!(gunzip(&first.body), inflated);
    }
    assert!(
        second.body.len() * 5 < inflated.len(),
        "{method} {path}: {} bytes compressed from {}",
        second.body.len(),
        inflated.len()
    );
    inflated
}

#[test]
fn discovery_answers_inflate_to_the_plain_answers() {
    let server = populated(&[], None);
    let mut client = server.client();
    let lookup = lookup_body(&[SERVICE_ID]);
    let service_query = format!("{SERVICE}?serviceId={SERVICE_ID}&regionId={REGION}&zoneId={ZONE}");
    let cases: [(&str, &str, &str); 4] = [
        ("POST", LOOKUP, &lookup),
        ("GET", &service_query, ""),
        ("POST", SERVICES, "{}"),
        ("GET", SERVICES, ""),
    ];
    for (method, path, body) in cases {
        let plain = ask(&mut client, method, path, &[], body);
        assert_eq!(plain.header("content-encoding"), None, "{method} {path}");
        let inflated = ask_gzip(&mut client, method, path, body);
        assert_eq!(
            inflated, plain.body,
            "{method} {path}: inflated gzip answer and plain answer"
        );
    }
    // The lookup answer really holds the instances.
    let v: Value = sonic_rs::from_slice(&ask_gzip(&mut client, "POST", LOOKUP, &lookup)).unwrap();
    assert_eq!(
        arr_len(&v["services"][0]["instances"], "instances"),
        INSTANCES
    );
    // Counted: every gzip answer above (one or two per ask_gzip), and the view and the
    // services.json body compressed.
    let metrics = client.request("GET", "/metrics", &[], b"").text();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics"))
    };
    assert!(value("artemis_gzip_answers_total") >= 5.0, "{metrics}");
    assert!(value("artemis_gzip_compressions_total") >= 2.0, "{metrics}");
    assert!(value("artemis_gzip_cache_bytes") > 0.0, "{metrics}");
}

#[test]
fn a_changed_view_is_never_answered_from_its_old_compression() {
    let server = populated(&[], None);
    let mut client = server.client();
    let lookup = lookup_body(&[SERVICE_ID]);
    ask_gzip(&mut client, "POST", LOOKUP, &lookup);
    register(
        &mut client,
        &[Inst::new(SERVICE_ID, "gz-late").ip("10.9.9.9")],
    );
    let inflated = ask_gzip(&mut client, "POST", LOOKUP, &lookup);
    let v: Value = sonic_rs::from_slice(&inflated).unwrap();
    assert_eq!(
        arr_len(&v["services"][0]["instances"], "instances"),
        INSTANCES + 1
    );
    let plain = ask(&mut client, "POST", LOOKUP, &[], &lookup);
    assert_eq!(inflated, plain.body);
    // Many connections (both cores) and many changes: every gzip answer inflates to a plain one
    // taken right after it, on the same connection.
    let mut clients: Vec<Client> = (0..6).map(|_| server.client()).collect();
    for round in 0..20 {
        if round % 3 == 0 {
            register(
                &mut client,
                &[Inst::new(SERVICE_ID, &format!("gz-r{round}")).ip("10.9.9.8")],
            );
        }
        for c in clients.iter_mut() {
            let gz = ask(c, "POST", LOOKUP, GZIP, &lookup);
            let plain = ask(c, "POST", LOOKUP, &[], &lookup);
            let body = if gz.header("content-encoding") == Some("gzip") {
                gunzip(&gz.body)
            } else {
                gz.body
            };
            assert_eq!(body, plain.body, "round {round}");
        }
    }
}

#[test]
fn no_gzip_unless_asked_for_and_enabled() {
    let server = populated(&[], None);
    let mut client = server.client();
    let lookup = lookup_body(&[SERVICE_ID]);
    for refusal in ["identity", "deflate, br", "gzip;q=0", "*;q=0", ""] {
        for _ in 0..3 {
            let r = ask(
                &mut client,
                "POST",
                LOOKUP,
                &[("Accept-Encoding", refusal)],
                &lookup,
            );
            assert_eq!(
                r.header("content-encoding"),
                None,
                "Accept-Encoding: {refusal}"
            );
        }
    }
    // Small answers (a one-instance service, a heartbeat) are never compressed.
    register(&mut client, &[Inst::new("gz-small", "one")]);
    let small = lookup_body(&["gz-small"]);
    for _ in 0..3 {
        let r = ask(&mut client, "POST", LOOKUP, GZIP, &small);
        assert_eq!(r.header("content-encoding"), None, "small answer");
    }
    drop(server);

    let off = populated(&[], Some("[http]\ngzip_answers = false\n"));
    let mut client = off.client();
    for _ in 0..3 {
        let r = ask(&mut client, "POST", LOOKUP, GZIP, &lookup);
        assert_eq!(
            r.header("content-encoding"),
            None,
            "http.gzip_answers = false"
        );
    }
}

#[test]
fn head_answers_as_get_with_gzip() {
    let server = populated(&[], None);
    let mut client = server.client();
    let path = format!("{SERVICE}?serviceId={SERVICE_ID}&regionId={REGION}&zoneId={ZONE}");
    ask_gzip(&mut client, "GET", &path, "");
    let get = ask(&mut client, "GET", &path, GZIP, "");
    assert_eq!(get.header("content-encoding"), Some("gzip"));
    let head = client.build_request("HEAD", &path, GZIP, b"");
    client.write_raw(&head).unwrap();
    let head = client.read_response_head().unwrap();
    assert_eq!(head.headers, get.headers, "HEAD and GET headers");
    // The connection is still in step.
    let again = ask(&mut client, "GET", &path, GZIP, "");
    assert_eq!(
        again.body, get.body,
        "the same view, the same compressed bytes"
    );
}
