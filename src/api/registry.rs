//! register.json / heartbeat.json / unregister.json (spec §5), and their replication twins
//! (`/api/replication/registry/*.json`, spec §9.2): one algorithm for the six. What a write's
//! [`Origin`] changes is Java's `RegistryTool.replicationExecute`: a peer's write is counted by
//! the replication rate limiter, skips the node-up and zone checks, is never replicated on, and
//! a peer's heartbeat for an instance this node does not hold registers it.
//!
//! A client's heartbeat does not build its instances: [`scan_heartbeat`] reads the four key
//! fields (and whether `url` is blank) straight from the body, and an instance is parsed in full
//! only to echo it in a failure. Bodies the scan is not sure about take the full parse, so every
//! body gets the answer it always got.

use std::borrow::Cow;

use protocol::model::{
    error_codes, parse_optional, scan_heartbeat, write_instance, write_instances_fail,
    write_instances_status, FieldLimits, HeartbeatKey, HeartbeatScan, Instance, InstancesRequest,
    InstancesResponseWriter, ResponseStatus,
};
use smallvec::SmallVec;

use super::rate_limit::{refuse_over_limit, Shape};
use super::{bad_json, same_id, too_many, Input};
use shards::ops::{Origin, PackedKeys, Register, RegisterItem, Renew, Unregister};

use crate::server::core::{Answers, Core};
use crate::server::mailbox::Unavailable;
use crate::server::rate_limit::Identity;
use crate::server::signal::yield_now;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryOp {
    Register,
    Heartbeat,
    Unregister,
}

impl RegistryOp {
    /// What `artemis.service.registry` (a client's write) or
    /// `artemis.service.registry.replication` (a peer's) counts it as.
    fn rate_limit_identity(self, origin: Origin) -> Identity {
        match (self, origin) {
            (RegistryOp::Register, Origin::Client) => Identity::Register,
            (RegistryOp::Heartbeat, Origin::Client) => Identity::Heartbeat,
            (RegistryOp::Unregister, Origin::Client) => Identity::Unregister,
            (RegistryOp::Register, Origin::Peer) => Identity::ReplicationRegister,
            (RegistryOp::Heartbeat, Origin::Peer) => Identity::ReplicationHeartbeat,
            (RegistryOp::Unregister, Origin::Peer) => Identity::ReplicationUnregister,
        }
    }

    /// The operation as the refusal log names it.
    fn name(self, origin: Origin) -> &'static str {
        match (self, origin) {
            (RegistryOp::Register, Origin::Client) => "register",
            (RegistryOp::Heartbeat, Origin::Client) => "heartbeat",
            (RegistryOp::Unregister, Origin::Client) => "unregister",
            (RegistryOp::Register, Origin::Peer) => "replicated register",
            (RegistryOp::Heartbeat, Origin::Peer) => "replicated heartbeat",
            (RegistryOp::Unregister, Origin::Peer) => "replicated unregister",
        }
    }
}

/// What happened to one instance of the batch.
enum Verdict {
    /// A null entry: skipped silently, as Java does.
    Skip,
    /// Passed the checks; its shard decides.
    Ok,
    Failed(&'static str, Cow<'static, str>),
}

const NOT_FOUND_REASON: &str = "Instance is not exising! Need re-register.";

/// Instances checked and sent to their shards before the core yields to its other tasks: about a
/// millisecond of work in a release build, so a 10,000-instance batch never holds the core for long.
const INSTANCES_PER_SLICE: usize = 1000;

/// One request of a registry endpoint (`Origin::Client`) or of its replication twin
/// (`Origin::Peer`).
pub async fn handle(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    input: &Input<'_>,
    out: &mut Vec<u8>,
) -> u16 {
    if op == RegistryOp::Heartbeat && origin == Origin::Client {
        match scan_heartbeat(input.body) {
            HeartbeatScan::Fallback => {}
            HeartbeatScan::NullRequest => {
                return execute::<HeartbeatKey>(core, op, origin, None, out).await
            }
            HeartbeatScan::Request(instances) => {
                return execute(core, op, origin, Some(instances), out).await
            }
        }
    }
    let request: Option<InstancesRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    execute(core, op, origin, request.map(|r| r.instances), out).await
}

