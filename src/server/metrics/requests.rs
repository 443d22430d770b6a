//! Requests per endpoint: how many ended in each outcome, how long they took, and how many a
//! rate limiter refused.
//!
//! The server does not know endpoints (see [`crate::server::app`]): the app numbers its endpoints
//! with [`EndpointId`]s and names them when a scrape is written.

use std::cell::Cell;
use std::time::Duration;

use super::histogram::{Histogram, HistogramSample};

/// Endpoint ids the table has room for (the app's route table plus a few pseudo-endpoints; the
/// app checks at compile time that its ids fit).
pub const MAX_ENDPOINTS: usize = 128;

/// An endpoint, numbered by the app: below [`MAX_ENDPOINTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointId(u8);

impl EndpointId {
    pub const fn new(index: usize) -> EndpointId {
        assert!(index < MAX_ENDPOINTS, "endpoint id out of range");
        EndpointId(index as u8)
    }

    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// How a request ended, by the class of its HTTP status (logical failures the protocol answers
/// with 200 and a `responseStatus` count as `Ok`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ClientError,
    ServerError,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::ClientError, Outcome::ServerError];

    pub fn of(status: u16) -> Outcome {
        match status {
            ..400 => Outcome::Ok,
            400..500 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

#[derive(Default)]
struct EndpointStats {
    outcomes: [Cell<u64>; Outcome::ALL.len()],
    rate_limited: Cell<u64>,
    latency: Histogram,
}

/// One core's request counters.
pub struct RequestStats {
    endpoints: [EndpointStats; MAX_ENDPOINTS],
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            endpoints: std::array::from_fn(|_| EndpointStats::default()),
        }
    }
}

impl RequestStats {
    /// A request answered with `status` after `elapsed`.
    pub fn record(&self, endpoint: EndpointId, status: u16, elapsed: Duration) {
        let stats = &self.endpoints[endpoint.index()];
        let outcome = &stats.outcomes[Outcome::of(status) as usize];
        outcome.set(outcome.get() + 1);
        stats.latency.observe(elapsed);
    }

    /// A request answered with `status` whose duration is not measured: one the connection
    /// refused before it was complete (unparsable, too slow, no room to buffer it).
    pub fn count(&self, endpoint: EndpointId, status: u16) {
        let outcome = &self.endpoints[endpoint.index()].outcomes[Outcome::of(status) as usize];
        outcome.set(outcome.get() + 1);
    }

    /// A request a rate limiter refused (it is also recorded with the status it was answered
    /// with). The rate limiter calls this where it refuses a request.
    pub fn count_rate_limited(&self, endpoint: EndpointId) {
        let limited = &self.endpoints[endpoint.index()].rate_limited;
        limited.set(limited.get() + 1);
    }

    pub fn sample(&self) -> RequestsSample {
        RequestsSample(Box::new(std::array::from_fn(|i| {
            let stats = &self.endpoints[i];
            EndpointSample {
                outcomes: std::array::from_fn(|o| stats.outcomes[o].get()),
                rate_limited: stats.rate_limited.get(),
                latency: stats.latency.sample(),
            }
        })))
    }
}

/// One endpoint's counts at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointSample {
    pub outcomes: [u64; Outcome::ALL.len()],
    pub rate_limited: u64,
    pub latency: HistogramSample,
}

/// Every endpoint's counts at one moment, to be summed across cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestsSample(Box<[EndpointSample; MAX_ENDPOINTS]>);

impl Default for RequestsSample {
    fn default() -> Self {
        RequestsSample(Box::new([EndpointSample::default(); MAX_ENDPOINTS]))
    }
}

impl RequestsSample {
    pub fn add(&mut self, other: &RequestsSample) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            for (m, t) in mine.outcomes.iter_mut().zip(&theirs.outcomes) {
                *m += t;
            }
            mine.rate_limited += theirs.rate_limited;
            mine.latency.add(&theirs.latency);
        }
    }

    pub fn endpoint(&self, endpoint: EndpointId) -> &EndpointSample {
        &self.0[endpoint.index()]
    }
}
