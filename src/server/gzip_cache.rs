//! This core's gzip fragments of shared answer bytes (the cached Service views lookups answer
//! with, `services.json` bodies), so a client that accepts gzip gets an answer assembled from
//! fragments compressed once (see `protocol::http::gzip_answer`).
//!
//! Entries are keyed by the address of the shared allocation and hold a reference to it, so the
//! address cannot be reused while the entry lives and the same address always means the same
//! bytes. A view that its shard replaced is held by nothing but its entry
//! (`Arc::strong_count == 1`): such entries are dropped first when the cache is over its budget.
//! Bytes are compressed the second time they are asked for, not the first: a view that changes
//! between every lookup (a service under registration churn) is never compressed for one answer,
//! so compression costs at most as much as one plain answer saved.

use std::sync::Arc;

use hashbrown::HashMap;
use protocol::http::{DeflatedPart, PartDeflater};

/// What the cache knows of some shared bytes.
pub enum Known {
    /// Compressed: assemble the answer from this.
    Deflated(DeflatedPart),
    /// Asked for before: compress now.
    SeenBefore,
    /// Not asked for before (now remembered): answer uncompressed this time.
    New,
}

enum Entry {
    Seen {
        source: Arc<[u8]>,
    },
    Deflated {
        source: Arc<[u8]>,
        part: DeflatedPart,
    },
}

impl Entry {
    fn source(&self) -> &Arc<[u8]> {
        match self {
            Entry::Seen { source } | Entry::Deflated { source, .. } => source,
        }
    }

    /// Bytes the entry keeps alive: the source (counted although its shard usually holds it
    /// too, so the budget bounds what stale entries can hold) and the fragment.
    fn cost(&self) -> usize {
        match self {
            Entry::Seen { source } => source.len(),
            Entry::Deflated { source, part } => source.len() + part.deflated().len(),
        }
    }
}

pub struct GzipCache {
    entries: HashMap<usize, Entry>,
    /// Sum of the entries' costs.
    held: usize,
    /// `http.gzip_cache_bytes_per_core`.
    budget: usize,
    /// Lent out while a task compresses (a second task at the same time makes its own).
    deflater: Option<Box<PartDeflater>>,
}

fn key(source: &Arc<[u8]>) -> usize {
    source.as_ptr() as usize
}

impl GzipCache {
    pub fn new(budget: usize) -> Self {
        GzipCache {
            entries: HashMap::default(),
            held: 0,
            budget,
            deflater: None,
        }
    }

    /// Looks `source` up, remembering it when new (if it fits the budget at all).
    pub fn know(&mut self, source: &Arc<[u8]>) -> Known {
        match self.entries.get(&key(source)) {
            Some(Entry::Deflated { part, .. }) => Known::Deflated(part.clone()),
            Some(Entry::Seen { .. }) => Known::SeenBefore,
            None => {
                self.insert(Entry::Seen {
                    source: source.clone(),
                });
                Known::New
            }
        }
    }

    /// Keeps the fragment of `source`.
    pub fn store(&mut self, source: &Arc<[u8]>, part: DeflatedPart) {
        self.insert(Entry::Deflated {
            source: source.clone(),
            part,
        });
    }

    /// The core's deflater (or a new one while it is lent out); give it back with
    /// [`GzipCache::give_back`].
    pub fn lend_deflater(&mut self) -> Box<PartDeflater> {
        self.deflater.take().unwrap_or_default()
    }

    pub fn give_back(&mut self, deflater: Box<PartDeflater>) {
        if self.deflater.is_none() {
            self.deflater = Some(deflater);
        }
    }

    /// Bytes the entries keep alive.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    fn insert(&mut self, entry: Entry) {
        let cost = entry.cost();
        if cost > self.budget {
            return;
        }
        if let Some(old) = self.entries.insert(key(entry.source()), entry) {
            self.held -= old.cost();
        }
        self.held += cost;
        if self.held > self.budget {
            self.shrink();
        }
        debug_assert_eq!(
            self.held,
            self.entries.values().map(Entry::cost).sum::<usize>()
        );
    }

    /// Drops entries of replaced bytes, then others in no particular order, down to half the
    /// budget (so the next shrink is many insertions away).
    fn shrink(&mut self) {
        let target = self.budget / 2;
        let mut held = self.held;
        self.entries.retain(|_, entry| {
            let stale = Arc::strong_count(entry.source()) == 1;
            if stale {
                held -= entry.cost();
            }
            !stale
        });
        self.entries.retain(|_, entry| {
            if held <= target {
                return true;
            }
            held -= entry.cost();
            false
        });
        self.held = held;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Arc<[u8]> {
        vec![b'x'; n].into()
    }

    fn deflate(source: &Arc<[u8]>) -> DeflatedPart {
        let mut deflater = PartDeflater::new();
        deflater.feed(source).expect("deflates");
        deflater.finish().expect("deflates")
    }

    #[test]
    fn bytes_are_compressed_the_second_time_they_are_asked_for() {
        let mut cache = GzipCache::new(1 << 20);
        let view = bytes(5000);
        assert!(matches!(cache.know(&view), Known::New));
        assert!(matches!(cache.know(&view), Known::SeenBefore));
        cache.store(&view, deflate(&view));
        assert!(matches!(cache.know(&view), Known::Deflated(p) if p.plain_len() == 5000));
        // Equal bytes elsewhere are other bytes.
        assert!(matches!(cache.know(&bytes(5000)), Known::New));
    }

    #[test]
    fn over_budget_replaced_bytes_go_first() {
        let mut cache = GzipCache::new(40_000);
        let live: Vec<Arc<[u8]>> = (0..3).map(|_| bytes(5000)).collect();
        for view in &live {
            cache.know(view);
        }
        // Views whose shard replaced them: only the cache holds them.
        for _ in 0..5 {
            cache.know(&bytes(5000));
        }
        assert!(cache.held_bytes() <= 40_000);
        for view in &live {
            assert!(
                matches!(cache.know(view), Known::SeenBefore),
                "live views stay"
            );
        }
    }

    #[test]
    fn the_budget_holds_with_every_view_live() {
        let mut cache = GzipCache::new(40_000);
        let live: Vec<Arc<[u8]>> = (0..100).map(|_| bytes(5000)).collect();
        for view in &live {
            cache.know(view);
            assert!(cache.held_bytes() <= 40_000);
        }
        // Larger than the budget alone: never kept.
        let huge = bytes(50_000);
        cache.know(&huge);
        assert!(matches!(cache.know(&huge), Known::New));
    }
}
