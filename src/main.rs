use std::process::ExitCode;

use artemis::admin;
use artemis::cli::{Cli, Command};
use artemis::config::Config;

fn main() -> ExitCode {
    let cli: Cli = argh::from_env();
    match cli.command {
        Command::Server(args) => {
            let mut config = match Config::load(args.config.as_deref(), args.overrides()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("artemis: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&config.log);
            if let Err(e) = artemis::server::accept::reserve_descriptors(&mut config) {
                eprintln!("artemis: {e}");
                return ExitCode::from(2);
            }
            match artemis::server::run::<artemis::api::Api>(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    tracing::error!("{}", failure.message);
                    eprintln!("artemis: {}", failure.message);
                    ExitCode::from(failure.exit_code)
                }
            }
        }
        Command::Load(args) => load::main(args),
        Command::Services(args) => admin::services::services(args),
        Command::Instances(args) => admin::services::instances(args),
        Command::PullOut(args) => admin::traffic::pull_out(args),
        Command::PullIn(args) => admin::traffic::pull_in(args),
        Command::Ops(args) => admin::ops::main(args),
        Command::Nodes(args) => admin::nodes::main(args),
        Command::Config(args) => admin::config::main(args),
    }
}

fn init_logging(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
