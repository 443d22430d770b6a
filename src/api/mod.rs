//! The HTTP API: routing a parsed request to its endpoint and writing the response.
//!
//! Every logical outcome is HTTP 200 with a `responseStatus` (the Java client treats any status of
//! 400 or more as a dead node). Protocol faults (unparsable HTTP or JSON, unknown path, wrong
//! method, too large) get 400/404/405/408/413/415/431 with a JSON `responseStatus` saying what was
//! wrong.
//!
//! HEAD is answered wherever GET is, exactly as GET would be (status, headers, the Content-Length
//! of GET's body) but without a body; an error to HEAD has no body either.

mod body;
pub mod cluster;
mod debug;
pub mod discovery;
mod gzip;
pub mod management;
mod monitoring;
mod rate_limit;
pub mod registry;
pub mod replication;
pub mod status;

use std::time::Instant;

use protocol::http::{
    accepts_gzip, write_head_response, write_response, HttpError, Method, Request, ResponseHead,
};
use protocol::model::{node_status_text, write_error_body, JsonError, HEALTH_UP};

use protocol::ws::HandshakeError;

use crate::server::app::App;
use crate::server::conn::{ConnectionInfo, Scratch};
use crate::server::core::Core;
use crate::server::metrics::EndpointId;
use crate::server::shared_body::SharedBody;
use crate::server::ws::Channel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Register,
    Heartbeat,
    Unregister,
    /// The replication twins of the three above (a peer's writes, spec §9.2).
    ReplicationRegister,
    ReplicationHeartbeat,
    ReplicationUnregister,
    /// The registry copy a starting peer pulls (spec §9.3).
    ReplicationServices,
    /// A peer committed a management write to the shared database: poll it now (not Java's).
    ReplicationManagementNudge,
    Lookup,
    Service,
    Services,
    ServicesDelta,
    UpRegistryNodes,
    UpDiscoveryNodes,
    NodeStatus,
    ClusterStatus,
    ConfigStatus,
    DeploymentStatus,
    WsConnections,
    Leases,
    LegacyLeases,
    Health,
    Ready,
    Metrics,
    Management(management::Manage),
    /// Tests only (`testing.manual_clock`); unknown otherwise.
    AdvanceClock,
}

const ROUTES: &[(&str, Endpoint)] = &[
    ("/api/registry/heartbeat.json", Endpoint::Heartbeat),
    ("/api/registry/register.json", Endpoint::Register),
    ("/api/registry/unregister.json", Endpoint::Unregister),
    (
        "/api/replication/registry/register.json",
        Endpoint::ReplicationRegister,
    ),
    (
        "/api/replication/registry/heartbeat.json",
        Endpoint::ReplicationHeartbeat,
    ),
    (
        "/api/replication/registry/unregister.json",
        Endpoint::ReplicationUnregister,
    ),
    (
        "/api/replication/registry/services.json",
        Endpoint::ReplicationServices,
    ),
    (
        "/api/replication/management/nudge.json",
        Endpoint::ReplicationManagementNudge,
    ),
    ("/api/discovery/lookup.json", Endpoint::Lookup),
    ("/api/discovery/service.json", Endpoint::Service),
    ("/api/discovery/services.json", Endpoint::Services),
    (
        "/api/discovery/services-delta.json",
        Endpoint::ServicesDelta,
    ),
    (
        "/api/cluster/up-registry-nodes.json",
        Endpoint::UpRegistryNodes,
    ),
    (
        "/api/cluster/up-discovery-nodes.json",
        Endpoint::UpDiscoveryNodes,
    ),
    ("/api/status/node.json", Endpoint::NodeStatus),
    ("/api/status/cluster.json", Endpoint::ClusterStatus),
    ("/api/status/config.json", Endpoint::ConfigStatus),
    ("/api/status/deployment.json", Endpoint::DeploymentStatus),
    (
        "/api/status/message/connections.json",
        Endpoint::WsConnections,
    ),
    ("/api/status/leases.json", Endpoint::Leases),
    ("/api/status/legacy-leases.json", Endpoint::LegacyLeases),
    ("/health", Endpoint::Health),
    ("/ready", Endpoint::Ready),
    ("/metrics", Endpoint::Metrics),
    ("/debug/clock/advance", Endpoint::AdvanceClock),
];

