//! The cluster (spec §9): which nodes there are ([`topology`]), what this node knows about them
//! ([`state`]), the HTTP client it reaches them with ([`client`]), the per-core senders that
//! replicate this node's writes to them ([`replicator`]), how it polls their health
//! ([`health`]) and copies the registry from one of them when it starts ([`bootstrap`]).
//!
//! Layering: `server` uses `cluster`; `cluster` uses `config`, `shards` and `protocol`, never
//! `server` or `api`.

pub mod bootstrap;
pub mod client;
pub mod health;
pub mod replicator;
pub mod resolver;
pub mod state;
pub mod topology;

pub use state::{ClusterState, NodeStatus};
pub use topology::Topology;
