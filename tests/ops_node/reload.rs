//! SIGHUP reloads the config file: the log filter and the management tokens take effect at once,
//! other changed keys are named as needing a restart, and an invalid file changes nothing. The
//! node never stops for it.

use harness::*;

use crate::support::{Launch, Node};

const UNPARSABLE: &str = "ignoring an unparsable subscription message";

fn config(log: &str, token: &str, ttl_ms: u64) -> String {
    format!(
        "region_id = \"{REGION}\"\nzone_id = \"{ZONE}\"\nlog = \"{log}\"\n\
         [management]\ntokens = [\"{token}\"]\n[lease]\nttl_ms = {ttl_ms}\n"
    )
}

/// Pulls `inst` out with `token`; the answer's responseStatus.
fn pull_out_with(node: &Node, inst: &Inst, token: &str) -> Value {
    let body = operate_instance_body(&instance_key(inst), PULL_OUT, false);
    let bearer = format!("Bearer {token}");
    let r = node.client().request(
        "POST",
        OPERATE_INSTANCE,
        &[("Authorization", bearer.as_str())],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Sends an unparsable subscription (logged at debug) and waits until the node has read it.
fn send_unparsable_subscription(ws: &mut Ws, round: u8) {
    send_text(ws, "not a discovery config");
    // The pong follows the text message on the same session: it has been handled.
    send_ping(ws, &[round], "after the unparsable subscription");
    await_pong(ws, &[round], "after the unparsable subscription");
}

#[test]
fn sighup_applies_log_filter_and_tokens_and_names_keys_needing_a_restart() {
    let node = Node::start(Launch::default().config(&config("info", "old-token", 20_000)));
    let inst = Inst::new("reload-svc", "1");
    register(&mut node.client(), std::slice::from_ref(&inst));
    let mut ws = ws_at(node.addr, IC);
    send_unparsable_subscription(&mut ws, 1);
    assert!(!node.stderr().contains(UNPARSABLE), "debug logged at info");
    assert_fail_with_some_message(
        &pull_out_with(&node, &inst, "new-token"),
        "no-permission",
        "new token before the reload",
    );

    node.write_config(&config("info,artemis=debug", "new-token", 30_000));
    node.signal(libc::SIGHUP);
    node.wait_for_log("reload: management tokens replaced", 1);
    node.wait_for_log("reload: log filter changed", 1);
    node.wait_for_log("reload: changed keys need a restart", 1);
    let log = node.stderr();
    let restart = log.lines().find(|l| l.contains("need a restart")).unwrap();
    assert!(restart.contains("lease.ttl_ms"), "{restart}");
    assert!(
        !restart.contains("management.tokens") && !restart.contains("log,"),
        "{restart}"
    );
    assert!(
        !log.contains("old-token") && !log.contains("new-token"),
        "tokens must never be logged:\n{log}"
    );

    assert_fail_with_some_message(
        &pull_out_with(&node, &inst, "old-token"),
        "no-permission",
        "old token after the reload",
    );
    assert_write_ok(
        &pull_out_with(&node, &inst, "new-token"),
        "new token after the reload",
    );
    send_unparsable_subscription(&mut ws, 2);
    node.wait_for_log(UNPARSABLE, 1);
    assert_eq!(
        node.client().get("/health").0,
        200,
        "serving after the reload"
    );
}

#[test]
fn sighup_with_an_invalid_file_keeps_the_running_configuration() {
    let mut node = Node::start(Launch::default().config(&config("info", "old-token", 20_000)));
    let inst = Inst::new("reload-bad", "1");
    register(&mut node.client(), std::slice::from_ref(&inst));

    node.write_config("region_id = \"SHA\"\nno_such_key = 1\n[management]\ntokens = []\n");
    node.signal(libc::SIGHUP);
    node.wait_for_log("reload refused, the running configuration stays", 1);
    assert!(
        node.stderr().contains("no_such_key"),
        "the error names the key"
    );
    // Open writes were not let in: the token is still required.
    assert_fail_with_some_message(
        &pull_out_with(&node, &inst, "wrong"),
        "no-permission",
        "after the refused reload",
    );
    assert_write_ok(
        &pull_out_with(&node, &inst, "old-token"),
        "old token still valid",
    );
    assert_eq!(node.stop().code(), Some(0), "{}", node.stderr());
}
