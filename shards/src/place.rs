//! Where an instance runs — its region, zone and server (`ip`) — which is what pull-outs of a
//! server or a zone match. Kept per instance as one shared string: every instance on the same
//! server (usually many services' worth) points at one interned copy, so a record pays a pointer,
//! not three strings.

use std::sync::Arc;

use hashbrown::HashTable;

use crate::key::table_hash;

/// Separates the parts of a place; ids never contain it.
const SEPARATOR: char = '\u{0}';

/// The joined form `region \0 zone \0 ip`, as [`RegisterItem`](crate::ops::RegisterItem) carries it.
pub fn join(region: &str, zone: &str, ip: &str) -> Box<str> {
    let mut out = String::with_capacity(region.len() + zone.len() + ip.len() + 2);
    out.push_str(region);
    out.push(SEPARATOR);
    out.push_str(zone);
    out.push(SEPARATOR);
    out.push_str(ip);
    out.into_boxed_str()
}

/// `(region, zone, ip)` of a joined place; missing parts are empty.
pub fn parts(place: &str) -> (&str, &str, &str) {
    let mut it = place.splitn(3, SEPARATOR);
    let region = it.next().unwrap_or("");
    let zone = it.next().unwrap_or("");
    let ip = it.next().unwrap_or("");
    (region, zone, ip)
}

/// The shard's interned places. Exact-byte identity (case is kept; matching folds case later).
#[derive(Default)]
pub struct Places {
    table: HashTable<Arc<str>>,
}

impl Places {
    /// The shared copy of `place`, stored on first use.
    pub fn intern(&mut self, place: &str) -> Arc<str> {
        let hash = hash(place);
        if let Some(found) = self.table.find(hash, |p| &**p == place) {
            return found.clone();
        }
        let shared: Arc<str> = place.into();
        self.table
            .insert_unique(hash, shared.clone(), |p| self::hash(p));
        shared
    }

    /// A record holding `place` is going away: forget the place once nothing else uses it.
    pub fn release(&mut self, place: Arc<str>) {
        // Two holders left: the table and the caller's `place`.
        if Arc::strong_count(&place) == 2 {
            if let Ok(entry) = self
                .table
                .find_entry(hash(&place), |p| Arc::ptr_eq(p, &place))
            {
                entry.remove();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

fn hash(place: &str) -> u64 {
    // Case-insensitive hash, exact comparison: equal strings always hash equal.
    table_hash(place)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_split() {
        let joined = join("sha", "zone-1", "10.0.0.1");
        assert_eq!(parts(&joined), ("sha", "zone-1", "10.0.0.1"));
        assert_eq!(parts(""), ("", "", ""));
    }

    #[test]
    fn one_copy_per_place_and_forgotten_with_its_last_user() {
        let mut places = Places::default();
        let a = places.intern("r\0z\0ip");
        let b = places.intern("r\0z\0ip");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(places.len(), 1);
        places.release(a);
        assert_eq!(places.len(), 1, "b still uses it");
        places.release(b);
        assert!(places.is_empty());
    }
}
