//! `--cleanup`: after the run (also after Ctrl-C, and after a failure once populating began),
//! remove what the run left on the server: pull back in the instances it pulled out (durable
//! management rows outlive the instances), then unregister every instance of the synthetic
//! population, which covers everything any scenario registers. Unregistering an instance that is
//! not registered is a success, so it does not matter how far the run got. Cleanup is not
//! stopped by the first Ctrl-C; a second one exits at once.

use std::cell::Cell;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::check::{check, Check};
use crate::populate::{send_all, send_batches};
use crate::pull_out::PULL_OUT_CONNECTIONS;
use crate::scenario::{Endpoint, Op, Population};

/// What cleaning up took.
#[derive(Clone, Debug)]
pub struct CleanupReport {
    /// Instances pulled back in.
    pub pulled_in: usize,
    /// Instances unregistered (the whole population).
    pub unregistered: usize,
    pub requests: u64,
    pub elapsed: Duration,
}

/// Pulls the instances `pulled_in` back in, one durable write each, then unregisters every
/// instance of `pop`. The first failure is returned.
pub fn cleanup(
    addr: SocketAddr,
    endpoint: &Endpoint,
    pop: &Population,
    pulled_in: Range<usize>,
    timeout: Duration,
) -> Result<CleanupReport, String> {
    let start = Instant::now();
    let (write_endpoint, write_pop) = (endpoint.clone(), pop.clone());
    let first = pulled_in.start;
    let pull_ins = send_all(
        addr,
        timeout,
        PULL_OUT_CONNECTIONS,
        pulled_in.len(),
        "cleanup: pull-in",
        None,
        move |j, request| {
            let mut body = Vec::new();
            write_pop.write_operate_body(&mut body, first + j, false);
            write_endpoint.write_post(request, Op::Manage, &body);
        },
        |_, status, body| check(Check::Artemis, status, body),
    )?;
    let unregistered = Rc::new(Cell::new(0));
    let unregisters = send_batches(
        addr,
        endpoint,
        pop,
        Op::Unregister,
        timeout,
        None,
        unregistered.clone(),
    )?;
    debug_assert!(
        pull_ins.complete && unregisters.complete,
        "nothing stops cleanup"
    );
    Ok(CleanupReport {
        pulled_in: pulled_in.len(),
        unregistered: unregistered.get(),
        requests: pull_ins.requests + unregisters.requests,
        elapsed: start.elapsed(),
    })
}
