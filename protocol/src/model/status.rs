//! `ResponseStatus`, error codes (§3.6), `FailedInstance` (§3.7) and the
//! register/heartbeat/unregister response (§5.1).

use super::instance::Instance;
use super::json_writer::{write_instance, write_str};

/// `ErrorCodes.java`. Clients branch on these exact strings.
pub mod error_codes {
    pub const SUCCESS: &str = "success";
    pub const PARTIAL_FAIL: &str = "partial_fail";
    pub const BAD_REQUEST: &str = "bad-request";
    pub const RATE_LIMITED: &str = "rate-limited";
    pub const NO_PERMISSION: &str = "no-permission";
    pub const DATA_NOT_FOUND: &str = "data-not-found";
    pub const INTERNAL_SERVICE_ERROR: &str = "internal-service-error";
    pub const SERVICE_UNAVAILABLE: &str = "service-unavailable";
    pub const UNKNOWN: &str = "unknown";
}

/// `ResponseStatus.Status`.
pub mod status_strings {
    pub const SUCCESS: &str = "success";
    pub const FAIL: &str = "fail";
    pub const PARTIAL_FAIL: &str = "partial_fail";
    pub const UNKNOWN: &str = "unknown";
}

/// The `responseStatus` object of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseStatus<'a> {
    pub status: &'a str,
    pub error_code: &'a str,
    pub message: &'a str,
}

impl ResponseStatus<'static> {
    /// `ResponseStatusUtil.SUCCESS_STATUS`.
    pub const SUCCESS: Self = ResponseStatus {
        status: status_strings::SUCCESS,
        error_code: error_codes::SUCCESS,
        message: "",
    };
    /// The message stays empty because `RegistryTool.execute` never fills it.
    pub const PARTIAL_FAIL: Self = ResponseStatus {
        status: status_strings::PARTIAL_FAIL,
        error_code: error_codes::PARTIAL_FAIL,
        message: "",
    };
    /// `ResponseStatusUtil.RATE_LIMITED_STATUS`.
    pub const RATE_LIMITED: Self = ResponseStatus {
        status: status_strings::FAIL,
        error_code: error_codes::RATE_LIMITED,
        message: "Request is rate limited.",
    };
}

impl<'a> ResponseStatus<'a> {
    /// `ResponseStatusUtil.newFailStatus`.
    pub const fn fail(error_code: &'a str, message: &'a str) -> Self {
        ResponseStatus {
            status: status_strings::FAIL,
            error_code,
            message,
        }
    }
}

/// Same as [`ResponseStatus::fail`].
pub const fn fail<'a>(error_code: &'a str, message: &'a str) -> ResponseStatus<'a> {
    ResponseStatus::fail(error_code, message)
}

/// `{"errorCode":..,"message":..,"status":..}`
pub fn write_response_status(out: &mut Vec<u8>, s: &ResponseStatus) {
    out.extend_from_slice(b"{\"errorCode\":");
    write_str(out, s.error_code);
    out.extend_from_slice(b",\"message\":");
    write_str(out, s.message);
    out.extend_from_slice(b",\"status\":");
    write_str(out, s.status);
    out.push(b'}');
}

/// `{"errorCode":..,"errorMessage":..,"instance":{...}}`
pub fn write_failed_instance(
    out: &mut Vec<u8>,
    error_code: &str,
    error_message: &str,
    instance: &Instance,
) {
    out.extend_from_slice(b"{\"errorCode\":");
    write_str(out, error_code);
    out.extend_from_slice(b",\"errorMessage\":");
    write_str(out, error_message);
    out.extend_from_slice(b",\"instance\":");
    write_instance(out, instance);
    out.push(b'}');
}

/// Streams `{"failedInstances":[...]|null,"responseStatus":{...}}` so the
/// server can report failures in request order without collecting them.
/// Call [`begin`](Self::begin), any number of pushes, then [`finish`](Self::finish)
/// on the same buffer with nothing written in between.
#[derive(Debug)]
pub struct InstancesResponseWriter {
    failed: usize,
    /// Reused for `Instance.toString()` prefixes of error messages.
    scratch: String,
}

