//! What the load generator sends: the synthetic instances, and every request of a run serialized
//! once, up front, into one contiguous table per operation.

use std::fmt;

use protocol::http::write_request_head;
use protocol::model::{write_i64, write_str};
use protocol::rng::Rng;

/// A load scenario (`--scenario`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Heartbeat,
    Register,
    Lookup,
    WsHeartbeat,
    Push,
    Mixed,
    /// POST a fixed heartbeat-sized body to the target URL and check only for HTTP 200: the same
    /// client driving a reference server (nginx) for comparison.
    RawPost,
    /// Poll lookups of the `--services` services until none has an instance left (eviction
    /// benchmark); `--duration` is the deadline.
    WaitEmpty,
    /// Durable management writes: each request pulls one instance out or back in.
    Manage,
}

impl Scenario {
    pub const NAMES: &'static str =
        "heartbeat, register, lookup, ws-heartbeat, push, mixed, raw-post, wait-empty, manage";

    pub fn parse(s: &str) -> Option<Scenario> {
        Some(match s {
            "heartbeat" => Scenario::Heartbeat,
            "register" => Scenario::Register,
            "lookup" => Scenario::Lookup,
            "ws-heartbeat" => Scenario::WsHeartbeat,
            "push" => Scenario::Push,
            "mixed" => Scenario::Mixed,
            "raw-post" => Scenario::RawPost,
            "wait-empty" => Scenario::WaitEmpty,
            "manage" => Scenario::Manage,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Heartbeat => "heartbeat",
            Scenario::Register => "register",
            Scenario::Lookup => "lookup",
            Scenario::WsHeartbeat => "ws-heartbeat",
            Scenario::Push => "push",
            Scenario::Mixed => "mixed",
            Scenario::RawPost => "raw-post",
            Scenario::WaitEmpty => "wait-empty",
            Scenario::Manage => "manage",
        }
    }

    /// Whether the registry is populated before this scenario (unless `--no-populate`).
    pub fn populates(self) -> bool {
        !matches!(
            self,
            Scenario::RawPost | Scenario::WaitEmpty | Scenario::Push
        )
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One kind of HTTP request a run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Heartbeat,
    Register,
    Lookup,
    Raw,
    /// A heartbeat message on the WebSocket heartbeat channel.
    WsHeartbeat,
    /// A change received by a push subscriber.
    Push,
    /// One `operate-instance` write: a pull-out or a pull-in.
    Manage,
    /// Removing instances (`--cleanup`; never measured).
    Unregister,
}

/// Number of [`Op`] variants (size of per-operation arrays).
pub const OPS: usize = 8;

impl Op {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Heartbeat => "heartbeat",
            Op::Register => "register",
            Op::Lookup => "lookup",
            Op::Raw => "raw-post",
            Op::WsHeartbeat => "ws-heartbeat",
            Op::Push => "push",
            Op::Manage => "manage",
            Op::Unregister => "unregister",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Op::Heartbeat => "/api/registry/heartbeat.json",
            Op::Register => "/api/registry/register.json",
            Op::Lookup => "/api/discovery/lookup.json",
            Op::Manage => "/api/management/operate-instance.json",
            Op::Unregister => "/api/registry/unregister.json",
            Op::Raw | Op::WsHeartbeat | Op::Push => "",
        }
    }
}

/// The synthetic registry: `instances` instances spread round-robin over `services` services
/// named `<prefix>-NNNNN`. Instance `i` belongs to service `i % services` and has the unique
/// address `10.a.b.c` derived from `i + 1`.
#[derive(Clone, Debug)]
pub struct Population {
    pub prefix: String,
    pub region: String,
    pub zone: String,
    pub instances: usize,
    pub services: usize,
}

impl Population {
    pub fn service_name(&self, service: usize) -> String {
        format!("{}-{:05}", self.prefix, service)
    }

    /// The service instance `i` belongs to.
    pub fn service_of(&self, i: usize) -> usize {
        i % self.services.max(1)
    }

