//! `artemis pull-out|pull-in instance SERVICE INSTANCE | server IP | zone SERVICE ZONE`: take
//! traffic away from an instance, a server or a zone, or bring it back (spec §10.1, §10.5),
//! under the operation name [`OPERATION`].

use std::process::ExitCode;

use argh::FromArgs;

use super::body::{call, JsonObject};
use super::client::Node;
use super::nodes::region_of;
use super::{emit, emit_json, finish, Outcome, DEFAULT_SERVER};

const OPERATE_INSTANCE: &str = "/api/management/operate-instance.json";
const OPERATE_SERVER: &str = "/api/management/operate-server.json";
const OPERATE_ZONES: &str = "/api/management/zone/operate-zone-operations.json";

/// The operation every pull-out records and every pull-in ends. A target stays out while any
/// operation is recorded on it, so a pull-in here does not undo a pull-out another tool
/// recorded under a different name.
pub const OPERATION: &str = "pullout";

/// Token used when --token is not given.
const TOKEN_VARIABLE: &str = "ARTEMIS_TOKEN";

/// Take traffic away from an instance, a server or a zone: discovery stops returning it.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "pull-out")]
pub struct PullOutArgs {
    #[argh(subcommand)]
    pub target: TargetArgs,
}

/// Bring traffic back to an instance, a server or a zone pulled out with pull-out.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "pull-in")]
pub struct PullInArgs {
    #[argh(subcommand)]
    pub target: TargetArgs,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum TargetArgs {
    Instance(InstanceTarget),
    Server(ServerTarget),
    Zone(ZoneTarget),
}

/// One instance of a service.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "instance")]
pub struct InstanceTarget {
    /// the service id
    #[argh(positional)]
    pub service: String,
    /// the instance id
    #[argh(positional)]
    pub instance: String,
    /// who is doing this (recorded in the operation log)
    #[argh(option)]
    pub operator: String,
    /// region of the instance (default: the node's region)
    #[argh(option)]
    pub region: Option<String>,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// management token, sent as Authorization: Bearer (default: $ARTEMIS_TOKEN)
    #[argh(option)]
    pub token: Option<String>,
    /// print the node's JSON answer instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// Every instance on one server (instances whose ip is IP).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "server")]
pub struct ServerTarget {
    /// the server's ip, as its instances register it
    #[argh(positional)]
    pub ip: String,
    /// who is doing this (recorded in the operation log)
    #[argh(option)]
    pub operator: String,
    /// region of the server (default: the node's region)
    #[argh(option)]
    pub region: Option<String>,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// management token, sent as Authorization: Bearer (default: $ARTEMIS_TOKEN)
    #[argh(option)]
    pub token: Option<String>,
    /// print the node's JSON answer instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// Every instance of a service in one zone.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "zone")]
pub struct ZoneTarget {
    /// the service id
    #[argh(positional)]
    pub service: String,
    /// the zone id
    #[argh(positional)]
    pub zone: String,
    /// who is doing this (recorded in the operation log)
    #[argh(option)]
    pub operator: String,
    /// why (recorded in the zone operation log)
    #[argh(option)]
    pub reason: Option<String>,
    /// region of the zone (default: the node's region)
    #[argh(option)]
    pub region: Option<String>,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// management token, sent as Authorization: Bearer (default: $ARTEMIS_TOKEN)
    #[argh(option)]
    pub token: Option<String>,
    /// print the node's JSON answer instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

pub fn pull_out(args: PullOutArgs) -> ExitCode {
    finish(operate(&args.target, Direction::Out))
}

pub fn pull_in(args: PullInArgs) -> ExitCode {
    finish(operate(&args.target, Direction::In))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Out,
    In,
}

impl Direction {
    /// Java's `operationComplete`: true ends the operation.
    fn complete(self) -> bool {
        self == Direction::In
    }

    fn verb(self) -> &'static str {
        match self {
            Direction::Out => "pulled out",
            Direction::In => "pulled in",
        }
    }
}

/// What every target has: where to send it, as whom, and how to report.
struct Request<'a> {
    node: Node,
    operator: &'a str,
    region: Option<&'a str>,
    json: bool,
}

impl<'a> Request<'a> {
    fn new(
        server: &str,
        token: &Option<String>,
        operator: &'a str,
        region: &'a Option<String>,
        json: bool,
    ) -> Result<Request<'a>, super::Failure> {
        let token = token
            .clone()
            .or_else(|| std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty()));
        Ok(Request {
            node: Node::parse(server, token)?,
            operator,
            region: region.as_deref(),
            json,
        })
    }

    fn region(&self) -> Result<String, super::Failure> {
        match self.region {
            Some(region) => Ok(region.to_string()),
            None => region_of(&self.node),
        }
    }
}

fn operate(target: &TargetArgs, direction: Direction) -> Outcome {
    let (request, path, body, what) = match target {
        TargetArgs::Instance(t) => {
            let request = Request::new(&t.server, &t.token, &t.operator, &t.region, t.json)?;
            let region = request.region()?;
            let key = JsonObject::new()
                .str("regionId", &region)
                .str("serviceId", &t.service)
                .str("instanceId", &t.instance)
                .finish();
            let body = JsonObject::new()
                .raw("instanceKey", &key)
                .str("operation", OPERATION)
                .bool("operationComplete", direction.complete())
                .str("operatorId", request.operator)
                .finish();
            let what = format!(
                "instance {} of service {} in region {region}",
                t.instance, t.service
            );
            (request, OPERATE_INSTANCE, body, what)
        }
        TargetArgs::Server(t) => {
            let request = Request::new(&t.server, &t.token, &t.operator, &t.region, t.json)?;
            let region = request.region()?;
            let key = JsonObject::new()
                .str("regionId", &region)
                .str("serverId", &t.ip)
                .finish();
            let body = JsonObject::new()
                .raw("serverKey", &key)
                .str("operation", OPERATION)
                .bool("operationComplete", direction.complete())
                .str("operatorId", request.operator)
                .finish();
            let what = format!("server {} in region {region}", t.ip);
            (request, OPERATE_SERVER, body, what)
        }
        TargetArgs::Zone(t) => {
            let request = Request::new(&t.server, &t.token, &t.operator, &t.region, t.json)?;
            let region = request.region()?;
            let key = JsonObject::new()
                .str("regionId", &region)
                .str("serviceId", &t.service)
                .str("zoneId", &t.zone)
                .finish();
            let zone = JsonObject::new()
                .raw("zoneKey", &key)
                .str_array("operations", &[OPERATION])
                .finish();
            let body = JsonObject::new()
                .raw_array("zoneOperationsList", &[zone])
                .str("operation", OPERATION)
                .bool("operationComplete", direction.complete())
                .str("operatorId", request.operator)
                .opt_str("reason", t.reason.as_deref())
                .finish();
            let what = format!(
                "zone {} of service {} in region {region}",
                t.zone, t.service
            );
            (request, OPERATE_ZONES, body, what)
        }
    };
    let answer = call(&request.node, path, &body)?;
    if request.json {
        return emit_json(&answer);
    }
    emit(format!("{} {what}\n", direction.verb()).as_bytes())
}
