use std::time::Duration;

use super::histogram::{BOUNDS_NS, BUCKETS};
use super::requests::{EndpointSample, Outcome};
use super::scrape::ShardSample;
use super::*;

#[test]
fn observations_fall_in_the_first_bucket_whose_bound_they_do_not_pass() {
    let h = Histogram::default();
    h.observe(Duration::from_nanos(1));
    h.observe(Duration::from_micros(50));
    h.observe(Duration::from_nanos(50_001));
    h.observe(Duration::from_secs(10));
    h.observe(Duration::from_secs(11));
    h.observe(Duration::MAX);
    let s = h.sample();
    assert_eq!(s.buckets[0], 2, "up to and including 50 µs");
    assert_eq!(s.buckets[1], 1, "just above 50 µs");
    assert_eq!(s.buckets[BUCKETS - 2], 1, "10 s exactly");
    assert_eq!(s.buckets[BUCKETS - 1], 2, "above every bound");
    assert_eq!(s.count(), 6);
    assert_eq!(s.sum_ns, u64::MAX, "the sum saturates");
}

#[test]
fn bounds_run_from_50_microseconds_to_10_seconds() {
    assert_eq!(BOUNDS_NS[0], 50_000);
    assert_eq!(BOUNDS_NS[BOUNDS_NS.len() - 1], 10_000_000_000);
    assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn requests_count_by_outcome_and_rate_limited_apart() {
    let stats = RequestStats::default();
    let a = EndpointId::new(3);
    let b = EndpointId::new(MAX_ENDPOINTS - 1);
    stats.record(a, 200, Duration::from_micros(10));
    stats.record(a, 404, Duration::from_millis(3));
    stats.record(a, 503, Duration::from_millis(3));
    stats.count(b, 408);
    stats.count_rate_limited(a);
    let s = stats.sample();
    let at_a = s.endpoint(a);
    assert_eq!(at_a.outcomes, [1, 1, 1]);
    assert_eq!(at_a.rate_limited, 1);
    assert_eq!(at_a.latency.count(), 3);
    assert_eq!(at_a.latency.sum_ns, 6_010_000);
    let at_b = s.endpoint(b);
    assert_eq!(at_b.outcomes, [0, 1, 0]);
    assert_eq!(at_b.latency.count(), 0, "counted, not timed");
    assert_eq!(s.endpoint(EndpointId::new(0)), &EndpointSample::default());
}

#[test]
fn outcomes_follow_the_status_class() {
    assert_eq!(Outcome::of(101), Outcome::Ok);
    assert_eq!(Outcome::of(200), Outcome::Ok);
    assert_eq!(Outcome::of(400), Outcome::ClientError);
    assert_eq!(Outcome::of(499), Outcome::ClientError);
    assert_eq!(Outcome::of(500), Outcome::ServerError);
    assert_eq!(Outcome::of(503), Outcome::ServerError);
    for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
        assert_eq!(outcome as usize, i);
    }
}

#[test]
fn sessions_are_counted_open_until_their_guard_drops() {
    let m = CoreMetrics::default();
    let a = m.ws_session(Channel::Heartbeat);
    let b = m.ws_session(Channel::Heartbeat);
    let c = m.ws_session(Channel::AllInstanceChange);
    let s = m.sample(0, 0, 0);
    assert_eq!(s.ws_sessions_open, [2, 0, 1]);
    drop((a, c));
    let s = m.sample(0, 0, 0);
    assert_eq!(s.ws_sessions_open, [1, 0, 0]);
    assert_eq!(s.ws_sessions_opened, [2, 0, 1]);
    drop(b);
}

#[test]
fn core_samples_sum() {
    let one = CoreMetrics::default();
    one.requests
        .record(EndpointId::new(1), 200, Duration::from_micros(70));
    one.http.received.add(10);
    one.connections_accepted.add(1);
    let _session = one.ws_session(Channel::InstanceChange);
    let two = CoreMetrics::default();
    two.requests
        .record(EndpointId::new(1), 200, Duration::from_secs(20));
    two.http.received.add(5);
    two.store_writes.observe(Duration::from_millis(2));
    let mut sum = one.sample(3, 100, 1000);
    sum.add(&two.sample(4, 50, 24));
    assert_eq!(sum.connections_open, 7);
    assert_eq!(sum.connections_accepted, 1);
    assert_eq!(sum.http_received, 15);
    assert_eq!(sum.push_queue_bytes, 150);
    assert_eq!(sum.gzip_cache_bytes, 1024);
    assert_eq!(sum.ws_sessions_open, [0, 1, 0]);
    assert_eq!(sum.store_writes.count(), 1);
    let endpoint = sum.requests.endpoint(EndpointId::new(1));
    assert_eq!(endpoint.outcomes[Outcome::Ok as usize], 2);
    assert_eq!(endpoint.latency.buckets[1], 1, "70 µs");
    assert_eq!(endpoint.latency.buckets[BUCKETS - 1], 1, "20 s");
}

#[test]
fn shard_samples_sum_counts_and_keep_node_wide_figures() {
    let one = ShardSample {
        instances: 3,
        services: 2,
        leases: [2, 1],
        evictions: 5,
        self_preservation_active: [false, true],
        renewals_in_window: [100, 7],
        renewals_max: [120, 9],
    };
    let two = ShardSample {
        instances: 1,
        services: 1,
        leases: [1, 0],
        evictions: 0,
        self_preservation_active: [false, false],
        renewals_in_window: [90, 8],
        renewals_max: [120, 9],
    };
    let mut sum = one;
    sum.add(&two);
    assert_eq!(sum.instances, 4);
    assert_eq!(sum.services, 3);
    assert_eq!(sum.leases, [3, 1]);
    assert_eq!(sum.evictions, 5);
    assert_eq!(sum.self_preservation_active, [false, true]);
    assert_eq!(sum.renewals_in_window, [100, 8]);
    assert_eq!(sum.renewals_max, [120, 9]);
}