/// Metrics ids: the routes of [`ROUTES`] by position, then those of [`management::ROUTES`], then
/// these two, which no path routes to.
const WS_HEARTBEAT: EndpointId = EndpointId::new(ROUTES.len() + management::ROUTES.len());
/// Requests that reached no endpoint: unknown paths, failed WebSocket handshakes, and requests
/// refused before they were complete.
const UNMATCHED: EndpointId = EndpointId::new(WS_HEARTBEAT.index() + 1);

/// The endpoints this node serves, by metrics id, with their label: the path (`unmatched` for
/// [`UNMATCHED`]). The test clock's endpoint exists with the manual clock only.
fn endpoint_labels(manual_clock: bool) -> Vec<(EndpointId, &'static str)> {
    let routes = ROUTES
        .iter()
        .enumerate()
        .filter(|&(_, &(_, e))| e != Endpoint::AdvanceClock || manual_clock)
        .map(|(i, &(path, _))| (EndpointId::new(i), path));
    let management = management::ROUTES
        .iter()
        .enumerate()
        .map(|(i, &(path, _))| (EndpointId::new(ROUTES.len() + i), path));
    let unrouted = [
        (WS_HEARTBEAT, Channel::Heartbeat.path()),
        (UNMATCHED, "unmatched"),
    ];
    routes.chain(management).chain(unrouted).collect()
}

/// Find the endpoint of a path.
pub fn route(path: &str, prefix: &str) -> Option<Endpoint> {
    find_route(path, prefix).map(|(endpoint, _)| endpoint)
}

/// The endpoint of a path and its metrics id.
fn find_route(path: &str, prefix: &str) -> Option<(Endpoint, EndpointId)> {
    let path = protocol::http::canonical_path(path, prefix);
    if path.starts_with("/api/management/") {
        let i = management::ROUTES.iter().position(|(p, _)| *p == path)?;
        let endpoint = Endpoint::Management(management::ROUTES[i].1);
        return Some((endpoint, EndpointId::new(ROUTES.len() + i)));
    }
    let i = ROUTES.iter().position(|(p, _)| *p == path)?;
    Some((ROUTES[i].1, EndpointId::new(i)))
}

impl Endpoint {
    /// The endpoint's id in the request metrics (also where a rate limiter refuses a request:
    /// `rate_limit.rs`).
    pub fn metric_id(self) -> EndpointId {
        let position = match self {
            Endpoint::Management(m) => management::ROUTES
                .iter()
                .position(|&(_, r)| r == m)
                .map(|i| ROUTES.len() + i),
            _ => ROUTES.iter().position(|&(_, e)| e == self),
        };
        EndpointId::new(position.expect("every endpoint has a route"))
    }

    /// Answers a client that accepts gzip with gzip (`http.gzip_answers`): the discovery reads
    /// whose answers are built from shared views (see `gzip`).
    fn answers_gzip(self, core: &Core) -> bool {
        matches!(
            self,
            Endpoint::Lookup | Endpoint::Service | Endpoint::Services
        ) && core.node.config.http.gzip_answers
    }