impl InstancesResponseWriter {
    pub fn begin(out: &mut Vec<u8>) -> Self {
        out.extend_from_slice(b"{\"failedInstances\":");
        InstancesResponseWriter {
            failed: 0,
            scratch: String::new(),
        }
    }

    /// Appends one FailedInstance with a ready-made `errorMessage`.
    pub fn push_failed(
        &mut self,
        out: &mut Vec<u8>,
        error_code: &str,
        error_message: &str,
        instance: &Instance,
    ) {
        out.push(if self.failed == 0 { b'[' } else { b',' });
        self.failed += 1;
        write_failed_instance(out, error_code, error_message, instance);
    }

    /// Appends one FailedInstance whose `errorMessage` is Java's
    /// `"<instance.toString()>: <reason>"`.
    pub fn push_failed_reason(
        &mut self,
        out: &mut Vec<u8>,
        error_code: &str,
        reason: &str,
        instance: &Instance,
    ) {
        let mut message = std::mem::take(&mut self.scratch);
        message.clear();
        instance.display_key(&mut message);
        message.push_str(": ");
        message.push_str(reason);
        self.push_failed(out, error_code, &message, instance);
        self.scratch = message;
    }

    /// How many failures were pushed so far.
    pub fn failed_count(&self) -> usize {
        self.failed
    }

    /// Closes the response: SUCCESS with `null` when nothing failed, otherwise
    /// the list with PARTIAL_FAIL (even when every instance failed, as Java does).
    pub fn finish(self, out: &mut Vec<u8>) {
        let status = if self.failed == 0 {
            out.extend_from_slice(b"null");
            ResponseStatus::SUCCESS
        } else {
            out.push(b']');
            ResponseStatus::PARTIAL_FAIL
        };
        out.extend_from_slice(b",\"responseStatus\":");
        write_response_status(out, &status);
        out.push(b'}');
    }
}

/// A whole-request outcome without per-instance detail (rate limited, bad
/// request, node down): `{"failedInstances":null,"responseStatus":{...}}`.
pub fn write_instances_status(out: &mut Vec<u8>, status: &ResponseStatus) {
    out.extend_from_slice(b"{\"failedInstances\":null,\"responseStatus\":");
    write_response_status(out, status);
    out.push(b'}');
}

/// A whole-request failure: `{"failedInstances":null,"responseStatus":{fail...}}`.
pub fn write_instances_fail(out: &mut Vec<u8>, error_code: &str, message: &str) {
    write_instances_status(out, &ResponseStatus::fail(error_code, message));
}

/// Body of an HTTP 4xx protocol fault:
/// `{"responseStatus":{"errorCode":"bad-request","message":..,"status":"fail"}}`.
pub fn write_error_body(out: &mut Vec<u8>, message: &str) {
    write_fail_body(out, error_codes::BAD_REQUEST, message);
}

