use std::process::ExitCode;

use artemis::admin;
use artemis::cli::{Command, Parsed};
use artemis::config::Config;
use artemis::logging::Logging;
use artemis::server::reload::Reloader;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let cli = match artemis::cli::parse(&args) {
        Parsed::Run(cli) => *cli,
        Parsed::Exit { text, code: 0 } => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Parsed::Exit { text, code } => {
            eprintln!("{text}");
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Server(args) => {
            let overrides = args.overrides();
            let loaded = match Config::load(args.config.as_deref(), overrides.clone()) {
                Ok(c) => c,
                Err(e) => {
                    // No logger yet: the config says which one.
                    eprintln!("artemis: {e}");
                    return ExitCode::from(2);
                }
            };
            let logging = Logging::init(&loaded.log, loaded.log_format);
            // Each failure from here is logged once, in the configured format.
            let mut config = loaded.clone();
            if let Err(e) = artemis::server::accept::reserve_descriptors(&mut config) {
                tracing::error!("{e}");
                return ExitCode::from(2);
            }
            let reloader = Reloader::new(args.config, overrides, loaded, logging);
            match artemis::server::run::<artemis::api::Api>(config, reloader) {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    tracing::error!("{}", failure.message);
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