    fn content_type(self) -> &'static str {
        match self {
            Endpoint::Metrics => protocol::prometheus::CONTENT_TYPE,
            _ => JSON,
        }
    }

    /// GET is accepted where Java accepted it (query parameters instead of a body), and HEAD
    /// wherever GET is.
    fn allows(self, method: Method) -> bool {
        match method {
            // Java's WsStatusController mapped connections.json to GET only.
            Method::Post => !matches!(
                self,
                Endpoint::Health | Endpoint::WsConnections | Endpoint::Ready | Endpoint::Metrics
            ),
            Method::Get | Method::Head => match self {
                Endpoint::Management(m) => m.allows_get(),
                _ => !matches!(
                    self,
                    Endpoint::Register
                        | Endpoint::Heartbeat
                        | Endpoint::Unregister
                        | Endpoint::ReplicationRegister
                        | Endpoint::ReplicationHeartbeat
                        | Endpoint::ReplicationUnregister
                        | Endpoint::ReplicationManagementNudge
                        | Endpoint::Lookup
                        | Endpoint::ServicesDelta
                        | Endpoint::AdvanceClock
                ),
            },
            _ => false,
        }
    }

    /// Java's controllers declared a required request body here (Spring answers 400 without one).
    fn requires_body(self) -> bool {
        matches!(
            self,
            Endpoint::Register
                | Endpoint::Heartbeat
                | Endpoint::Unregister
                | Endpoint::ReplicationRegister
                | Endpoint::ReplicationHeartbeat
                | Endpoint::ReplicationUnregister
                | Endpoint::ReplicationServices
                | Endpoint::Lookup
                | Endpoint::Service
                | Endpoint::Management(_)
        )
    }

    /// Served to the cluster's nodes only ([`replication::auth`]).
    fn is_replication(self) -> bool {
        matches!(
            self,
            Endpoint::ReplicationRegister
                | Endpoint::ReplicationHeartbeat
                | Endpoint::ReplicationUnregister
                | Endpoint::ReplicationServices
                | Endpoint::ReplicationManagementNudge
        )
    }

    fn allow_header(self) -> &'static str {
        match self {
            Endpoint::Register
            | Endpoint::Heartbeat
            | Endpoint::Unregister
            | Endpoint::ReplicationRegister
            | Endpoint::ReplicationHeartbeat
            | Endpoint::ReplicationUnregister
            | Endpoint::ReplicationManagementNudge
            | Endpoint::Lookup
            | Endpoint::ServicesDelta
            | Endpoint::AdvanceClock => "POST, OPTIONS",
            Endpoint::Health | Endpoint::WsConnections | Endpoint::Ready | Endpoint::Metrics => {
                "GET, HEAD, OPTIONS"
            }
            Endpoint::Management(m) if !m.allows_get() => "POST, OPTIONS",
            _ => "GET, HEAD, POST, OPTIONS",
        }
    }
}

/// What a handler gets: the request as the endpoint needs it.
pub struct Input<'a> {
    pub method: Method,
    pub query: &'a str,
    pub body: &'a [u8],
    /// The `Authorization` header, for management writes.
    pub authorization: Option<&'a [u8]>,
    /// The `X-Artemis-Cluster-Secret` header, for replication.
    pub cluster_secret: Option<&'a [u8]>,
    /// Where the request came from, for replication.
    pub connection: ConnectionInfo,
}

const JSON: &str = "application/json";
const CORS: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "*"),
    ("Access-Control-Allow-Credentials", "true"),
];

/// The HTTP and WebSocket endpoints, as the runtime calls them.
pub struct Api;

