use std::borrow::Cow;
use std::collections::HashMap;

use super::*;
use crate::model::{parse, Instance, Metadata};
use crate::rng::Rng;

// ---- building served services ----

fn s(v: &str) -> Option<Cow<'static, str>> {
    Some(Cow::Owned(v.to_owned()))
}

/// An instance of service `svc` in region `sha`.
fn instance(id: &str, zone: &str, group: Option<&str>) -> Instance<'static> {
    Instance {
        region_id: s("SHA"),
        zone_id: s(zone),
        group_id: group.and_then(s),
        service_id: s("svc"),
        instance_id: s(id),
        url: s(&format!("http://{id}/")),
        ..Instance::default()
    }
}

fn group(key: &str, weight: Option<i32>, instance_ids: &[&str]) -> ServiceGroup {
    ServiceGroup {
        group_key: Some(key.to_owned()),
        weight,
        instance_ids: instance_ids.iter().map(|id| id.to_string()).collect(),
        ..ServiceGroup::default()
    }
}

fn rule(id: &str, strategy: Option<&str>, groups: Vec<ServiceGroup>) -> RouteRule {
    RouteRule {
        route_id: Some(id.to_owned()),
        strategy: strategy.map(str::to_owned),
        groups,
    }
}

fn service(instances: Vec<Instance<'static>>, route_rules: Vec<RouteRule>) -> ServedService {
    ServedService {
        service_id: Some("svc".into()),
        instances,
        logic_instances: Vec::new(),
        route_rules,
    }
}

fn member_ids(group: &EffectiveGroup) -> Vec<&str> {
    group
        .instances
        .iter()
        .map(|i| i.instance_id.as_deref().unwrap())
        .collect()
}

fn rule_ids(rules: &[EffectiveRule]) -> Vec<&str> {
    rules.iter().map(|r| r.route_id.as_str()).collect()
}

fn zone_a() -> Locality {
    Locality::new(Some("sha"), Some("zone-a"))
}

// ---- names, weights, keys ----

#[test]
fn fix_weight_defaults_and_clamps() {
    assert_eq!(fix_weight(None), DEFAULT_WEIGHT);
    assert_eq!(fix_weight(Some(-1)), DEFAULT_WEIGHT);
    assert_eq!(fix_weight(Some(i32::MIN)), DEFAULT_WEIGHT);
    assert_eq!(fix_weight(Some(0)), 0);
    assert_eq!(fix_weight(Some(1)), 1);
    assert_eq!(fix_weight(Some(9_999)), 9_999);
    assert_eq!(fix_weight(Some(10_000)), MAX_WEIGHT);
    assert_eq!(fix_weight(Some(10_001)), MAX_WEIGHT);
    assert_eq!(fix_weight(Some(i32::MAX)), MAX_WEIGHT);
}

#[test]
fn default_group_ids() {
    for id in [
        None,
        Some(""),
        Some(" \t"),
        Some("default"),
        Some(" DeFault "),
    ] {
        assert!(is_default_group_id(id), "{id:?}");
    }
    for id in [Some("g1"), Some("default1"), Some("de fault")] {
        assert!(!is_default_group_id(id), "{id:?}");
    }
}

#[test]
fn instance_group_keys_are_lower_case_paths() {
    let mut i = instance("I1", "Zone-A", Some("G1"));
    assert_eq!(instance_group_key(&i), "svc/sha/zone-a/g1/i1");
    for default in [None, Some(" "), Some("DEFAULT")] {
        i.group_id = default.and_then(s);
        assert_eq!(instance_group_key(&i), "svc/sha/zone-a/default/i1");
    }
    // caravan's concatPathParts leaves blank parts out and trims the others.
    i.zone_id = s("  ");
    assert_eq!(instance_group_key(&i), "svc/sha/default/i1");
    i.zone_id = None;
    i.group_id = s(" /G2 ");
    assert_eq!(instance_group_key(&i), "svc/sha/g2/i1");
    i.service_id = s("Svc/");
    assert_eq!(instance_group_key(&i), "svc/sha/g2/i1");
    i.region_id = s("ÄÖ");
    assert_eq!(instance_group_key(&i), "svc/äö/g2/i1");
}

// ---- effective rules ----

