//! Who may write: the node must be up (Java's `checkCurrentNode`), and when
//! `management.tokens` is set the caller must present one of them, as
//! `Authorization: Bearer <token>` or the body's `token` (reads stay open).

use protocol::model::{error_codes, fail, ResponseStatus};

use super::super::Input;
use crate::server::core::Core;

/// Java's text, typo included (`ServiceNodeUtil.checkCurrentNode`).
const NOT_UP: &str = "Serivce is not in up state. Current status: down";
const NO_TOKEN: &str =
    "this node requires a management token: send Authorization: Bearer <token> or \"token\"";

/// Refuse a write unless the node is up and the caller holds a configured token.
pub fn check_write(
    core: &Core,
    input: &Input<'_>,
    body_token: Option<&str>,
) -> Result<(), ResponseStatus<'static>> {
    if core.shutdown.is_fired()
        || core
            .node
            .shutdown
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err(fail(error_codes::SERVICE_UNAVAILABLE, NOT_UP));
    }
    // The tokens in force (a SIGHUP reload may have replaced the configured ones).
    let tokens = core.node.management_tokens.get();
    if tokens.is_empty() {
        return Ok(());
    }
    let presented = bearer(input.authorization).or(body_token);
    match presented {
        Some(token)
            if tokens
                .iter()
                .any(|t| same_secret(t.as_bytes(), token.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(fail(error_codes::NO_PERMISSION, NO_TOKEN)),
    }
}

/// The request's `Authorization: Bearer` token: the group writes' checks accept it in place of
/// the body's `token`.
pub fn bearer_token<'a>(input: &Input<'a>) -> Option<&'a str> {
    bearer(input.authorization)
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(header: Option<&[u8]>) -> Option<&str> {
    let value = std::str::from_utf8(header?).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compare without stopping at the first difference, so timing does not reveal a prefix.
fn same_secret(expected: &[u8], presented: &[u8]) -> bool {
    if expected.len() != presented.len() {
        return false;
    }
    expected
        .iter()
        .zip(presented)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer(Some(b"Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some(b"bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some(b"Basic abc")), None);
        assert_eq!(bearer(Some(b"Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
    }
}