/// One message of the WebSocket heartbeat channel: the same code as `heartbeat.json`.
pub async fn ws_heartbeat(core: &Core, text: &str, reply: &mut Vec<u8>) {
    const OP: RegistryOp = RegistryOp::Heartbeat;
    // A JSON null is a null request: Java answers "request is null". An empty message is
    // unparsable to Jackson; Java answered anything unparsable with a plain success (spec
    // §14.6), and the client only needs one reply per message.
    if text.trim().is_empty() {
        write_instances_status(reply, &ResponseStatus::SUCCESS);
        return;
    }
    match scan_heartbeat(text.as_bytes()) {
        HeartbeatScan::NullRequest => {
            execute::<HeartbeatKey>(core, OP, Origin::Client, None, reply).await;
        }
        HeartbeatScan::Request(instances) => {
            execute(core, OP, Origin::Client, Some(instances), reply).await;
        }
        HeartbeatScan::Fallback => match parse_optional::<InstancesRequest>(text.as_bytes()) {
            Ok(request) => {
                let instances = request.map(|r| r.instances);
                execute(core, OP, Origin::Client, instances, reply).await;
            }
            Err(_) => write_instances_status(reply, &ResponseStatus::SUCCESS),
        },
    }
}

/// What the registry algorithm reads of one instance of a batch: the whole instance (register,
/// unregister, a peer's heartbeat, or a client's heartbeat the scan left to the parser), or the
/// [`HeartbeatKey`] a scan of a client's heartbeat found.
trait Item<'i>: Sized {
    fn region_id(&self) -> Option<&str>;
    fn zone_id(&self) -> Option<&str>;
    fn service_id(&self) -> Option<&str>;
    fn instance_id(&self) -> Option<&str>;
    /// [`Instance::check_required`].
    fn check_required(&self) -> Result<(), &'static str>;
    /// The whole instance, for what may be stored (its field lengths) — a scanned key is only
    /// ever a client's heartbeat, which stores nothing.
    fn whole(&self) -> Option<&Instance<'i>>;
    /// Appends the failure of this instance, echoing it in full.
    fn push_failed(
        &self,
        writer: &mut InstancesResponseWriter,
        out: &mut Vec<u8>,
        code: &str,
        reason: &str,
    );
    /// [`run_slice`] for a batch of this kind of item.
    async fn run_slice(
        core: &Core,
        op: RegistryOp,
        origin: Origin,
        slice: &[Option<Self>],
        verdicts: &mut [Verdict],
    );
}

impl<'i> Item<'i> for Instance<'i> {
    fn region_id(&self) -> Option<&str> {
        self.region_id.as_deref()
    }
    fn zone_id(&self) -> Option<&str> {
        self.zone_id.as_deref()
    }
    fn service_id(&self) -> Option<&str> {
        self.service_id.as_deref()
    }
    fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }
    fn check_required(&self) -> Result<(), &'static str> {
        Instance::check_required(self)
    }
    fn whole(&self) -> Option<&Instance<'i>> {
        Some(self)
    }
    fn push_failed(
        &self,
        writer: &mut InstancesResponseWriter,
        out: &mut Vec<u8>,
        code: &str,
        reason: &str,
    ) {
        writer.push_failed_reason(out, code, reason, self);
    }
    async fn run_slice(
        core: &Core,
        op: RegistryOp,
        origin: Origin,
        slice: &[Option<Self>],
        verdicts: &mut [Verdict],
    ) {
        run_slice(core, op, origin, slice, verdicts).await
    }
}

