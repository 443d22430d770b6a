//! Client heartbeats and registrations for instances another core owns travel in batches, one
//! message per destination core and loop turn (issue 14): many connections at once, known and
//! unknown instances mixed, every answer still its own.

use std::thread;

use harness::*;

#[test]
fn concurrent_heartbeats_and_registrations_get_their_own_answers() {
    const CLIENTS: usize = 16;
    const ROUNDS: usize = 30;
    let server = Server::start_sha(&["--shards", "4"], None);
    let addr = server.addr;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let known: Vec<Inst> = (0..8)
                    .map(|s| Inst::new(&format!("batch-svc-{s}"), &format!("c{n}-known")))
                    .collect();
                for inst in &known {
                    let (st, v) =
                        c.post_json(REGISTER, &instances_body(std::slice::from_ref(inst)));
                    assert_registry_ok(st, &v, "register");
                }
                for round in 0..ROUNDS {
                    for (s, inst) in known.iter().enumerate() {
                        let (st, v) = heartbeat(&mut c, std::slice::from_ref(inst));
                        assert_registry_ok(st, &v, &format!("client {n} round {round} known {s}"));
                        let unknown =
                            Inst::new(&format!("batch-svc-{s}"), &format!("c{n}-gone-{round}"));
                        let (st, v) = heartbeat(&mut c, std::slice::from_ref(&unknown));
                        assert_eq!(st, 200);
                        assert_eq!(
                            v["failedInstances"][0]["errorCode"].as_str(),
                            Some("data-not-found"),
                            "client {n} round {round}: unknown instance renewed: {}",
                            dump(&v)
                        );
                        assert_eq!(
                            v["failedInstances"][0]["instance"]["instanceId"].as_str(),
                            unknown.instance_id.as_deref(),
                            "the failure echoes this request's instance"
                        );
                    }
                    // A batch mixing known and unknown instances of every shard, answered item
                    // by item.
                    let mut mixed = known.clone();
                    mixed.push(Inst::new("batch-svc-3", &format!("c{n}-never-{round}")));
                    let (st, v) = heartbeat(&mut c, &mixed);
                    assert_eq!(st, 200);
                    let failed = v["failedInstances"].as_array().expect("one failure");
                    assert_eq!(failed.len(), 1, "{}", dump(&v));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client thread");
    }
    let mut c = server.client();
    for s in 0..8 {
        assert_eq!(
            lookup_ids(&mut c, &format!("batch-svc-{s}")).len(),
            CLIENTS,
            "service {s}"
        );
    }
}