    /// Instance `i`'s address: unique for the first 2^24 - 1 instances.
    fn ip(i: usize) -> String {
        let n = i + 1;
        format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
    }

    /// Instance `i`'s `instanceId`.
    pub fn instance_id(i: usize) -> String {
        format!("{}:8080", Self::ip(i))
    }

    /// A realistic instance, as the Java client sends it: ip, port, url, health-check url,
    /// machine name, protocol, status and three metadata keys.
    pub fn write_instance(&self, out: &mut Vec<u8>, i: usize) {
        self.write_tagged_instance(out, i, None);
    }

    /// As [`Population::write_instance`]; with a tag, metadata `version` is `seq-<tag>` so a
    /// pushed change can be matched to the registration that caused it.
    pub fn write_tagged_instance(&self, out: &mut Vec<u8>, i: usize, tag: Option<u64>) {
        let service = self.service_name(self.service_of(i));
        let ip = Self::ip(i);
        out.extend_from_slice(b"{\"healthCheckUrl\":");
        write_str(out, &format!("http://{ip}:8080/health"));
        out.extend_from_slice(b",\"instanceId\":");
        write_str(out, &Self::instance_id(i));
        out.extend_from_slice(b",\"ip\":");
        write_str(out, &ip);
        out.extend_from_slice(b",\"machineName\":");
        write_str(out, &format!("host-{}", ip.replace('.', "-")));
        out.extend_from_slice(b",\"metadata\":{\"app\":");
        write_str(out, &service);
        match tag {
            None => {
                out.extend_from_slice(b",\"env\":\"bench\",\"version\":\"1.0.");
                write_i64(out, (i % 100) as i64);
            }
            Some(tag) => {
                out.extend_from_slice(b",\"env\":\"bench\",\"version\":\"seq-");
                write_i64(out, tag as i64);
            }
        }
        out.extend_from_slice(b"\"},\"port\":8080,\"protocol\":\"http\",\"regionId\":");
        write_str(out, &self.region);
        out.extend_from_slice(b",\"serviceId\":");
        write_str(out, &service);
        out.extend_from_slice(b",\"status\":\"up\",\"url\":");
        write_str(out, &format!("http://{ip}:8080/{service}"));
        out.extend_from_slice(b",\"zoneId\":");
        write_str(out, &self.zone);
        out.push(b'}');
    }

    /// `{"instances":[...]}` with the `count` instances starting at `first` (wrapping around).
    pub fn write_instances_body(&self, out: &mut Vec<u8>, first: usize, count: usize) {
        out.extend_from_slice(b"{\"instances\":[");
        for k in 0..count {
            if k > 0 {
                out.push(b',');
            }
            self.write_instance(out, (first + k) % self.instances.max(1));
        }
        out.extend_from_slice(b"]}");
    }

    /// A push subscription (DiscoveryConfig) for one service.
    pub fn write_subscription(&self, out: &mut Vec<u8>, service: usize) {
        out.extend_from_slice(b"{\"discoveryData\":null,\"regionId\":");
        write_str(out, &self.region);
        out.extend_from_slice(b",\"serviceId\":");
        write_str(out, &self.service_name(service));
        out.extend_from_slice(b",\"zoneId\":");
        write_str(out, &self.zone);
        out.push(b'}');
    }

    /// An `operate-instance` request that pulls instance `i` out (`pull_out`) or back in (Java
    /// completes the `pullout` operation, which deletes its row).
    pub fn write_operate_body(&self, out: &mut Vec<u8>, i: usize, pull_out: bool) {
        out.extend_from_slice(b"{\"instanceKey\":{\"instanceId\":");
        write_str(out, &Self::instance_id(i));
        out.extend_from_slice(b",\"regionId\":");
        write_str(out, &self.region);
        out.extend_from_slice(b",\"serviceId\":");
        write_str(out, &self.service_name(self.service_of(i)));
        out.extend_from_slice(b"},\"operation\":\"pullout\",\"operationComplete\":");
        out.extend_from_slice(if pull_out { b"false" } else { b"true" });
        out.extend_from_slice(b",\"operatorId\":\"artemis-load\"}");
    }

