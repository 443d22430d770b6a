//! Picking the instance a call goes to, under one of a service's route rules.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::keys::{java_lower_case, DEFAULT_ROUTE_RULE};
use super::locality::Locality;
use super::rules::{route_rules, EffectiveRule, Strategy};
use super::served::ServedService;
use crate::model::Instance;
use crate::rng::Rng;

/// A service's effective route rules, ready to pick instances from.
///
/// Built once per served version of the service; picking takes `&self` (the router is
/// `Sync`), so callers on several threads share one router and its round-robin positions.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
    /// Index in `routes` of the rule unknown route ids fall back to.
    default_route: usize,
}

#[derive(Debug)]
struct Route {
    rule: EffectiveRule,
    /// The route id lower-cased, as Java compares route ids with the reserved names.
    lower_id: String,
    /// The groups a pick may land in, each ending its share of the weight line
    /// `0..total`: group `draws[i].group` owns `draws[i-1].weight_end..draws[i].weight_end`.
    draws: Vec<Draw>,
    /// Per group of `rule`: how many picks it has served, for round robin within it.
    cursors: Vec<AtomicUsize>,
}

#[derive(Debug, Clone, Copy)]
struct Draw {
    group: usize,
    weight_end: usize,
}

impl Router {
    /// The rules of `service` as [`route_rules`] builds them, for a caller at `caller`.
    pub fn new(service: &ServedService, caller: &Locality) -> Self {
        let routes: Vec<Route> = route_rules(service)
            .into_iter()
            .map(|rule| Route::new(rule, caller))
            .collect();
        let default_route = routes
            .iter()
            .position(|route| route.lower_id == DEFAULT_ROUTE_RULE)
            .expect("route_rules serves or synthesizes a default rule");
        Router {
            routes,
            default_route,
        }
    }

    /// Every effective rule, served ones in served order, a synthesized default rule last.
    pub fn rules(&self) -> impl Iterator<Item = &EffectiveRule> {
        self.routes.iter().map(|route| &route.rule)
    }

    /// The rule `route_id` names (case-insensitively; the first of duplicates), or the
    /// default rule when none does. Java's client library leaves this lookup to its caller;
    /// the default rule is the one it guarantees every service has.
    pub fn rule(&self, route_id: &str) -> &EffectiveRule {
        &self.route(route_id).rule
    }

    /// The next instance for a call under `route_id` (resolved as [`Router::rule`] does):
    /// a group drawn from `rng` with probability weight / total weight of the groups the
    /// strategy allows, then that group's instances in turn. `None` when the rule allows no
    /// group: no groups, no instances, or only weight 0.
    pub fn pick(&self, route_id: &str, rng: &mut Rng) -> Option<&Arc<Instance<'static>>> {
        let route = self.route(route_id);
        let total = route.draws.last()?.weight_end;
        let point = rng.below(total);
        let draw = route.draws[route.draws.partition_point(|d| d.weight_end <= point)];
        let instances = &route.rule.groups[draw.group].instances;
        let turn = route.cursors[draw.group].fetch_add(1, Ordering::Relaxed);
        Some(&instances[turn % instances.len()])
    }

    fn route(&self, route_id: &str) -> &Route {
        // Against an already lower-cased id, ignoring ASCII case is the same as comparing
        // lower-cased ids, so only a non-ASCII id needs lower-casing (allocating) first.
        let wanted = if route_id.is_ascii() {
            Cow::Borrowed(route_id)
        } else {
            Cow::Owned(java_lower_case(route_id))
        };
        self.routes
            .iter()
            .find(|route| route.lower_id.eq_ignore_ascii_case(&wanted))
            .unwrap_or(&self.routes[self.default_route])
    }
}

impl Route {
    fn new(rule: EffectiveRule, caller: &Locality) -> Self {
        let draws = draws(&rule, caller);
        Route {
            lower_id: java_lower_case(&rule.route_id),
            cursors: rule.groups.iter().map(|_| AtomicUsize::new(0)).collect(),
            draws,
            rule,
        }
    }
}

/// The groups a pick may land in: those with weight and instances, and under
/// close-by-visit only the closest of them (same zone, else same region, else any).
fn draws(rule: &EffectiveRule, caller: &Locality) -> Vec<Draw> {
    let eligible: Vec<usize> = (0..rule.groups.len())
        .filter(|&i| rule.groups[i].weight > 0 && !rule.groups[i].instances.is_empty())
        .collect();
    let allowed: Vec<usize> = match rule.strategy {
        Strategy::WeightedRoundRobin => eligible,
        Strategy::CloseByVisit => {
            let closeness = |i: usize| caller.closeness(&rule.groups[i].group_key);
            let closest = eligible.iter().map(|&i| closeness(i)).min();
            eligible
                .into_iter()
                .filter(|&i| Some(closeness(i)) == closest)
                .collect()
        }
    };
    let mut weight_end = 0;
    allowed
        .into_iter()
        .map(|group| {
            weight_end += rule.groups[group].weight as usize;
            Draw { group, weight_end }
        })
        .collect()
}
