//! What a peer's answer to a replication request means for each instance of the batch (spec
//! §9.2): Java's `RegistryReplicationTool.replicate` and
//! `ReplicationTool.responseErrorCodeToTaskErrorCode`.

use std::borrow::Cow;

use protocol::model::{error_codes, parse, status_strings};
use serde::Deserialize;

use super::key::InstanceKey;
use super::queue::{Entry, Verdict};
use crate::cluster::client::{Answer, PeerError};

/// Java's task error code for a peer's error code: bad-request, no-permission,
/// internal-service-error and service-unavailable are permanent (the instance is dropped);
/// rate-limited and everything else (unknown, data-not-found, codes we do not know) are tried
/// again.
pub fn classify(error_code: &str) -> Verdict {
    match error_code {
        error_codes::BAD_REQUEST
        | error_codes::NO_PERMISSION
        | error_codes::INTERNAL_SERVICE_ERROR
        | error_codes::SERVICE_UNAVAILABLE => Verdict::Rejected,
        _ => Verdict::Retry,
    }
}

/// Why a batch was not fully accepted, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// No answer: the peer is unreachable, timed out, or its answer was not HTTP.
    Unreachable(String),
    /// An answer that is not a registry response (an HTTP error page, say).
    Unreadable { http_status: u16 },
    /// The peer answered with this error code for the whole batch or some of its instances.
    Refused { error_code: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreachable(why) => write!(f, "no answer ({why})"),
            Problem::Unreadable { http_status } => {
                write!(f, "HTTP {http_status} without a registry response")
            }
            Problem::Refused { error_code } => write!(f, "error code {error_code}"),
        }
    }
}

#[derive(Deserialize)]
struct RegistryResponse<'a> {
    #[serde(rename = "responseStatus", borrow)]
    response_status: Option<StatusPart<'a>>,
    #[serde(rename = "failedInstances", borrow)]
    failed_instances: Option<Vec<Option<FailedPart<'a>>>>,
}

#[derive(Deserialize)]
struct StatusPart<'a> {
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FailedPart<'a> {
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    instance: Option<KeyPart<'a>>,
}

/// The identity of a failed instance as the peer echoes it (Java writes camelCase).
#[derive(Deserialize)]
struct KeyPart<'a> {
    #[serde(rename = "serviceId", borrow)]
    service_id: Option<Cow<'a, str>>,
    #[serde(rename = "instanceId", borrow)]
    instance_id: Option<Cow<'a, str>>,
}

/// Fill `verdicts` with one verdict per entry of `batch`; the problem, if any entry was not
/// accepted.
///
/// A whole-request failure (`status: fail`) applies its error code to every instance; any
/// other status (`partial_fail`, as Java) applies each failed instance's code to the entries of
/// the same instance key, and the rest were accepted. No answer, or an answer without a
/// `responseStatus`, is tried again.
pub fn judge(
    answer: &Result<Answer, PeerError>,
    batch: &[Entry],
    verdicts: &mut Vec<Verdict>,
) -> Option<Problem> {
    verdicts.clear();
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            verdicts.resize(batch.len(), Verdict::Retry);
            return Some(Problem::Unreachable(e.to_string()));
        }
    };
    let response = parse::<RegistryResponse>(&answer.body).ok();
    let Some(status) = response.as_ref().and_then(|r| r.response_status.as_ref()) else {
        verdicts.resize(batch.len(), Verdict::Retry);
        return Some(Problem::Unreadable {
            http_status: answer.status,
        });
    };
    let code = status.error_code.as_deref().unwrap_or(error_codes::UNKNOWN);
    match status.status.as_deref() {
        Some(status_strings::SUCCESS) => {
            verdicts.resize(batch.len(), Verdict::Accepted);
            return None;
        }
        Some(status_strings::FAIL) => {
            verdicts.resize(batch.len(), classify(code));
            return Some(Problem::Refused {
                error_code: code.to_string(),
            });
        }
        _ => {}
    }
    verdicts.resize(batch.len(), Verdict::Accepted);
    let failed = response
        .and_then(|r| r.failed_instances)
        .unwrap_or_default();
    let mut problem = None;
    let mut keys: Option<Vec<Option<InstanceKey>>> = None;
    for failed in failed.into_iter().flatten() {
        let code = failed.error_code.as_deref().unwrap_or(error_codes::UNKNOWN);
        let Some(key) = failed.instance.as_ref().and_then(KeyPart::key) else {
            continue;
        };
        // Only partial failures need the keys of the batch's entries.
        let keys = keys.get_or_insert_with(|| {
            batch
                .iter()
                .map(|e| InstanceKey::of_json(&e.json))
                .collect()
        });
        let verdict = classify(code);
        for (n, entry_key) in keys.iter().enumerate() {
            if entry_key.as_ref() == Some(&key) {
                verdicts[n] = verdict;
            }
        }
        problem.get_or_insert_with(|| Problem::Refused {
            error_code: code.to_string(),
        });
    }
    problem
}

