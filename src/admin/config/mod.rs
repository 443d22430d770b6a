//! `artemis config check FILE` (validate a config file exactly as `artemis server` would,
//! without starting) and `artemis config from-java FILE.properties` (convert a Java Artemis
//! server's properties to artemis TOML).

mod from_java;
mod properties;

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::{emit, finish, Failure, Outcome};
use crate::config::{Config, Overrides};

/// Check or convert configuration files.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "config")]
pub struct ConfigArgs {
    #[argh(subcommand)]
    pub command: ConfigCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum ConfigCommand {
    Check(CheckArgs),
    FromJava(FromJavaArgs),
}

/// Validate a TOML config file as `artemis server --config FILE` would, without starting:
/// prints "ok" (exit 0) or what is wrong (exit 2).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {
    /// the TOML config file
    #[argh(positional)]
    pub file: PathBuf,
}

/// Convert a Java Artemis server's properties (artemis.service.* keys) to artemis TOML on
/// stdout; keys that were not converted are listed on stderr.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "from-java")]
pub struct FromJavaArgs {
    /// the Java .properties file
    #[argh(positional)]
    pub file: PathBuf,
}

pub fn main(args: ConfigArgs) -> ExitCode {
    finish(match args.command {
        ConfigCommand::Check(a) => check(&a),
        ConfigCommand::FromJava(a) => from_java(&a),
    })
}

fn check(args: &CheckArgs) -> Outcome {
    // The same loading and validation as the server's start; nothing is bound or opened.
    Config::load(Some(&args.file), Overrides::default()).map_err(Failure::usage)?;
    emit(b"ok\n")
}

fn from_java(args: &FromJavaArgs) -> Outcome {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let properties = properties::parse(&text);
    let conversion =
        from_java::convert(&properties, &args.file.display().to_string()).map_err(|errors| {
            match errors.as_slice() {
                [one] => Failure::usage(one.clone()),
                many => Failure::usage(format!(
                    "{} values cannot be converted:\n  {}",
                    many.len(),
                    many.join("\n  ")
                )),
            }
        })?;
    for note in &conversion.notes {
        eprintln!("# {note}");
    }
    emit(conversion.toml.as_bytes())
}
