//! Request bodies written as Java's management portal writes them, and answers read: every
//! Artemis answer carries a `responseStatus`, and anything but `success` fails the command
//! with the node's own error code and message.

use protocol::model::{error_codes, parse, write_bool, write_str};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::client::{Node, Reply};
use super::Failure;

/// A JSON object written field by field (names are static, values escaped).
pub struct JsonObject {
    out: Vec<u8>,
}

impl JsonObject {
    pub fn new() -> JsonObject {
        JsonObject { out: vec![b'{'] }
    }

    fn name(&mut self, name: &str) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        write_str(&mut self.out, name);
        self.out.push(b':');
    }

    pub fn str(mut self, name: &str, value: &str) -> JsonObject {
        self.name(name);
        write_str(&mut self.out, value);
        self
    }

    /// A string field only when there is a value (Java reads an absent one as null).
    pub fn opt_str(self, name: &str, value: Option<&str>) -> JsonObject {
        match value {
            Some(v) => self.str(name, v),
            None => self,
        }
    }

    pub fn bool(mut self, name: &str, value: bool) -> JsonObject {
        self.name(name);
        write_bool(&mut self.out, value);
        self
    }

    /// A field whose value is already JSON (a nested object or array).
    pub fn raw(mut self, name: &str, json: &[u8]) -> JsonObject {
        self.name(name);
        self.out.extend_from_slice(json);
        self
    }

    pub fn str_array(mut self, name: &str, values: &[&str]) -> JsonObject {
        self.name(name);
        self.out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(&mut self.out, value);
        }
        self.out.push(b']');
        self
    }

    /// An array of values that are already JSON.
    pub fn raw_array(mut self, name: &str, items: &[Vec<u8>]) -> JsonObject {
        self.name(name);
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(item);
        }
        self.out.push(b']');
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// `ResponseStatus`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ResponseStatus {
    status: Option<String>,
    error_code: Option<String>,
    message: Option<String>,
}

/// Just the status of an answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusOnly {
    response_status: Option<ResponseStatus>,
}

/// POSTs `body` to `path` and returns the answer's body once it is HTTP 200 with a
/// `responseStatus` of success; anything else fails with what the node said.
pub fn call(node: &Node, path: &str, body: &[u8]) -> Result<Vec<u8>, Failure> {
    accept(node, path, node.post(path, body)?)
}

/// The body of `reply` (to a request to `path`) once it is HTTP 200 with a `responseStatus`
/// of success; else the failure it says.
pub fn accept(node: &Node, path: &str, reply: Reply) -> Result<Vec<u8>, Failure> {
    check(node, path, &reply)?;
    Ok(reply.body)
}

/// [`call`], then the answer read as `T`.
pub fn call_as<T: DeserializeOwned>(
    node: &Node,
    path: &str,
    body: &[u8],
) -> Result<(T, Vec<u8>), Failure> {
    let raw = call(node, path, body)?;
    let value = read(node, path, &raw)?;
    Ok((value, raw))
}

/// An answer's body read as `T`.
pub fn read<T: DeserializeOwned>(node: &Node, path: &str, body: &[u8]) -> Result<T, Failure> {
    parse(body).map_err(|e| {
        Failure::failed(format!(
            "{}{path} answered something that is not its JSON: {e}",
            node.url()
        ))
    })
}

fn check(node: &Node, path: &str, reply: &Reply) -> Result<(), Failure> {
    let status = parse::<StatusOnly>(&reply.body)
        .ok()
        .and_then(|s| s.response_status);
    let at = format!("{}{path}", node.url());
    let Some(status) = status else {
        return Err(Failure::failed(if reply.status == 200 {
            format!("{at}: the answer has no responseStatus (is this an artemis node?)")
        } else {
            format!("{at}: HTTP {}", reply.status)
        }));
    };
    let code = status.error_code.as_deref().unwrap_or("");
    let message = status.message.as_deref().unwrap_or("");
    if reply.status != 200 {
        return Err(Failure::failed(format!(
            "{at}: HTTP {}: {message}",
            reply.status
        )));
    }
    let success = status.status.as_deref() == Some("success") && code == error_codes::SUCCESS;
    if !success {
        return Err(Failure::failed(format!("{at}: {code}: {message}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_with_escaped_values() {
        let inner = JsonObject::new().str("a", "x").finish();
        let body = JsonObject::new()
            .str("name", "say \"hi\"\n")
            .opt_str("absent", None)
            .opt_str("present", Some("p"))
            .bool("flag", false)
            .raw("inner", &inner)
            .str_array("list", &["a", "b\\"])
            .raw_array("objects", &[inner.clone(), inner])
            .finish();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"name":"say \"hi\"\n","present":"p","flag":false,"inner":{"a":"x"},"list":["a","b\\"],"objects":[{"a":"x"},{"a":"x"}]}"#
        );
        assert_eq!(JsonObject::new().finish(), b"{}");
    }

    fn checked(status: u16, body: &str) -> Result<(), Failure> {
        let node = Node::parse("http://node:1", None).unwrap();
        let reply = Reply {
            status,
            body: body.as_bytes().to_vec(),
        };
        check(&node, "/p", &reply)
    }

    #[test]
    fn only_http_200_with_success_passes() {
        let ok = r#"{"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#;
        assert_eq!(checked(200, ok), Ok(()));

        let refused = r#"{"responseStatus":{"errorCode":"no-permission","message":"no token","status":"fail"}}"#;
        let err = checked(200, refused).unwrap_err();
        assert_eq!(err.message, "http://node:1/p: no-permission: no token");
        assert_eq!(err.exit_code, crate::admin::FAILED);

        let missing = r#"{"responseStatus":{"errorCode":"bad-request","message":"no such path: /p","status":"fail"}}"#;
        let err = checked(404, missing).unwrap_err();
        assert_eq!(err.message, "http://node:1/p: HTTP 404: no such path: /p");

        assert!(checked(200, "{}")
            .unwrap_err()
            .message
            .contains("no responseStatus"));
        assert!(checked(502, "<html>")
            .unwrap_err()
            .message
            .ends_with("HTTP 502"));
        let partial = r#"{"responseStatus":{"errorCode":"partial_fail","message":"","status":"partial_fail"}}"#;
        assert!(checked(200, partial).is_err());
    }
}
