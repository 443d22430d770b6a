//! artemis: a sharded, thread-per-core service registry speaking the Artemis wire protocol.
//!
//! `server` wires the runtime (one event loop per core, each owning a shard), `api` maps HTTP
//! endpoints onto shard operations, `config` and `cli` are the operator's contract, `admin` the
//! operator's commands against a running node, `logging` writes the log in the format the
//! operator chose.

pub mod admin;
pub mod api;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod logging;
pub mod server;
