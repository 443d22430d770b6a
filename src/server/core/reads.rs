//! Discovery reads on any core without crossing cores: this core's own shard answers its
//! services, the core's mirror answers the others' (see `shards::mirror`). Only a view the mirror
//! does not hold (never looked up here, invalidated, or held back until this core's own write is
//! published) is asked of its owner, once, and kept.

use shards::ops::MirrorLookup;
use shards::Served;
use smallvec::SmallVec;

use super::Core;

/// What discovery serves of some ids, in order; a lookup's few fit without an allocation.
pub type ServedViews = SmallVec<[Served; 4]>;

impl Core {
    /// What discovery serves of each id (`Unknown` for `None`), in order.
    pub async fn served_views(&self, ids: &[Option<&str>]) -> ServedViews {
        self.apply_publications();
        let mut found: ServedViews = smallvec::smallvec![Served::Unknown; ids.len()];
        let mut missing: SmallVec<[Option<&str>; 8]> = SmallVec::with_capacity(ids.len());
        let router = &self.node.router;
        {
            let mirror = self.mirror.borrow();
            let mut shard = self.shard.borrow_mut();
            for (id, view) in ids.iter().zip(found.iter_mut()) {
                let mut ask = None;
                if let Some(id) = *id {
                    let owner = router.shard_of(id);
                    let views = &self.metrics.views;
                    if owner == self.id {
                        *view = shard.served(id);
                        views.shard.add(1);
                    } else if let Some(held) = mirror.get(owner, id) {
                        *view = held;
                        views.mirror.add(1);
                    } else {
                        ask = Some(id);
                        views.owner.add(1);
                    }
                }
                missing.push(ask);
            }
        }
        if missing.iter().all(Option::is_none) {
            return found;
        }
        let lookup = |positions: &[u32]| {
            MirrorLookup(
                positions
                    .iter()
                    .map(|&p| missing[p as usize].unwrap_or_default().into())
                    .collect(),
            )
        };
        let answers = self.call_owners(missing.iter().copied(), lookup).await;
        let mut mirror = self.mirror.borrow_mut();
        for ((id, answer), view) in missing.iter().zip(answers).zip(found.iter_mut()) {
            // A shard that is shutting down knows no instance.
            let (Some(id), Some(Ok((served, as_of)))) = (id, answer) else {
                continue;
            };
            mirror.fill(router.shard_of(id), as_of, id, &served);
            *view = served;
        }
        found
    }
}