impl<'i> Item<'i> for HeartbeatKey<'i> {
    fn region_id(&self) -> Option<&str> {
        self.region_id
    }
    fn zone_id(&self) -> Option<&str> {
        self.zone_id
    }
    fn service_id(&self) -> Option<&str> {
        self.service_id
    }
    fn instance_id(&self) -> Option<&str> {
        self.instance_id
    }
    fn check_required(&self) -> Result<(), &'static str> {
        HeartbeatKey::check_required(self)
    }
    fn whole(&self) -> Option<&Instance<'i>> {
        None
    }
    fn push_failed(
        &self,
        writer: &mut InstancesResponseWriter,
        out: &mut Vec<u8>,
        code: &str,
        reason: &str,
    ) {
        // The scan validated this byte range, so the parse succeeds; were scan and parser ever
        // to disagree, the keys alone still name the instance.
        let instance = self.parse_instance().unwrap_or_else(|_| Instance {
            region_id: self.region_id.map(Cow::Borrowed),
            zone_id: self.zone_id.map(Cow::Borrowed),
            service_id: self.service_id.map(Cow::Borrowed),
            instance_id: self.instance_id.map(Cow::Borrowed),
            ..Instance::default()
        });
        writer.push_failed_reason(out, code, reason, &instance);
    }
    async fn run_slice(
        core: &Core,
        op: RegistryOp,
        origin: Origin,
        slice: &[Option<Self>],
        verdicts: &mut [Verdict],
    ) {
        debug_assert!(op == RegistryOp::Heartbeat && origin == Origin::Client);
        let owned = slice.iter().zip(verdicts.iter()).map(|(k, v)| match v {
            Verdict::Ok => k.as_ref().and_then(|k| k.service_id),
            _ => None,
        });
        let keys = |positions: &[u32]| {
            let keys = positions.iter().map(|&p| {
                let key = slice[p as usize].as_ref().expect("checked items exist");
                (
                    key.service_id.unwrap_or_default(),
                    key.instance_id.unwrap_or_default(),
                )
            });
            PackedKeys::from_pairs(keys)
        };
        // Batched per destination core and loop turn.
        let found = core.renew(owned, keys).await;
        settle(verdicts, found);
    }
}

/// The `instances` of a request as sent: `None` when missing or null, null entries kept.
type Instances<I> = Option<Vec<Option<I>>>;

/// Run a read request (`None`: a null request) and write its response.
async fn execute<'i, I: Item<'i>>(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    request: Option<Instances<I>>,
    out: &mut Vec<u8>,
) -> u16 {
    // Java's RegistryServiceImpl asks its limiter before it looks at the request.
    let identity = op.rate_limit_identity(origin);
    if let Some(status) = refuse_over_limit(core, identity, Shape::Instances, out) {
        return status;
    }
    let Some(request) = request else {
        write_instances_fail(out, error_codes::BAD_REQUEST, "request is null");
        return 200;
    };
    let instances = match request {
        Some(list) if !list.is_empty() => list,
        _ => {
            write_instances_fail(
                out,
                error_codes::BAD_REQUEST,
                "request.instances is null or empty.",
            );
            return 200;
        }
    };
    // A peer's writes are what bring a starting node up to date: only clients wait for `up`.
    if origin == Origin::Client && !core.node.cluster.can_serve_registry() {
        let message = super::not_up_message(core, super::cluster::Role::Registry);
        write_instances_fail(out, error_codes::SERVICE_UNAVAILABLE, &message);
        return 200;
    }
    let limit = core.node.config.limits.max_instances_per_request;
    if instances.len() > limit {
        return too_many(out, "request.instances", instances.len(), limit);
    }

    // Slice by slice, yielding between slices, so a large batch does not hold the core; the
    // answers are joined in request order.
    let mut verdicts: SmallVec<[Verdict; 8]> = SmallVec::with_capacity(instances.len());
    for (n, slice) in instances.chunks(INSTANCES_PER_SLICE).enumerate() {
        if n > 0 {
            yield_now().await;
        }
        let start = verdicts.len();
        verdicts.extend(slice.iter().map(|i| checked(core, op, origin, i.as_ref())));
        I::run_slice(core, op, origin, slice, &mut verdicts[start..]).await;
    }

    let mut writer = InstancesResponseWriter::begin(out);
    for (instance, verdict) in instances.iter().zip(&verdicts) {
        if let (Some(instance), Verdict::Failed(code, reason)) = (instance, verdict) {
            instance.push_failed(&mut writer, out, code, reason);
        }
    }
    writer.finish(out);
    200
}

