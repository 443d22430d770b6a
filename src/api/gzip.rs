//! gzip answers for clients that accept them (`Accept-Encoding: gzip`; the Java client's HTTP
//! stack sends it and inflates transparently), as Java's ziplet filter gave them (spec §2).
//!
//! Only answers built from shared bytes are compressed: lookup and service answers around
//! cached Service views, `services.json`. A lookup of a 100-instance service is ~36 KB of
//! JSON and ~2.5 KB compressed; everything else the API answers is a few hundred bytes. The
//! shared bytes are compressed once per core (`server::gzip_cache`) and every answer is
//! assembled from their fragments and the envelope's few owned bytes as stored blocks, so a
//! compressed answer costs the same CPU as a plain one and a tenth of the bytes to send.

use std::sync::Arc;

use protocol::http::{write_gzip, DeflatedPart, GzipPart};
use smallvec::SmallVec;

use crate::server::core::Core;
use crate::server::gzip_cache::Known;
use crate::server::shared_body::{Part, SharedBody};
use crate::server::signal::yield_now;

/// Smaller answers go uncompressed: too few bytes to save for the CPU and header bytes.
const GZIP_FROM: usize = 1024;
/// Bytes compressed before the core yields to its other tasks (about 0.2 ms of work).
const SLICE: usize = 64 * 1024;

/// The gzip form of `body`, or None to answer it uncompressed: too small, no shared part, a
/// shared part asked for the first time (see `server::gzip_cache`), or the compressor failed.
pub async fn gzip_body(core: &Core, body: &SharedBody) -> Option<SharedBody> {
    if body.len() < GZIP_FROM {
        return None;
    }
    let (mut deflated, pending) = known_parts(core, body)?;
    for (index, source) in pending {
        deflated[index] = Some(deflate(core, &source).await?);
    }
    let mut gzip = SharedBody::default();
    write_gzip(
        &mut gzip,
        body.parts()
            .zip(&deflated)
            .map(|(part, deflated)| match (part, deflated) {
                (_, Some(deflated)) => GzipPart::Deflated(deflated),
                (Part::Owned(bytes), None) => GzipPart::Plain(bytes),
                (Part::Shared(bytes), None) => GzipPart::Plain(&bytes[..]),
            }),
    );
    Some(gzip)
}

/// The shared parts' fragments where compressed already, and the parts to compress now; None
/// when one is to be answered plain (or none is shared).
type KnownParts = (
    SmallVec<[Option<DeflatedPart>; 8]>,
    SmallVec<[(usize, Arc<[u8]>); 2]>,
);

fn known_parts(core: &Core, body: &SharedBody) -> Option<KnownParts> {
    let mut cache = core.gzip_cache.borrow_mut();
    let mut deflated = SmallVec::new();
    let mut pending: SmallVec<[(usize, Arc<[u8]>); 2]> = SmallVec::new();
    let (mut any_shared, mut any_plain) = (false, false);
    for (index, part) in body.parts().enumerate() {
        deflated.push(None);
        let Part::Shared(source) = part else {
            continue;
        };
        any_shared = true;
        // Every shared part is looked up (and so remembered) even after a plain one.
        match cache.know(source) {
            Known::Deflated(part) => deflated[index] = Some(part),
            Known::Compress => pending.push((index, source.clone())),
            Known::Plain => any_plain = true,
        }
    }
    if any_plain {
        // Answered plain after all: the next request compresses what this one would have.
        for (_, source) in &pending {
            cache.forget(source);
        }
        return None;
    }
    any_shared.then_some((deflated, pending))
}

/// Compresses `source` slice by slice, yielding between slices, and caches the fragment.
async fn deflate(core: &Core, source: &Arc<[u8]>) -> Option<DeflatedPart> {
    // Dropped with the request (a closed connection) before the end: the next one tries again.
    let mut claim = Claim {
        core,
        source,
        settled: false,
    };
    let mut deflater = core.gzip_cache.borrow_mut().lend_deflater();
    let mut fed = Ok(());
    for (n, slice) in source.chunks(SLICE).enumerate() {
        if n > 0 {
            yield_now().await;
        }
        fed = deflater.feed(slice);
        if fed.is_err() {
            break;
        }
    }
    let part = match fed {
        Ok(()) => deflater.finish(),
        Err(e) => {
            deflater.abandon();
            Err(e)
        }
    };
    claim.settled = true;
    let mut cache = core.gzip_cache.borrow_mut();
    cache.give_back(deflater);
    match part {
        Ok(part) => {
            core.metrics.gzip_compressions.add(1);
            cache.store(source, part.clone());
            Some(part)
        }
        Err(_) => {
            // The deflater or its check failed (it does not for valid use): never again for
            // these bytes, and logged (rate-limited).
            cache.give_up(source);
            if core.bad_request_log.allow() {
                tracing::warn!(
                    bytes = source.len(),
                    "gzip: compressing shared answer bytes failed; they are answered uncompressed"
                );
            }
            None
        }
    }
}

/// A compression in progress; forgotten by the cache if dropped unsettled.
struct Claim<'a> {
    core: &'a Core,
    source: &'a Arc<[u8]>,
    settled: bool,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.settled {
            if let Ok(mut cache) = self.core.gzip_cache.try_borrow_mut() {
                cache.forget(self.source);
            }
        }
    }
}