impl KeyPart<'_> {
    fn key(&self) -> Option<InstanceKey> {
        InstanceKey::of_ids(self.service_id.as_deref(), self.instance_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shards::ReplicaKind;

    use super::*;

    fn entry(service: &str, instance: &str) -> Entry {
        let json = format!(r#"{{"instanceId":"{instance}","serviceId":"{service}"}}"#);
        Entry {
            kind: ReplicaKind::Heartbeat,
            json: Arc::from(json.into_bytes()),
            queued_ms: 1,
            resync: false,
        }
    }

    fn answer(status: u16, body: &str) -> Result<Answer, PeerError> {
        Ok(Answer {
            status,
            body: body.as_bytes().to_vec(),
        })
    }

    fn verdicts_of(
        answer: &Result<Answer, PeerError>,
        batch: &[Entry],
    ) -> (Vec<Verdict>, Option<Problem>) {
        let mut verdicts = vec![Verdict::Rejected; 7];
        let problem = judge(answer, batch, &mut verdicts);
        assert_eq!(verdicts.len(), batch.len());
        (verdicts, problem)
    }

    #[test]
    fn java_error_codes_map_to_permanent_or_retry() {
        for code in [
            "bad-request",
            "no-permission",
            "internal-service-error",
            "service-unavailable",
        ] {
            assert_eq!(classify(code), Verdict::Rejected, "{code}");
        }
        for code in [
            "rate-limited",
            "unknown",
            "data-not-found",
            "success",
            "whatever",
            "",
        ] {
            assert_eq!(classify(code), Verdict::Retry, "{code}");
        }
    }

    #[test]
    fn success_accepts_the_whole_batch() {
        let batch = [entry("s", "a"), entry("s", "b")];
        let ok = answer(
            200,
            r#"{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#,
        );
        assert_eq!(
            verdicts_of(&ok, &batch),
            (vec![Verdict::Accepted, Verdict::Accepted], None)
        );
    }

    #[test]
    fn a_whole_request_failure_applies_its_code_to_every_instance() {
        let batch = [entry("s", "a"), entry("s", "b")];
        let limited = answer(
            200,
            r#"{"failedInstances":null,"responseStatus":{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}}"#,
        );
        assert_eq!(
            verdicts_of(&limited, &batch),
            (
                vec![Verdict::Retry, Verdict::Retry],
                Some(Problem::Refused {
                    error_code: "rate-limited".into()
                })
            )
        );
        // The 403 a peer with another secret answers carries a permanent code.
        let forbidden = answer(
            403,
            r#"{"responseStatus":{"errorCode":"no-permission","message":"x","status":"fail"}}"#,
        );
        assert_eq!(
            verdicts_of(&forbidden, &batch).0,
            vec![Verdict::Rejected, Verdict::Rejected]
        );
    }

    #[test]
    fn a_partial_failure_judges_each_failed_instance_by_its_key() {
        let batch = [
            entry("s", "a"),
            entry("S", "B"),
            entry("t", "c"),
            entry("s", "b"),
        ];
        let partial = answer(
            200,
            r#"{"failedInstances":[
                {"errorCode":"bad-request","errorMessage":"x","instance":{"serviceId":"s","instanceId":"b"}},
                {"errorCode":"rate-limited","errorMessage":"x","instance":{"serviceId":"T","instanceId":"C"}},
                {"errorCode":"bad-request","errorMessage":"x","instance":{"serviceId":"elsewhere","instanceId":"z"}},
                {"errorCode":"bad-request","errorMessage":"x","instance":null},
                null],
              "responseStatus":{"errorCode":"partial_fail","message":"","status":"partial_fail"}}"#,
        );
        let (verdicts, problem) = verdicts_of(&partial, &batch);
        assert_eq!(
            verdicts,
            [
                Verdict::Accepted,
                Verdict::Rejected,
                Verdict::Retry,
                Verdict::Rejected
            ]
        );
        assert_eq!(
            problem,
            Some(Problem::Refused {
                error_code: "bad-request".into()
            })
        );
    }

    #[test]
    fn no_answer_or_no_registry_response_is_tried_again() {
        let batch = [entry("s", "a")];
        let (verdicts, problem) = verdicts_of(&Err(PeerError::Timeout), &batch);
        assert_eq!(verdicts, [Verdict::Retry]);
        assert!(matches!(problem, Some(Problem::Unreachable(_))));
        for (status, body) in [(500, "<html>oops</html>"), (404, ""), (200, "{}")] {
            let (verdicts, problem) = verdicts_of(&answer(status, body), &batch);
            assert_eq!(verdicts, [Verdict::Retry], "{status} {body}");
            assert_eq!(
                problem,
                Some(Problem::Unreadable {
                    http_status: status
                })
            );
        }
    }
}