#[test]
fn without_rules_a_default_rule_holds_every_instance() {
    let mut svc = service(
        vec![
            instance("i1", "zone-a", None),
            instance("i2", "zone-b", Some("g1")),
        ],
        Vec::new(),
    );
    svc.logic_instances = vec![instance("logic", "zone-a", None)];
    let rules = route_rules(&svc);
    assert_eq!(rule_ids(&rules), [DEFAULT_ROUTE_RULE]);
    let default = &rules[0];
    assert_eq!(default.strategy, Strategy::WeightedRoundRobin);
    assert_eq!(default.groups.len(), 1);
    assert_eq!(default.groups[0].group_key, DEFAULT_GROUP_KEY);
    assert_eq!(default.groups[0].weight, DEFAULT_WEIGHT);
    assert_eq!(default.groups[0].metadata, None);
    assert_eq!(
        member_ids(&default.groups[0]),
        ["i1", "i2"],
        "logical instances are not in the default rule"
    );
}

#[test]
fn default_rule_keeps_one_instance_per_group_key() {
    let mut twin = instance("I1", "zone-a", None);
    twin.port = 2;
    let svc = service(
        vec![
            instance("i1", "zone-a", None),
            instance("i2", "zone-a", None),
            twin,
        ],
        Vec::new(),
    );
    let rules = route_rules(&svc);
    let members = &rules[0].groups[0].instances;
    assert_eq!(member_ids(&rules[0].groups[0]), ["I1", "i2"]);
    assert_eq!(members[0].port, 2, "the last instance with a key wins");
}

#[test]
fn a_served_default_rule_is_not_synthesized_again() {
    let svc = service(
        vec![
            instance("i1", "zone-a", Some("g1")),
            instance("i2", "zone-a", None),
        ],
        vec![
            rule(
                "rule-a",
                None,
                vec![group("svc/sha/zone-a/g1", Some(3), &[])],
            ),
            rule(
                "Default-Route-Rule",
                Some("close-by-visit"),
                vec![group("svc/sha/zone-a/default", None, &[])],
            ),
        ],
    );
    let rules = route_rules(&svc);
    assert_eq!(rule_ids(&rules), ["rule-a", "Default-Route-Rule"]);
    assert_eq!(rules[1].strategy, Strategy::CloseByVisit);
    assert_eq!(member_ids(&rules[1].groups[0]), ["i2"]);
}

#[test]
fn an_empty_served_default_rule_routes_nowhere() {
    let svc = service(
        vec![instance("i1", "zone-a", None)],
        vec![rule(
            DEFAULT_ROUTE_RULE,
            None,
            vec![group("svc/sha/zone-b", Some(5), &[])],
        )],
    );
    let router = Router::new(&svc, &zone_a());
    let rules: Vec<&EffectiveRule> = router.rules().collect();
    assert_eq!(rules.len(), 1, "no second default rule");
    assert!(rules[0].groups.is_empty());
    assert!(router.pick("anything", &mut Rng::new(1)).is_none());
}

#[test]
fn rules_without_id_or_groups_are_dropped_and_empty_groups_skipped() {
    let svc = service(
        vec![instance("i1", "zone-a", Some("g1"))],
        vec![
            RouteRule {
                route_id: None,
                strategy: None,
                groups: vec![group("svc/sha/zone-a/g1", None, &[])],
            },
            rule(" ", None, vec![group("svc/sha/zone-a/g1", None, &[])]),
            rule("no-groups", None, Vec::new()),
            rule(
                "all-empty",
                None,
                vec![
                    group("svc/sha/zone-b", None, &[]),
                    group("  ", None, &["i1"]),
                    ServiceGroup::default(),
                ],
            ),
            rule(
                "kept",
                None,
                vec![
                    group("svc/sha/zone-b", None, &["unknown"]),
                    group("svc/sha/zone-a/g1", None, &[]),
                ],
            ),
        ],
    );
    let rules = route_rules(&svc);
    assert_eq!(
        rule_ids(&rules),
        ["all-empty", "kept", DEFAULT_ROUTE_RULE],
        "a rule whose groups resolve to nothing stays, with no groups"
    );
    assert!(rules[0].groups.is_empty());
    assert_eq!(rules[1].groups.len(), 1);
    assert_eq!(rules[1].groups[0].group_key, "svc/sha/zone-a/g1");
}

