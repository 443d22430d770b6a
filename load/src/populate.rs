//! Untimed set-up: register the synthetic population before a run (through [`send_all`], which
//! `pull_out` and `cleanup` share), and the `wait-empty` watcher used by the eviction benchmark.
//! Both run on one event loop on the calling thread, and both stop at Ctrl-C.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::check::{artemis_status, check, Answer, Check, Instances};
use crate::client::Conn;
use crate::interrupt::Interrupt;
use crate::runner::runtime;
use crate::scenario::{Endpoint, Op, Population};

/// Instances per register request while populating (the server accepts up to 10,000).
pub const POPULATE_BATCH: usize = 1000;
/// Concurrent connections while populating.
const POPULATE_CONNECTIONS: usize = 4;

/// What populating took.
#[derive(Clone, Debug)]
pub struct PopulateReport {
    /// Instances registered: all of the population unless Ctrl-C stopped it.
    pub instances: usize,
    /// Whether every instance was registered.
    pub complete: bool,
    pub services: usize,
    pub requests: u64,
    pub elapsed: Duration,
    pub start_unix_ms: u64,
    pub end_unix_ms: u64,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Registers every instance of `pop`, `POPULATE_BATCH` per request, unless `stop` comes first.
/// Any response that is not a success aborts with the error kind: a benchmark on a partly
/// populated registry would be wrong.
pub fn populate(
    addr: SocketAddr,
    endpoint: &Endpoint,
    pop: &Population,
    timeout: Duration,
    stop: &Interrupt,
) -> Result<PopulateReport, String> {
    let start = Instant::now();
    let start_unix_ms = unix_ms();
    let registered = Rc::new(Cell::new(0usize));
    let sent = send_batches(
        addr,
        endpoint,
        pop,
        Op::Register,
        timeout,
        Some(stop),
        registered.clone(),
    )?;
    Ok(PopulateReport {
        instances: registered.get(),
        complete: sent.complete,
        services: pop.services,
        requests: sent.requests,
        elapsed: start.elapsed(),
        start_unix_ms,
        end_unix_ms: unix_ms(),
    })
}

/// Sends `op` (register or unregister) for every instance of `pop`, `POPULATE_BATCH` per request,
/// adding each successful request's instances to `done`; stops early at `stop`, if given.
pub fn send_batches(
    addr: SocketAddr,
    endpoint: &Endpoint,
    pop: &Population,
    op: Op,
    timeout: Duration,
    stop: Option<&Interrupt>,
    done: Rc<Cell<usize>>,
) -> Result<Sent, String> {
    let instances = pop.instances;
    let batch_size = move |b: usize| POPULATE_BATCH.min(instances - b * POPULATE_BATCH);
    let (endpoint, batch_pop) = (endpoint.clone(), pop.clone());
    send_all(
        addr,
        timeout,
        POPULATE_CONNECTIONS,
        instances.div_ceil(POPULATE_BATCH),
        if op == Op::Register {
            "populate: register"
        } else {
            "cleanup: unregister"
        },
        stop,
        move |b, request| {
            let mut body = Vec::new();
            batch_pop.write_instances_body(&mut body, b * POPULATE_BATCH, batch_size(b));
            endpoint.write_post(request, op, &body);
        },
        move |b, status, body| {
            check(Check::Artemis, status, body)?;
            done.set(done.get() + batch_size(b));
            Ok(())
        },
    )
}

/// How far [`send_all`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Requests answered with a success.
    pub requests: u64,
    /// False if Ctrl-C stopped the sending first.
    pub complete: bool,
}

