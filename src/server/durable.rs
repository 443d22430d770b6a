//! The node's durable state at start and stop: the management store is opened (a database that
//! cannot be opened stops the start with exit code 2, and is never recreated), its pull-outs and
//! the registry a graceful stop saved are loaded before any core serves, and at the next
//! graceful stop the registry is saved again (see docs/decisions.md for what survives what).
//!
//! The management store is the node's SQLite file, or the MySQL/MariaDB database of
//! `persistence.url` that the cluster shares; the saved registry is the node's own and stays in
//! its SQLite file either way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use persistence::{Handle, Limits, MySqlStore, Persistence, SavedInstance, SqliteStore, Store};
use protocol::model::management::ManagementSnapshot;
use protocol::model::{parse, Instance};
use shards::ops::RegisterItem;
use shards::Router;

use crate::config::Config;

/// The store, running on its own thread, and what it held at start.
pub struct Durable {
    pub persistence: Persistence,
    pub handle: Handle,
    /// Generation 1: every shard starts from it.
    pub management: Arc<ManagementSnapshot>,
    /// Per shard: the saved instances it owns, to register (see `Node::restore` for when).
    pub restore: Vec<Vec<RegisterItem>>,
    /// The saved registry must be emptied once every core holds it (or, with
    /// `registry.restore_on_start` off, because it must never be restored later).
    pub clear_saved_registry: bool,
}

/// Why the store could not be started. Exit code 2: the operator must look at the database.
pub struct StoreFailure(pub String);

/// Open `<data_dir>/artemis.db` (and the shared database, when configured), load them, and
/// start the persistence thread.
pub fn open(config: &Config, router: &Router) -> Result<Durable, StoreFailure> {
    let path = config.database_path();
    let local = SqliteStore::open(&path).map_err(|e| StoreFailure(e.to_string()))?;
    let shared = config.persistence.mysql_options().map_err(StoreFailure)?;
    let (mut store, name): (Box<dyn Store>, String) = match shared {
        None => (Box::new(local), path.display().to_string()),
        Some(options) => {
            let name = options.url.redacted().to_owned();
            tracing::info!(database = %name, "management data in the shared MySQL database");
            let store =
                MySqlStore::open(&options, local).map_err(|e| StoreFailure(e.to_string()))?;
            (Box::new(store), name)
        }
    };
    let loading = |e: persistence::StoreError| StoreFailure(format!("cannot load {name}: {e}"));
    let mut management = store.load_management().map_err(loading)?;
    management.generation = 1;
    let (restore, clear_saved_registry) = if config.registry.restore_on_start {
        let saved = store.load_registry().map_err(loading)?;
        let restoring = !saved.is_empty();
        if restoring {
            tracing::info!(
                instances = saved.len(),
                "restoring the registry saved at the last stop"
            );
        }
        (partition(saved, router), restoring)
    } else {
        ((0..router.shards()).map(|_| Vec::new()).collect(), true)
    };
    let limits = Limits {
        queue_capacity: config.persistence.queue_capacity,
        max_batch: config.persistence.max_batch,
        // Only a shared database changes under the node's feet: other nodes write it too.
        poll_interval: config
            .persistence
            .is_shared()
            .then(|| Duration::from_millis(config.persistence.poll_interval_ms)),
    };
    let (persistence, handle) = Persistence::start(store, management.clone(), limits)
        .map_err(|e| StoreFailure(format!("cannot start the persistence thread: {e}")))?;
    Ok(Durable {
        persistence,
        handle,
        management: Arc::new(management),
        restore,
        clear_saved_registry,
    })
}

/// The saved instances grouped by owner shard. An entry whose JSON no longer parses is skipped
/// (logged): restoring is best effort, its owner registers again anyway.
fn partition(saved: Vec<SavedInstance>, router: &Router) -> Vec<Vec<RegisterItem>> {
    let mut per_shard: Vec<Vec<RegisterItem>> = (0..router.shards()).map(|_| Vec::new()).collect();
    let mut skipped = 0usize;
    for instance in saved {
        let place = match parse::<Instance>(&instance.json) {
            Ok(parsed) => {
                let text = |s: &Option<std::borrow::Cow<'_, str>>| -> String {
                    s.as_deref().unwrap_or_default().to_owned()
                };
                shards::place::join(
                    &text(&parsed.region_id),
                    &text(&parsed.zone_id),
                    &text(&parsed.ip),
                )
            }
            Err(_) => {
                skipped += 1;
                continue;
            }
        };
        let owner = router.shard_of(&instance.service_id);
        per_shard[owner].push(RegisterItem {
            service_id: instance.service_id.into(),
            instance_id: instance.instance_id.into(),
            legacy: instance.legacy,
            json: instance.json.into(),
            place,
        });
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "saved instances that do not parse were not restored"
        );
    }
    per_shard
}

/// Once every core serves, forget the restored instances in the store: a crash later must not
/// bring back instances from this old stop. They are in memory already (registered, or kept
/// aside by a starting node), so a failure here only logs.
pub fn clear_saved_registry(handle: &Handle) {
    match handle.save_registry(Vec::new()).wait_timeout(CLEAR_WAIT) {
        Some(Ok(())) => {}
        Some(Err(e)) => tracing::warn!(error = %e, "cannot clear the saved registry"),
        None => tracing::warn!("clearing the saved registry is taking long; going on"),
    }
}

const CLEAR_WAIT: Duration = Duration::from_secs(5);

/// Write the instances the cores collected as they stopped, waiting at most until `deadline`
/// (and at least one second, so a grace period spent draining connections still saves).
/// Returns false if the store did not finish in time: the caller must not wait for it.
pub fn save_registry(handle: &Handle, instances: Vec<SavedInstance>, deadline: Instant) -> bool {
    let count = instances.len();
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1));
    match handle.save_registry(instances).wait_timeout(wait) {
        Some(Ok(())) => {
            tracing::info!(instances = count, "registry saved for the next start");
            true
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "cannot save the registry; the next start begins empty");
            true
        }
        None => {
            tracing::error!(
                waited_ms = wait.as_millis() as u64,
                "saving the registry did not finish in time; stopping without it"
            );
            false
        }
    }
}
