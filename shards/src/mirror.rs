//! A core's mirror of what the other cores' shards serve, so discovery reads never cross cores.
//!
//! Each shard publishes the served views that changed ([`Publication`]) in two halves: right
//! after the operation that changed them and before its answer leaves, an invalidation of their
//! ids (cheap); at the end of its core's loop turn, the new bytes of the services other cores
//! mirror (built once per turn, shared by reference by every core: one copy in memory). A core
//! applies what arrived before every read, answers a lookup of another shard's service from its
//! [`Mirror`] when the view is there, and otherwise asks the owner once and keeps the answer
//! ([`Mirror::fill`]).
//!
//! Freshness: a core never serves a view older than a write that any core has answered (the
//! invalidation was queued before the answer, and the reading core applies its queue first); a
//! read concurrent with a write sees the view before or after it. Publications of one owner are
//! numbered and applied in order. As a second guard, after this core's own write to an owner
//! returns, the mirror of that owner serves again only once it applied the publication carrying
//! the write ([`Mirror::require`]).

use std::sync::Arc;

use hashbrown::HashTable;

use crate::key::{same_key, table_hash};
use crate::shard::Served;

/// Served views one shard changed during one loop turn of its core.
#[derive(Default)]
pub struct Publication {
    /// Its number: an owner's publications are numbered 1, 2, ... in order.
    pub seq: u64,
    /// Every view of this owner may be stale (a management snapshot came into effect): drop them.
    pub flush: bool,
    /// Per changed service: its new view, or None where the mirrors should just drop it.
    pub entries: Vec<(Arc<str>, Option<Served>)>,
}

/// One owner's views as this core mirrors them.
struct OwnerViews {
    /// Number of the last publication applied.
    applied: u64,
    /// The mirror may serve only once `applied` reaches this (read-your-writes).
    required: u64,
    views: HashTable<(Arc<str>, Served)>,
}

/// The served views of the other shards that this core holds (core-local: no locks).
pub struct Mirror {
    owners: Vec<OwnerViews>,
    /// Views held per owner at most; past it, answers from the owner are served but not kept.
    max_views: usize,
}

impl Mirror {
    pub fn new(shards: usize, max_views: usize) -> Self {
        Mirror {
            owners: (0..shards)
                .map(|_| OwnerViews {
                    applied: 0,
                    required: 0,
                    views: HashTable::new(),
                })
                .collect(),
            max_views,
        }
    }

    /// The view of `service_id` owned by `owner`, when held and fresh enough; None: ask the owner.
    pub fn get(&self, owner: usize, service_id: &str) -> Option<Served> {
        let o = &self.owners[owner];
        if o.applied < o.required {
            return None;
        }
        o.views
            .find(table_hash(service_id), |(id, _)| same_key(id, service_id))
            .map(|(_, served)| served.clone())
    }

    /// This core's write reached `owner` and will be in its publication `seq` (or an earlier
    /// one): serve nothing of that owner before that publication is applied.
    pub fn require(&mut self, owner: usize, seq: u64) {
        let o = &mut self.owners[owner];
        o.required = o.required.max(seq);
    }

    /// Apply publication number `seq` of `owner` (publications arrive in order, possibly several
    /// merged into one: `seq` is then the last one's).
    pub fn apply(
        &mut self,
        owner: usize,
        seq: u64,
        flush: bool,
        entries: &[(Arc<str>, Option<Served>)],
    ) {
        let max_views = self.max_views;
        let o = &mut self.owners[owner];
        assert!(
            seq >= o.applied,
            "publications of one owner arrive in order"
        );
        o.applied = seq;
        if flush {
            o.views.clear();
        }
        for (id, view) in entries {
            let hash = table_hash(id);
            let room = o.views.len() < max_views;
            let held = o.views.find_entry(hash, |(held, _)| same_key(held, id));
            match (held, view) {
                (Ok(mut held), Some(view)) => held.get_mut().1 = view.clone(),
                (Ok(held), None) => {
                    held.remove();
                }
                (Err(absent), Some(view)) if room => {
                    absent.into_table().insert_unique(
                        hash,
                        (id.clone(), view.clone()),
                        |(id, _)| table_hash(id),
                    );
                }
                (Err(_), _) => {}
            }
        }
    }

