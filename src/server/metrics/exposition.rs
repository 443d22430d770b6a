//! A scrape's text: every metric family of the node, in the Prometheus text format. The README's
//! metrics section lists the same families.

use protocol::prometheus::{Exposition, Kind};

use super::cluster::write_cluster;
use super::histogram::{HistogramSample, BOUNDS_NS};
use super::requests::{EndpointId, Outcome};
use super::scrape::NodeSample;
use crate::server::core::Node;
use crate::server::ws::Channel;

/// Lease classes, in the order of the samples' `[normal, legacy]` pairs.
const CLASSES: [&str; 2] = ["normal", "legacy"];

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Set by build.rs ("unknown" outside a git checkout).
const COMMIT: &str = env!("ARTEMIS_GIT_COMMIT");

/// Write the node's metrics: `sample` summed from its cores; `endpoints` the app's endpoints,
/// each with its label.
pub fn write_exposition(
    out: &mut Vec<u8>,
    node: &Node,
    sample: &NodeSample,
    endpoints: &[(EndpointId, &str)],
) {
    let core = &sample.sum.core;
    let shard = &sample.sum.shard;
    let mut e = Exposition::new(out);

    e.family(
        "artemis_build_info",
        Kind::Gauge,
        "The running build: always 1.",
    );
    e.sample(&[("version", VERSION), ("commit", COMMIT)], 1);
    e.family(
        "artemis_scrape_missing_shards",
        Kind::Gauge,
        "Shards whose figures are missing from this scrape (their core has stopped: shutdown).",
    );
    e.sample(&[], node.router.shards() - sample.cores_answered);

    e.family(
        "artemis_requests_total",
        Kind::Counter,
        "Requests answered, by endpoint (its path; 'unmatched' for requests that reached none) \
         and outcome (the class of the HTTP status: ok, client_error, server_error; logical \
         failures the protocol answers with 200 and a responseStatus count as ok).",
    );
    for &(id, endpoint) in endpoints {
        let counts = core.requests.endpoint(id);
        for outcome in Outcome::ALL {
            let labels = [("endpoint", endpoint), ("outcome", outcome.label())];
            e.sample(&labels, counts.outcomes[outcome as usize]);
        }
    }
    e.family(
        "artemis_request_duration_seconds",
        Kind::Histogram,
        "Time from a parsed request to its answer, ready to write, by endpoint (requests refused \
         before they were complete are counted in artemis_requests_total only).",
    );
    for &(id, endpoint) in endpoints {
        let latency = &core.requests.endpoint(id).latency;
        histogram(&mut e, &[("endpoint", endpoint)], latency);
    }
    e.family(
        "artemis_rate_limited_requests_total",
        Kind::Counter,
        "Requests a rate limiter refused, by endpoint (also counted in artemis_requests_total).",
    );
    for &(id, endpoint) in endpoints {
        let limited = core.requests.endpoint(id).rate_limited;
        e.sample(&[("endpoint", endpoint)], limited);
    }

    e.family("artemis_instances", Kind::Gauge, "Instances registered.");
    e.sample(&[], shard.instances);
    e.family(
        "artemis_leases",
        Kind::Gauge,
        "Leases held, by class (normal, or legacy for instances of Java's legacy clients).",
    );
    for (class, &label) in CLASSES.iter().enumerate() {
        e.sample(&[("class", label)], shard.leases[class]);
    }
    e.family(
        "artemis_services",
        Kind::Gauge,
        "Services with at least one instance.",
    );
    e.sample(&[], shard.services);
    e.family(
        "artemis_evictions_total",
        Kind::Counter,
        "Instances removed because their lease expired.",
    );
    e.sample(&[], shard.evictions);
    e.family(
        "artemis_self_preservation_active",
        Kind::Gauge,
        "1 while self-preservation holds back the expiry of leases of the class, else 0.",
    );
    for (class, &label) in CLASSES.iter().enumerate() {
        e.sample(
            &[("class", label)],
            u8::from(shard.self_preservation_active[class]),
        );
    }
    e.family(
        "artemis_self_preservation_window_renewals",
        Kind::Gauge,
        "Lease renewals in the last self-preservation window, node-wide, by class.",
    );
    for (class, &label) in CLASSES.iter().enumerate() {
        e.sample(&[("class", label)], shard.renewals_in_window[class]);
    }
    e.family(
        "artemis_self_preservation_max_renewals",
        Kind::Gauge,
        "The window renewal count self-preservation compares the last window with, by class.",
    );
    for (class, &label) in CLASSES.iter().enumerate() {
        e.sample(&[("class", label)], shard.renewals_max[class]);
    }

    e.family(
        "artemis_websocket_sessions",
        Kind::Gauge,
        "WebSocket sessions open, by channel.",
    );
    for channel in Channel::ALL {
        let open = core.ws_sessions_open[channel as usize];
        e.sample(&[("channel", channel.path())], open);
    }
    e.family(
        "artemis_websocket_sessions_opened_total",
        Kind::Counter,
        "WebSocket sessions opened, by channel.",
    );
    for channel in Channel::ALL {
        let opened = core.ws_sessions_opened[channel as usize];
        e.sample(&[("channel", channel.path())], opened);
    }
    e.family(
        "artemis_websocket_sessions_dropped_total",
        Kind::Counter,
        "WebSocket sessions closed with 1013 (try again later) because they fell behind or \
         changes were lost; the messages they had queued were dropped.",
    );
    e.sample(&[], core.ws_sessions_dropped);
    e.family(
        "artemis_push_batches_sent_total",
        Kind::Counter,
        "Change batches (one service's changes of one shard step) written in full to a \
         subscribed WebSocket session, counted once per session.",
    );
    e.sample(&[], core.push_batches_sent);
    e.family(
        "artemis_push_batches_dropped_total",
        Kind::Counter,
        "Change batches dropped unsent because their WebSocket session fell behind and was closed \
         with 1013 (it reconnects and reloads), counted once per session.",
    );
    e.sample(&[], core.push_batches_dropped);
    e.family(
        "artemis_discovery_views_total",
        Kind::Counter,
        "Service views read by discovery requests, by source: this core's shard, the core's \
         mirror of another core's shard, or asked of the owning core (a cross-core hop).",
    );
    for (source, n) in ["shard", "mirror", "owner"].iter().zip(core.views) {
        e.sample(&[("source", source)], n);
    }
    e.family(
        "artemis_cross_core_requests_total",
        Kind::Counter,
        "Shard operations sent to another core, one message each (renewals are batched per \
         destination core and loop turn).",
    );
    e.sample(&[], core.cross_core_requests);
    e.family(
        "artemis_remote_renewals_total",
        Kind::Counter,
        "Client heartbeats renewed on another core's shard.",
    );
    e.sample(&[], core.remote_renewals);
    e.family(
        "artemis_connections_handed_total",
        Kind::Counter,
        "Connections a core handed to the core pinned to the CPU that receives their packets \
         (SO_INCOMING_CPU), when accepted or between requests (only with pinned cores).",
    );
    e.sample(&[], core.connections_handed);
    e.family(
        "artemis_gzip_answers_total",
        Kind::Counter,
        "Answers sent gzip-encoded to clients that accept gzip (http.gzip_answers).",
    );
    e.sample(&[], core.gzip_answers);
    e.family(
        "artemis_gzip_compressions_total",
        Kind::Counter,
        "Shared answer bytes (service views, services.json bodies) compressed for gzip answers; \
         each core compresses each version once.",
    );
    e.sample(&[], core.gzip_compressions);
    e.family(
        "artemis_gzip_cache_bytes",
        Kind::Gauge,
        "Bytes the cores' gzip caches keep alive: compressed fragments and the views they came \
         from (bounded by http.gzip_cache_bytes_per_core on each core).",
    );
    e.sample(&[], core.gzip_cache_bytes);
    e.family(
        "artemis_push_fanout_seconds_total",
        Kind::Counter,
        "Time from a change batch being recorded by its shard to its being queued on the last of \
         its subscribed WebSocket sessions on a core, summed over batches and cores (cost per \
         subscriber: its increase over that of artemis_push_fanout_sessions_total).",
    );
    e.sample(&[], core.push_fanout_ns as f64 / 1e9);
    e.family(
        "artemis_push_fanout_sessions_total",
        Kind::Counter,
        "WebSocket sessions change batches were queued on by the fan-out, once per batch and \
         session (the sessions artemis_push_fanout_seconds_total covers).",
    );
    e.sample(&[], core.push_fanout_sessions);
    e.family(
        "artemis_push_queue_bytes",
        Kind::Gauge,
        "Bytes queued for WebSocket sessions (a change batch shared by sessions counts once).",
    );
    e.sample(&[], core.push_queue_bytes);

    e.family(
        "artemis_connections_open",
        Kind::Gauge,
        "TCP connections open.",
    );
    e.sample(&[], core.connections_open);
    e.family(
        "artemis_connections_accepted_total",
        Kind::Counter,
        "TCP connections accepted and served.",
    );
    e.sample(&[], core.connections_accepted);
    e.family(
        "artemis_connections_refused_total",
        Kind::Counter,
        "TCP connections closed at once because limits.max_connections were open.",
    );
    e.sample(&[], core.connections_refused);
    e.family(
        "artemis_received_bytes_total",
        Kind::Counter,
        "Bytes read from clients, by protocol (http includes WebSocket handshakes).",
    );
    e.sample(&[("protocol", "http")], core.http_received);
    e.sample(&[("protocol", "websocket")], core.ws_received);
    e.family(
        "artemis_sent_bytes_total",
        Kind::Counter,
        "Bytes written to clients, by protocol (http includes WebSocket handshakes).",
    );
    e.sample(&[("protocol", "http")], core.http_sent);
    e.sample(&[("protocol", "websocket")], core.ws_sent);

    let store = node.store.stats();
    e.family(
        "artemis_management_writes_total",
        Kind::Counter,
        "Management writes (pull-outs, pull-ins) committed to the store.",
    );
    e.sample(&[], store.writes);
    e.family(
        "artemis_management_write_transactions_total",
        Kind::Counter,
        "Store transactions (one fsync each) that committed management writes.",
    );
    e.sample(&[], store.transactions);
    e.family(
        "artemis_management_write_failures_total",
        Kind::Counter,
        "Management writes answered with a storage error.",
    );
    e.sample(&[], store.failed_writes);
    e.family(
        "artemis_store_busy_refusals_total",
        Kind::Counter,
        "Store jobs of any kind refused because the store's queue was full.",
    );
    e.sample(&[], store.refused_busy);
    // Only a shared database can be out of reach while the node runs.
    if node.config.persistence.is_shared() {
        e.family(
            "artemis_store_up",
            Kind::Gauge,
            "1 while the shared management database answers, 0 while the last poll or write \
             found it unreachable.",
        );
        e.sample(&[], u64::from(node.store.store_up()));
    }
    e.family(
        "artemis_management_store_write_duration_seconds",
        Kind::Histogram,
        "Time a management write waited for the store to commit it (or to fail).",
    );
    histogram(&mut e, &[], &core.store_writes);

    write_cluster(&mut e, &node.cluster);
}

fn histogram(e: &mut Exposition<'_>, labels: &[(&str, &str)], sample: &HistogramSample) {
    let bounds = BOUNDS_NS.map(|ns| ns as f64 / 1e9);
    e.histogram(labels, &bounds, &sample.buckets, sample.sum_ns as f64 / 1e9);
}
