//! Which cores have subscribers for which services, kept by the shard that owns the services so
//! a change is sent only to cores that want it. Cores register interest when their first local
//! subscriber for a service appears and withdraw it when the last one leaves.

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::key::{same_key, table_hash};

type Cores = SmallVec<[u16; 4]>;

#[derive(Default)]
pub struct Interest {
    by_service: HashTable<(Box<str>, Cores)>,
    /// Cores with `all-instance-change` subscribers.
    all: Cores,
}

fn add(cores: &mut Cores, core: u16) {
    if !cores.contains(&core) {
        cores.push(core);
    }
}

impl Interest {
    pub fn subscribe(&mut self, service_id: &str, core: u16) {
        let hash = table_hash(service_id);
        match self
            .by_service
            .find_mut(hash, |(s, _)| same_key(s, service_id))
        {
            Some((_, cores)) => add(cores, core),
            None => {
                let entry = (service_id.into(), SmallVec::from_elem(core, 1));
                self.by_service
                    .insert_unique(hash, entry, |(s, _)| table_hash(s));
            }
        }
    }

    pub fn unsubscribe(&mut self, service_id: &str, core: u16) {
        let hash = table_hash(service_id);
        if let Ok(mut entry) = self
            .by_service
            .find_entry(hash, |(s, _)| same_key(s, service_id))
        {
            let cores = &mut entry.get_mut().1;
            cores.retain(|c| *c != core);
            if cores.is_empty() {
                entry.remove();
            }
        }
    }

    pub fn subscribe_all(&mut self, core: u16) {
        add(&mut self.all, core);
    }

    pub fn unsubscribe_all(&mut self, core: u16) {
        self.all.retain(|c| *c != core);
    }

    /// Cores to notify about a change of `service_id`.
    pub fn cores_for(&self, service_id: &str) -> Cores {
        let mut cores = self.all.clone();
        if let Some((_, subscribed)) = self
            .by_service
            .find(table_hash(service_id), |(s, _)| same_key(s, service_id))
        {
            for &c in subscribed {
                add(&mut cores, c);
            }
        }
        cores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_is_case_insensitive_and_deduplicated() {
        let mut i = Interest::default();
        i.subscribe("MySvc", 1);
        i.subscribe("mysvc", 1);
        i.subscribe("MYSVC", 2);
        assert_eq!(i.cores_for("mySvc").as_slice(), &[1, 2]);
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
}
