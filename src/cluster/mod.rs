//! The cluster (spec §9): which nodes there are ([`topology`]), what this node knows about them
//! ([`state`]), the HTTP client it reaches them with ([`client`]), and the per-core senders
//! that replicate this node's writes to them ([`replicator`]).
//!
//! Layering: `server` uses `cluster`; `cluster` uses `config`, `shards` and `protocol`, never
//! `server` or `api`.

pub mod client;
pub mod replicator;
pub mod resolver;
pub mod state;
pub mod topology;

pub use state::{ClusterState, NodeStatus};
pub use topology::Topology;
