//! The operator's commands: `artemis services`, `instances`, `pull-out`, `pull-in`, `ops`,
//! `nodes` talk HTTP to a running node; `artemis config check|from-java` work on files.
//!
//! One module per command group; [`client`] is the blocking HTTP client they share (the
//! project's own HTTP/1.1 parser over `std::net`), [`body`] writes request bodies and reads
//! answers, [`table`] lays out what a person reads. Every failure ends as one `artemis: ...`
//! line on stderr and a non-zero exit: [`USAGE`] for a command line that cannot work,
//! [`FAILED`] for anything the node or the network refused.

mod body;
mod client;
pub mod config;
pub mod nodes;
pub mod ops;
pub mod services;
mod table;
pub mod traffic;

use std::io::Write;
use std::process::ExitCode;

/// Exit status of a command line that cannot work (bad flag value, bad URL, invalid file):
/// the same as `artemis server` uses for an invalid config.
pub const USAGE: u8 = 2;
/// Exit status when the node is unreachable or answers anything but success.
pub const FAILED: u8 = 1;

/// Default `--server` of every command that talks to a node.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Why a command failed, and the exit status that says so.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit_code: USAGE,
        }
    }

    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit_code: FAILED,
        }
    }
}

pub type Outcome = Result<(), Failure>;

/// The process exit for `outcome`, printing the failure (once, on stderr).
pub fn finish(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("artemis: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}

/// Writes `text` to stdout. A closed pipe (`artemis services | head`) is not an error: the
/// reader has what it wanted.
fn emit(text: &[u8]) -> Outcome {
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::failed(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes the server's JSON answer as it came, ending with a newline.
fn emit_json(body: &[u8]) -> Outcome {
    let mut text = body.to_vec();
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    emit(&text)
}