impl App for Api {
    async fn handle(
        core: &Core,
        request: &Request<'_>,
        read_buf: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> bool {
        let started = Instant::now();
        let answered = answer(core, request, read_buf, scratch, out).await;
        core.metrics
            .requests
            .record(answered.endpoint, answered.status, started.elapsed());
        answered.keep_alive
    }

    fn write_protocol_error(core: &Core, error: HttpError, out: &mut Vec<u8>) {
        respond_and_close(
            core,
            out,
            Framing::Body,
            error.status(),
            &[],
            error.message(),
        );
    }

    fn write_upgrade_error(
        core: &Core,
        request: &Request<'_>,
        error: &HandshakeError,
        out: &mut Vec<u8>,
    ) {
        let status = error.status();
        let extra: &[(&str, &str)] = if status == 426 {
            &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")]
        } else {
            &[]
        };
        let framing = Framing::of(request.method);
        respond_and_close(core, out, framing, status, extra, error.message());
    }

    fn write_timeout(core: &Core, out: &mut Vec<u8>) {
        respond_and_close(
            core,
            out,
            Framing::Body,
            408,
            &[],
            "request not received in time",
        );
    }

    fn write_busy(core: &Core, out: &mut Vec<u8>) {
        respond_and_close(
            core,
            out,
            Framing::Body,
            503,
            &[("Retry-After", "1")],
            "server busy: no room to buffer this request now; retry later",
        );
    }

    async fn ws_heartbeat(core: &Core, text: &str, reply: &mut Vec<u8>) {
        let started = Instant::now();
        registry::ws_heartbeat(core, text, reply).await;
        // The reply is a protocol answer (a responseStatus), as heartbeat.json's 200 is.
        core.metrics
            .requests
            .record(WS_HEARTBEAT, 200, started.elapsed());
    }
}

/// What [`answer`] did: whether the connection stays open, and what the metrics count.
struct Answered {
    keep_alive: bool,
    endpoint: EndpointId,
    status: u16,
}

/// Answer one request into `out`.
async fn answer(
    core: &Core,
    request: &Request<'_>,
    read_buf: &[u8],
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Answered {
    let config = &core.node.config;
    // Once shutdown starts, answer what is in flight and tell the client the connection ends.
    let keep_alive = request.keep_alive && !core.shutdown.is_fired();
    let connection = scratch.connection;
    let body_out = &mut scratch.body;
    body_out.clear();
    let framing = Framing::of(request.method);
    let routed = find_route(request.path, &config.path_prefix)
        .filter(|&(e, _)| e != Endpoint::AdvanceClock || core.node.clock.is_manual());
    let id = routed.map_or(UNMATCHED, |(_, id)| id);
    let answered = |keep_alive, status| Answered {
        keep_alive,
        endpoint: id,
        status,
    };
    if request.method == Method::Options && config.http.cors {
        // Java's CrossDomainFilter answered every preflight, whatever the path.
        preflight(request, out, keep_alive);
        return answered(keep_alive, 200);
    }
    let Some((endpoint, _)) = routed else {
        let message = format!("no such path: {}", truncate(request.path, 200));
        write_error_body(body_out, &message);
        respond(core, out, framing, 404, keep_alive, &[], body_out);
        return answered(keep_alive, 404);
    };
    if !endpoint.allows(request.method) {
        let message = format!("method not allowed; use {}", endpoint.allow_header());
        write_error_body(body_out, &message);
        respond(
            core,
            out,
            framing,
            405,
            keep_alive,
            &[("Allow", endpoint.allow_header())],
            body_out,
        );
        return answered(keep_alive, 405);
    }
    let body = match body::decode_body(
        core,
        request,
        read_buf,
        &scratch.dechunked,
        &mut scratch.inflated,
    )
    .await
    {
        Ok(body) => body,
        Err(error) => {
            write_error_body(body_out, error.message());
            let keep = keep_alive && !error.must_close();
            respond(core, out, framing, error.status(), keep, &[], body_out);
            return answered(keep, error.status());
        }
    };
    if body.is_empty() && request.method == Method::Post && endpoint.requires_body() {
        write_error_body(body_out, "request body is missing; send a JSON object");
        respond(core, out, framing, 400, keep_alive, &[], body_out);
        return answered(keep_alive, 400);
    }
    let input = Input {
        // HEAD runs the GET handler; only the framing of its answer differs.
        method: if request.method == Method::Head {
            Method::Get
        } else {
            request.method
        },
        query: request.query,
        body,
        authorization: request.header("Authorization"),
        cluster_secret: request.header(crate::config::cluster::SECRET_HEADER),
        connection,
    };
    let shared = &mut scratch.shared_body;
    let status = dispatch(core, endpoint, &input, body_out, shared).await;
    if !shared.is_empty() {
        // The connection writes the shared body after the head, without copying its shared
        // parts; a HEAD answer has the same head and no body.
        let gzip = if endpoint.answers_gzip(core) && wants_gzip(request) {
            gzip::gzip_body(core, shared).await
        } else {
            None
        };
        let encoded = gzip.is_some();
        if let Some(gzip) = gzip {
            core.metrics.gzip_answers.add(1);
            *shared = gzip;
        }
        let encoding = match (encoded, endpoint.answers_gzip(core)) {
            (true, _) => GZIP_ENCODED,
            (false, true) => MAY_BE_GZIP_ENCODED,
            (false, false) => &[],
        };
        // (The connection writes no body after a HEAD answer's head, and clears it.)
        respond_before_shared_body(core, out, status, keep_alive, shared.len(), encoding);
    } else {
        let mut headers = Headers::new();
        let vary = if endpoint.answers_gzip(core) {
            MAY_BE_GZIP_ENCODED
        } else {
            &[]
        };
        add_headers(core, vary, &mut headers);
        let head = ResponseHead {
            status,
            content_type: endpoint.content_type(),
            keep_alive,
            extra_headers: &headers,
        };
        write_framed(out, framing, &head, body_out);
    }
    answered(keep_alive, status)
}

/// Answer into `out`, or (bodies made of shared bytes) into `shared`.
async fn dispatch(
    core: &Core,
    endpoint: Endpoint,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    shared: &mut SharedBody,
) -> u16 {
    use registry::RegistryOp;
    use shards::ops::Origin;
    if endpoint.is_replication() {
        if let Some(status) = replication::auth::refuse_unauthorized(core, input, out) {
            return status;
        }
    }
    let (client, peer) = (Origin::Client, Origin::Peer);
    match endpoint {
        Endpoint::Register => {
            registry::handle(core, RegistryOp::Register, client, input, out).await
        }
        Endpoint::Heartbeat => {
            registry::handle(core, RegistryOp::Heartbeat, client, input, out).await
        }
        Endpoint::Unregister => {
            registry::handle(core, RegistryOp::Unregister, client, input, out).await
        }
        Endpoint::ReplicationRegister => {
            registry::handle(core, RegistryOp::Register, peer, input, out).await
        }
        Endpoint::ReplicationHeartbeat => {
            registry::handle(core, RegistryOp::Heartbeat, peer, input, out).await
        }
        Endpoint::ReplicationUnregister => {
            registry::handle(core, RegistryOp::Unregister, peer, input, out).await
        }
        Endpoint::ReplicationServices => replication::services(core, input, out, shared).await,
        Endpoint::ReplicationManagementNudge => replication::nudge(core, out),
        Endpoint::Lookup => discovery::lookup(core, input, out, shared).await,
        Endpoint::Service => discovery::service(core, input, out, shared).await,
        Endpoint::Services => discovery::services(core, input, out, shared).await,
        Endpoint::ServicesDelta => discovery::services_delta(core, input, out).await,
        Endpoint::UpRegistryNodes => cluster::up_nodes(core, cluster::Role::Registry, input, out),
        Endpoint::UpDiscoveryNodes => cluster::up_nodes(core, cluster::Role::Discovery, input, out),
        Endpoint::NodeStatus => status::node(core, out),
        Endpoint::ClusterStatus => status::cluster(core, out),
        Endpoint::ConfigStatus => status::config(core, out),
        Endpoint::DeploymentStatus => status::deployment(core, out),
        Endpoint::WsConnections => status::connections(core, out),
        Endpoint::Leases => status::leases(core, false, input, out).await,
        Endpoint::LegacyLeases => status::leases(core, true, input, out).await,
        Endpoint::Health => {
            out.extend_from_slice(HEALTH_UP);
            200
        }
        Endpoint::Ready => monitoring::ready(core, out),
        Endpoint::Metrics => monitoring::metrics(core, out).await,
        Endpoint::Management(m) => management::handle(core, m, input, out).await,
        Endpoint::AdvanceClock => debug::advance_clock(core, input, out).await,
    }
}

/// Whether a response carries its body: never to HEAD (RFC 9110 §9.3.2), where the head still
/// announces the body's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Body,
    HeadOnly,
}

impl Framing {
    fn of(method: Method) -> Framing {
        if method == Method::Head {
            Framing::HeadOnly
        } else {
            Framing::Body
        }
    }
}

/// A JSON answer.
fn respond(
    core: &Core,
    out: &mut Vec<u8>,
    framing: Framing,
    status: u16,
    keep_alive: bool,
    extra: &[(&str, &str)],
    body: &[u8],
) {
    let mut headers = Headers::new();
    add_headers(core, extra, &mut headers);
    let head = ResponseHead {
        status,
        content_type: JSON,
        keep_alive,
        extra_headers: &headers,
    };
    write_framed(out, framing, &head, body);
}

/// A response's extra headers.
type Headers<'a> = smallvec::SmallVec<[(&'a str, &'a str); 6]>;

/// Add the CORS headers (when `http.cors` is on), then `extra`. (Filled in place: a returned
/// `Headers` would be copied on every answer.)
fn add_headers<'a>(core: &Core, extra: &[(&'a str, &'a str)], headers: &mut Headers<'a>) {
    if core.node.config.http.cors {
        headers.extend_from_slice(CORS);
    }
    headers.extend_from_slice(extra);
}

