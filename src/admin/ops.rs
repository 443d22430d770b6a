//! `artemis ops [--service ID] [--kind instance|server|zone]`: the operation logs (spec §10.6)
//! of pull-outs and pull-ins, newest first.

use std::process::ExitCode;

use argh::FromArgs;
use serde::Deserialize;

use super::body::{call_as, JsonObject};
use super::client::Node;
use super::table::{cell, utc_time, Table};
use super::{emit, finish, Failure, Outcome, DEFAULT_SERVER};

/// Show the operation log of pull-outs and pull-ins, newest first.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "ops")]
pub struct OpsArgs {
    /// only operations on this service's instances and zones (server operations name no
    /// service, so they are left out)
    #[argh(option)]
    pub service: Option<String>,
    /// only this kind of target: instance, server or zone (default: all three)
    #[argh(option)]
    pub kind: Option<String>,
    /// only operations in this region (default: every region)
    #[argh(option)]
    pub region: Option<String>,
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// print {"instance": <answer>, "server": <answer>, "zone": <answer>} with the node's JSON
    /// answer for each kind asked for, instead of a table
    #[argh(switch)]
    pub json: bool,
}

/// A log table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Instance,
    Server,
    Zone,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Instance, Kind::Server, Kind::Zone];

    fn name(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Server => "server",
            Kind::Zone => "zone",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Instance => "/api/management/log/instance-operation-logs.json",
            Kind::Server => "/api/management/log/server-operation-logs.json",
            Kind::Zone => "/api/management/log/zone-operation-logs.json",
        }
    }

    /// What a row of this kind is about, as one cell.
    fn target(self, row: &LogRow) -> String {
        let part = |s: &Option<String>| cell(s.as_deref());
        match self {
            Kind::Instance => format!("{}/{}", part(&row.service_id), part(&row.instance_id)),
            Kind::Server => part(&row.server_id),
            Kind::Zone => format!("{}/{}", part(&row.service_id), part(&row.zone_id)),
        }
    }
}

/// One log row, as far as the table shows it.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct LogRow {
    id: Option<i64>,
    region_id: Option<String>,
    service_id: Option<String>,
    instance_id: Option<String>,
    server_id: Option<String>,
    zone_id: Option<String>,
    operation: Option<String>,
    operator_id: Option<String>,
    complete: Option<bool>,
    create_time: Option<i64>,
}

#[derive(Deserialize)]
struct LogsAnswer {
    logs: Option<Vec<LogRow>>,
}

pub fn main(args: OpsArgs) -> ExitCode {
    finish(run(&args))
}

fn run(args: &OpsArgs) -> Outcome {
    let kinds = kinds(args.kind.as_deref(), args.service.is_some())?;
    let node = Node::parse(&args.server, None)?;
    let filter = JsonObject::new()
        .opt_str("regionId", args.region.as_deref())
        .opt_str("serviceId", args.service.as_deref())
        .finish();
    let mut rows = Vec::new();
    let mut answers = JsonObject::new();
    for kind in kinds {
        let (answer, raw) = call_as::<LogsAnswer>(&node, kind.path(), &filter)?;
        rows.extend(
            answer
                .logs
                .unwrap_or_default()
                .into_iter()
                .map(|r| (kind, r)),
        );
        answers = answers.raw(kind.name(), &raw);
    }
    if args.json {
        let mut out = answers.finish();
        out.push(b'\n');
        return emit(&out);
    }
    // Newest first across the tables (each answer already is); ids break ties within one.
    rows.sort_by_key(|(_, r)| std::cmp::Reverse((r.create_time, r.id)));
    let mut table = Table::new(&[
        "TIME",
        "KIND",
        "REGION",
        "TARGET",
        "ACTION",
        "OPERATION",
        "OPERATOR",
    ]);
    for (kind, row) in &rows {
        let action = match row.complete {
            Some(true) => "pull-in",
            Some(false) => "pull-out",
            None => "-",
        };
        table.row(vec![
            row.create_time.map_or_else(|| "-".into(), utc_time),
            kind.name().into(),
            cell(row.region_id.as_deref()),
            kind.target(row),
            action.into(),
            cell(row.operation.as_deref()),
            cell(row.operator_id.as_deref()),
        ]);
    }
    emit(table.render().as_bytes())
}

/// The log tables to read: `--kind`, or all three; server logs name no service, so with
/// `--service` they are left out, and asking for them is a usage error.
fn kinds(kind: Option<&str>, by_service: bool) -> Result<Vec<Kind>, Failure> {
    let Some(name) = kind else {
        return Ok(Kind::ALL
            .into_iter()
            .filter(|k| !(by_service && *k == Kind::Server))
            .collect());
    };
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--kind: {name:?} is not one of instance, server, zone"
            ))
        })?;
    if by_service && kind == Kind::Server {
        return Err(Failure::usage(
            "--service cannot filter server operations (they name no service)",
        ));
    }
    Ok(vec![kind])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_flags() {
        assert_eq!(kinds(None, false), Ok(Kind::ALL.to_vec()));
        assert_eq!(kinds(None, true), Ok(vec![Kind::Instance, Kind::Zone]));
        assert_eq!(kinds(Some("zone"), true), Ok(vec![Kind::Zone]));
        assert_eq!(kinds(Some("server"), false), Ok(vec![Kind::Server]));
        assert_eq!(
            kinds(Some("server"), true).unwrap_err().exit_code,
            crate::admin::USAGE
        );
        assert!(kinds(Some("group"), false)
            .unwrap_err()
            .message
            .starts_with("--kind"));
    }
}
