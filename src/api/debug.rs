//! Test hooks, routed only when `testing.manual_clock` is on (404 otherwise).

use protocol::http::query_pairs;
use protocol::model::{write_clock_response, write_error_body};

use super::Input;
use crate::server::core::Core;

/// `POST /debug/clock/advance?ms=N`: move the manual clock forward by N ms, then expire on every
/// shard what is due by then; answers `{"nowMs":..}` once no shard has expiry work left, so a
/// test sees the effect of the new time as soon as it has the answer.
pub async fn advance_clock(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let ms = query_pairs(input.query)
        .find(|(k, _)| k == "ms")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let Some(ms) = ms.filter(|&ms| ms <= 365 * 24 * 3600 * 1000) else {
        write_error_body(
            out,
            "ms must be a whole number of milliseconds up to a year",
        );
        return 400;
    };
    let now = core
        .node
        .clock
        .advance(ms)
        .expect("routed only with a manual clock");
    core.expire_due().await;
    write_clock_response(out, now);
    200
}