/// Send the instances of `slice` that passed the checks to their shards, and fail those a shard
/// did not find (a client's heartbeat) or could not be reached for. A peer's heartbeat for an
/// instance its shard did not find registers it, in a second round.
async fn run_slice(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    slice: &[Option<Instance<'_>>],
    verdicts: &mut [Verdict],
) {
    // Items that passed the checks go to the shard owning their service.
    let owned = slice.iter().zip(verdicts.iter()).map(|(i, v)| match v {
        Verdict::Ok => i.as_ref().and_then(|i| i.service_id.as_deref()),
        _ => None,
    });
    let keys = |positions: &[u32]| {
        PackedKeys::from_pairs(at(slice, positions).map(|i| {
            (
                i.service_id.as_deref().unwrap_or_default(),
                i.instance_id.as_deref().unwrap_or_default(),
            )
        }))
    };
    let mut found: Found = match op {
        RegistryOp::Register => register_owned(core, origin, slice, owned).await,
        RegistryOp::Heartbeat if origin == Origin::Client => core.renew(owned, keys).await,
        RegistryOp::Heartbeat => core.call_owners(owned, |p| Renew(keys(p), origin)).await,
        // Unregistering an unknown instance is still a success on the wire.
        RegistryOp::Unregister => {
            // A client's unregister goes to the peers with the instance as sent: a peer may
            // hold it when this node does not.
            let with_peers = origin == Origin::Client && core.node.cluster.has_peers();
            let unregister = |positions: &[u32]| Unregister {
                keys: keys(positions),
                origin,
                sent: with_peers.then(|| {
                    at(slice, positions)
                        .map(|i| {
                            let mut json = Vec::with_capacity(256);
                            write_instance(&mut json, i);
                            json.into()
                        })
                        .collect()
                }),
            };
            reached(core.call_owners(owned, unregister).await)
        }
    };
    if op == RegistryOp::Heartbeat && origin == Origin::Peer {
        // Java's self-healing: the peer holds the instance, so this node takes it as sent.
        let unknown = slice.iter().zip(&found).map(|(i, found)| match found {
            Some(Ok(false)) => i.as_ref().and_then(|i| i.service_id.as_deref()),
            _ => None,
        });
        let registered = register_owned(core, Origin::Peer, slice, unknown).await;
        for (found, registered) in found.iter_mut().zip(registered) {
            if registered.is_some() {
                *found = registered;
            }
        }
    }
    settle(verdicts, found);
}

/// Fail the items whose shard did not find them (a client's heartbeat) or could not be reached.
fn settle(verdicts: &mut [Verdict], found: Found) {
    for (verdict, found) in verdicts.iter_mut().zip(found) {
        match found {
            Some(Ok(true)) | None => {}
            Some(Ok(false)) => {
                *verdict = Verdict::Failed(error_codes::DATA_NOT_FOUND, NOT_FOUND_REASON.into())
            }
            Some(Err(Unavailable)) => {
                *verdict = Verdict::Failed(
                    error_codes::SERVICE_UNAVAILABLE,
                    "the node is shutting down".into(),
                )
            }
        }
    }
}

/// Per item of a batch: None where it went to no shard, else whether its shard found it (a
/// heartbeat's renewal; any other operation counts as found) or could not be reached.
type Found = SmallVec<[Option<Result<bool, Unavailable>>; 8]>;

/// [`Found`] for an operation whose shard answers count as found.
fn reached<T>(answers: Answers<T>) -> Found {
    answers
        .into_iter()
        .map(|a| a.map(|r| r.map(|_| true)))
        .collect()
}

/// Register the instances of `slice` that `owned` gives a service (the others go nowhere).
async fn register_owned<'a>(
    core: &Core,
    origin: Origin,
    slice: &[Option<Instance<'_>>],
    owned: impl Iterator<Item = Option<&'a str>>,
) -> Found {
    let items = |positions: &[u32]| -> Vec<RegisterItem> {
        at(slice, positions)
            .map(RegisterItem::from_instance)
            .collect()
    };
    match origin {
        // Batched per destination core and loop turn.
        Origin::Client => reached(core.register(owned, items).await),
        Origin::Peer => reached(
            core.call_owners(owned, |p| Register(items(p), origin))
                .await,
        ),
    }
}

/// [`check`], and a (rate-limited) log line for each refused instance.
fn checked<'i>(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    instance: Option<&impl Item<'i>>,
) -> Verdict {
    let verdict = check(core, op, origin, instance);
    if let (Verdict::Failed(_, reason), Some(instance)) = (&verdict, instance) {
        core.activity.refused(
            core.id,
            op.name(origin),
            instance.service_id().unwrap_or("null"),
            instance.instance_id().unwrap_or("null"),
            reason,
        );
    }
    verdict
}