#[test]
fn weights_are_fixed_and_tags_kept() {
    let mut tags = Metadata::default();
    tags.insert(Cow::Borrowed("release"), Some(Cow::Borrowed("v2")));
    let mut tagged = group("svc/sha/zone-a/g1", Some(20_000), &[]);
    tagged.metadata = Some(tags.clone());
    let svc = service(
        vec![
            instance("i1", "zone-a", Some("g1")),
            instance("i2", "zone-a", Some("g2")),
            instance("i3", "zone-a", Some("g3")),
            instance("i4", "zone-a", Some("g4")),
        ],
        vec![rule(
            "r",
            None,
            vec![
                tagged,
                group("svc/sha/zone-a/g2", Some(-4), &[]),
                group("svc/sha/zone-a/g3", None, &[]),
                group("svc/sha/zone-a/g4", Some(0), &[]),
            ],
        )],
    );
    let rules = route_rules(&svc);
    let weights: Vec<u32> = rules[0].groups.iter().map(|g| g.weight).collect();
    assert_eq!(weights, [MAX_WEIGHT, DEFAULT_WEIGHT, DEFAULT_WEIGHT, 0]);
    assert_eq!(rules[0].groups[0].metadata, Some(tags));
}

#[test]
fn explicit_instance_ids_match_instances_and_logical_instances() {
    let mut svc = service(
        vec![
            instance("i1", "zone-a", None),
            instance("shared", "zone-a", None),
        ],
        vec![rule(
            "r",
            None,
            vec![group(
                "svc/sha/zone-z/g9",
                None,
                &["logic", "", "missing", "shared", "i1", "I1"],
            )],
        )],
    );
    let mut logical_shared = instance("shared", "zone-a", None);
    logical_shared.port = 99;
    svc.logic_instances = vec![instance("logic", "zone-b", None), logical_shared];
    let rules = route_rules(&svc);
    let group = &rules[0].groups[0];
    assert_eq!(
        member_ids(group),
        ["logic", "shared", "i1"],
        "ids match exactly, in served order"
    );
    assert_eq!(
        group.instances[1].port, 0,
        "an instance wins over a logical one"
    );
}

#[test]
fn group_keys_match_whole_path_segments_of_instance_keys() {
    let mut svc = service(
        vec![
            instance("i1", "zone-a", Some("G1")),
            instance("i2", "zone-a", Some("g10")),
            instance("i3", "zone-b", Some("g1")),
            instance("i4", "zone-a", None),
        ],
        vec![rule(
            "r",
            None,
            vec![
                group("SVC/SHA/ZONE-A/G1", None, &[]),
                group("svc/sha/zone-a", None, &[]),
                group("svc/sha/zone-a/default/", None, &[]),
                group("svc/sha/zone-b/g1/i3", None, &[]),
                group("svc/sha/zone-a/g1/i", None, &[]),
            ],
        )],
    );
    // Logical instances join groups by explicit id only.
    svc.logic_instances = vec![instance("logic", "zone-a", Some("g1"))];
    let rules = route_rules(&svc);
    let members: Vec<Vec<&str>> = rules[0].groups.iter().map(member_ids).collect();
    assert_eq!(
        members,
        [vec!["i1"], vec!["i1", "i2", "i4"], vec!["i4"], vec!["i3"],],
        "g1 is not a prefix of g10, nor i of i1"
    );
}

#[test]
fn members_named_twice_appear_once() {
    let svc = service(
        vec![instance("i1", "zone-a", Some("g1"))],
        vec![rule(
            "r",
            None,
            vec![group("svc/sha/zone-a/g1", None, &["i1", "i1"])],
        )],
    );
    assert_eq!(member_ids(&route_rules(&svc)[0].groups[0]), ["i1"]);
}

#[test]
fn the_canary_rule_keeps_instances_served_inline() {
    let canary_ip = instance("canary", "zone-a", None);
    let mut served_twin = instance("i1", "zone-a", None);
    served_twin.port = 7;
    let mut canary_group = group("svc/sha/zone-a/canary", Some(5), &["i1"]);
    canary_group.instances = vec![
        served_twin,
        canary_ip.clone(),
        instance(" ", "zone-a", None),
    ];
    let mut plain_group = group("svc/sha/zone-a/plain", Some(5), &[]);
    plain_group.instances = vec![canary_ip];
    let svc = service(
        vec![instance("i1", "zone-a", None)],
        vec![
            rule("Canary-Route-Rule", None, vec![canary_group]),
            rule("other", None, vec![plain_group]),
        ],
    );
    let rules = route_rules(&svc);
    assert_eq!(
        rule_ids(&rules),
        ["Canary-Route-Rule", "other", DEFAULT_ROUTE_RULE]
    );
    let canary = &rules[0].groups[0];
    assert_eq!(member_ids(canary), ["i1", "canary"]);
    assert_eq!(canary.instances[0].port, 0, "the resolved member stays");
    assert!(
        rules[1].groups.is_empty(),
        "other rules ignore inline instances"
    );
}

