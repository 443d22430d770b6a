//! Checking every response without a full JSON parse: a forward-only scanner walks the top-level
//! object, reads `responseStatus` (and, for lookups, only as much of the first service as needed),
//! and skips everything else without allocating. The server writes properties alphabetically, so
//! `responseStatus` comes before the large `services` list and the scan stops early.
//!
//! The scanner understands JSON strings (escapes included), so a `"status":"success"` inside an
//! instance's metadata can never be mistaken for the response's status.

/// What a response must satisfy to count as a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// HTTP 200 and `responseStatus` with status and errorCode both `"success"`.
    Artemis,
    /// As `Artemis`, and the first service of a lookup answer must have at least one instance
    /// (when the run populated the registry, an empty answer is wrong).
    LookupNonEmpty,
    /// HTTP 200 only (reference servers).
    HttpOk,
}

/// The instance list of the first service in a lookup answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instances {
    NonEmpty,
    Empty,
    /// `null`: Java's answer for a lookup it swallowed (wrong region, node down...).
    Null,
}

/// A response body as the connection hands it to a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The body, inflated if it came gzip-encoded.
    Body(&'a [u8]),
    /// A gzip body that does not inflate.
    BadGzip,
}

/// [`check`] of what a connection read: a gzip answer that does not inflate is a `gzip` error.
pub fn check_answer(check_kind: Check, status: u16, answer: Answer<'_>) -> Result<(), String> {
    match answer {
        Answer::Body(body) => check(check_kind, status, body),
        Answer::BadGzip => Err("gzip".into()),
    }
}

/// Checks one response; `Err` holds the error kind reported to the user (`http-<code>`,
/// `partial_fail:<first failed instance's errorCode>`, `<status>:<errorCode>` for any other
/// status, or a `success` status whose errorCode is not `success`, `parse`, `empty-service`,
/// `null-service`). Allocates only on errors.
pub fn check(check: Check, status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(format!("http-{status}"));
    }
    match check {
        Check::HttpOk => Ok(()),
        Check::Artemis => artemis_status(body).map(|_| ()),
        Check::LookupNonEmpty => match artemis_status(body)? {
            Some(Instances::NonEmpty) => Ok(()),
            Some(Instances::Empty) => Err("empty-service".into()),
            Some(Instances::Null) => Err("null-service".into()),
            None => Err("parse".into()),
        },
    }
}

/// Checks `responseStatus` and returns the state of the first service's instances if the body has
/// a `services` list.
pub fn artemis_status(body: &[u8]) -> Result<Option<Instances>, String> {
    let parse = |_| "parse".to_string();
    let mut c = Cursor::new(body);
    let mut status: Option<(&[u8], &[u8])> = None;
    let mut failed_at: Option<usize> = None;
    let mut instances = None;
    c.begin(b'{').map_err(parse)?;
    while let Some(key) = c.next_key().map_err(parse)? {
        match key {
            b"responseStatus" => status = Some(read_status(&mut c).map_err(parse)?),
            b"failedInstances" => {
                failed_at = Some(c.pos);
                c.skip_value().map_err(parse)?;
            }
            b"services" if status.is_some() => {
                instances = Some(first_service_instances(&mut c).map_err(parse)?);
                break;
            }
            _ => c.skip_value().map_err(parse)?,
        }
    }
    let Some((status, code)) = status else {
        return Err("parse".into());
    };
    match status {
        b"success" if code == b"success" => Ok(instances),
        b"partial_fail" => {
            let first = failed_at.and_then(|at| first_failed_code(body, at));
            Err(match first {
                Some(code) => format!("partial_fail:{}", String::from_utf8_lossy(code)),
                None => "partial_fail".into(),
            })
        }
        _ => Err(format!(
            "{}:{}",
            String::from_utf8_lossy(status),
            String::from_utf8_lossy(code)
        )),
    }
}

/// The number of instances of the first service in a successful lookup answer (used to confirm
/// that pulled-out instances are hidden before a measurement starts).
pub fn first_service_instance_count(body: &[u8]) -> Result<usize, String> {
    artemis_status(body)?;
    let mut c = Cursor::new(body);
    count_first_service_instances(&mut c).map_err(|()| "parse".to_string())
}

fn count_first_service_instances(c: &mut Cursor<'_>) -> Result<usize, ()> {
    c.begin(b'{')?;
    while let Some(key) = c.next_key()? {
        if key != b"services" {
            c.skip_value()?;
            continue;
        }
        c.begin(b'[')?;
        c.begin(b'{')?;
        while let Some(key) = c.next_key()? {
            if key != b"instances" {
                c.skip_value()?;
                continue;
            }
            c.begin(b'[')?;
            let mut count = 0;
            loop {
                c.skip_ws();
                match c.peek() {
                    Some(b']') => return Ok(count),
                    Some(b',') if count > 0 => c.pos += 1,
                    Some(_) if count == 0 => {}
                    _ => return Err(()),
                }
                c.skip_value()?;
                count += 1;
            }
        }
        return Err(());
    }
    Err(())
}

