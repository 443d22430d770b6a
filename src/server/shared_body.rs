//! A response body made of owned bytes and shared allocations (`services.json`, the cached
//! views a lookup answers with), queued on the connection without copying the shared parts.

use std::sync::Arc;

/// Empty until an answer puts a part in it. A connection keeps one for all its answers: the
/// owned bytes live in one buffer and the parts list keeps its allocation, so an answer costs
/// no allocation here once the first has sized them.
#[derive(Default)]
pub struct SharedBody {
    parts: Vec<Piece>,
    /// Every owned part's bytes, in order.
    owned: Vec<u8>,
}

/// A part as stored: an owned part runs from its start in `owned` to the next owned part's
/// start (or the end of `owned`).
enum Piece {
    Owned(usize),
    Shared(Arc<[u8]>),
}

/// A part as read.
pub enum Part<'a> {
    Owned(&'a [u8]),
    Shared(&'a Arc<[u8]>),
}

impl SharedBody {
    /// Whether no answer was put here.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn len(&self) -> usize {
        let shared: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Piece::Owned(_) => 0,
                Piece::Shared(bytes) => bytes.len(),
            })
            .sum();
        self.owned.len() + shared
    }

    /// Owned bytes to write after the parts so far (append only).
    pub fn owned(&mut self) -> &mut Vec<u8> {
        if !matches!(self.parts.last(), Some(Piece::Owned(_))) {
            self.parts.push(Piece::Owned(self.owned.len()));
        }
        &mut self.owned
    }

    /// Shared bytes to write after the parts so far.
    pub fn shared(&mut self, bytes: Arc<[u8]>) {
        self.parts.push(Piece::Shared(bytes));
    }

    /// The parts in order.
    pub fn parts(&self) -> impl Iterator<Item = Part<'_>> {
        let mut owned_ends = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Piece::Owned(start) => Some(*start),
                Piece::Shared(_) => None,
            })
            .skip(1)
            .chain(std::iter::once(self.owned.len()));
        self.parts.iter().map(move |p| match p {
            Piece::Owned(start) => {
                let end = owned_ends.next().unwrap_or(self.owned.len());
                debug_assert!(
                    *start <= end && end <= self.owned.len(),
                    "owned parts in order"
                );
                Part::Owned(&self.owned[*start..end])
            }
            Piece::Shared(bytes) => Part::Shared(bytes),
        })
    }

    /// Empty it for the next answer, keeping its buffers (the shared parts are released).
    pub fn clear(&mut self) {
        self.parts.clear();
        self.owned.clear();
    }

    /// Give back buffers grown past `keep` bytes (an idle connection stays small); returns the
    /// bytes given back in buffers larger than `report_from` (those worth returning to the
    /// system: smaller ones are reused by the allocator). Call when empty.
    pub fn trim(&mut self, keep: usize, report_from: usize) -> usize {
        debug_assert!(self.is_empty());
        let mut freed = 0;
        if self.owned.capacity() > keep {
            if self.owned.capacity() > report_from {
                freed += self.owned.capacity();
            }
            self.owned = Vec::new();
        }
        let parts_bytes = self.parts.capacity() * std::mem::size_of::<Piece>();
        if parts_bytes > keep {
            if parts_bytes > report_from {
                freed += parts_bytes;
            }
            self.parts = Vec::new();
        }
        freed
    }

    /// Every byte, copied into one buffer (tests compare it with the plain writers).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        for p in self.parts() {
            match p {
                Part::Owned(bytes) => all.extend_from_slice(bytes),
                Part::Shared(bytes) => all.extend_from_slice(bytes),
            }
        }
        all
    }
}

impl protocol::model::BodySink for SharedBody {
    fn owned(&mut self) -> &mut Vec<u8> {
        SharedBody::owned(self)
    }

    fn share(&mut self, bytes: &Arc<[u8]>) {
        self.shared(bytes.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_their_order_and_owned_bytes_join() {
        let mut b = SharedBody::default();
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
        b.owned().extend_from_slice(b"{\"a\":");
        b.owned().push(b'[');
        b.shared(Arc::from(&b"1,2"[..]));
        b.owned().extend_from_slice(b"]");
        b.shared(Arc::from(&b",3"[..]));
        b.shared(Arc::from(&b""[..]));
        b.owned().extend_from_slice(b"}");
        assert_eq!(b.len(), 13);
        assert_eq!(b.to_vec(), b"{\"a\":[1,2],3}".to_vec());
        let lens: Vec<(bool, usize)> = b
            .parts()
            .map(|p| match p {
                Part::Owned(bytes) => (true, bytes.len()),
                Part::Shared(bytes) => (false, bytes.len()),
            })
            .collect();
        assert_eq!(
            lens,
            [
                (true, 6),
                (false, 3),
                (true, 1),
                (false, 2),
                (false, 0),
                (true, 1)
            ]
        );
        // Cleared, it keeps its buffers for the next answer.
        let kept = (b.owned.as_ptr(), b.parts.capacity());
        b.clear();
        assert!(b.is_empty() && b.parts().next().is_none());
        assert_eq!(b.len(), 0);
        b.shared(Arc::from(&b"x"[..]));
        b.owned().extend_from_slice(b"y");
        assert_eq!(b.to_vec(), b"xy".to_vec());
        assert_eq!((b.owned.as_ptr(), b.parts.capacity()), kept);
        b.clear();
        assert_eq!(b.trim(1 << 20, 0), 0, "small buffers are kept");
        assert_eq!(b.trim(0, 1 << 20), 0, "given back, not worth reporting");
        assert_eq!((b.owned.capacity(), b.parts.capacity()), (0, 0));
        b.owned().extend_from_slice(&[1; 4096]);
        b.clear();
        assert_eq!(
            b.trim(1024, 1024),
            4096,
            "a large envelope is given back and reported"
        );
        assert_eq!(b.owned.capacity(), 0);
    }
}