#[test]
fn strategies_by_name() {
    assert_eq!(
        Strategy::from_served(Some("close-by-visit")),
        Strategy::CloseByVisit
    );
    assert_eq!(
        Strategy::from_served(Some("Close-By-Visit")),
        Strategy::CloseByVisit
    );
    for other in [None, Some("weighted-round-robin"), Some("random"), Some("")] {
        assert_eq!(Strategy::from_served(other), Strategy::WeightedRoundRobin);
    }
}

// ---- picking ----

/// Picks `n` times under `route_id` and counts the picks per group of the rule it resolves
/// to (and per instance id).
fn count_picks(
    router: &Router,
    route_id: &str,
    n: usize,
    seed: u64,
) -> (Vec<usize>, HashMap<String, usize>) {
    let rule = router.rule(route_id);
    let mut group_of = HashMap::new();
    for (g, group) in rule.groups.iter().enumerate() {
        for id in member_ids(group) {
            let earlier = group_of.insert(id, g);
            assert_eq!(
                earlier, None,
                "{id} is in two groups: counts would be ambiguous"
            );
        }
    }
    let mut per_group = vec![0; rule.groups.len()];
    let mut per_instance = HashMap::new();
    let mut rng = Rng::new(seed);
    for _ in 0..n {
        let picked = router.pick(route_id, &mut rng).expect("an instance");
        let id = picked.instance_id.as_deref().unwrap();
        per_group[group_of[id]] += 1;
        *per_instance.entry(id.to_owned()).or_insert(0) += 1;
    }
    (per_group, per_instance)
}

/// A rule `r` of groups `g0, g1, ...` in zone `zone-a`, with the given weights and
/// `sizes[i]` instances `g{i}-{j}` each.
fn weighted_service(strategy: Option<&str>, weights: &[i32], sizes: &[usize]) -> ServedService {
    let mut instances = Vec::new();
    let mut groups = Vec::new();
    for (g, (&weight, &size)) in weights.iter().zip(sizes).enumerate() {
        let name = format!("g{g}");
        for j in 0..size {
            instances.push(instance(&format!("{name}-{j}"), "zone-a", Some(&name)));
        }
        groups.push(group(&format!("svc/sha/zone-a/{name}"), Some(weight), &[]));
    }
    service(instances, vec![rule("r", strategy, groups)])
}

#[test]
fn unknown_route_ids_fall_back_to_the_default_rule_and_ids_ignore_case() {
    let svc = weighted_service(None, &[5], &[1]);
    let router = Router::new(&svc, &zone_a());
    assert_eq!(router.rule("R").route_id, "r");
    assert_eq!(router.rule("nope").route_id, DEFAULT_ROUTE_RULE);
    assert_eq!(router.rule("").route_id, DEFAULT_ROUTE_RULE);
    let mut svc = weighted_service(None, &[5], &[1]);
    svc.route_rules[0].route_id = Some("Règle-K".into());
    let accented = Router::new(&svc, &zone_a());
    assert_eq!(accented.rule("RÈGLE-k").route_id, "Règle-K");
    assert_eq!(
        accented.rule("règle-\u{212A}").route_id,
        "Règle-K",
        "Kelvin sign"
    );
    assert_eq!(accented.rule("regle-k").route_id, DEFAULT_ROUTE_RULE);
    let picked = router.pick("nope", &mut Rng::new(3)).unwrap();
    assert_eq!(picked.instance_id.as_deref(), Some("g0-0"));
}

#[test]
fn duplicate_route_ids_resolve_to_the_first() {
    let mut svc = weighted_service(None, &[5], &[1]);
    svc.route_rules.push(rule(
        "R",
        Some("close-by-visit"),
        vec![group("svc/sha/zone-a/g0", Some(1), &[])],
    ));
    let router = Router::new(&svc, &zone_a());
    assert_eq!(router.rule("r").strategy, Strategy::WeightedRoundRobin);
}

