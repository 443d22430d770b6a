//! `[persistence]`: where management data lives (the node's SQLite file, or a MySQL/MariaDB
//! database the cluster shares) and the persistence thread's queue.

use std::time::Duration;

use ::persistence::{redact_url, MySqlOptions, MySqlUrl};
use serde::{Deserialize, Serialize};

/// The environment variable that may hold the shared database's password.
pub const PASSWORD_ENV: &str = "ARTEMIS_PERSISTENCE_PASSWORD";

#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistenceConfig {
    /// Store requests (writes, log queries) waiting for the persistence thread; past it a write
    /// is answered `service-unavailable` at once.
    pub queue_capacity: usize,
    /// Writes committed together in one transaction (one fsync) at most.
    pub max_batch: usize,
    /// `mysql://user:password@host:port/database`: management data in a MySQL/MariaDB database
    /// shared by the nodes of a cluster, in Java Artemis's tables. Empty: the node's own SQLite
    /// file `<data_dir>/artemis.db`.
    pub url: String,
    /// A file holding the database password (trailing whitespace ignored), instead of putting it
    /// in `url` or in `ARTEMIS_PERSISTENCE_PASSWORD`.
    pub password_file: String,
    /// Connections to the shared database held open at most.
    pub pool_size: usize,
    /// How long connecting to the shared database may take; at start, how long an unreachable
    /// server is tried again before the node gives up (exit 2).
    pub connect_timeout_ms: u64,
    /// How long one statement may wait for the shared database (its answer, or a row lock).
    pub query_timeout_ms: u64,
    /// How often a node polls the shared database for management rows other nodes wrote
    /// (ignored with the SQLite store, which only this node writes).
    pub poll_interval_ms: u64,
}

/// Written out with the URL's password replaced by `***`: it must never reach a log line.
impl std::fmt::Debug for PersistenceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistenceConfig")
            .field("queue_capacity", &self.queue_capacity)
            .field("max_batch", &self.max_batch)
            .field("url", &redact_url(&self.url))
            .field("password_file", &self.password_file)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        PersistenceConfig {
            queue_capacity: 4096,
            max_batch: 1024,
            url: String::new(),
            password_file: String::new(),
            pool_size: 4,
            connect_timeout_ms: 10_000,
            query_timeout_ms: 10_000,
            poll_interval_ms: 500,
        }
    }
}

impl PersistenceConfig {
    /// Management data lives in a database other nodes write too (`persistence.url` is set).
    pub fn is_shared(&self) -> bool {
        !self.url.is_empty()
    }

    /// The URL and the password file are checked here; the password itself is read at start
    /// ([`PersistenceConfig::mysql_options`]).
    pub fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            if !self.password_file.is_empty() {
                return Err(
                    "persistence.password_file: set only with persistence.url (the embedded \
                     SQLite store has no password)"
                        .into(),
                );
            }
            return Ok(());
        }
        MySqlUrl::parse(&self.url).map_err(|e| format!("persistence.url: {e}"))?;
        Ok(())
    }

    /// How to reach the shared database, `None` for the embedded store. The password comes from
    /// exactly one of the URL, `password_file` and the environment variable
    /// [`PASSWORD_ENV`] (or none: a server that needs none); errors never show it.
    pub fn mysql_options(&self) -> Result<Option<MySqlOptions>, String> {
        self.mysql_options_with(std::env::var(PASSWORD_ENV).ok())
    }

    fn mysql_options_with(
        &self,
        env_password: Option<String>,
    ) -> Result<Option<MySqlOptions>, String> {
        if self.url.is_empty() {
            return Ok(None);
        }
        let url = MySqlUrl::parse(&self.url).map_err(|e| format!("persistence.url: {e}"))?;
        let env_password = env_password.filter(|p| !p.is_empty());
        let mut sources = Vec::new();
        if url.has_password() {
            sources.push("persistence.url");
        }
        if !self.password_file.is_empty() {
            sources.push("persistence.password_file");
        }
        if env_password.is_some() {
            sources.push(PASSWORD_ENV);
        }
        if sources.len() > 1 {
            return Err(format!(
                "the database password is given by {}: give it one way only",
                sources.join(" and ")
            ));
        }
        let password = if self.password_file.is_empty() {
            env_password
        } else {
            Some(self.read_password_file()?)
        };
        Ok(Some(MySqlOptions {
            url,
            password,
            pool_size: self.pool_size,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            query_timeout: Duration::from_millis(self.query_timeout_ms),
        }))
    }

    fn read_password_file(&self) -> Result<String, String> {
        let file = &self.password_file;
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("persistence.password_file: cannot read {file}: {e}"))?;
        let password = text.trim_end().to_owned();
        if password.is_empty() {
            return Err(format!("persistence.password_file: {file} is empty"));
        }
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> PersistenceConfig {
        PersistenceConfig {
            url: url.into(),
            ..PersistenceConfig::default()
        }
    }

    #[test]
    fn an_empty_url_is_the_embedded_store() {
        let config = PersistenceConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(config
            .mysql_options_with(Some("pw".into()))
            .unwrap()
            .is_none());
        let stray = PersistenceConfig {
            password_file: "/etc/artemis/db-password".into(),
            ..PersistenceConfig::default()
        };
        assert!(stray
            .validate()
            .unwrap_err()
            .starts_with("persistence.password_file"));
    }

    #[test]
    fn a_bad_url_is_refused_by_name_without_its_password() {
        let error = with_url("mysql://u:hunter2@db:3306")
            .validate()
            .unwrap_err();
        assert!(error.starts_with("persistence.url: "), "{error}");
        assert!(error.contains("names no database"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert_eq!(
            with_url("mysql://u:hunter2@db:3306/artemis").validate(),
            Ok(())
        );
    }

    #[test]
    fn the_password_comes_from_exactly_one_source() {
        let options = with_url("mysql://u:from-url@db/artemis")
            .mysql_options_with(None)
            .unwrap()
            .unwrap();
        assert_eq!(options.password, None, "the URL keeps its own");
        assert!(options.url.has_password());

        let options = with_url("mysql://u@db/artemis")
            .mysql_options_with(Some("from-env".into()))
            .unwrap()
            .unwrap();
        assert_eq!(options.password.as_deref(), Some("from-env"));

        let dir = std::env::temp_dir().join(format!("artemis-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, "from-file\n").unwrap();
        let config = PersistenceConfig {
            password_file: file.display().to_string(),
            ..with_url("mysql://u@db/artemis")
        };
        let options = config.mysql_options_with(None).unwrap().unwrap();
        assert_eq!(options.password.as_deref(), Some("from-file"));
        assert!(!format!("{options:?}").contains("from-file"));

        let error = config
            .mysql_options_with(Some("from-env".into()))
            .unwrap_err();
        assert!(error.contains("persistence.password_file and ARTEMIS_PERSISTENCE_PASSWORD"));
        let both = PersistenceConfig {
            url: "mysql://u:from-url@db/artemis".into(),
            ..config.clone()
        };
        let error = both.mysql_options_with(None).unwrap_err();
        assert!(
            error.contains("persistence.url and persistence.password_file"),
            "{error}"
        );
        assert!(!error.contains("from-url"), "{error}");

        std::fs::write(&file, " \n").unwrap();
        let error = config.mysql_options_with(None).unwrap_err();
        assert!(error.ends_with("is empty"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let config = with_url("mysql://u:hunter2@db/artemis");
        let shown = format!("{config:?}");
        assert!(shown.contains("mysql://u:***@db/artemis"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
