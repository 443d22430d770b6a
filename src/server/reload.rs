//! SIGHUP: read the config file again (with the same command-line flags on top) and put in force
//! what can change without a restart: the log filter (`log`, unless `RUST_LOG` is set) and the
//! management tokens (`management.tokens`). Every other key that changed is named in a warning
//! as needing a restart; an invalid file changes nothing. The node never stops for a SIGHUP.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::core::Node;
use crate::config::{Config, Overrides};
use crate::logging::{FilterChange, Logging};

/// A value other threads read and a reload replaces whole.
pub struct Swappable<T>(RwLock<Arc<T>>);

impl<T> Swappable<T> {
    pub fn new(value: T) -> Swappable<T> {
        Swappable(RwLock::new(Arc::new(value)))
    }

    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

pub struct Reloader {
    path: Option<PathBuf>,
    overrides: Overrides,
    /// The configuration in force: as loaded at start, with the reloaded keys updated.
    running: Config,
    logging: Logging,
}

/// Keys a reload puts in force.
const LOG_FILTER: &str = "log";
const MANAGEMENT_TOKENS: &str = "management.tokens";

impl Reloader {
    /// `loaded` is the configuration as `Config::load(path, overrides)` returned it at start.
    pub fn new(
        path: Option<PathBuf>,
        overrides: Overrides,
        loaded: Config,
        logging: Logging,
    ) -> Reloader {
        Reloader {
            path,
            overrides,
            running: loaded,
            logging,
        }
    }

    pub fn reload(&mut self, node: &Node) {
        let new = match Config::load(self.path.as_deref(), self.overrides.clone()) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!("reload refused, the running configuration stays: {e}");
                return;
            }
        };
        let changed = match changed_keys(&self.running, &new) {
            Ok(changed) => changed,
            Err(e) => {
                tracing::error!("reload refused: cannot compare the configurations: {e}");
                return;
            }
        };
        if changed.is_empty() {
            tracing::info!("reload: the configuration is unchanged");
            return;
        }
        let mut need_restart = Vec::new();
        for key in changed {
            match key.as_str() {
                LOG_FILTER => self.reload_log_filter(&new.log),
                MANAGEMENT_TOKENS => {
                    // Never the tokens themselves: logs are read more widely than the config.
                    tracing::info!(
                        before = self.running.management.tokens.len(),
                        after = new.management.tokens.len(),
                        "reload: management tokens replaced"
                    );
                    node.management_tokens.set(new.management.tokens.clone());
                    self.running.management.tokens = new.management.tokens.clone();
                }
                _ => need_restart.push(key),
            }
        }
        if !need_restart.is_empty() {
            tracing::warn!(
                keys = %need_restart.join(", "),
                "reload: changed keys need a restart to take effect"
            );
        }
    }

    fn reload_log_filter(&mut self, filter: &str) {
        match self.logging.set_filter(filter) {
            Ok(FilterChange::Applied) => {
                tracing::info!(
                    before = %self.running.log,
                    after = %filter,
                    "reload: log filter changed"
                );
            }
            Ok(FilterChange::OverriddenByEnv) => tracing::warn!(
                after = %filter,
                "reload: `log` changed, but RUST_LOG is set and stays in force"
            ),
            Err(e) => {
                tracing::error!(after = %filter, "reload: log filter not changed: {e}");
                return;
            }
        }
        self.running.log = filter.to_string();
    }
}

/// The dotted keys (`limits.max_connections`) whose values differ between two configurations.
fn changed_keys(old: &Config, new: &Config) -> Result<Vec<String>, String> {
    let (old, new) = (flatten(old)?, flatten(new)?);
    let mut keys: Vec<String> = old
        .iter()
        .filter(|(key, value)| new.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    keys.extend(new.keys().filter(|key| !old.contains_key(*key)).cloned());
    keys.sort();
    Ok(keys)
}

fn flatten(config: &Config) -> Result<BTreeMap<String, toml::Value>, String> {
    let table = toml::Table::try_from(config).map_err(|e| e.to_string())?;
    let mut keys = BTreeMap::new();
    flatten_into(&mut keys, "", table);
    Ok(keys)
}

fn flatten_into(keys: &mut BTreeMap<String, toml::Value>, prefix: &str, table: toml::Table) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten_into(keys, &key, inner),
            leaf => {
                keys.insert(key, leaf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_are_named_by_their_dotted_path() {
        let old = Config::default();
        assert_eq!(changed_keys(&old, &old.clone()), Ok(vec![]));
        let mut new = old.clone();
        new.log = "debug".into();
        new.management.tokens = vec!["t".into()];
        new.limits.max_connections = 10;
        new.listen = "0.0.0.0:9".into();
        assert_eq!(
            changed_keys(&old, &new),
            Ok(vec![
                "limits.max_connections".to_string(),
                "listen".into(),
                "log".into(),
                "management.tokens".into(),
            ])
        );
    }

    #[test]
    fn every_key_of_the_config_is_compared() {
        // Each section flattens to its fields: a change anywhere is seen.
        let keys = flatten(&Config::default()).unwrap();
        for key in [
            "listen",
            "log_format",
            "lease.ttl_ms",
            "ws.max_core_queued_bytes",
            "testing.manual_clock",
            "management.tokens",
        ] {
            assert!(keys.contains_key(key), "{key} missing from {keys:?}");
        }
        assert!(!keys.contains_key("max_connections_explicit"), "not a key");
    }

    #[test]
    fn swappable_values_are_replaced_whole() {
        let tokens = Swappable::new(vec!["a".to_string()]);
        let before = tokens.get();
        tokens.set(vec!["b".into(), "c".into()]);
        assert_eq!(*before, vec!["a".to_string()], "a reader keeps what it got");
        assert_eq!(tokens.get().len(), 2);
    }
}
