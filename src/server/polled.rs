//! Puts in effect the management state the persistence thread found in a shared database
//! (writes other nodes made): one task, on core 0, applies each such snapshot on every shard.
//! With a store only this node writes nothing is ever found and the task just waits.

use std::rc::Rc;

use shards::ops::ApplyManagement;

use crate::server::core::Core;

/// Until the persistence thread stops.
pub async fn run(core: Rc<Core>) {
    while let Ok(snapshot) = core.node.store.next_polled().await {
        // A shard that already holds a newer generation (a local write that committed after
        // the poll) ignores this one; a stopped core has nothing left to serve.
        core.map_reduce(|| ApplyManagement(snapshot.clone()), (), |(), _| ())
            .await;
    }
}
