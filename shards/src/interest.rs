//! Which cores have subscribers for which services, kept by the shard that owns the services so
//! a change is sent only to cores that want it.
//!
//! Interest is a count per (service, core): each subscription of a session adds one, its end
//! removes one. Counting makes the requests commute, so subscribe and unsubscribe messages from
//! different sessions of a core may arrive in any order (retries under backpressure reorder them)
//! without ever dropping a live subscription. A session's own unsubscribe is only sent after its
//! subscribe was acknowledged, so a count never goes below zero.

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::key::{same_key, table_hash};

/// (core, subscriptions from that core).
type Counts = SmallVec<[(u16, u32); 4]>;

#[derive(Default)]
pub struct Interest {
    by_service: HashTable<(Box<str>, Counts)>,
    /// Cores with `all-instance-change` subscribers.
    all: Counts,
}

fn add(counts: &mut Counts, core: u16) {
    match counts.iter_mut().find(|(c, _)| *c == core) {
        Some((_, n)) => *n += 1,
        None => counts.push((core, 1)),
    }
}

/// Panics if `core` holds no subscription: its unsubscribe is sent only after its subscribe was
/// applied, so a missing count is a broken invariant, not a race.
fn remove(counts: &mut Counts, core: u16) {
    let i = counts
        .iter()
        .position(|(c, _)| *c == core)
        .expect("unsubscribe follows its subscribe");
    assert!(counts[i].1 > 0, "zero counts are removed, never kept");
    counts[i].1 -= 1;
    if counts[i].1 == 0 {
        counts.swap_remove(i);
    }
}

impl Interest {
    pub fn subscribe(&mut self, service_id: &str, core: u16) {
        let hash = table_hash(service_id);
        match self
            .by_service
            .find_mut(hash, |(s, _)| same_key(s, service_id))
        {
            Some((_, counts)) => add(counts, core),
            None => {
                let entry = (service_id.into(), SmallVec::from_elem((core, 1), 1));
                self.by_service
                    .insert_unique(hash, entry, |(s, _)| table_hash(s));
            }
        }
    }

    pub fn unsubscribe(&mut self, service_id: &str, core: u16) {
        let hash = table_hash(service_id);
        let Ok(mut entry) = self
            .by_service
            .find_entry(hash, |(s, _)| same_key(s, service_id))
        else {
            panic!("unsubscribe from {service_id:?} follows its subscribe");
        };
        let counts = &mut entry.get_mut().1;
        remove(counts, core);
        if counts.is_empty() {
            entry.remove();
        }
    }

    pub fn subscribe_all(&mut self, core: u16) {
        add(&mut self.all, core);
    }

    pub fn unsubscribe_all(&mut self, core: u16) {
        remove(&mut self.all, core);
    }

    /// Cores to notify about a change of `service_id`, each once.
    pub fn cores_for(&self, service_id: &str) -> SmallVec<[u16; 4]> {
        let mut cores: SmallVec<[u16; 4]> = self.all.iter().map(|&(c, _)| c).collect();
        if let Some((_, subscribed)) = self
            .by_service
            .find(table_hash(service_id), |(s, _)| same_key(s, service_id))
        {
            for &(c, _) in subscribed {
                if !cores.contains(&c) {
                    cores.push(c);
                }
            }
        }
        cores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_is_case_insensitive_and_counted() {
        let mut i = Interest::default();
        i.subscribe("MySvc", 1);
        i.subscribe("mysvc", 1);
        i.subscribe("MYSVC", 2);
        assert_eq!(i.cores_for("mySvc").as_slice(), &[1, 2]);
        i.unsubscribe("mysvc", 1);
        assert_eq!(
            i.cores_for("mysvc").as_slice(),
            &[1, 2],
            "one subscription of core 1 left"
        );
        i.unsubscribe("mysvc", 1);
        assert_eq!(i.cores_for("mysvc").as_slice(), &[2]);
        i.unsubscribe("mysvc", 2);
        assert!(i.cores_for("mysvc").is_empty());
        i.subscribe_all(3);
        i.subscribe("x", 3);
        assert_eq!(i.cores_for("x").as_slice(), &[3]);
        assert_eq!(i.cores_for("other").as_slice(), &[3]);
        i.unsubscribe_all(3);
        assert!(i.cores_for("other").is_empty());
    }

    #[test]
    fn reordered_requests_of_different_sessions_keep_live_interest() {
        // Session A (subscribed) leaves while session B joins; B's subscribe overtakes A's
        // unsubscribe. B must still be served.
        let mut i = Interest::default();
        i.subscribe("svc", 1); // A
        i.subscribe("svc", 1); // B, arriving first
        i.unsubscribe("svc", 1); // A's, arriving late
        assert_eq!(i.cores_for("svc").as_slice(), &[1]);
    }
}
