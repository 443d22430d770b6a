//! Request bodies with their Content-Encoding removed, without letting one body hold the core.
//!
//! Inflating gzip can cost far more CPU than the body's size suggests (a few megabytes of crafted
//! deflate blocks take seconds), and the core serves every other connection on its thread. So a
//! gzip body is inflated in slices of about [`SLICE`], yielding to the core's other tasks between
//! them, and refused once it has used `limits.max_gzip_cpu_ms` of CPU time in all; the member and
//! output limits are checked by the inflater itself.
//!
//! The inflated body is a [`RequestCopy`]: before each step, room for the most that step can
//! grow it to is reserved in the core's request budget, so inflating bodies on many connections
//! at once cannot pass `limits.max_buffered_request_bytes_per_core`. A body the budget has no
//! room for is refused with [`NO_ROOM`], which the connection answers 503.

use std::time::{Duration, Instant};

use protocol::http::{
    encoded_body, EncodedBody, GzipInflater, GzipLimits, HttpError, Progress, Request,
    TOO_MANY_MEMBERS,
};

use crate::server::conn::RequestCopy;
use crate::server::core::Core;
use crate::server::signal::yield_now;

/// How long inflating runs before the core's other tasks get a turn (plus at most one step).
const SLICE: Duration = Duration::from_millis(1);

/// Deflate bytes inflated per step. The costliest input known, empty fixed-Huffman blocks, takes
/// about 2.6 µs per byte in a release build, so one step (the most a slice overshoots) stays
/// under 1.5 ms.
const STEP_INPUT: usize = 512;

/// Deflate's greatest expansion: a 258-byte match coded in 2 bits (RFC 1951), so at most 1032
/// bytes out per byte in.
const MAX_INFLATE_RATIO: usize = 1032;

/// Input bytes a step may turn into output beyond the deflate bytes it reads (bits the decoder
/// carries over from the previous step), generously.
const CARRIED_INPUT: usize = 16;

/// The inflater's smallest growth of its output (`protocol::http::gzip`).
const MIN_GROWTH: usize = 16 * 1024;

/// A gzip body that used up `limits.max_gzip_cpu_ms`.
pub const TOO_COSTLY: HttpError =
    HttpError::BadRequest("gzip body takes too much CPU time to inflate");

/// The core's request budget has no room for the inflated body. The copy is marked refused
/// ([`RequestCopy::refused`]), and the connection answers 503 (retry later) in place of what the
/// app writes for this error.
pub const NO_ROOM: HttpError = HttpError::BadRequest("no room to inflate this body now");

/// The request body with its Content-Encoding removed: the raw body for identity, or `inflated`
/// filled with the inflated gzip body. Errors are those of `protocol::http::encoded_body` and
/// [`GzipInflater`], [`TOO_COSTLY`] and [`NO_ROOM`].
pub async fn decode_body<'s>(
    core: &Core,
    request: &Request<'_>,
    read_buf: &'s [u8],
    dechunked: &'s [u8],
    inflated: &'s mut RequestCopy,
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
            Ok(&**inflated)
        }
    }
}

/// Inflates `input` into `out` slice by slice; `out` is left empty on error.
async fn inflate(core: &Core, input: &[u8], out: &mut RequestCopy) -> Result<(), HttpError> {
    let config = &core.node.config.limits;
    let limits = GzipLimits {
        max_output: core.node.http_limits.max_decoded_body_bytes,
        max_members: config.max_gzip_members,
    };
    let budget = Duration::from_millis(config.max_gzip_cpu_ms);
    let mut inflater = GzipInflater::new(input, limits);
    let mut spent = Duration::ZERO;
    out.fill(Vec::clear);
    let mut step_input = STEP_INPUT.min(input.len());
    loop {
        // Wall time ends the slice (other connections wait in wall time); CPU time is what the
        // budget counts, so a slice preempted by another process is not charged for it.
        let slice_end = Instant::now() + SLICE;
        let cpu_start = thread_cpu_time();
        loop {
            let most = step_capacity(out.len(), out.capacity(), step_input, limits.max_output);
            if !out.try_reserve(most) {
                // Smaller steps need less room; without room for a step of one byte, the body
                // is refused.
                if step_input > 1 {
                    step_input /= 2;
                    continue;
                }
                out.refuse();
                return Err(NO_ROOM);
            }
            let (progress, fits) = out.fill(|out| inflater.step(out, step_input));
            debug_assert!(
                out.capacity() <= most,
                "a step grew the output past its reservation"
            );
            if !fits {
                return Err(NO_ROOM);
            }
            if progress? == Progress::Done {
                return Ok(());
            }
            if Instant::now() >= slice_end {
                break;
            }
        }
        spent += thread_cpu_time().saturating_sub(cpu_start);
        if spent > budget {
            out.fill(Vec::clear);
            return Err(TOO_COSTLY);
        }
        yield_now().await;
    }
}

/// The most capacity the output (`len` bytes in `capacity`) can reach in one step that reads
/// `step_input` deflate bytes. The inflater grows the output only when it is full, by its length
/// (at least [`MIN_GROWTH`]), never past one byte over `max_output`.
fn step_capacity(len: usize, capacity: usize, step_input: usize, max_output: usize) -> usize {
    let most_len = len + MAX_INFLATE_RATIO * (step_input + CARRIED_INPUT);
    let allowed = max_output.saturating_add(1);
    let mut capacity = capacity;
    while capacity <= most_len && capacity < allowed {
        capacity = (capacity + capacity.max(MIN_GROWTH)).min(allowed);
    }
    capacity
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Inflate `body` step by step as [`inflate`] does (at most `step_input` deflate bytes a
    /// step); every step must end within the capacity reserved for it.
    fn assert_steps_within_reservation(body: &[u8], step_input: usize, max_output: usize) -> usize {
        let gz = harness::gzip(body);
        let limits = GzipLimits {
            max_output,
            max_members: 1,
        };
        let mut inflater = GzipInflater::new(&gz, limits);
        let step_input = step_input.min(gz.len());
        let mut out = Vec::new();
        let mut steps = 0;
        loop {
            let most = step_capacity(out.len(), out.capacity(), step_input, max_output);
            let progress = inflater.step(&mut out, step_input);
            steps += 1;
            assert!(
                out.capacity() <= most,
                "step {steps}: capacity {} past the {most} reserved",
                out.capacity()
            );
            if progress.expect("a valid body") == Progress::Done {
                assert_eq!(out, body);
                return steps;
            }
        }
    }

    #[test]
    fn every_inflate_step_stays_within_its_reservation() {
        // Zeros expand the most deflate allows; random bytes do not expand at all.
        let zeros = vec![0u8; 12 << 20];
        let random = protocol::rng::Rng::new(8).bytes(256 << 10);
        for step_input in [STEP_INPUT, 7, 1] {
            assert!(assert_steps_within_reservation(&zeros, step_input, 16 << 20) > 1);
            assert_steps_within_reservation(&zeros, step_input, 12 << 20);
            assert!(assert_steps_within_reservation(&random, step_input, 16 << 20) > 100);
            assert_steps_within_reservation(b"{}", step_input, 1024);
        }
    }
}