/// Java's per-instance checks, in Java's order: region, zone (clients only), required fields;
/// then, for what may be stored (a register, or a peer's heartbeat, which registers an unknown
/// instance), the field lengths (`limits.max_id_bytes`, `limits.max_metadata_bytes`), answered
/// like a blank required field. A client's heartbeat or any unregister with an over-long field
/// simply finds nothing.
fn check<'i>(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    instance: Option<&impl Item<'i>>,
) -> Verdict {
    let Some(instance) = instance else {
        return Verdict::Skip;
    };
    let config = &core.node.config;
    if !same_id(instance.region_id(), &config.region_id) {
        let reason = format!(
            "regionId is not the same as the registry node. regionId: {}, registry node.regionId: {}",
            instance.region_id().unwrap_or("null"),
            config.region_id
        );
        return Verdict::Failed(error_codes::NO_PERMISSION, reason.into());
    }
    if origin == Origin::Client
        && !config.registry.allow_from_other_zone
        && !same_id(instance.zone_id(), &config.zone_id)
    {
        let reason = format!(
            "zoneId is not the same as the registry node. zoneId: {}, registry node.zoneId: {}",
            instance.zone_id().unwrap_or("null"),
            config.zone_id
        );
        return Verdict::Failed(error_codes::NO_PERMISSION, reason.into());
    }
    if let Err(message) = instance.check_required() {
        return Verdict::Failed(
            error_codes::INTERNAL_SERVICE_ERROR,
            format!("Exception: {message}").into(),
        );
    }
    let may_store = match op {
        RegistryOp::Register => true,
        RegistryOp::Heartbeat => origin == Origin::Peer,
        RegistryOp::Unregister => false,
    };
    // Only whole instances are ever stored: a scanned key is a client's heartbeat.
    debug_assert!(!may_store || instance.whole().is_some());
    if let (true, Some(instance)) = (may_store, instance.whole()) {
        let limits = FieldLimits {
            max_id_bytes: config.limits.max_id_bytes,
            max_metadata_bytes: config.limits.max_metadata_bytes,
        };
        if let Err(message) = instance.check_lengths(limits) {
            return Verdict::Failed(
                error_codes::INTERNAL_SERVICE_ERROR,
                format!("Exception: {message}").into(),
            );
        }
    }
    Verdict::Ok
}

/// The instances at `positions` of the batch (each passed the checks, so it exists).
fn at<'a, 'i>(
    instances: &'a [Option<Instance<'i>>],
    positions: &'a [u32],
) -> impl Iterator<Item = &'a Instance<'i>> + Clone + 'a {
    positions
        .iter()
        .map(|&p| instances[p as usize].as_ref().expect("checked items exist"))
}