/// `{"errorCode":..,"message":..,"status":..}` → (status, errorCode), raw string contents.
fn read_status<'a>(c: &mut Cursor<'a>) -> Result<(&'a [u8], &'a [u8]), ()> {
    let mut status: &[u8] = b"";
    let mut code: &[u8] = b"";
    c.begin(b'{')?;
    while let Some(key) = c.next_key()? {
        match key {
            b"status" => status = c.string_or_null()?,
            b"errorCode" => code = c.string_or_null()?,
            _ => c.skip_value()?,
        }
    }
    Ok((status, code))
}

/// Positioned at the `services` value: inspects the first service's `instances`.
fn first_service_instances(c: &mut Cursor<'_>) -> Result<Instances, ()> {
    c.skip_ws();
    if c.eat_literal(b"null") {
        return Ok(Instances::Null);
    }
    c.begin(b'[')?;
    c.skip_ws();
    if c.peek() == Some(b']') {
        return Ok(Instances::Empty);
    }
    c.begin(b'{')?;
    while let Some(key) = c.next_key()? {
        if key == b"instances" {
            c.skip_ws();
            if c.eat_literal(b"null") {
                return Ok(Instances::Null);
            }
            c.begin(b'[')?;
            c.skip_ws();
            return match c.peek() {
                Some(b']') => Ok(Instances::Empty),
                Some(_) => Ok(Instances::NonEmpty),
                None => Err(()),
            };
        }
        c.skip_value()?;
    }
    Ok(Instances::Null)
}

/// The `errorCode` of the first element of the `failedInstances` value at `at`.
fn first_failed_code(body: &[u8], at: usize) -> Option<&[u8]> {
    let mut c = Cursor { buf: body, pos: at };
    c.skip_ws();
    c.begin(b'[').ok()?;
    c.skip_ws();
    c.begin(b'{').ok()?;
    while let Some(key) = c.next_key().ok()? {
        if key == b"errorCode" {
            return c.string_or_null().ok();
        }
        c.skip_value().ok()?;
    }
    None
}

