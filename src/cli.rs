//! The command line (argh). `artemis server ...` is a contract other tools rely on.

use std::path::PathBuf;

use argh::FromArgs;

use crate::config::Overrides;

/// artemis: a service registry speaking the Artemis wire protocol.
#[derive(FromArgs, Debug)]
pub struct Cli {
    #[argh(subcommand)]
    pub command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Server(ServerArgs),
    Load(load::LoadArgs),
    Services(crate::admin::services::ServicesArgs),
    Instances(crate::admin::services::InstancesArgs),
    PullOut(crate::admin::traffic::PullOutArgs),
    PullIn(crate::admin::traffic::PullInArgs),
    Ops(crate::admin::ops::OpsArgs),
    Nodes(crate::admin::nodes::NodesArgs),
    Config(crate::admin::config::ConfigArgs),
}

/// Run the registry server.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "server")]
pub struct ServerArgs {
    /// TOML config file (see artemis.example.toml); flags override it
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// address to listen on (default 127.0.0.1:8080; port 0 picks a free port)
    #[argh(option)]
    pub listen: Option<String>,
    /// region this node serves (default "default")
    #[argh(option)]
    pub region: Option<String>,
    /// zone this node is in (default "default")
    #[argh(option)]
    pub zone: Option<String>,
    /// directory for durable state (default ./data)
    #[argh(option)]
    pub data_dir: Option<PathBuf>,
    /// number of shards / event-loop threads (default: available cores)
    #[argh(option)]
    pub shards: Option<usize>,
    /// URL advertised to clients and peers (default http://<listen><path-prefix>/)
    #[argh(option)]
    pub node_url: Option<String>,
    /// lease TTL in milliseconds (default 20000)
    #[argh(option)]
    pub lease_ttl_ms: Option<u64>,
    /// also serve every path under this prefix, e.g. /artemis-service
    #[argh(option)]
    pub path_prefix: Option<String>,
    /// event-loop driver: auto (io_uring, falling back to epoll), uring, legacy
    #[argh(option)]
    pub driver: Option<String>,
    /// tests only: the lease clock moves only by POST /debug/clock/advance?ms=N
    #[argh(switch)]
    pub manual_clock: bool,
}

impl ServerArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            region_id: self.region.clone(),
            zone_id: self.zone.clone(),
            data_dir: self.data_dir.clone(),
            shards: self.shards,
            node_url: self.node_url.clone(),
            lease_ttl_ms: self.lease_ttl_ms,
            path_prefix: self.path_prefix.clone(),
            driver: self.driver.clone(),
            manual_clock: self.manual_clock,
        }
    }
}
