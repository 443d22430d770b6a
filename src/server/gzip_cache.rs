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
//! so compression costs at most as much as one plain answer saved; while one request compresses
//! some bytes, others asking for them are answered plain (no duplicate work after a
//! `services.json` version change).

use std::sync::Arc;

use hashbrown::HashMap;
use protocol::http::{DeflatedPart, PartDeflater};

/// What to do with some shared bytes of an answer.
pub enum Known {
    /// Compressed: assemble the answer from this.
    Deflated(DeflatedPart),
    /// Asked for before: compress them now, then [`GzipCache::store`] the fragment (or
    /// [`GzipCache::give_up`], or [`GzipCache::forget`] if the compression is abandoned).
    Compress,
    /// Answer uncompressed: asked for the first time (now remembered), being compressed by
    /// another request, or not compressible within the budget.
    Plain,
}

enum State {
    /// Asked for once.
    Seen,
    /// A request is compressing them.
    Compressing,
    Deflated(DeflatedPart),
    /// Their fragment does not fit the budget, or compressing failed: always answered plain.
    Plain,
}

struct Entry {
    /// Held so that the address, the key, is not reused while the entry lives.
    source: Arc<[u8]>,
    state: State,
}

impl Entry {
    /// Bytes the entry keeps alive: the source (counted although its shard usually holds it
    /// too, so the budget bounds what stale entries can hold) and the fragment.
    fn cost(&self) -> usize {
        match &self.state {
            State::Deflated(part) => self.source.len() + part.deflated().len(),
            State::Seen | State::Compressing | State::Plain => self.source.len(),
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

    /// What to do with `source`, remembering it when new (if it fits the budget at all).
    pub fn know(&mut self, source: &Arc<[u8]>) -> Known {
        let Some(entry) = self.entries.get_mut(&key(source)) else {
            self.insert(source, State::Seen);
            return Known::Plain;
        };
        match &entry.state {
            State::Deflated(part) => Known::Deflated(part.clone()),
            State::Seen => {
                entry.state = State::Compressing;
                Known::Compress
            }
            State::Compressing | State::Plain => Known::Plain,
        }
    }

    /// Keeps the fragment of `source` (if it fits the budget; else `source` is answered plain
    /// from now on).
    pub fn store(&mut self, source: &Arc<[u8]>, part: DeflatedPart) {
        if source.len() + part.deflated().len() > self.budget {
            self.give_up(source);
        } else {
            self.insert(source, State::Deflated(part));
        }
    }

    /// `source` is answered plain from now on (its compression failed or does not fit).
    pub fn give_up(&mut self, source: &Arc<[u8]>) {
        self.insert(source, State::Plain);
    }

    /// A compression of `source` was abandoned half-way: the next request tries again.
    pub fn forget(&mut self, source: &Arc<[u8]>) {
        if let Some(entry) = self.entries.get_mut(&key(source)) {
            if matches!(entry.state, State::Compressing) {
                entry.state = State::Seen;
            }
        }
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

    fn insert(&mut self, source: &Arc<[u8]>, state: State) {
        let entry = Entry {
            source: source.clone(),
            state,
        };
        let cost = entry.cost();
        if cost > self.budget {
            // Not even the source fits: never remembered, so always answered plain.
            if let Some(old) = self.entries.remove(&key(source)) {
                self.held -= old.cost();
            }
            return;
        }
        if let Some(old) = self.entries.insert(key(source), entry) {
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
            let stale = Arc::strong_count(&entry.source) == 1;
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
        assert!(matches!(cache.know(&view), Known::Plain));
        assert!(matches!(cache.know(&view), Known::Compress));
        // While one request compresses them, others answer plain.
        assert!(matches!(cache.know(&view), Known::Plain));
        cache.store(&view, deflate(&view));
        assert!(matches!(cache.know(&view), Known::Deflated(p) if p.plain_len() == 5000));
        // Equal bytes elsewhere are other bytes.
        assert!(matches!(cache.know(&bytes(5000)), Known::Plain));
    }

    #[test]
    fn an_abandoned_compression_is_tried_again_and_a_failed_one_never() {
        let mut cache = GzipCache::new(1 << 20);
        let (view, other) = (bytes(5000), bytes(6000));
        for v in [&view, &other] {
            cache.know(v);
            assert!(matches!(cache.know(v), Known::Compress));
        }
        cache.forget(&view);
        assert!(matches!(cache.know(&view), Known::Compress));
        cache.give_up(&other);
        for _ in 0..3 {
            assert!(matches!(cache.know(&other), Known::Plain));
        }
    }

    #[test]
    fn a_fragment_that_does_not_fit_leaves_its_bytes_plain() {
        // The source fits, source and fragment do not (random bytes do not compress).
        let mut cache = GzipCache::new(5000);
        let view: Arc<[u8]> = protocol::rng::Rng::new(1).bytes(4000).into();
        cache.know(&view);
        assert!(matches!(cache.know(&view), Known::Compress));
        cache.store(&view, deflate(&view));
        for _ in 0..3 {
            assert!(
                matches!(cache.know(&view), Known::Plain),
                "not compressed again"
            );
        }
        assert!(cache.held_bytes() <= 5000);
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
                matches!(cache.know(view), Known::Compress),
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
        assert!(matches!(cache.know(&huge), Known::Plain));
        assert!(cache.held_bytes() <= 40_000);
    }
}
