//! Which shard owns a service, and splitting a batch by owner.

use smallvec::SmallVec;

use crate::key::route_hash;

#[derive(Clone, Copy, Debug)]
pub struct Router {
    shards: usize,
}

impl Router {
    pub fn new(shards: usize) -> Self {
        assert!(shards > 0, "at least one shard");
        Router { shards }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The owning shard of a service id (case-insensitive).
    pub fn shard_of(&self, service_id: &str) -> usize {
        // Multiply-shift maps the hash onto 0..shards without a division.
        ((u128::from(route_hash(service_id)) * self.shards as u128) >> 64) as usize
    }

    /// Group batch positions by owning shard, keeping request order inside each group.
    /// `ids[i]` is the service id of item `i` (None for items that go to no shard).
    pub fn split<'a>(&self, ids: impl Iterator<Item = Option<&'a str>>) -> Split {
        let mut split = Split {
            groups: SmallVec::new(),
        };
        for (position, id) in ids.enumerate() {
            let Some(id) = id else { continue };
            let shard = self.shard_of(id);
            match split.groups.iter_mut().find(|(s, _)| *s == shard) {
                Some((_, positions)) => positions.push(position as u32),
                None => split
                    .groups
                    .push((shard, SmallVec::from_elem(position as u32, 1))),
            }
        }
        split
    }
}

/// Batch positions grouped by shard.
pub struct Split {
    pub groups: SmallVec<[(usize, SmallVec<[u32; 8]>); 4]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_case_insensitive_and_in_range() {
        let router = Router::new(7);
        for i in 0..1000 {
            let id = format!("Service-{i}");
            let shard = router.shard_of(&id);
            assert!(shard < 7);
            assert_eq!(shard, router.shard_of(&id.to_ascii_uppercase()));
        }
    }

    #[test]
    fn routing_spreads_services() {
        let router = Router::new(4);
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[router.shard_of(&format!("svc{i}"))] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "uneven spread {counts:?}");
        }
    }

    #[test]
    fn split_keeps_order_within_each_shard() {
        let router = Router::new(3);
        let ids: Vec<String> = (0..50).map(|i| format!("s{}", i % 10)).collect();
        let split = router.split(ids.iter().map(|s| Some(s.as_str())).chain([None]));
        let mut all: Vec<u32> = Vec::new();
        for (shard, positions) in &split.groups {
            assert!(positions.windows(2).all(|w| w[0] < w[1]));
            for &p in positions {
                assert_eq!(router.shard_of(&ids[p as usize]), *shard);
            }
            all.extend(positions.iter());
        }
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<u32>>());
    }
}