    /// A lookup of one service, with this population's region and zone.
    pub fn write_lookup_body(&self, out: &mut Vec<u8>, service: usize) {
        out.extend_from_slice(b"{\"discoveryConfigs\":[{\"serviceId\":");
        write_str(out, &self.service_name(service));
        out.extend_from_slice(b"}],\"regionId\":");
        write_str(out, &self.region);
        out.extend_from_slice(b",\"zoneId\":");
        write_str(out, &self.zone);
        out.push(b'}');
    }
}

/// Where requests go: the host header and the path in front of every API path.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    /// For API scenarios, the path prefix without a trailing slash ("" for none); for raw-post, the
    /// full request target.
    pub path: String,
    /// Lookups ask for gzip answers (`Accept-Encoding: gzip`, as the Java client's HTTP stack).
    pub accept_gzip: bool,
}

impl Endpoint {
    /// A complete POST request with `body`.
    pub fn write_post(&self, out: &mut Vec<u8>, op: Op, body: &[u8]) {
        let target = if op == Op::Raw {
            self.path.clone()
        } else {
            format!("{}{}", self.path, op.path())
        };
        write_request_head(
            out,
            "POST",
            &target,
            &self.host,
            if self.accept_gzip && op == Op::Lookup {
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                    ("Accept-Encoding", "gzip"),
                ]
            } else {
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ]
            },
            Some(body.len()),
        );
        out.extend_from_slice(body);
    }
}

/// Every request of one operation, serialized back to back.
pub struct RequestTable {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Instance operations one request performs (the batch size; 1 for a lookup or raw POST).
    pub ops_per_request: u64,
}

impl RequestTable {
    fn build(
        ops_per_request: u64,
        count: usize,
        mut write: impl FnMut(&mut Vec<u8>, usize),
    ) -> Self {
        let mut bytes = Vec::new();
        let mut spans = Vec::with_capacity(count);
        for j in 0..count {
            let start = bytes.len();
            write(&mut bytes, j);
            spans.push((start, bytes.len()));
        }
        RequestTable {
            bytes,
            spans,
            ops_per_request,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.spans.len()
    }

    /// Request `j`, modulo the table size.
    pub fn get(&self, j: usize) -> &[u8] {
        let (start, end) = self.spans[j % self.spans.len()];
        &self.bytes[start..end]
    }

    /// Heartbeats or registers of `batch` instances each, covering the whole population.
    pub fn instances(endpoint: &Endpoint, op: Op, pop: &Population, batch: usize) -> Self {
        let batch = batch.max(1);
        let count = pop.instances.max(1).div_ceil(batch);
        let mut body = Vec::new();
        Self::build(batch as u64, count, |out, j| {
            body.clear();
            pop.write_instances_body(&mut body, j * batch, batch);
            endpoint.write_post(out, op, &body);
        })
    }

    /// Heartbeat messages for the WebSocket channel: bodies only, `batch` instances each.
    pub fn ws_heartbeats(pop: &Population, batch: usize) -> Self {
        let batch = batch.max(1);
        let count = pop.instances.max(1).div_ceil(batch);
        Self::build(batch as u64, count, |out, j| {
            pop.write_instances_body(out, j * batch, batch)
        })
    }

    /// One lookup per service.
    pub fn lookups(endpoint: &Endpoint, pop: &Population) -> Self {
        let mut body = Vec::new();
        Self::build(1, pop.services.max(1), |out, s| {
            body.clear();
            pop.write_lookup_body(&mut body, s);
            endpoint.write_post(out, Op::Lookup, &body);
        })
    }

    /// Management writes: the pull-out of every instance in turn, then the pull-in of every
    /// instance in turn, so each request changes a row (inserts or deletes it) and appends a log
    /// row. A key's pull-out and pull-in are `instances` requests apart in the table, so with far
    /// more instances than connections the pull-out is answered long before the pull-in is sent.
    pub fn operations(endpoint: &Endpoint, pop: &Population) -> Self {
        let instances = pop.instances.max(1);
        let mut body = Vec::new();
        Self::build(1, 2 * instances, |out, j| {
            body.clear();
            pop.write_operate_body(&mut body, j % instances, j < instances);
            endpoint.write_post(out, Op::Manage, &body);
        })
    }

    /// The same heartbeat-sized POST every time (raw-post).
    pub fn raw(endpoint: &Endpoint, pop: &Population) -> Self {
        let mut body = Vec::new();
        pop.write_instances_body(&mut body, 0, 1);
        Self::build(1, 1, |out, _| endpoint.write_post(out, Op::Raw, &body))
    }
}

/// The request tables a run needs, indexed by [`Op`].
#[derive(Default)]
pub struct Tables {
    tables: [Option<RequestTable>; OPS],
}

impl Tables {
    pub fn insert(&mut self, op: Op, table: RequestTable) {
        self.tables[op.index()] = Some(table);
    }

