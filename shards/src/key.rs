//! Case-insensitive keys.
//!
//! Service and instance ids are matched ASCII-case-insensitively everywhere (spec: "store and match
//! case-insensitively, echo the registered spelling"). Instead of allocating a lower-cased copy per
//! lookup we hash the lower-cased bytes in place and compare with `eq_ignore_ascii_case`.
//! Non-ASCII bytes are compared exactly: ids are ASCII in practice and ASCII folding is what
//! every registry client library agrees on.

use std::hash::{BuildHasher, Hasher};

/// Fixed seeds so hashing is deterministic across threads and runs: shard routing must agree
/// between every core, and tests and benchmarks are reproducible. Arbitrary constants, and not the
/// digits of pi: ahash mixes seeds with pi internally, and pi-derived seeds cancel out into a
/// constant hash.
const TABLE_SEEDS: [u64; 4] = [
    0x5851_f42d_4c95_7f2d,
    0x1405_7b7e_f767_814f,
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
];
/// Routing uses different seeds from the per-shard tables: if both used the same hash, every key in
/// a shard would share the hash bits that chose the shard, and the tables would probe worse.
const ROUTE_SEEDS: [u64; 4] = [
    0x94d0_49bb_1331_11eb,
    0x2545_f491_4f6c_dd1d,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
];

fn hash_lowercase(state: &ahash::RandomState, key: &[u8]) -> u64 {
    let mut hasher = state.build_hasher();
    let mut chunk = [0u8; 64];
    for part in key.chunks(chunk.len()) {
        let lowered = &mut chunk[..part.len()];
        lowered.copy_from_slice(part);
        lowered.make_ascii_lowercase();
        hasher.write(lowered);
    }
    hasher.write_usize(key.len());
    hasher.finish()
}

thread_local! {
    static TABLE_STATE: ahash::RandomState = const {
        ahash::RandomState::with_seeds(TABLE_SEEDS[0], TABLE_SEEDS[1], TABLE_SEEDS[2], TABLE_SEEDS[3])
    };
    static ROUTE_STATE: ahash::RandomState = const {
        ahash::RandomState::with_seeds(ROUTE_SEEDS[0], ROUTE_SEEDS[1], ROUTE_SEEDS[2], ROUTE_SEEDS[3])
    };
}

/// Hash for the per-shard hash tables.
pub fn table_hash(key: &str) -> u64 {
    table_hash_bytes(key.as_bytes())
}

/// [`table_hash`] of a key's bytes (shards keep instance ids as bytes of the stored JSON).
pub fn table_hash_bytes(key: &[u8]) -> u64 {
    TABLE_STATE.with(|s| hash_lowercase(s, key))
}

/// Hash that picks the owning shard.
pub fn route_hash(key: &str) -> u64 {
    ROUTE_STATE.with(|s| hash_lowercase(s, key.as_bytes()))
}

pub fn same_key(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// [`same_key`] of two keys' bytes.
pub fn same_key_bytes(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_ascii_case() {
        assert_eq!(table_hash("MyService"), table_hash("myservice"));
        assert_eq!(route_hash("MY-SERVICE"), route_hash("my-service"));
        assert_ne!(table_hash("a"), table_hash("b"));
        let long_a = "Ab".repeat(100);
        let long_b = "aB".repeat(100);
        assert_eq!(table_hash(&long_a), table_hash(&long_b));
    }

    #[test]
    fn hash_is_stable_across_threads() {
        let here = route_hash("service.x");
        let there = std::thread::spawn(|| route_hash("SERVICE.X"))
            .join()
            .unwrap();
        assert_eq!(here, there);
    }

    #[test]
    fn non_ascii_is_compared_exactly() {
        assert!(same_key("Straße", "straße"));
        assert!(!same_key("ÄB", "äb"));
    }
}