#[test]
fn instances_of_a_group_take_turns() {
    let svc = weighted_service(None, &[1, 0], &[3, 1]);
    let router = Router::new(&svc, &zone_a());
    let mut rng = Rng::new(9);
    let order: Vec<String> = (0..7)
        .map(|_| {
            let picked = router.pick("r", &mut rng).unwrap();
            picked.instance_id.clone().unwrap().into_owned()
        })
        .collect();
    assert_eq!(
        order,
        ["g0-0", "g0-1", "g0-2", "g0-0", "g0-1", "g0-2", "g0-0"]
    );
}

#[test]
fn weight_zero_takes_no_traffic_and_all_zero_routes_nowhere() {
    let svc = weighted_service(None, &[0, 5], &[1, 1]);
    let router = Router::new(&svc, &zone_a());
    let (per_group, _) = count_picks(&router, "r", 1_000, 4);
    assert_eq!(per_group, [0, 1_000]);

    let svc = weighted_service(None, &[0, 0], &[1, 1]);
    let router = Router::new(&svc, &zone_a());
    assert!(router.pick("r", &mut Rng::new(4)).is_none());
}

#[test]
fn a_service_without_instances_routes_nowhere() {
    let router = Router::new(&service(Vec::new(), Vec::new()), &zone_a());
    assert_eq!(router.rule("x").groups[0].instances.len(), 0);
    assert!(router.pick("x", &mut Rng::new(5)).is_none());
}