/// A forward-only JSON tokenizer over a byte slice. Errors carry no detail: any malformed input is
/// one error kind ("parse").
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn begin(&mut self, open: u8) -> Result<(), ()> {
        self.skip_ws();
        if self.peek() == Some(open) {
            self.pos += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    fn eat_literal(&mut self, lit: &[u8]) -> bool {
        if self.buf[self.pos.min(self.buf.len())..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// After `{` or after a member: the next member's key (positioned after its colon), or `None`
    /// at the closing brace.
    fn next_key(&mut self) -> Result<Option<&'a [u8]>, ()> {
        self.skip_ws();
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(None);
            }
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
            }
            _ => {}
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(());
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// A string's raw contents (escapes left as they are).
    fn string(&mut self) -> Result<&'a [u8], ()> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(());
        }
        let start = self.pos + 1;
        let mut i = start;
        while i < self.buf.len() {
            match self.buf[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.buf[start..i]);
                }
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        Err(())
    }

    fn string_or_null(&mut self) -> Result<&'a [u8], ()> {
        self.skip_ws();
        if self.eat_literal(b"null") {
            Ok(b"")
        } else {
            self.string()
        }
    }

    /// Skips one value of any kind, nested containers included.
    fn skip_value(&mut self) -> Result<(), ()> {
        self.skip_ws();
        match self.peek().ok_or(())? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                while let Some(b) = self.peek() {
                    match b {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
                Err(())
            }
            _ => {
                // Number, true, false, null.
                let start = self.pos;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'a'..=b'z' | b'-' | b'+' | b'.' | b'E')
                ) {
                    self.pos += 1;
                }
                if self.pos == start {
                    Err(())
                } else {
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

    #[test]
    fn success_and_failures() {
        let ok = format!(r#"{{"failedInstances":null,"responseStatus":{OK}}}"#);
        assert_eq!(check(Check::Artemis, 200, ok.as_bytes()), Ok(()));
        assert_eq!(
            check(Check::Artemis, 400, ok.as_bytes()),
            Err("http-400".into())
        );
        let partial = r#"{"failedInstances":[{"errorCode":"no-permission","errorMessage":"x: regionId is not the same","instance":{"metadata":{"status":"success"}}}],"responseStatus":{"errorCode":"partial_fail","message":"","status":"partial_fail"}}"#;
        assert_eq!(
            check(Check::Artemis, 200, partial.as_bytes()),
            Err("partial_fail:no-permission".into())
        );
        let fail = r#"{"failedInstances":null,"responseStatus":{"errorCode":"bad-request","message":"request.instances is null or empty.","status":"fail"}}"#;
        assert_eq!(
            check(Check::Artemis, 200, fail.as_bytes()),
            Err("fail:bad-request".into())
        );
    }

    #[test]
    fn decoys_inside_strings_and_nested_objects_are_ignored() {
        // A "responseStatus" key inside metadata, a quoted status in a message, escaped quotes.
        let body = r#"{"failedInstances":[{"errorCode":"data-not-found","instance":{"metadata":{"responseStatus":"{\"status\":\"success\"}","k\"":"v"}}}],"responseStatus":{"errorCode":"partial_fail","message":"\"status\":\"success\"","status":"partial_fail"}}"#;
        assert_eq!(
            check(Check::Artemis, 200, body.as_bytes()),
            Err("partial_fail:data-not-found".into())
        );
        let body = r#"{"a":{"responseStatus":{"status":"success"}},"b":[1,-2.5e3,true,null,"]"]}"#;
        assert_eq!(
            check(Check::Artemis, 200, body.as_bytes()),
            Err("parse".into())
        );
    }

    #[test]
    fn malformed_bodies_are_parse_errors() {
        for body in [
            "",
            "null",
            "[]",
            "{",
            r#"{"responseStatus":"#,
            r#"{"responseStatus":{"status":"succ"#,
            r#"{"responseStatus":{"status":"success""#,
            "<html>502</html>",
        ] {
            assert_eq!(
                check(Check::Artemis, 200, body.as_bytes()),
                Err("parse".into()),
                "{body}"
            );
        }
    }

    #[test]
    fn lookups() {
        let found = format!(
            r#"{{"responseStatus":{OK},"services":[{{"instances":[{{"instanceId":"a"}}],"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"s"}}]}}"#
        );
        assert_eq!(check(Check::LookupNonEmpty, 200, found.as_bytes()), Ok(()));
        let empty = format!(
            r#"{{"responseStatus":{OK},"services":[{{"instances":[],"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"s"}}]}}"#
        );
        assert_eq!(
            check(Check::LookupNonEmpty, 200, empty.as_bytes()),
            Err("empty-service".into())
        );
        assert_eq!(check(Check::Artemis, 200, empty.as_bytes()), Ok(()));
        assert_eq!(artemis_status(empty.as_bytes()), Ok(Some(Instances::Empty)));
        let swallowed = format!(
            r#"{{"responseStatus":{OK},"services":[{{"instances":null,"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"s"}}]}}"#
        );
        assert_eq!(
            check(Check::LookupNonEmpty, 200, swallowed.as_bytes()),
            Err("null-service".into())
        );
        let failed = r#"{"responseStatus":{"errorCode":"internal-service-error","message":"npe","status":"fail"},"services":null}"#;
        assert_eq!(
            check(Check::LookupNonEmpty, 200, failed.as_bytes()),
            Err("fail:internal-service-error".into())
        );
    }

    #[test]
    fn a_success_status_needs_a_success_code() {
        let odd = r#"{"responseStatus":{"errorCode":"unknown","message":"","status":"success"}}"#;
        assert_eq!(
            check(Check::Artemis, 200, odd.as_bytes()),
            Err("success:unknown".into())
        );
    }

    #[test]
    fn instance_counts_of_lookups() {
        let three = format!(
            r#"{{"responseStatus":{OK},"services":[{{"instances":[{{"instanceId":"a","metadata":{{"k":[1,2]}}}},{{"instanceId":"b"}},{{}}],"serviceId":"s"}}]}}"#
        );
        assert_eq!(first_service_instance_count(three.as_bytes()), Ok(3));
        let none = format!(r#"{{"responseStatus":{OK},"services":[{{"instances":[ ]}}]}}"#);
        assert_eq!(first_service_instance_count(none.as_bytes()), Ok(0));
        let null = format!(r#"{{"responseStatus":{OK},"services":[{{"instances":null}}]}}"#);
        assert_eq!(
            first_service_instance_count(null.as_bytes()),
            Err("parse".into())
        );
        let failed = r#"{"responseStatus":{"errorCode":"bad-request","message":"","status":"fail"},"services":null}"#;
        assert_eq!(
            first_service_instance_count(failed.as_bytes()),
            Err("fail:bad-request".into())
        );
    }

    #[test]
    fn http_only() {
        assert_eq!(check(Check::HttpOk, 200, b"anything"), Ok(()));
        assert_eq!(check(Check::HttpOk, 503, b""), Err("http-503".into()));
    }
}
