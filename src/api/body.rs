//! Request bodies with their Content-Encoding removed, without letting one body hold the core.
//!
//! Inflating gzip can cost far more CPU than the body's size suggests (a few megabytes of crafted
//! deflate blocks take seconds), and the core serves every other connection on its thread. So a
//! gzip body is inflated in slices of about [`SLICE`], yielding to the core's other tasks between
//! them, and refused once it has used `limits.max_gzip_cpu_ms` of CPU time in all; the member and
//! output limits are checked by the inflater itself.

use std::time::{Duration, Instant};

use protocol::http::{
    encoded_body, EncodedBody, GzipInflater, GzipLimits, HttpError, Progress, Request,
    TOO_MANY_MEMBERS,
};

use crate::server::core::Core;
use crate::server::signal::yield_now;

/// How long inflating runs before the core's other tasks get a turn (plus at most one step).
const SLICE: Duration = Duration::from_millis(1);

/// Deflate bytes inflated per step. The costliest input known, empty fixed-Huffman blocks, takes
/// about 2.6 µs per byte in a release build, so one step (the most a slice overshoots) stays
/// under 1.5 ms.
const STEP_INPUT: usize = 512;

/// A gzip body that used up `limits.max_gzip_cpu_ms`.
pub const TOO_COSTLY: HttpError =
    HttpError::BadRequest("gzip body takes too much CPU time to inflate");

/// The request body with its Content-Encoding removed: the raw body for identity, or `inflated`
/// filled with the inflated gzip body. Errors are those of `protocol::http::encoded_body` and
/// [`GzipInflater`], and [`TOO_COSTLY`].
pub async fn decode_body<'s>(
    core: &Core,
    request: &Request<'_>,
    read_buf: &'s [u8],
    dechunked: &'s [u8],
    inflated: &'s mut Vec<u8>,
) -> Result<&'s [u8], HttpError> {
    match encoded_body(request, read_buf, dechunked)? {
        EncodedBody::Identity(body) => Ok(body),
        EncodedBody::Gzip(body) => {
            let result = inflate(core, body, inflated).await;
            if let Err(error @ (TOO_MANY_MEMBERS | TOO_COSTLY)) = result {
                if core.bad_request_log.allow() {
                    tracing::warn!(
                        core = core.id,
                        bytes = body.len(),
                        reason = error.message(),
                        "gzip body refused"
                    );
                }
            }
            result?;
            Ok(inflated)
        }
    }
}

/// Inflates `input` into `out` slice by slice; `out` is left empty on error.
async fn inflate(core: &Core, input: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
    let config = &core.node.config.limits;
    let limits = GzipLimits {
        max_output: core.node.http_limits.max_decoded_body_bytes,
        max_members: config.max_gzip_members,
    };
    let budget = Duration::from_millis(config.max_gzip_cpu_ms);
    let mut inflater = GzipInflater::new(input, limits);
    let mut spent = Duration::ZERO;
    out.clear();
    loop {
        // Wall time ends the slice (other connections wait in wall time); CPU time is what the
        // budget counts, so a slice preempted by another process is not charged for it.
        let slice_end = Instant::now() + SLICE;
        let cpu_start = thread_cpu_time();
        loop {
            if inflater.step(out, STEP_INPUT)? == Progress::Done {
                return Ok(());
            }
            if Instant::now() >= slice_end {
                break;
            }
        }
        spent += thread_cpu_time().saturating_sub(cpu_start);
        if spent > budget {
            out.clear();
            return Err(TOO_COSTLY);
        }
        yield_now().await;
    }
}

/// CPU time this thread has used (the core's event loop runs on one thread).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the value we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(
        rc, 0,
        "CLOCK_THREAD_CPUTIME_ID is always available on Linux"
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