#[test]
fn a_fixed_seed_repeats_the_same_picks() {
    let svc = weighted_service(None, &[3, 7], &[2, 2]);
    let run = |seed| {
        let router = Router::new(&svc, &zone_a());
        let mut rng = Rng::new(seed);
        (0..64)
            .map(|_| router.pick("r", &mut rng).unwrap().instance_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

/// Groups in zones `zone-a`, `zone-b` (region `sha`) and `zone-c` (region `ntg`).
fn spread_service(weights: [i32; 4]) -> ServedService {
    let mut remote = instance("far", "zone-c", Some("g"));
    remote.region_id = s("NTG");
    service(
        vec![
            instance("near", "zone-a", Some("g")),
            instance("near2", "zone-a", Some("h")),
            instance("region", "zone-b", Some("g")),
            remote,
        ],
        vec![rule(
            "r",
            Some("close-by-visit"),
            vec![
                group("svc/sha/zone-a/g", Some(weights[0]), &[]),
                group("svc/sha/zone-a/h", Some(weights[1]), &[]),
                group("svc/sha/zone-b/g", Some(weights[2]), &[]),
                group("svc/ntg/zone-c/g", Some(weights[3]), &[]),
            ],
        )],
    )
}

#[test]
fn close_by_visit_prefers_the_callers_zone_then_region() {
    let picks = |weights, caller: &Locality| {
        let router = Router::new(&spread_service(weights), caller);
        count_picks(&router, "r", 200, 6).0
    };
    let sha_a = zone_a();
    assert_eq!(picks([5, 0, 5, 5], &sha_a), [200, 0, 0, 0]);
    assert_eq!(
        picks([0, 0, 5, 5], &sha_a),
        [0, 0, 200, 0],
        "zone groups without weight leave the region"
    );
    assert_eq!(picks([0, 0, 0, 5], &sha_a), [0, 0, 0, 200]);
    assert_eq!(
        picks([5, 0, 5, 5], &Locality::new(Some("NTG"), Some("ZONE-C"))),
        [0, 0, 0, 200],
        "caller ids ignore case"
    );
    let region = picks([5, 0, 5, 5], &Locality::new(Some("sha"), Some("zone-x")));
    assert!(
        region[0] > 0 && region[2] > 0 && region[0] + region[2] == 200,
        "same region, no group in the caller's zone: {region:?}"
    );
    let nowhere = picks([5, 0, 5, 5], &Locality::new(Some(" "), None));
    assert_eq!(nowhere[1], 0);
    assert!(
        nowhere.iter().sum::<usize>() == 200 && [0, 2, 3].iter().all(|&g| nowhere[g] > 0),
        "a caller without a region is close to no group: {nowhere:?}"
    );
}

#[test]
fn close_by_visit_counts_keys_without_a_place_as_local() {
    let mut svc = spread_service([5, 5, 5, 5]);
    svc.route_rules[0].groups[0].group_key = Some(DEFAULT_GROUP_KEY.into());
    svc.logic_instances = vec![instance("placeless", "zone-q", None)];
    svc.route_rules[0].groups[0].instance_ids = vec!["placeless".into()];
    let caller = Locality::new(Some("elsewhere"), Some("zone-x"));
    let router = Router::new(&svc, &caller);
    let (per_group, _) = count_picks(&router, "r", 50, 8);
    assert_eq!(per_group, [50, 0, 0, 0]);
}

// ---- weight distribution ----

/// Pearson's statistic of `observed` counts against shares proportional to `weights`.
fn chi_square(observed: &[usize], weights: &[u32]) -> f64 {
    assert_eq!(observed.len(), weights.len());
    let n: usize = observed.iter().sum();
    let total: u32 = weights.iter().sum();
    observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = n as f64 * f64::from(w) / f64::from(total);
            (o as f64 - expected).powi(2) / expected
        })
        .sum()
}

/// Γ(z) for z a positive multiple of 1/2.
fn gamma_of_half_integer(z: f64) -> f64 {
    assert!(z > 0.0 && (2.0 * z).fract() == 0.0, "{z}");
    if z == 0.5 {
        return std::f64::consts::PI.sqrt();
    }
    if z == 1.0 {
        return 1.0;
    }
    (z - 1.0) * gamma_of_half_integer(z - 1.0)
}

/// The chi-square distribution function with `df` degrees of freedom: the regularized
/// lower incomplete gamma P(df/2, x/2), by its power series.
fn chi_square_cdf(df: u32, x: f64) -> f64 {
    let a = f64::from(df) / 2.0;
    let x = x / 2.0;
    let (mut term, mut sum, mut n) = (1.0, 1.0, 1.0);
    while term > sum * 1e-16 {
        term *= x / (a + n);
        sum += term;
        n += 1.0;
    }
    (a * x.ln() - x).exp() / gamma_of_half_integer(a + 1.0) * sum
}

/// The value a chi-square statistic with `df` degrees of freedom stays below with
/// probability `p`, by bisection on the distribution function.
fn chi_square_critical(df: u32, p: f64) -> f64 {
    let (mut low, mut high) = (0.0, 200.0);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if chi_square_cdf(df, mid) < p {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

#[test]
fn critical_values_match_the_tables() {
    for (df, table) in [(1, 10.828), (2, 13.816), (3, 16.266), (4, 18.467)] {
        let computed = chi_square_critical(df, 0.999);
        assert!((computed - table).abs() < 1e-3, "df {df}: {computed}");
    }
    assert!((chi_square_critical(1, 0.95) - 3.841).abs() < 1e-3);
}

const PICKS: usize = 100_000;

/// Asserts the picks of rule `r` spread over its groups as their weights say: groups of
/// weight 0 get nothing, the others pass a chi-square test at the 99.9 % level.
fn assert_weighted(svc: &ServedService, caller: &Locality, seed: u64) -> Vec<usize> {
    let router = Router::new(svc, caller);
    let (per_group, per_instance) = count_picks(&router, "r", PICKS, seed);
    let weights: Vec<u32> = router.rule("r").groups.iter().map(|g| g.weight).collect();
    let (observed, expected): (Vec<usize>, Vec<u32>) = per_group
        .iter()
        .zip(&weights)
        .filter(|(&count, &weight)| {
            assert!(
                weight > 0 || count == 0,
                "weight 0 was picked {count} times"
            );
            weight > 0
        })
        .unzip();
    let statistic = chi_square(&observed, &expected);
    let degrees = observed.len() as u32 - 1;
    let critical = chi_square_critical(degrees, 0.999);
    assert!(
        statistic < critical,
        "weights {weights:?}, picks {per_group:?}: chi-square {statistic} >= {critical}"
    );
    // Within a group, round robin evens the instances out to one pick.
    for (group, &count) in router.rule("r").groups.iter().zip(&per_group) {
        let counts: Vec<usize> = member_ids(group)
            .iter()
            .map(|id| per_instance.get(*id).copied().unwrap_or(0))
            .collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(max - min <= 1, "{counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), count);
    }
    per_group
}

#[test]
fn picks_follow_weights_3_7() {
    let picks = assert_weighted(&weighted_service(None, &[3, 7], &[2, 3]), &zone_a(), 37);
    // The bound has power: the same picks are far off an even split.
    let even = chi_square(&picks, &[1, 1]);
    assert!(even > chi_square_critical(1, 0.999) * 100.0, "{even}");
}

#[test]
fn picks_follow_weights_1_1_8() {
    assert_weighted(
        &weighted_service(None, &[1, 1, 8], &[1, 2, 5]),
        &zone_a(),
        118,
    );
}

#[test]
fn picks_follow_weights_with_zero_and_fixed_weights() {
    // 0 stays 0, -1 becomes 5, 50 000 becomes 10 000.
    let svc = weighted_service(None, &[0, 3, -1, 50_000, 0], &[2, 1, 1, 4, 1]);
    assert_weighted(&svc, &zone_a(), 307);
}

#[test]
fn close_by_visit_weighs_the_closest_groups() {
    // The caller's zone holds g (2) and h (6); the region and remote groups are ignored.
    let svc = spread_service([2, 6, 10_000, 10_000]);
    let router = Router::new(&svc, &zone_a());
    let (per_group, _) = count_picks(&router, "r", PICKS, 26);
    assert_eq!(per_group[2..], [0, 0]);
    let statistic = chi_square(&per_group[..2], &[2, 6]);
    assert!(
        statistic < chi_square_critical(1, 0.999),
        "{per_group:?}: {statistic}"
    );
}

// ---- a Service as the server serves it ----

/// Instances and logical instances in Jackson's shape, two route rules (one with groups of
/// weights 3 and 7, the canary rule) and fields a client ignores.
const SERVED_SERVICE_JSON: &str = concat!(
    r#"{"instances":["#,
    r#"{"groupId":"g1","healthCheckUrl":null,"instanceId":"i1","ip":"10.0.0.1","machineName":null,"#,
    r#""metadata":{"k":"v"},"port":8080,"protocol":"http","regionId":"SHA","serviceId":"svc","#,
    r#""status":"up","url":"http://10.0.0.1:8080/","zoneId":"zone-a"},"#,
    r#"{"groupId":"G2","healthCheckUrl":null,"instanceId":"i2","ip":"10.0.0.2","machineName":null,"#,
    r#""metadata":null,"port":8080,"protocol":"http","regionId":"SHA","serviceId":"svc","#,
    r#""status":"up","url":"http://10.0.0.2:8080/","zoneId":"zone-a"},"#,
    r#"{"groupId":null,"healthCheckUrl":null,"instanceId":"i3","ip":"10.0.0.3","machineName":null,"#,
    r#""metadata":null,"port":8080,"protocol":"http","regionId":"SHA","serviceId":"svc","#,
    r#""status":"up","url":"http://10.0.0.3:8080/","zoneId":"zone-b"}],"#,
    r#""logicInstances":[{"groupId":null,"healthCheckUrl":null,"instanceId":"logic1","ip":"10.9.0.1","#,
    r#""machineName":null,"metadata":{},"port":80,"protocol":null,"regionId":"SHA","serviceId":"svc","#,
    r#""status":"up","url":"http://10.9.0.1/","zoneId":"zone-a"}],"#,
    r#""metadata":null,"routeRules":["#,
    r#"{"groups":["#,
    r#"{"groupKey":"svc/sha/zone-a/g1","instanceIds":["logic1"],"instances":null,"#,
    r#""metadata":{"tier":"stable"},"weight":3},"#,
    r#"{"groupKey":"svc/sha/zone-a/g2","instanceIds":[],"instances":null,"metadata":{},"weight":7}],"#,
    r#""routeId":"rule-a","strategy":"weighted-round-robin"},"#,
    r#"{"groups":[{"groupKey":"svc/sha/zone-b/canary","instanceIds":["i3"],"instances":["#,
    r#"{"groupId":null,"healthCheckUrl":null,"instanceId":"i3","ip":"10.0.0.3","machineName":null,"#,
    r#""metadata":null,"port":8080,"protocol":"http","regionId":"SHA","serviceId":"svc","#,
    r#""status":"up","url":"http://10.0.0.3:8080/","zoneId":"zone-b"}],"metadata":{},"weight":5}],"#,
    r#""routeId":"canary-route-rule","strategy":"weighted-round-robin"}],"#,
    r#""serviceId":"svc"}"#
);

#[test]
fn a_served_service_parses_and_routes() {
    let svc: ServedService = parse(SERVED_SERVICE_JSON.as_bytes()).unwrap();
    assert_eq!(svc.service_id.as_deref(), Some("svc"));
    assert_eq!(svc.instances.len(), 3);
    assert_eq!(svc.logic_instances.len(), 1);
    assert_eq!(svc.route_rules.len(), 2);
    assert_eq!(svc.route_rules[0].groups[1].weight, Some(7));
    assert_eq!(svc.route_rules[1].groups[0].instances.len(), 1);

    let router = Router::new(&svc, &zone_a());
    let rules: Vec<&EffectiveRule> = router.rules().collect();
    let ids: Vec<&str> = rules.iter().map(|r| r.route_id.as_str()).collect();
    assert_eq!(ids, ["rule-a", CANARY_ROUTE_RULE, DEFAULT_ROUTE_RULE]);
    let rule_a = rules[0];
    assert_eq!(member_ids(&rule_a.groups[0]), ["logic1", "i1"]);
    assert_eq!(member_ids(&rule_a.groups[1]), ["i2"]);
    assert_eq!(
        rule_a.groups[0]
            .metadata
            .as_ref()
            .and_then(|m| m.get("tier")),
        Some("stable")
    );
    assert_eq!(member_ids(&rules[1].groups[0]), ["i3"]);
    assert_eq!(member_ids(&rules[2].groups[0]), ["i1", "i2", "i3"]);

    let (per_group, _) = count_picks(&router, "rule-a", PICKS, 73);
    let statistic = chi_square(&per_group, &[3, 7]);
    assert!(statistic < chi_square_critical(1, 0.999), "{per_group:?}");
}

#[test]
fn the_swallowed_failure_shape_routes_nowhere() {
    let json = br#"{"instances":null,"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"x"}"#;
    let svc: ServedService = parse(json).unwrap();
    assert_eq!(
        svc,
        ServedService {
            service_id: Some("x".into()),
            ..ServedService::default()
        }
    );
    assert!(Router::new(&svc, &zone_a())
        .pick(DEFAULT_ROUTE_RULE, &mut Rng::new(1))
        .is_none());
}

#[test]
fn parsing_ignores_case_unknown_fields_and_skipped_nulls() {
    let json = br#"{"SERVICEID":"svc","extra":{"nested":[1,2]},"Instances":[null,{"instanceId":"i1"}],
        "routeRules":[null,{"ROUTEID":"r","groups":[null],"priority":1},
                      {"routeId":"s","groups":[{"GroupKey":"k","Weight":null,"instanceIds":[null,"i1"]}]}]}"#;
    let svc: ServedService = parse(json).unwrap();
    assert_eq!(svc.service_id.as_deref(), Some("svc"));
    assert_eq!(svc.instances.len(), 1);
    assert_eq!(svc.route_rules.len(), 2);
    assert_eq!(svc.route_rules[0].groups, [ServiceGroup::default()]);
    assert_eq!(svc.route_rules[1].groups[0].group_key.as_deref(), Some("k"));
    assert_eq!(svc.route_rules[1].groups[0].weight, None);
    assert_eq!(svc.route_rules[1].groups[0].instance_ids, ["i1"]);
    // Java keeps a rule whose group list was `[null]`, with no groups: no synthesized
    // default rule is affected, and the rule routes nowhere instead of falling back.
    let router = Router::new(&svc, &zone_a());
    assert!(router.rule("r").groups.is_empty());
    assert!(router.pick("r", &mut Rng::new(2)).is_none());
}

#[test]
fn parsing_rejects_wrong_types() {
    for bad in [
        r#"{"routeRules":{}}"#,
        r#"{"routeRules":[{"groups":[{"weight":"heavy"}]}]}"#,
        r#"{"routeRules":[{"groups":[{"weight":2147483648}]}]}"#,
        r#"{"routeRules":[{"routeId":7}]}"#,
        r#"[]"#,
    ] {
        assert!(parse::<ServedService>(bad.as_bytes()).is_err(), "{bad}");
    }
}