    pub fn get(&self, op: Op) -> &RequestTable {
        self.tables[op.index()]
            .as_ref()
            .expect("a table for every operation of the run")
    }
}

/// `heartbeat=90,lookup=9,register=1` → weights per operation.
pub fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut mix = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: expected name=weight, got {part:?}"))?;
        let op = match name.trim() {
            "heartbeat" => Op::Heartbeat,
            "lookup" => Op::Lookup,
            "register" => Op::Register,
            other => {
                return Err(format!(
                    "--mix: unknown operation {other:?} (heartbeat, lookup, register)"
                ))
            }
        };
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("--mix: invalid weight in {part:?}"))?;
        if mix.iter().any(|&(o, _)| o == op) {
            return Err(format!("--mix: {} given twice", op.name()));
        }
        if weight > 0 {
            mix.push((op, weight));
        }
    }
    let total: u64 = mix.iter().map(|&(_, w)| u64::from(w)).sum();
    if total == 0 {
        return Err("--mix: weights sum to zero".into());
    }
    if total > 100_000 {
        return Err("--mix: weights sum to more than 100000".into());
    }
    Ok(mix)
}

/// A cyclic, shuffled sequence of operations with the mix's proportions: every window of
/// `sum(weights)` requests has exactly the configured ratios.
pub struct Deck {
    ops: Vec<Op>,
    next: usize,
}

impl Deck {
    pub fn new(mix: &[(Op, u32)], seed: u64) -> Deck {
        let mut ops: Vec<Op> = mix
            .iter()
            .flat_map(|&(op, w)| std::iter::repeat_n(op, w as usize))
            .collect();
        Rng::new(seed).shuffle(&mut ops);
        Deck { ops, next: 0 }
    }

