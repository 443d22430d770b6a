//! Untimed set-up for `--pulled-out N`: after populating, pull out N registered instances of the
//! services the run reads, then confirm with one lookup per service that exactly those are hidden,
//! so the measurement runs with the hidden-instance filter on its path.
//!
//! The last N instances are pulled out. Instance `i` belongs to service `i % services`, so they are
//! spread evenly over the services, and the first instance of every service (`i < services`)
//! always stays visible: a lookup is never answered with an empty list because of the pull-outs.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::check::{check, first_service_instance_count, Check};
use crate::interrupt::Interrupt;
use crate::populate::send_all;
use crate::scenario::{Endpoint, Op, Population};

/// Concurrent connections sending the pull-outs (and cleanup's pull-ins): enough concurrent
/// writes for the server to group-commit them.
pub const PULL_OUT_CONNECTIONS: usize = 64;
/// Concurrent connections of the confirming lookups.
const CONFIRM_CONNECTIONS: usize = 4;

/// What pulling out took.
#[derive(Clone, Debug)]
pub struct PullOutReport {
    /// Instances pulled out: all `--pulled-out` unless Ctrl-C stopped it.
    pub instances: usize,
    /// Whether all were pulled out and confirmed hidden.
    pub complete: bool,
    /// Services looked up to confirm the pull-outs (every service of the population).
    pub services_confirmed: usize,
    pub elapsed: Duration,
}

/// Whether `n` instances of `pop` can be pulled out with every service keeping one visible.
pub fn validate(pop: &Population, n: usize) -> Result<(), String> {
    let most = pop.instances.saturating_sub(pop.services);
    if n > most {
        return Err(format!(
            "--pulled-out {n}: at most {most} of {} instances, so each of the {} services keeps \
             one visible",
            pop.instances, pop.services
        ));
    }
    Ok(())
}

/// The instances `--pulled-out n` pulls out: the last `n`.
pub fn pulled_out(pop: &Population, n: usize) -> Range<usize> {
    pop.instances - n..pop.instances
}

/// Instances of `service` still visible once `n` are pulled out.
pub fn visible_in_service(pop: &Population, n: usize, service: usize) -> usize {
    let visible = pop.instances - n;
    (visible + pop.services - 1 - service) / pop.services
}

/// Pulls out the `n` instances of [`pulled_out`], one durable write each, then looks up every
/// service and fails unless each answers with exactly its visible instances. Ctrl-C (`stop`)
/// ends it early.
pub fn pull_out(
    addr: SocketAddr,
    endpoint: &Endpoint,
    pop: &Population,
    n: usize,
    timeout: Duration,
    stop: &Interrupt,
) -> Result<PullOutReport, String> {
    validate(pop, n)?;
    let start = Instant::now();
    let first = pulled_out(pop, n).start;
    let (write_endpoint, write_pop) = (endpoint.clone(), pop.clone());
    let written = send_all(
        addr,
        timeout,
        PULL_OUT_CONNECTIONS,
        n,
        "pull-out",
        Some(stop),
        move |j, request| {
            let mut body = Vec::new();
            write_pop.write_operate_body(&mut body, first + j, true);
            write_endpoint.write_post(request, Op::Manage, &body);
        },
        |_, status, body| check(Check::Artemis, status, body),
    )?;
    if !written.complete {
        return Ok(PullOutReport {
            instances: written.requests as usize,
            complete: false,
            services_confirmed: 0,
            elapsed: start.elapsed(),
        });
    }
    let (lookup_endpoint, lookup_pop, check_pop) = (endpoint.clone(), pop.clone(), pop.clone());
    let confirmed = send_all(
        addr,
        timeout,
        CONFIRM_CONNECTIONS,
        pop.services,
        "pull-out: confirming lookup",
        Some(stop),
        move |service, request| {
            let mut body = Vec::new();
            lookup_pop.write_lookup_body(&mut body, service);
            lookup_endpoint.write_post(request, Op::Lookup, &body);
        },
        move |service, status, body| {
            if status != 200 {
                return Err(format!("http-{status}"));
            }
            let seen = first_service_instance_count(body)?;
            let expected = visible_in_service(&check_pop, n, service);
            if seen != expected {
                return Err(format!(
                    "{} shows {seen} instances, {expected} expected with {n} pulled out",
                    check_pop.service_name(service)
                ));
            }
            Ok(())
        },
    )?;
    Ok(PullOutReport {
        instances: n,
        complete: confirmed.complete,
        services_confirmed: confirmed.requests as usize,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(instances: usize, services: usize) -> Population {
        Population {
            prefix: "svc".into(),
            region: "default".into(),
            zone: "default".into(),
            instances,
            services,
        }
    }

    #[test]
    fn every_service_keeps_its_first_instance() {
        let pop = pop(23, 5);
        assert!(validate(&pop, 18).is_ok());
        let refused = validate(&pop, 19).unwrap_err();
        assert!(refused.contains("at most 18 of 23"), "{refused}");
        for n in 0..=18 {
            let pulled = pulled_out(&pop, n);
            assert_eq!(pulled.len(), n);
            for service in 0..5 {
                let visible = (0..23)
                    .filter(|i| pop.service_of(*i) == service && !pulled.contains(i))
                    .count();
                assert_eq!(visible_in_service(&pop, n, service), visible, "n={n}");
                assert!(visible >= 1, "n={n} service={service}");
            }
        }
    }

    #[test]
    fn pull_outs_are_spread_evenly_over_the_services() {
        let pop = pop(20_000, 100);
        let pulled = pulled_out(&pop, 10_000);
        let mut per_service = vec![0; 100];
        for i in pulled {
            per_service[pop.service_of(i)] += 1;
        }
        assert!(per_service.iter().all(|&n| n == 100), "{per_service:?}");
        assert!((0..100).all(|s| visible_in_service(&pop, 10_000, s) == 100));
    }
}
