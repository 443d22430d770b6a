//! Registry shards: each core owns one [`Shard`] (instances, leases, cached responses) and the
//! [`Router`] tells every core which shard owns a service.

pub mod changes;
pub mod interest;
pub mod key;
pub mod mirror;
pub mod ops;
pub mod place;
pub mod router;
pub mod safe;
pub mod shard;
pub mod wheel;

pub use changes::{DeltaError, NodeShared, Push};
pub use router::{Router, Split};
pub use safe::{RenewalCounters, SafeConfig, SafeStatus};
pub use shard::{
    InstanceView, LeaseView, Registered, Replica, ReplicaKind, Served, Shard, ShardConfig,
};
