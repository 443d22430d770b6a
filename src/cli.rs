//! The command line (argh). `artemis server ...` is a contract other tools rely on.

use std::path::PathBuf;

use argh::FromArgs;

use crate::config::Overrides;

/// artemis: a service registry speaking the Artemis wire protocol.
#[derive(FromArgs, Debug)]
#[argh(
    note = "`artemis --version` (or -V) prints the version and the git commit it was built from."
)]
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
    /// pin each core's thread to its own CPU: auto (when there are enough CPUs), off
    #[argh(option)]
    pub pin_cores: Option<String>,
    /// tests only: the lease clock moves only by POST /debug/clock/advance?ms=N
    #[argh(switch)]
    pub manual_clock: bool,
    /// every node of the cluster, Java's syntax: zoneA:url1,url2;zoneB:url3 (this node included)
    #[argh(option)]
    pub cluster_nodes: Option<String>,
    /// report up at once, without copying the registry from a peer (the first node of a cluster)
    #[argh(switch)]
    pub force_up: bool,
    /// shared management database, mysql://user@host:3306/db (default: the node's SQLite file);
    /// prefer persistence.password_file or ARTEMIS_PERSISTENCE_PASSWORD to a password here
    #[argh(option)]
    pub persistence_url: Option<String>,
}

/// `artemis <version> (<git commit>)`; the commit is "unknown" for a build outside a git checkout.
pub const VERSION: &str = concat!(
    "artemis ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ARTEMIS_GIT_COMMIT"),
    ")"
);

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Cli>),
    /// Print `text` and exit with `code`: the version or help (stdout, 0), or a usage error
    /// (stderr, 2, the exit code of any configuration error).
    Exit {
        text: String,
        code: u8,
    },
}

/// Parse `args` (the program name first). argh itself would exit 1 on a usage error; the exit
/// code is decided here instead.
pub fn parse(args: &[String]) -> Parsed {
    let (program, rest) = match args.split_first() {
        Some((program, rest)) => (program.as_str(), rest),
        None => ("artemis", &[][..]),
    };
    if let [only] = rest {
        if only == "--version" || only == "-V" {
            return Parsed::Exit {
                text: VERSION.into(),
                code: 0,
            };
        }
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match Cli::from_args(&[program], &rest) {
        Ok(cli) => Parsed::Run(Box::new(cli)),
        Err(exit) => Parsed::Exit {
            text: exit.output,
            code: if exit.status.is_ok() { 0 } else { 2 },
        },
    }
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
            pin_cores: self.pin_cores.clone(),
            manual_clock: self.manual_clock,
            cluster_nodes: self.cluster_nodes.clone(),
            force_up: self.force_up,
            persistence_url: self.persistence_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Parsed {
        let args: Vec<String> = words.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn exit_of(words: &str) -> (String, u8) {
        match parse_words(words) {
            Parsed::Exit { text, code } => (text, code),
            Parsed::Run(cli) => panic!("{words:?} parsed as {cli:?}"),
        }
    }

    #[test]
    fn version_names_the_package_version_and_commit() {
        for words in ["artemis --version", "artemis -V"] {
            let (text, code) = exit_of(words);
            assert_eq!(code, 0, "{words}");
            assert_eq!(text, VERSION);
        }
        assert!(VERSION.starts_with(&format!("artemis {} (", env!("CARGO_PKG_VERSION"))));
        assert!(
            VERSION.ends_with(')') && !VERSION.ends_with("()"),
            "{VERSION}"
        );
    }

    #[test]
    fn usage_errors_exit_2_and_help_exits_0() {
        let (text, code) = exit_of("artemis server --no-such-flag");
        assert_eq!(code, 2);
        assert!(text.contains("--no-such-flag"), "{text}");
        let (_, code) = exit_of("artemis");
        assert_eq!(code, 2, "a missing subcommand is a usage error");
        let (_, code) = exit_of("artemis server --shards");
        assert_eq!(code, 2, "an option without its value");
        let (text, code) = exit_of("artemis --help");
        assert_eq!(code, 0);
        assert!(
            text.contains("--version"),
            "help mentions --version: {text}"
        );
    }

    #[test]
    fn server_flags_parse() {
        let Parsed::Run(cli) = parse_words("artemis server --listen localhost:0 --shards 2") else {
            panic!("server flags refused");
        };
        let Command::Server(args) = cli.command else {
            panic!("not the server command: {cli:?}");
        };
        assert_eq!(args.listen.as_deref(), Some("localhost:0"));
        assert_eq!(args.shards, Some(2));
        let Parsed::Run(cli) = parse_words("artemis server --persistence-url mysql://u@h/db")
        else {
            panic!("--persistence-url refused");
        };
        let Command::Server(args) = cli.command else {
            panic!("not the server command: {cli:?}");
        };
        assert_eq!(
            args.overrides().persistence_url.as_deref(),
            Some("mysql://u@h/db")
        );
    }
}