    pub fn next(&mut self) -> Op {
        let op = self.ops[self.next];
        self.next = (self.next + 1) % self.ops.len();
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop() -> Population {
        Population {
            prefix: "svc".into(),
            region: "default".into(),
            zone: "z".into(),
            instances: 10,
            services: 3,
        }
    }

    #[test]
    fn instances_are_valid_json_and_unique() {
        let pop = pop();
        let mut body = Vec::new();
        pop.write_instances_body(&mut body, 0, 10);
        let v: sonic_rs::Value = sonic_rs::from_slice(&body).expect("valid JSON");
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let list = v.get("instances").unwrap().as_array().unwrap();
        assert_eq!(list.len(), 10);
        let mut ids: Vec<String> = list
            .iter()
            .map(|i| i.get("instanceId").unwrap().as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10);
        let first = &list[0];
        assert_eq!(first.get("serviceId").unwrap().as_str(), Some("svc-00000"));
        assert_eq!(first.get("ip").unwrap().as_str(), Some("10.0.0.1"));
        assert_eq!(first.get("metadata").unwrap().as_object().unwrap().len(), 3);
        assert_eq!(
            list[4].get("serviceId").unwrap().as_str(),
            Some("svc-00001")
        );
    }

    #[test]
    fn tables_cover_the_population_in_full_batches() {
        let endpoint = Endpoint {
            host: "h:1".into(),
            path: "/p".into(),
            accept_gzip: false,
        };
        let table = RequestTable::instances(&endpoint, Op::Heartbeat, &pop(), 4);
        assert_eq!(table.len(), 3);
        assert_eq!(table.ops_per_request, 4);
        let last = String::from_utf8(table.get(2).to_vec()).unwrap();
        assert!(last.starts_with("POST /p/api/registry/heartbeat.json HTTP/1.1\r\nHost: h:1\r\n"));
        // The last batch wraps around to instance 0 so every request carries exactly 4.
        assert_eq!(last.matches("\"instanceId\"").count(), 4);
        assert!(last.contains("\"10.0.0.1:8080\""));
        let lookups = RequestTable::lookups(&endpoint, &pop());
        assert_eq!(lookups.len(), 3);
        assert!(String::from_utf8_lossy(lookups.get(1)).contains("\"svc-00001\""));
    }

    #[test]
    fn operations_pull_every_instance_out_then_back_in() {
        let endpoint = Endpoint {
            host: "h:1".into(),
            path: "".into(),
            accept_gzip: false,
        };
        let pop = pop();
        let table = RequestTable::operations(&endpoint, &pop);
        assert_eq!(table.len(), 20);
        assert_eq!(table.ops_per_request, 1);
        use sonic_rs::JsonValueTrait;
        let body = |j: usize| {
            let request = String::from_utf8(table.get(j).to_vec()).unwrap();
            assert!(
                request.starts_with("POST /api/management/operate-instance.json HTTP/1.1\r\n"),
                "{request}"
            );
            let (_, body) = request.split_once("\r\n\r\n").expect("head and body");
            sonic_rs::from_str::<sonic_rs::Value>(body).expect("valid JSON")
        };
        for i in 0..10 {
            let (out, back) = (body(i), body(10 + i));
            for v in [&out, &back] {
                let key = v.get("instanceKey").unwrap();
                assert_eq!(
                    key.get("instanceId").unwrap().as_str(),
                    Some(Population::instance_id(i).as_str())
                );
                let service = pop.service_name(pop.service_of(i));
                assert_eq!(
                    key.get("serviceId").unwrap().as_str(),
                    Some(service.as_str())
                );
                assert_eq!(key.get("regionId").unwrap().as_str(), Some("default"));
                assert_eq!(v.get("operation").unwrap().as_str(), Some("pullout"));
                assert_eq!(v.get("operatorId").unwrap().as_str(), Some("artemis-load"));
            }
            assert_eq!(out.get("operationComplete").unwrap().as_bool(), Some(false));
            assert_eq!(back.get("operationComplete").unwrap().as_bool(), Some(true));
        }
    }

    #[test]
    fn mixes_and_decks() {
        let mix = parse_mix("heartbeat=90, lookup=9,register=1").unwrap();
        assert_eq!(
            mix,
            vec![(Op::Heartbeat, 90), (Op::Lookup, 9), (Op::Register, 1)]
        );
        let mut deck = Deck::new(&mix, 7);
        let mut counts = [0; OPS];
        for _ in 0..200 {
            counts[deck.next().index()] += 1;
        }
        assert_eq!(counts, [180, 2, 18, 0, 0, 0, 0, 0]);
        assert!(parse_mix("heartbeat").is_err());
        assert!(parse_mix("foo=1").is_err());
        assert!(parse_mix("heartbeat=0").is_err());
        assert!(parse_mix("heartbeat=1,heartbeat=2").is_err());
    }
}