    /// Keep a view the owner answered when its last publication at the time, `as_of`, is applied
    /// here: every later change reaches this mirror after it. Otherwise an earlier publication
    /// still on its way could replace it with an older view, so it is not kept.
    pub fn fill(&mut self, owner: usize, as_of: Option<u64>, service_id: &str, view: &Served) {
        let max_views = self.max_views;
        let o = &mut self.owners[owner];
        if as_of != Some(o.applied) {
            return;
        }
        let hash = table_hash(service_id);
        let room = o.views.len() < max_views;
        match o
            .views
            .find_entry(hash, |(held, _)| same_key(held, service_id))
        {
            Ok(mut held) => held.get_mut().1 = view.clone(),
            Err(absent) if room => {
                absent.into_table().insert_unique(
                    hash,
                    (service_id.into(), view.clone()),
                    |(id, _)| table_hash(id),
                );
            }
            Err(_) => {}
        }
    }

    /// Views held, over all owners.
    pub fn len(&self) -> usize {
        self.owners.iter().map(|o| o.views.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(bytes: &str) -> Served {
        Served::Registered(Arc::from(bytes.as_bytes()))
    }

    fn bytes(served: Option<Served>) -> Option<String> {
        match served? {
            Served::Registered(b) | Served::GroupsOnly(b) => {
                Some(String::from_utf8(b.to_vec()).unwrap())
            }
            Served::Unknown => Some("unknown".into()),
        }
    }

    #[test]
    fn serves_published_views_case_insensitively() {
        let mut m = Mirror::new(2, 100);
        assert!(m.get(1, "svc").is_none(), "nothing held: ask the owner");
        m.apply(1, 1, false, &[("Svc".into(), Some(view("v1")))]);
        assert_eq!(bytes(m.get(1, "sVC")), Some("v1".into()));
        m.apply(1, 2, false, &[("svc".into(), Some(view("v2")))]);
        assert_eq!(bytes(m.get(1, "svc")), Some("v2".into()));
        m.apply(1, 3, false, &[("SVC".into(), None)]);
        assert!(m.get(1, "svc").is_none(), "invalidated");
        assert!(m.get(0, "svc").is_none(), "owners are separate");
    }

    #[test]
    fn a_required_publication_holds_reads_back() {
        let mut m = Mirror::new(2, 100);
        m.apply(1, 4, false, &[("svc".into(), Some(view("old")))]);
        m.require(1, 5);
        assert!(m.get(1, "svc").is_none(), "own write not applied yet");
        m.apply(1, 5, false, &[("svc".into(), Some(view("new")))]);
        assert_eq!(bytes(m.get(1, "svc")), Some("new".into()));
        m.require(1, 3);
        assert!(
            m.get(1, "svc").is_some(),
            "an older requirement changes nothing"
        );
    }

    #[test]
    fn fills_only_when_no_older_publication_is_on_its_way() {
        let mut m = Mirror::new(2, 100);
        m.apply(1, 2, false, &[]);
        m.fill(1, Some(3), "svc", &view("answer"));
        assert!(m.get(1, "svc").is_none(), "publication 3 is still coming");
        m.fill(1, Some(2), "svc", &view("answer"));
        assert_eq!(bytes(m.get(1, "svc")), Some("answer".into()));
        m.fill(1, Some(2), "other", &Served::Unknown);
        assert_eq!(bytes(m.get(1, "other")), Some("unknown".into()));
        m.fill(1, None, "third", &view("answer"));
        assert!(
            m.get(1, "third").is_none(),
            "changes of the owner's turn still unpublished"
        );
    }

    #[test]
    fn a_flush_drops_every_view_of_the_owner_and_limits_hold() {
        let mut m = Mirror::new(2, 2);
        m.apply(0, 1, false, &[("a".into(), Some(view("a")))]);
        m.apply(
            1,
            1,
            false,
            &[
                ("a".into(), Some(view("a"))),
                ("b".into(), Some(view("b"))),
                ("c".into(), Some(view("c"))),
            ],
        );
        assert_eq!(m.len(), 3, "two per owner at most");
        m.fill(1, Some(1), "d", &view("d"));
        assert!(m.get(1, "d").is_none(), "full: not kept");
        m.apply(1, 2, true, &[("z".into(), Some(view("z")))]);
        assert!(m.get(1, "a").is_none());
        assert_eq!(
            bytes(m.get(1, "z")),
            Some("z".into()),
            "entries after the flush are kept"
        );
        assert_eq!(bytes(m.get(0, "a")), Some("a".into()));
    }
}