fn write_framed(out: &mut Vec<u8>, framing: Framing, head: &ResponseHead<'_>, body: &[u8]) {
    match framing {
        Framing::Body => write_response(out, head, body),
        Framing::HeadOnly => write_head_response(out, head, body.len()),
    }
}

/// The head of a response whose body is shared bytes the connection writes after it, with the
/// `encoding` headers.
fn respond_before_shared_body(
    core: &Core,
    out: &mut Vec<u8>,
    status: u16,
    keep_alive: bool,
    body_len: usize,
    encoding: &[(&str, &str)],
) {
    let mut headers = Headers::new();
    add_headers(core, encoding, &mut headers);
    let head = ResponseHead {
        status,
        content_type: JSON,
        keep_alive,
        extra_headers: &headers,
    };
    write_head_response(out, &head, body_len);
}

/// The headers of a gzip answer: a cache between client and server must not give it to a client
/// that did not ask for gzip.
const GZIP_ENCODED: &[(&str, &str)] = &[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")];
/// The plain answers of endpoints that answer gzip to clients that ask for it.
const MAY_BE_GZIP_ENCODED: &[(&str, &str)] = &[("Vary", "Accept-Encoding")];

/// The request's Accept-Encoding fields allow gzip.
fn wants_gzip(request: &Request<'_>) -> bool {
    accepts_gzip(
        request
            .headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Accept-Encoding"))
            .map(|(_, value)| value),
    )
}

/// An error answer to a request that reached no endpoint, after which the connection closes.
fn respond_and_close(
    core: &Core,
    out: &mut Vec<u8>,
    framing: Framing,
    status: u16,
    extra: &[(&str, &str)],
    message: &str,
) {
    core.metrics.requests.count(UNMATCHED, status);
    let mut body = Vec::with_capacity(128);
    write_error_body(&mut body, message);
    respond(core, out, framing, status, false, extra, &body);
}

/// CORS preflight, as Java's CrossDomainFilter answered it.
fn preflight(request: &Request<'_>, out: &mut Vec<u8>, keep_alive: bool) {
    let echo = |name: &str| {
        request
            .header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or("")
    };
    let mut headers: smallvec::SmallVec<[(&str, &str); 8]> = smallvec::SmallVec::new();
    headers.extend_from_slice(CORS);
    headers.push((
        "Access-Control-Allow-Methods",
        echo("Access-Control-Request-Method"),
    ));
    headers.push((
        "Access-Control-Allow-Headers",
        echo("Access-Control-Request-Headers"),
    ));
    headers.push(("Access-Control-Max-Age", "3600"));
    let head = ResponseHead {
        status: 200,
        content_type: JSON,
        keep_alive,
        extra_headers: &headers,
    };
    write_response(out, &head, b"");
}

/// 400 for a body that is not the JSON the endpoint expects.
pub fn bad_json(out: &mut Vec<u8>, error: JsonError) -> u16 {
    bad_request(out, error.message())
}

/// 400 with `message`.
pub fn bad_request(out: &mut Vec<u8>, message: &str) -> u16 {
    out.clear();
    write_error_body(out, message);
    400
}

/// Java's refusal of a registry or discovery request while this node cannot serve it (spec
/// §5.2 step 3, §6, §11.8), typo included: "Serivce registry is not in up state. Current status:
/// { node: .., status: .., canServiceRegistry: .., canServiceDiscovery: .. }".
pub fn not_up_message(core: &Core, role: cluster::Role) -> String {
    let state = &core.node.cluster;
    // Java's flags stay null until the node's initialisation sets them, which is what makes it
    // `up` here: a node that cannot serve has set none.
    let flag = |can: bool| can.then_some(true);
    let status = node_status_text(
        &cluster::node_info(core),
        state.status.get().name(),
        flag(state.can_serve_registry()),
        flag(state.can_serve_discovery()),
    );
    let what = match role {
        cluster::Role::Registry => "registry",
        cluster::Role::Discovery => "discovery",
    };
    format!("Serivce {what} is not in up state. Current status: {status}")
}

/// 413 for a batch over its configured limit.
pub fn too_many(out: &mut Vec<u8>, what: &str, count: usize, limit: usize) -> u16 {
    out.clear();
    let message = format!("{what} has {count} entries; at most {limit} are accepted per request");
    write_error_body(out, &message);
    413
}

/// The values of the named query parameters (the last one wins when a name repeats; names are
/// exact-case, as Spring bound them).
pub fn query_fields<'q, const N: usize>(
    query: &'q str,
    names: [&str; N],
) -> [Option<std::borrow::Cow<'q, str>>; N] {
    let mut values = [const { None }; N];
    for (key, value) in protocol::http::query_pairs(query) {
        if let Some(i) = names.iter().position(|n| *n == key) {
            values[i] = Some(value);
        }
    }
    values
}

