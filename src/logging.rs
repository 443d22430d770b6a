//! Logging to stderr: the filter (`RUST_LOG`, else the config's `log` key, reloadable on SIGHUP),
//! the line format (`log_format`), and what the environment decides: ANSI colours only on a
//! terminal and never with `NO_COLOR`, and under journald no timestamps (the journal adds its
//! own) but a `<N>` priority prefix, so `journalctl -p warning` works.

mod lines;

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::LogFormat;

pub use lines::LineFormat;

/// How lines are written, decided once at start from the config and the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub format: LogFormat,
    pub timestamps: bool,
    pub ansi: bool,
    /// Start each line with its syslog priority, `<3>` for an error ... `<7>` for trace, which
    /// journald reads (and strips) to set the entry's priority.
    pub priority_prefix: bool,
}

/// What [`Style::decide`] looks at, read from the process (kept apart so tests can vary it).
pub struct Environment {
    pub stderr_is_terminal: bool,
    /// `NO_COLOR`: any non-empty value turns colours off (<https://no-color.org>).
    pub no_color: Option<String>,
    /// `JOURNAL_STREAM` names stderr's device and inode: systemd connected it to the journal.
    pub stderr_is_journal: bool,
}

impl Environment {
    pub fn of_this_process() -> Environment {
        Environment {
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var("NO_COLOR").ok(),
            stderr_is_journal: std::env::var("JOURNAL_STREAM")
                .is_ok_and(|stream| names_stderr(&stream)),
        }
    }
}

impl Style {
    pub fn decide(format: LogFormat, env: &Environment) -> Style {
        let no_color = env.no_color.as_deref().is_some_and(|v| !v.is_empty());
        Style {
            format,
            timestamps: !env.stderr_is_journal,
            ansi: format == LogFormat::Human && env.stderr_is_terminal && !no_color,
            priority_prefix: env.stderr_is_journal,
        }
    }
}

/// `JOURNAL_STREAM` is `<device>:<inode>` of the stream systemd connected; stderr is the journal
/// only if it is still that file (a shell started from the service may have redirected it).
fn names_stderr(journal_stream: &str) -> bool {
    let Some((dev, ino)) = journal_stream.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat writes into a zeroed stat we own; fd 2 is only inspected.
    let stat = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(libc::STDERR_FILENO, &mut stat) != 0 {
            return false;
        }
        stat
    };
    stat.st_dev as u64 == dev && stat.st_ino as u64 == ino
}

/// The installed logger's filter, which a reload can replace.
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG`, which wins over the config's `log` key at start and on every reload.
    rust_log: Option<String>,
}

/// What [`Logging::set_filter`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum FilterChange {
    Applied,
    /// `RUST_LOG` is set: it stays in force, whatever the config says.
    OverriddenByEnv,
}

impl Logging {
    /// Install the process's logger. `filter` is the config's `log` key (already validated),
    /// used when `RUST_LOG` is unset or invalid.
    pub fn init(filter: &str, format: LogFormat) -> Logging {
        let env = std::env::var("RUST_LOG").ok();
        let rust_log = env.clone().filter(|v| EnvFilter::try_new(v).is_ok());
        let initial = EnvFilter::try_new(rust_log.as_deref().unwrap_or(filter))
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let (filter_layer, handle) = reload::Layer::new(initial);
        let style = Style::decide(format, &Environment::of_this_process());
        let output = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(style.ansi)
            .event_format(LineFormat::new(style));
        tracing_subscriber::registry()
            .with(filter_layer)
            .with(output)
            .init();
        if let (Some(env), None) = (&env, &rust_log) {
            tracing::warn!(rust_log = %env, log = %filter, "RUST_LOG is not a log filter; using `log`");
        }
        Logging {
            filter: handle,
            rust_log,
        }
    }

    /// Put the config's `log` filter in force (unless `RUST_LOG` overrides it).
    pub fn set_filter(&self, directives: &str) -> Result<FilterChange, String> {
        if self.rust_log.is_some() {
            return Ok(FilterChange::OverriddenByEnv);
        }
        let filter = EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
        self.filter
            .reload(filter)
            .map_err(|e| format!("cannot replace the log filter: {e}"))?;
        Ok(FilterChange::Applied)
    }
}

#[cfg(test)]
mod tests;
