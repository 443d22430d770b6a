//! Helpers shared by the unit tests: a private temporary directory per test, sample writes, and
//! a real MariaDB server.

pub(crate) mod java_tables;
pub(crate) mod mariadb;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use protocol::model::management::groups::GroupData;
use protocol::model::management::{
    InstanceKey, ManagementWrite, Operator, ServerKey, Target, ZoneKey,
};

use crate::{Change, Store, StoreError};

/// A fresh directory under the system temp dir, removed (with its files) on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "artemis-persistence-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from an earlier run with the same pid would leak its rows into this test.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn instance(region: &str, service: &str, id: &str) -> Target {
    Target::Instance(InstanceKey {
        region_id: region.into(),
        service_id: service.into(),
        instance_id: id.into(),
    })
}

pub(crate) fn server(region: &str, id: &str) -> Target {
    Target::Server(ServerKey {
        region_id: region.into(),
        server_id: id.into(),
    })
}

pub(crate) fn zone(region: &str, service: &str, id: &str) -> Target {
    Target::Zone(ZoneKey {
        region_id: region.into(),
        service_id: service.into(),
        zone_id: id.into(),
    })
}

/// A pull-out (`complete == false`) or pull-in of `target` for `operation` by `operator_id`.
pub(crate) fn write(
    target: Target,
    operation: &str,
    complete: bool,
    operator_id: &str,
) -> ManagementWrite {
    ManagementWrite {
        targets: vec![(target, operation.into())],
        complete,
        operator: Operator {
            operator_id: operator_id.into(),
            reason: format!("reason of {operator_id}"),
            extensions: format!("{{\"by\":\"{operator_id}\"}}"),
        },
    }
}

/// Committing pull-outs alone, as most traffic tests do.
pub(crate) trait CommitTraffic {
    fn commit_traffic(
        &mut self,
        writes: &[ManagementWrite],
        now_ms: i64,
    ) -> Result<Option<GroupData>, StoreError>;
}

impl<S: Store + ?Sized> CommitTraffic for S {
    fn commit_traffic(
        &mut self,
        writes: &[ManagementWrite],
        now_ms: i64,
    ) -> Result<Option<GroupData>, StoreError> {
        let changes: Vec<Change> = writes.iter().cloned().map(Change::Traffic).collect();
        self.commit(&changes, now_ms)
    }
}
