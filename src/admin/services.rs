//! `artemis services [--service ID]`: what discovery serves (every service with its instance
//! count, or one service's instances), and `artemis instances SERVICE`: every instance of a
//! service as management sees it, pulled-out ones included, each `up` or `down`.

use std::process::ExitCode;

use argh::FromArgs;
use serde::Deserialize;

use super::body::{call_as, JsonObject};
use super::client::Node;
use super::nodes::this_node;
use super::table::{cell, Table};
use super::{emit, emit_json, finish, Failure, Outcome, DEFAULT_SERVER};

const DISCOVERY_SERVICES: &str = "/api/discovery/services.json";
const DISCOVERY_SERVICE: &str = "/api/discovery/service.json";
const MANAGEMENT_SERVICE: &str = "/api/management/service.json";

/// List the services discovery serves, or with --service the instances of one.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "services")]
pub struct ServicesArgs {
    /// show this service's instances (as clients discover them: pulled-out ones are hidden)
    #[argh(option)]
    pub service: Option<String>,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// print the node's JSON answer instead of a table
    #[argh(switch)]
    pub json: bool,
}

/// List every instance of a service with its traffic status (up, or down when pulled out).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "instances")]
pub struct InstancesArgs {
    /// the service id
    #[argh(positional)]
    pub service: String,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// print the node's JSON answer instead of a table
    #[argh(switch)]
    pub json: bool,
}

/// `Service`, as far as the tables show it.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Service {
    service_id: Option<String>,
    instances: Option<Vec<Instance>>,
}

/// `Instance`, as far as the tables show it.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Instance {
    instance_id: Option<String>,
    ip: Option<String>,
    port: Option<i64>,
    zone_id: Option<String>,
    status: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct ServicesAnswer {
    services: Option<Vec<Service>>,
}

#[derive(Deserialize)]
struct ServiceAnswer {
    service: Option<Service>,
}

pub fn services(args: ServicesArgs) -> ExitCode {
    finish(match &args.service {
        Some(service_id) => discovered_service(&args, service_id),
        None => all_services(&args),
    })
}

pub fn instances(args: InstancesArgs) -> ExitCode {
    finish(managed_service(&args))
}

fn all_services(args: &ServicesArgs) -> Outcome {
    let node = Node::parse(&args.server, None)?;
    let (answer, raw) =
        call_as::<ServicesAnswer>(&node, DISCOVERY_SERVICES, &JsonObject::new().finish())?;
    if args.json {
        return emit_json(&raw);
    }
    let mut services = answer.services.unwrap_or_default();
    services.sort_by(|a, b| a.service_id.cmp(&b.service_id));
    let mut table = Table::new(&["SERVICE", "INSTANCES"]);
    for s in &services {
        let count = s.instances.as_ref().map_or(0, Vec::len);
        table.row(vec![cell(s.service_id.as_deref()), count.to_string()]);
    }
    emit(table.render().as_bytes())
}

/// One service as a client in the node's own region and zone discovers it.
fn discovered_service(args: &ServicesArgs, service_id: &str) -> Outcome {
    let node = Node::parse(&args.server, None)?;
    let zone = this_node(&node)?.node.and_then(|n| n.zone);
    let (region, zone) = zone.map_or((None, None), |z| (z.region_id, z.zone_id));
    let config = JsonObject::new().str("serviceId", service_id).finish();
    let request = JsonObject::new()
        .raw("discoveryConfig", &config)
        .opt_str("regionId", region.as_deref())
        .opt_str("zoneId", zone.as_deref())
        .finish();
    let (answer, raw) = call_as::<ServiceAnswer>(&node, DISCOVERY_SERVICE, &request)?;
    let instances = answer.service.and_then(|s| s.instances).unwrap_or_default();
    if instances.is_empty() {
        // Discovery answers an unknown service with an empty one; a person asked about a
        // service that is not there.
        return Err(Failure::failed(format!(
            "service {service_id:?} has no discoverable instance on {} (unknown, expired or all pulled out; see `artemis instances`)",
            node.url()
        )));
    }
    if args.json {
        return emit_json(&raw);
    }
    let mut table = Table::new(&["INSTANCE", "IP", "PORT", "ZONE", "URL"]);
    for i in &sorted(instances) {
        table.row(vec![
            cell(i.instance_id.as_deref()),
            cell(i.ip.as_deref()),
            i.port.map_or_else(|| "-".into(), |p| p.to_string()),
            cell(i.zone_id.as_deref()),
            cell(i.url.as_deref()),
        ]);
    }
    emit(table.render().as_bytes())
}

fn managed_service(args: &InstancesArgs) -> Outcome {
    let node = Node::parse(&args.server, None)?;
    let request = JsonObject::new().str("serviceId", &args.service).finish();
    let (answer, raw) = call_as::<ServiceAnswer>(&node, MANAGEMENT_SERVICE, &request)?;
    // An unknown service is answered with `instances: null`.
    let Some(instances) = answer.service.and_then(|s| s.instances) else {
        return Err(Failure::failed(format!(
            "service {:?} has no registered instance on {}",
            args.service,
            node.url()
        )));
    };
    if args.json {
        return emit_json(&raw);
    }
    let mut table = Table::new(&["INSTANCE", "IP", "PORT", "ZONE", "STATUS", "URL"]);
    for i in &sorted(instances) {
        table.row(vec![
            cell(i.instance_id.as_deref()),
            cell(i.ip.as_deref()),
            i.port.map_or_else(|| "-".into(), |p| p.to_string()),
            cell(i.zone_id.as_deref()),
            cell(i.status.as_deref()),
            cell(i.url.as_deref()),
        ]);
    }
    emit(table.render().as_bytes())
}

fn sorted(mut instances: Vec<Instance>) -> Vec<Instance> {
    instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    instances
}