/// Body of an HTTP 4xx refusal with its own error code:
/// `{"responseStatus":{"errorCode":..,"message":..,"status":"fail"}}`.
pub fn write_fail_body(out: &mut Vec<u8>, error_code: &str, message: &str) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::fail(error_code, message));
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{spec_instance, text, SPEC_INSTANCE_JSON};

    fn status(s: ResponseStatus) -> String {
        text(|o| write_response_status(o, &s))
    }

    #[test]
    fn canonical_statuses_match_the_spec() {
        assert_eq!(
            status(ResponseStatus::SUCCESS),
            r#"{"errorCode":"success","message":"","status":"success"}"#
        );
        assert_eq!(
            status(ResponseStatus::RATE_LIMITED),
            r#"{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}"#
        );
        assert_eq!(
            status(ResponseStatus::PARTIAL_FAIL),
            r#"{"errorCode":"partial_fail","message":"","status":"partial_fail"}"#
        );
        assert_eq!(
            status(fail(error_codes::BAD_REQUEST, "request is null")),
            r#"{"errorCode":"bad-request","message":"request is null","status":"fail"}"#
        );
        assert_eq!(
            ResponseStatus::fail("x", "y"),
            ResponseStatus {
                status: status_strings::FAIL,
                error_code: "x",
                message: "y"
            }
        );
    }

    #[test]
    fn code_strings() {
        assert_eq!(
            [
                error_codes::SUCCESS,
                error_codes::PARTIAL_FAIL,
                error_codes::BAD_REQUEST,
                error_codes::RATE_LIMITED,
                error_codes::NO_PERMISSION,
                error_codes::DATA_NOT_FOUND,
                error_codes::INTERNAL_SERVICE_ERROR,
                error_codes::SERVICE_UNAVAILABLE,
                error_codes::UNKNOWN,
            ],
            [
                "success",
                "partial_fail",
                "bad-request",
                "rate-limited",
                "no-permission",
                "data-not-found",
                "internal-service-error",
                "service-unavailable",
                "unknown",
            ]
        );
        assert_eq!(
            [
                status_strings::SUCCESS,
                status_strings::FAIL,
                status_strings::PARTIAL_FAIL,
                status_strings::UNKNOWN
            ],
            ["success", "fail", "partial_fail", "unknown"]
        );
    }

    #[test]
    fn no_failures_is_success_with_null_list() {
        let json = text(|o| InstancesResponseWriter::begin(o).finish(o));
        assert_eq!(
            json,
            r#"{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#
        );
    }

    #[test]
    fn heartbeat_of_unknown_instance_matches_the_spec() {
        let json = text(|o| {
            let mut w = InstancesResponseWriter::begin(o);
            w.push_failed_reason(
                o,
                error_codes::DATA_NOT_FOUND,
                "Instance is not exising! Need re-register.",
                &spec_instance(),
            );
            assert_eq!(w.failed_count(), 1);
            w.finish(o);
        });
        let expected = format!(
            concat!(
                r#"{{"failedInstances":[{{"errorCode":"data-not-found","#,
                r#""errorMessage":"sha/shajq/myservice/10.0.0.1:8080: Instance is not exising! Need re-register.","#,
                r#""instance":{}}}],"#,
                r#""responseStatus":{{"errorCode":"partial_fail","message":"","status":"partial_fail"}}}}"#
            ),
            SPEC_INSTANCE_JSON
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn several_failures_in_push_order() {
        let mut a = spec_instance();
        a.instance_id = Some("a".into());
        let mut b = spec_instance();
        b.instance_id = Some("b".into());
        let json = text(|o| {
            let mut w = InstancesResponseWriter::begin(o);
            w.push_failed(o, error_codes::NO_PERMISSION, "m\"1", &a);
            w.push_failed_reason(o, error_codes::INTERNAL_SERVICE_ERROR, "r2", &b);
            w.finish(o);
        });
        let v: sonic_rs::Value = sonic_rs::from_str(&json).unwrap();
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let list = v.get("failedInstances").unwrap().as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].get("errorMessage").unwrap().as_str(), Some("m\"1"));
        assert_eq!(
            list[1].get("errorMessage").unwrap().as_str(),
            Some("sha/shajq/myservice/b: r2")
        );
        assert_eq!(
            list[1]
                .get("instance")
                .unwrap()
                .get("instanceId")
                .unwrap()
                .as_str(),
            Some("b")
        );
        assert_eq!(
            v.get("responseStatus")
                .unwrap()
                .get("status")
                .unwrap()
                .as_str(),
            Some("partial_fail")
        );
    }

    #[test]
    fn whole_request_failures() {
        assert_eq!(
            text(|o| write_instances_fail(
                o,
                error_codes::BAD_REQUEST,
                "request.instances is null or empty."
            )),
            r#"{"failedInstances":null,"responseStatus":{"errorCode":"bad-request","message":"request.instances is null or empty.","status":"fail"}}"#
        );
        assert_eq!(
            text(|o| write_instances_status(o, &ResponseStatus::RATE_LIMITED)),
            r#"{"failedInstances":null,"responseStatus":{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}}"#
        );
        assert_eq!(
            text(|o| write_error_body(o, "invalid JSON body: EOF \"x\"")),
            r#"{"responseStatus":{"errorCode":"bad-request","message":"invalid JSON body: EOF \"x\"","status":"fail"}}"#
        );
        assert_eq!(
            text(|o| write_fail_body(o, error_codes::NO_PERMISSION, "refused")),
            r#"{"responseStatus":{"errorCode":"no-permission","message":"refused","status":"fail"}}"#
        );
    }
}
