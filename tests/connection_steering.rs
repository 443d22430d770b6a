//! With cores pinned one per CPU, a connection is served by the core pinned to the CPU that
//! receives its packets (`SO_INCOMING_CPU`; for a client on the same machine, the client's own
//! CPU): the accepting core hands it over, and a connection whose client moved to another CPU
//! moves to that CPU's core between two requests. The client thread here is pinned to one CPU,
//! then another, then back; each move is counted in `/metrics` and every answer stays right;
//! with `steer_connections = "off"` nothing moves.

use harness::*;

/// The CPUs the calling thread may run on.
fn thread_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
    (0..8 * size)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Let the calling thread (and the processes it starts) run on `cpus` only.
fn run_on(cpus: &[usize]) {
    // SAFETY: as above; CPU_SET stays within the set for CPUs taken from it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    assert_eq!(
        unsafe { libc::sched_setaffinity(0, size, &set) },
        0,
        "{cpus:?}"
    );
}

fn handed(client: &mut Client) -> f64 {
    let metrics = client.request("GET", "/metrics", &[], b"").text();
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("artemis_connections_handed_total ")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no artemis_connections_handed_total in {metrics}"))
}

/// Heartbeats on `client`, every one renewed; more than the 128 reads between two checks of the
/// connection's CPU.
fn heartbeats(client: &mut Client, inst: &Inst, ctx: &str) {
    for n in 0..300 {
        let (status, v) = heartbeat(client, std::slice::from_ref(inst));
        assert_registry_ok(status, &v, &format!("{ctx}: heartbeat {n}"));
    }
}

/// Heartbeats until the connection was handed over once more than `before` (a check comes every
/// 128 reads; the CPU a check sees is that of the last packet, which can be a stray
/// acknowledgement, so a few checks are allowed). Returns the new count.
fn heartbeats_until_handed(client: &mut Client, inst: &Inst, before: f64, ctx: &str) -> f64 {
    for _ in 0..10 {
        heartbeats(client, inst, ctx);
        let now = handed(client);
        if now > before {
            return now;
        }
    }
    panic!("{ctx}: the connection was not handed over in 3,000 requests");
}

#[test]
fn a_connection_follows_its_clients_cpu_to_the_core_pinned_there() {
    let original = thread_cpus();
    if original.len() < 2 {
        // One CPU: the one core is never pinned (pin_cores wants one CPU per core with two
        // shards here), so nothing is handed over.
        let server = Server::start_sha(&["--shards", "2"], None);
        let mut client = server.client();
        let inst = Inst::new("steer-svc", "one");
        register(&mut client, std::slice::from_ref(&inst));
        heartbeats(&mut client, &inst, "one CPU");
        assert_eq!(handed(&mut client), 0.0);
        return;
    }
    let (a, b) = (original[0], original[1]);
    // The server inherits this thread's two CPUs: two shards pin core 0 to `a`, core 1 to `b`.
    run_on(&[a, b]);
    let server = Server::start_sha(&["--shards", "2"], None);
    run_on(&[a]);
    let mut client = server.client();
    let inst = Inst::new("steer-svc", "one");
    register(&mut client, std::slice::from_ref(&inst));
    heartbeats(&mut client, &inst, "on the first CPU");
    // Accepted by core 1, it was handed to core 0 at once; by core 0, kept.
    let at_first = handed(&mut client);
    assert!(at_first <= 1.0, "{at_first}");
    run_on(&[b]);
    let moved = heartbeats_until_handed(&mut client, &inst, at_first, "moved to the second CPU");
    run_on(&[a]);
    heartbeats_until_handed(&mut client, &inst, moved, "back on the first CPU");
    // The instance is there, renewed all along.
    assert_eq!(
        lookup_ids(&mut client, "steer-svc"),
        vec!["one".to_string()]
    );
    drop(server);

    // `steer_connections = "off"`: served where accepted, whatever the client's CPU.
    run_on(&[a, b]);
    let server = Server::start_sha(&["--shards", "2"], Some("steer_connections = \"off\"\n"));
    run_on(&[a]);
    let mut client = server.client();
    register(&mut client, std::slice::from_ref(&inst));
    heartbeats(&mut client, &inst, "off, first CPU");
    run_on(&[b]);
    heartbeats(&mut client, &inst, "off, second CPU");
    assert_eq!(handed(&mut client), 0.0);
    run_on(&original);
}
