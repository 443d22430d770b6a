//! register.json / heartbeat.json / unregister.json (spec §5), and their replication twins
//! (`/api/replication/registry/*.json`, spec §9.2): one algorithm for the six. What a write's
//! [`Origin`] changes is Java's `RegistryTool.replicationExecute`: a peer's write is counted by
//! the replication rate limiter, skips the node-up and zone checks, is never replicated on, and
//! a peer's heartbeat for an instance this node does not hold registers it.

use std::borrow::Cow;

use protocol::model::{
    error_codes, parse_optional, write_instance, write_instances_fail, write_instances_status,
    FieldLimits, Instance, InstancesRequest, InstancesResponseWriter, ResponseStatus,
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
    let request: Option<InstancesRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    execute(core, op, origin, request, out).await
}

/// One message of the WebSocket heartbeat channel: the same code as `heartbeat.json`.
pub async fn ws_heartbeat(core: &Core, text: &str, reply: &mut Vec<u8>) {
    match parse_optional::<InstancesRequest>(text.as_bytes()) {
        // A JSON null is a null request: Java answers "request is null". An empty message is
        // unparsable to Jackson; Java answered anything unparsable with a plain success (spec
        // §14.6), and the client only needs one reply per message.
        Ok(request) if !text.trim().is_empty() => {
            execute(core, RegistryOp::Heartbeat, Origin::Client, request, reply).await;
        }
        _ => write_instances_status(reply, &ResponseStatus::SUCCESS),
    }
}

/// Run a parsed request and write its response.
async fn execute(
    core: &Core,
    op: RegistryOp,
    origin: Origin,
    request: Option<InstancesRequest<'_>>,
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
    let instances = match request.instances {
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
        run_slice(core, op, origin, slice, &mut verdicts[start..]).await;
    }

    let mut writer = InstancesResponseWriter::begin(out);
    for (instance, verdict) in instances.iter().zip(&verdicts) {
        if let (Some(instance), Verdict::Failed(code, reason)) = (instance, verdict) {
            writer.push_failed_reason(out, code, reason, instance);
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
fn checked(core: &Core, op: RegistryOp, origin: Origin, instance: Option<&Instance>) -> Verdict {
    let verdict = check(core, op, origin, instance);
    if let (Verdict::Failed(_, reason), Some(instance)) = (&verdict, instance) {
        core.activity.refused(
            core.id,
            op.name(origin),
            instance.service_id.as_deref().unwrap_or("null"),
            instance.instance_id.as_deref().unwrap_or("null"),
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
fn check(core: &Core, op: RegistryOp, origin: Origin, instance: Option<&Instance>) -> Verdict {
    let Some(instance) = instance else {
        return Verdict::Skip;
    };
    let config = &core.node.config;
    if !same_id(instance.region_id.as_deref(), &config.region_id) {
        let reason = format!(
            "regionId is not the same as the registry node. regionId: {}, registry node.regionId: {}",
            instance.region_id.as_deref().unwrap_or("null"),
            config.region_id
        );
        return Verdict::Failed(error_codes::NO_PERMISSION, reason.into());
    }
    if origin == Origin::Client
        && !config.registry.allow_from_other_zone
        && !same_id(instance.zone_id.as_deref(), &config.zone_id)
    {
        let reason = format!(
            "zoneId is not the same as the registry node. zoneId: {}, registry node.zoneId: {}",
            instance.zone_id.as_deref().unwrap_or("null"),
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
    if may_store {
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
