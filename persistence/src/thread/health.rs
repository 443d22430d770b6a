//! Whether the database answers, as the persistence thread last saw it (a poll or a commit),
//! with one log line when it is lost, one when it is back, and a reminder now and then while
//! it stays unreachable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{StoreError, StoreErrorKind};

/// Between two "still unreachable" lines (a poll fails every `poll_interval_ms` meanwhile).
const REMINDER: Duration = Duration::from_secs(30);

pub(super) struct Health {
    /// Since when the database has not answered; `None` while it answers.
    down_since: Option<Instant>,
    /// When the last failure was logged; failures are logged at most once per [`REMINDER`].
    last_logged: Option<Instant>,
}

impl Health {
    pub(super) fn new() -> Health {
        Health {
            down_since: None,
            last_logged: None,
        }
    }

    /// Record the outcome of one store operation; `down` is the flag handles read.
    pub(super) fn observe(&mut self, outcome: Result<(), &StoreError>, down: &AtomicBool) {
        let now = Instant::now();
        match (outcome, self.down_since) {
            (Ok(()), Some(since)) => {
                tracing::info!(
                    down_ms = since.elapsed().as_millis() as u64,
                    "the management database answers again"
                );
                self.down_since = None;
                down.store(false, Ordering::Relaxed);
            }
            (Err(error), None) if error.kind == StoreErrorKind::Unavailable => {
                tracing::error!(
                    error = %error,
                    "the management database is unreachable: management writes answer \
                     service-unavailable and discovery keeps the last management state until \
                     it answers again"
                );
                self.down_since = Some(now);
                self.last_logged = Some(now);
                down.store(true, Ordering::Relaxed);
            }
            (Err(error), since)
                if self
                    .last_logged
                    .is_none_or(|logged| now.duration_since(logged) >= REMINDER) =>
            {
                match since {
                    Some(since) => tracing::warn!(
                        error = %error,
                        down_ms = since.elapsed().as_millis() as u64,
                        "the management database is still unreachable"
                    ),
                    None => {
                        tracing::warn!(error = %error, "polling the management database failed")
                    }
                }
                self.last_logged = Some(now);
            }
            _ => {}
        }
    }
}