/// Region/zone comparisons are case-insensitive (Java `equalsIgnoreCase`); blank never matches.
pub fn same_id(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| !a.trim().is_empty() && a.eq_ignore_ascii_case(b))
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_prefix_and_trailing_slash() {
        assert_eq!(
            route("/api/registry/register.json", ""),
            Some(Endpoint::Register)
        );
        assert_eq!(
            route("/api/registry/register.json/", ""),
            Some(Endpoint::Register)
        );
        assert_eq!(
            route(
                "/artemis-service/api/discovery/lookup.json",
                "/artemis-service"
            ),
            Some(Endpoint::Lookup)
        );
        assert_eq!(
            route("/api/discovery/lookup.json", "/artemis-service"),
            Some(Endpoint::Lookup)
        );
        assert_eq!(
            route(
                "/artemis-serviceX/api/discovery/lookup.json",
                "/artemis-service"
            ),
            None
        );
        assert_eq!(route("/api/registry/register", ""), None);
        assert_eq!(route("/", ""), None);
        assert_eq!(route("/health", ""), Some(Endpoint::Health));
        assert_eq!(
            route("/api/status/message/connections.json", ""),
            Some(Endpoint::WsConnections)
        );
        for (path, endpoint) in [
            ("register", Endpoint::ReplicationRegister),
            ("heartbeat", Endpoint::ReplicationHeartbeat),
            ("unregister", Endpoint::ReplicationUnregister),
            ("services", Endpoint::ReplicationServices),
        ] {
            let path = format!("/api/replication/registry/{path}.json");
            assert_eq!(route(&path, ""), Some(endpoint), "{path}");
            let prefixed = format!("/artemis-service{path}");
            assert_eq!(route(&prefixed, "/artemis-service"), Some(endpoint));
            assert!(endpoint.is_replication());
        }
        assert!(!Endpoint::Register.is_replication());
        // Not Java's: a peer asks this node to poll the shared database; peers only, POST only.
        let nudge = Endpoint::ReplicationManagementNudge;
        assert_eq!(
            route("/api/replication/management/nudge.json", ""),
            Some(nudge)
        );
        assert!(nudge.is_replication());
        assert!(nudge.allows(Method::Post) && !nudge.allows(Method::Get));
    }

    #[test]
    fn methods_follow_java() {
        assert!(Endpoint::Register.allows(Method::Post));
        assert!(!Endpoint::Register.allows(Method::Get));
        assert!(Endpoint::Services.allows(Method::Get));
        assert!(Endpoint::Service.allows(Method::Get));
        assert!(!Endpoint::Health.allows(Method::Post));
        assert!(!Endpoint::WsConnections.allows(Method::Post));
        assert!(Endpoint::WsConnections.allows(Method::Get));
        assert!(Endpoint::ConfigStatus.allows(Method::Post));
        assert!(Endpoint::ConfigStatus.allows(Method::Get));
        assert!(!Endpoint::Lookup.allows(Method::Delete));
        // Java's replication controller: writes by POST, the registry copy by POST or GET.
        assert!(Endpoint::ReplicationHeartbeat.allows(Method::Post));
        assert!(!Endpoint::ReplicationHeartbeat.allows(Method::Get));
        assert!(Endpoint::ReplicationServices.allows(Method::Get));
        assert!(Endpoint::ReplicationServices.requires_body());
    }

    #[test]
    fn head_is_allowed_exactly_where_get_is_and_listed_in_allow() {
        for &(_, endpoint) in ROUTES {
            assert_eq!(
                endpoint.allows(Method::Head),
                endpoint.allows(Method::Get),
                "{endpoint:?}"
            );
            assert_eq!(
                endpoint.allow_header().contains("HEAD"),
                endpoint.allows(Method::Get),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn every_endpoint_has_its_own_metrics_id_labelled_with_its_path() {
        let labels = endpoint_labels(true);
        let ids: std::collections::HashSet<usize> =
            labels.iter().map(|(id, _)| id.index()).collect();
        assert_eq!(ids.len(), labels.len(), "ids are distinct");
        let paths = ROUTES.iter().map(|&(p, e)| (p, e)).chain(
            management::ROUTES
                .iter()
                .map(|&(p, m)| (p, Endpoint::Management(m))),
        );
        for (path, endpoint) in paths {
            let (found, id) = find_route(path, "").expect(path);
            assert_eq!(found, endpoint);
            assert_eq!(endpoint.metric_id(), id, "{path}");
            assert!(
                labels.contains(&(id, path)),
                "{path} is labelled with its path"
            );
        }
        assert!(labels.contains(&(WS_HEARTBEAT, "/ws/registry/heartbeat")));
        assert!(labels.contains(&(UNMATCHED, "unmatched")));
        let advance = Endpoint::AdvanceClock.metric_id();
        assert!(
            !endpoint_labels(false).iter().any(|&(id, _)| id == advance),
            "the test clock's endpoint is listed with the manual clock only"
        );
    }

    #[test]
    fn ids_compare_case_insensitively_and_blank_never_matches() {
        assert!(same_id(Some("SHA"), "sha"));
        assert!(!same_id(Some(" "), " "));
        assert!(!same_id(None, "sha"));
        assert!(!same_id(Some("shb"), "sha"));
    }
}
