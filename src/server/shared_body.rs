//! A response body made of owned bytes and shared allocations (`services.json`, the cached
//! views a lookup answers with), queued on the connection without copying the shared parts.

use std::sync::Arc;

/// Empty until an answer puts a part in it.
#[derive(Default)]
pub struct SharedBody {
    parts: Vec<Part>,
}

pub enum Part {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl SharedBody {
    /// Whether no answer was put here.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Owned(bytes) => bytes.len(),
                Part::Shared(bytes) => bytes.len(),
            })
            .sum()
    }

    /// Owned bytes to write after the parts so far.
    pub fn owned(&mut self) -> &mut Vec<u8> {
        if !matches!(self.parts.last(), Some(Part::Owned(_))) {
            self.parts.push(Part::Owned(Vec::with_capacity(128)));
        }
        match self.parts.last_mut() {
            Some(Part::Owned(bytes)) => bytes,
            _ => unreachable!("an owned part was just ensured"),
        }
    }

    /// Shared bytes to write after the parts so far.
    pub fn shared(&mut self, bytes: Arc<[u8]>) {
        self.parts.push(Part::Shared(bytes));
    }

    /// The parts, leaving this empty.
    pub fn take(&mut self) -> Option<SharedBody> {
        (!self.is_empty()).then(|| std::mem::take(self))
    }

    /// The parts in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }

    /// Every byte, copied into one buffer (tests compare it with the plain writers).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        for p in &self.parts {
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
        assert!(b.is_empty() && b.take().is_none());
        b.owned().extend_from_slice(b"{\"a\":");
        b.owned().push(b'[');
        b.shared(Arc::from(&b"1,2"[..]));
        b.owned().extend_from_slice(b"]}");
        assert_eq!(b.len(), 11);
        assert_eq!(b.to_vec(), b"{\"a\":[1,2]}".to_vec());
        let taken = b.take().expect("set");
        assert!(b.is_empty());
        assert_eq!(taken.into_parts().len(), 3);
    }
}
