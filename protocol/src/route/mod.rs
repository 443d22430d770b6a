//! Client-side routing over a served `Service`'s route rules (spec §3.3, §11.6 item 3).
//!
//! The server only serves `routeRules` and `logicInstances`; a client turns them into the
//! rules it routes on and picks instances under them. No I/O and no clock: randomness
//! comes from the caller's [`Rng`](crate::rng::Rng), so a fixed seed gives a fixed
//! sequence of picks.
//!
//! ```text
//! served JSON --model::parse--> ServedService --route_rules--> [EffectiveRule]
//!                                     \--Router::new(service, &Locality)--> Router::pick
//! ```
//!
//! * [`route_rules`] is Java's `RouteRules.newRouteRules`: served rules with an id and
//!   groups; in each, the groups that have a key and resolve to instances, weights fixed
//!   by [`fix_weight`]; a group's members are the instances and logical instances named by
//!   its `instanceIds` plus the instances whose group key ([`instance_group_key`]) lies
//!   under the group key; the `canary-route-rule`'s groups also keep the instances served
//!   inline. A `default-route-rule` holding every instance at weight 5 is synthesized when
//!   none is served.
//! * [`Router`] picks the next instance for a route id, falling back to the default rule
//!   for an unknown id. Both strategies draw a group with probability proportional to its
//!   weight (weight 0 takes no traffic) and then take the group's instances in turn;
//!   `close-by-visit` first narrows the groups to those in the caller's zone, else its
//!   region, else all.
//!
//! Java's open-source client stops at `newRouteRules`: it names the strategies but has no
//! implementation of them. The selection here follows what the names, the weights and
//! `ServiceGroups.isLocalZone` (same region and zone as the caller) imply.

mod keys;
mod locality;
mod router;
mod rules;
mod served;
#[cfg(test)]
mod tests;

pub use keys::{
    fix_weight, instance_group_key, is_default_group_id, CANARY_ROUTE_RULE, DEFAULT_GROUP_ID,
    DEFAULT_GROUP_KEY, DEFAULT_ROUTE_RULE, DEFAULT_WEIGHT, MAX_WEIGHT,
};
pub use locality::Locality;
pub use router::Router;
pub use rules::{route_rules, EffectiveGroup, EffectiveRule, Strategy};
pub use served::{RouteRule, ServedService, ServiceGroup};
