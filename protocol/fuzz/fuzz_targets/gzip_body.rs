//! Feeds arbitrary bytes to the gzip decoder and checks it against flate2's own multi-member
//! decoder: the same output for every stream both accept, `BodyTooLarge` exactly when the reference
//! output passes the limit, an error exactly when the reference fails first; inflating in small
//! steps gives the same result as in one go; output never passes `max_output` and members never pass
//! `max_members`. Run by `scripts/fuzz.sh` (see docs/fuzzing.md).
#![no_main]

use std::io::Read;

use flate2::bufread::MultiGzDecoder;
use libfuzzer_sys::fuzz_target;
use protocol::http::{inflate_gzip, GzipInflater, GzipLimits, HttpError, Progress};

const MAX_OUTPUT: usize = 1 << 20;

fn stepped(input: &[u8], limits: GzipLimits, step: usize) -> Result<Vec<u8>, HttpError> {
    let mut inflater = GzipInflater::new(input, limits);
    let mut out = Vec::new();
    loop {
        match inflater.step(&mut out, step) {
            Ok(Progress::More) => assert!(out.len() <= limits.max_output),
            Ok(Progress::Done) => return Ok(out),
            Err(error) => {
                assert!(out.is_empty(), "output is cleared on error");
                return Err(error);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the step size; the rest is the body.
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let limits = GzipLimits {
        max_output: MAX_OUTPUT,
        max_members: usize::MAX,
    };
    let mut ours = Vec::new();
    let result = inflate_gzip(input, &mut ours, limits).map(|()| ours);

    let mut reference = Vec::new();
    let read = MultiGzDecoder::new(input)
        .take(MAX_OUTPUT as u64 + 1)
        .read_to_end(&mut reference);
    match (&result, read) {
        (Err(HttpError::BodyTooLarge), Ok(len)) => assert_eq!(len, MAX_OUTPUT + 1),
        (Ok(out), Ok(_)) => assert_eq!(out, &reference),
        (Err(HttpError::BadRequest(_)), Err(_)) => {}
        (ours, reference) => panic!("ours {ours:?}, reference {reference:?}"),
    }

    let step = 1 + usize::from(step % 64);
    assert_eq!(stepped(input, limits, step), result, "step {step}");

    // With a member limit the result is the same, or the limit is what stopped it.
    let two = GzipLimits {
        max_members: 2,
        ..limits
    };
    let limited = stepped(input, two, step);
    if limited != result {
        assert_eq!(limited, Err(protocol::http::TOO_MANY_MEMBERS));
    }
});
