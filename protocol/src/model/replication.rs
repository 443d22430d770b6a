//! The replication `services.json` answer (spec §9.3, Java's `replication.GetServicesResponse`):
//! `{"responseStatus":{..},"services":[Service,..]|null}`, without the `version` of discovery's
//! `services.json`. A peer copies the whole registry from it, so it is streamed in pieces
//! ([`ReplicationServicesWriter`]) rather than collected first.

use super::status::{write_response_status, ResponseStatus};

/// Streams a successful answer: [`begin`](Self::begin), any number of
/// [`push`](Self::push)es, then [`finish`](Self::finish), on the same buffer with nothing
/// written in between.
#[derive(Debug)]
pub struct ReplicationServicesWriter {
    empty: bool,
}

impl ReplicationServicesWriter {
    pub fn begin(out: &mut Vec<u8>) -> Self {
        out.extend_from_slice(b"{\"responseStatus\":");
        write_response_status(out, &ResponseStatus::SUCCESS);
        out.extend_from_slice(b",\"services\":[");
        ReplicationServicesWriter { empty: true }
    }

    /// Appends `services`: comma-separated Service objects without brackets (possibly none).
    pub fn push(&mut self, out: &mut Vec<u8>, services: &[u8]) {
        if services.is_empty() {
            return;
        }
        if !self.empty {
            out.push(b',');
        }
        self.empty = false;
        out.extend_from_slice(services);
    }

    pub fn finish(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"]}");
    }
}

/// A refused or failed request: `{"responseStatus":{..},"services":null}`.
pub fn write_replication_services_failure(out: &mut Vec<u8>, status: &ResponseStatus) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"services\":null}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::{error_codes, fail};

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pieces_join_into_one_list_and_empty_pieces_add_nothing() {
        let mut out = Vec::new();
        let mut writer = ReplicationServicesWriter::begin(&mut out);
        writer.push(&mut out, b"");
        writer.push(&mut out, b"{\"a\":1},{\"b\":2}");
        writer.push(&mut out, b"");
        writer.push(&mut out, b"{\"c\":3}");
        writer.finish(&mut out);
        assert_eq!(
            text(out),
            r#"{"responseStatus":{"errorCode":"success","message":"","status":"success"},"services":[{"a":1},{"b":2},{"c":3}]}"#
        );
    }

    #[test]
    fn no_pieces_is_an_empty_list() {
        let mut out = Vec::new();
        ReplicationServicesWriter::begin(&mut out).finish(&mut out);
        assert!(text(out).ends_with(r#""services":[]}"#));
    }

    #[test]
    fn a_failure_has_null_services() {
        let mut out = Vec::new();
        let status = fail(error_codes::NO_PERMISSION, "no");
        write_replication_services_failure(&mut out, &status);
        assert_eq!(
            text(out),
            r#"{"responseStatus":{"errorCode":"no-permission","message":"no","status":"fail"},"services":null}"#
        );
    }
}