/// Sends requests `0..count` over up to `connections` keep-alive connections, one at a time
/// each, on one event loop: `write(j, out)` serializes request `j` and `check(j, status, body)`
/// judges its response. The first failure stops every connection from taking more and is
/// returned, prefixed with `what`. Ctrl-C (`stop`, if given) abandons the requests in flight and
/// the rest; cleanup passes none, since it must finish.
#[allow(clippy::too_many_arguments)]
pub fn send_all(
    addr: SocketAddr,
    timeout: Duration,
    connections: usize,
    count: usize,
    what: &'static str,
    stop: Option<&Interrupt>,
    write: impl Fn(usize, &mut Vec<u8>) + 'static,
    check: impl Fn(usize, u16, &[u8]) -> Result<(), String> + 'static,
) -> Result<Sent, String> {
    let mut rt = runtime()?;
    let next = Rc::new(Cell::new(0usize));
    let answered = Rc::new(Cell::new(0u64));
    let write = Rc::new(write);
    let check = Rc::new(check);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections.min(count) {
            let (next, answered) = (next.clone(), answered.clone());
            let (write, check) = (write.clone(), check.clone());
            tasks.push(monoio::spawn(async move {
                let mut conn: Option<Conn> = None;
                let mut request = Vec::new();
                loop {
                    let j = next.get();
                    if j >= count {
                        return Ok(());
                    }
                    next.set(j + 1);
                    request.clear();
                    write(j, &mut request);
                    if conn.is_none() {
                        conn = Some(connect(addr, timeout).await?);
                    }
                    let c = conn.as_mut().expect("connected above");
                    let exchange = c.round_trip(&request, |status, answer| match answer {
                        Answer::Body(body) => check(j, status, body),
                        Answer::BadGzip => Err("gzip".into()),
                    });
                    match monoio::time::timeout(timeout, exchange).await {
                        Ok(Ok((Ok(()), keep_alive))) => {
                            answered.set(answered.get() + 1);
                            if !keep_alive {
                                conn = None;
                            }
                        }
                        Ok(Ok((Err(kind), _))) => return Err(format!("{what} failed: {kind}")),
                        Ok(Err(e)) => return Err(format!("{what}: {}: {e}", e.kind())),
                        Err(_) => return Err(format!("{what}: request timed out")),
                    }
                }
            }));
        }
        let all_done = async {
            let mut first_error = None;
            for task in tasks {
                if let Err(e) = task.await {
                    // Stop the others from taking more requests.
                    next.set(count);
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        };
        let finished = match stop {
            Some(stop) => stop.unless_interrupted(Duration::ZERO, all_done).await,
            None => Some(all_done.await),
        };
        let requests = answered.get();
        match finished {
            Some(Ok(())) => Ok(Sent {
                requests,
                complete: true,
            }),
            Some(Err(e)) => Err(e),
            None => Ok(Sent {
                requests,
                complete: false,
            }),
        }
    })
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Conn, String> {
    match monoio::time::timeout(timeout, Conn::connect(addr)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => Err(format!("cannot connect to {addr}: timed out")),
    }
}

/// What `wait-empty` observed.
#[derive(Clone, Debug)]
pub struct WaitReport {
    pub services: usize,
    pub polls: u64,
    pub elapsed: Duration,
    pub empty_unix_ms: u64,
}

/// Looks up the services of `pop` one at a time (keep-alive, one connection) until each answers
/// with an empty instance list; a service once empty is not polled again. Fails if `deadline`
/// passes first, a lookup is not a success, or Ctrl-C (`stop`) comes.
pub fn wait_empty(
    addr: SocketAddr,
    endpoint: &Endpoint,
    pop: &Population,
    deadline: Duration,
    timeout: Duration,
    stop: &Interrupt,
) -> Result<WaitReport, String> {
    const POLL_PAUSE: Duration = Duration::from_millis(2);
    let mut rt = runtime()?;
    let start = Instant::now();
    rt.block_on(async {
        let mut conn: Option<Conn> = None;
        let mut body = Vec::new();
        let mut request = Vec::new();
        let mut polls = 0u64;
        let mut service = 0;
        while service < pop.services {
            if stop.requested() {
                return Err(format!(
                    "wait-empty: interrupted after {}: {service} of {} empty",
                    crate::wording::duration(start.elapsed()),
                    crate::wording::count(pop.services as u64, "service", "services"),
                ));
            }
            if start.elapsed() > deadline {
                return Err(format!(
                    "wait-empty: {} of {} services still had instances after {:?}",
                    pop.services - service,
                    pop.services,
                    deadline
                ));
            }
            body.clear();
            pop.write_lookup_body(&mut body, service);
            request.clear();
            endpoint.write_post(&mut request, Op::Lookup, &body);
            if conn.is_none() {
                conn = Some(connect(addr, timeout).await?);
            }
            let c = conn.as_mut().expect("connected above");
            let exchange = c.round_trip(&request, |status, answer| {
                if status != 200 {
                    return Err(format!("http-{status}"));
                }
                match answer {
                    Answer::Body(body) => artemis_status(body),
                    Answer::BadGzip => Err("gzip".into()),
                }
            });
            polls += 1;
            match monoio::time::timeout(timeout, exchange).await {
                Ok(Ok((Ok(Some(Instances::Empty)), _))) => service += 1,
                Ok(Ok((Ok(Some(Instances::NonEmpty)), _))) => {
                    monoio::time::sleep(POLL_PAUSE).await;
                }
                Ok(Ok((Ok(Some(Instances::Null) | None), _))) => {
                    return Err(
                        "wait-empty: lookup answered without an instance list (region mismatch?)"
                            .into(),
                    )
                }
                Ok(Ok((Err(kind), _))) => return Err(format!("wait-empty: lookup failed: {kind}")),
                Ok(Err(e)) => return Err(format!("wait-empty: {}: {e}", e.kind())),
                Err(_) => return Err("wait-empty: lookup timed out".into()),
            }
        }
        Ok(WaitReport {
            services: pop.services,
            polls,
            elapsed: start.elapsed(),
            empty_unix_ms: unix_ms(),
        })
    })
}
