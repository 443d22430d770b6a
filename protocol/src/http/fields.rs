//! Byte classes and the field-line grammar shared by the header section and the chunked trailer
//! section.
//!
//! Every scanner here is prefix-monotone: it reports an error only when the bytes already present
//! prove the input invalid, and `Ok(None)` when the buffer ends first. That is what makes
//! re-parsing a grown buffer give the same answer as parsing the whole thing at once.

use super::HttpError;

/// A parsing step: `Ok(None)` means the buffer ended before the step could finish.
pub(crate) type Step<T> = Result<Option<T>, HttpError>;

/// tchar (RFC 9110 §5.6.2).
pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// field-vchar, obs-text, SP and HTAB. Control bytes and DEL are refused because downstream
/// consumers (logs, proxies, the registry's own JSON) may treat them differently from us.
pub(crate) const fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7F)
}

pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first byte at or after `pos` that doesn't satisfy `pred` (`buf.len()` if none).
pub(crate) fn skip_while(buf: &[u8], pos: usize, pred: impl Fn(u8) -> bool) -> usize {
    let run = buf
        .get(pos..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| pred(b)).count());
    pos + run
}

/// Consumes a line ending at `pos`, returning where the next line starts.
pub(crate) type LineEnd = fn(&[u8], usize, &'static str) -> Step<usize>;

/// CRLF or, for sloppy clients, a bare LF (the head). A CR followed by anything else is refused:
/// some agents treat a bare CR as a line break and others don't, which is a smuggling vector.
pub(crate) fn line_end(buf: &[u8], pos: usize, error: &'static str) -> Step<usize> {
    match buf.get(pos) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(pos + 1)),
        Some(b'\r') => match buf.get(pos + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(pos + 2)),
            Some(_) => Err(HttpError::BadRequest(error)),
        },
        Some(_) => Err(HttpError::BadRequest(error)),
    }
}

/// CRLF only (chunk framing and trailers, where agents that disagree about bare LF desynchronise).
pub(crate) fn crlf(buf: &[u8], pos: usize, error: &'static str) -> Step<usize> {
    match (buf.get(pos), buf.get(pos + 1)) {
        (None, _) | (Some(b'\r'), None) => Ok(None),
        (Some(b'\r'), Some(b'\n')) => Ok(Some(pos + 2)),
        _ => Err(HttpError::BadRequest(error)),
    }
}

/// A byte range `start..end` of the buffer a section was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub name: Span,
    pub value: Span,
}

enum FieldLine {
    Field(FieldSpan),
    End,
}

/// Parses one field line at `pos`, or the empty line that ends the section. Returns it with the
/// next line's start.
fn field_line(buf: &[u8], pos: usize, end: LineEnd) -> Step<(FieldLine, usize)> {
    match buf.get(pos) {
        None => return Ok(None),
        Some(b'\r' | b'\n') => {
            let next = end(buf, pos, "invalid header line ending")?;
            return Ok(next.map(|next| (FieldLine::End, next)));
        }
        // A line starting with whitespace is obs-fold (or a mangled first field); RFC 9112 §5.2
        // lets us reject it.
        Some(b' ' | b'\t') => return Err(HttpError::BadRequest("obsolete line folding")),
        Some(_) => {}
    }
    let name_end = skip_while(buf, pos, is_tchar);
    match buf.get(name_end) {
        None => return Ok(None),
        // Whitespace before the colon is refused (RFC 9112 §5.1): agents disagree on what the name
        // is.
        Some(b':') if name_end > pos => {}
        Some(_) => return Err(HttpError::BadRequest("invalid header name")),
    }
    let value_start = skip_while(buf, name_end + 1, is_ows);
    let value_stop = skip_while(buf, value_start, is_value_byte);
    let Some(next) = end(buf, value_stop, "invalid header value")? else {
        return Ok(None);
    };
    let value_end = trailing_ows_start(buf, value_start, value_stop);
    let field = FieldSpan {
        name: Span {
            start: pos,
            end: name_end,
        },
        value: Span {
            start: value_start,
            end: value_end,
        },
    };
    Ok(Some((FieldLine::Field(field), next)))
}

/// Where the trailing whitespace of `buf[start..end]` begins.
fn trailing_ows_start(buf: &[u8], start: usize, end: usize) -> usize {
    let value = buf.get(start..end).unwrap_or_default();
    let trailing = value.iter().rev().take_while(|&&b| is_ows(b)).count();
    end - trailing
}

/// Parses field lines from `pos` through the empty line ending the section, handing each field to
/// `on_field`. Returns the position just after the section.
pub(crate) fn parse_section(
    buf: &[u8],
    mut pos: usize,
    end: LineEnd,
    mut on_field: impl FnMut(FieldSpan) -> Result<(), HttpError>,
) -> Step<usize> {
    loop {
        let Some((line, next)) = field_line(buf, pos, end)? else {
            return Ok(None);
        };
        debug_assert!(next > pos, "every line consumes at least its line ending");
        match line {
            FieldLine::End => return Ok(Some(next)),
            FieldLine::Field(field) => on_field(field)?,
        }
        pos = next;
    }
}

/// Runs `parse` on at most `limit` bytes of `buf`. If the section doesn't end within the limit
/// although more bytes than that are already buffered, it never will: fail now instead of buffering
/// a slow client forever.
pub(crate) fn parse_bounded<'b, T>(
    buf: &'b [u8],
    limit: usize,
    parse: impl FnOnce(&'b [u8]) -> Step<T>,
) -> Step<T> {
    let window = buf.get(..limit).unwrap_or(buf);
    match parse(window)? {
        Some(parsed) => Ok(Some(parsed)),
        None if buf.len() > limit => Err(HttpError::HeadersTooLarge),
        None => Ok(None),
    }
}

/// The non-empty elements of a comma-separated list (RFC 9110 §5.6.1), whitespace trimmed.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().take_while(|&&b| is_ows(b)).count();
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest.len() - rest.iter().rev().take_while(|&&b| is_ows(b)).count();
    rest.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    fn fields(buf: &[u8]) -> Step<(Fields, usize)> {
        let mut found = Vec::new();
        let end = parse_section(buf, 0, line_end, |field| {
            found.push((field.name.of(buf).to_vec(), field.value.of(buf).to_vec()));
            Ok(())
        })?;
        Ok(end.map(|end| (found, end)))
    }

    fn one(name: &str, value: &str) -> Fields {
        vec![(name.as_bytes().to_vec(), value.as_bytes().to_vec())]
    }

    #[test]
    fn tchar_set_matches_rfc() {
        let expected: Vec<u8> = (0u8..=255)
            .filter(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
            .collect();
        let actual: Vec<u8> = (0u8..=255).filter(|&b| is_tchar(b)).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn value_bytes_exclude_controls_and_del() {
        for b in 0u8..=255 {
            let allowed = b == b'\t' || (0x20..0x7F).contains(&b) || b >= 0x80;
            assert_eq!(is_value_byte(b), allowed, "{b:#x}");
        }
    }

    #[test]
    fn field_values_are_trimmed() {
        assert_eq!(fields(b"A: b\r\n\r\n"), Ok(Some((one("A", "b"), 8))));
        assert_eq!(fields(b"A:b\r\n\r\n"), Ok(Some((one("A", "b"), 7))));
        assert_eq!(
            fields(b"A: \t b c \t \r\n\r\n"),
            Ok(Some((one("A", "b c"), 15)))
        );
        assert_eq!(fields(b"A:\r\n\r\n"), Ok(Some((one("A", ""), 6))));
        assert_eq!(fields(b"A:   \r\n\r\n"), Ok(Some((one("A", ""), 9))));
        let obs_text = vec![(b"A".to_vec(), vec![0x80, 0xff])];
        assert_eq!(fields(b"A: \x80\xff\r\n\r\n"), Ok(Some((obs_text, 9))));
    }

    #[test]
    fn bare_lf_line_endings_are_accepted() {
        assert_eq!(fields(b"A: b\n\n"), Ok(Some((one("A", "b"), 6))));
        assert_eq!(fields(b"A: b\r\n\n"), Ok(Some((one("A", "b"), 7))));
    }

    #[test]
    fn malformed_fields_are_rejected() {
        let bad = |input: &[u8], message: &'static str| {
            assert_eq!(
                fields(input),
                Err(HttpError::BadRequest(message)),
                "{input:?}"
            );
        };
        bad(b"A : b\r\n\r\n", "invalid header name");
        bad(b"A\t: b\r\n\r\n", "invalid header name");
        bad(b": b\r\n\r\n", "invalid header name");
        bad(b"A(: b\r\n\r\n", "invalid header name");
        bad(b"A\r\n\r\n", "invalid header name");
        bad(b" A: b\r\n\r\n", "obsolete line folding");
        bad(b"A: b\r\n c\r\n\r\n", "obsolete line folding");
        bad(b"A: b\r\n\tc\r\n\r\n", "obsolete line folding");
        bad(b"A: b\rc\r\n\r\n", "invalid header value");
        bad(b"A: b\x00c\r\n\r\n", "invalid header value");
        bad(b"A: b\x7fc\r\n\r\n", "invalid header value");
        bad(b"A: b\x1b\r\n\r\n", "invalid header value");
        bad(b"A: b\r\n\rx", "invalid header line ending");
    }

    #[test]
    fn strict_sections_require_crlf() {
        let strict = |buf: &[u8]| parse_section(buf, 0, crlf, |_| Ok(()));
        assert_eq!(strict(b"A: b\r\n\r\n"), Ok(Some(8)));
        assert_eq!(strict(b"\r\n"), Ok(Some(2)));
        assert_eq!(strict(b"\r"), Ok(None));
        assert_eq!(
            strict(b"A: b\n\r\n"),
            Err(HttpError::BadRequest("invalid header value"))
        );
        assert_eq!(
            strict(b"A: b\r\n\n"),
            Err(HttpError::BadRequest("invalid header line ending"))
        );
        assert_eq!(crlf(b"\r\n", 0, "x"), Ok(Some(2)));
        assert_eq!(crlf(b"\r\r", 0, "x"), Err(HttpError::BadRequest("x")));
        assert_eq!(crlf(b"", 0, "x"), Ok(None));
    }

    #[test]
    fn incomplete_sections_need_more() {
        let full = b"Host: a\r\nX-Y:  z \r\n\r\n";
        for len in 0..full.len() {
            assert_eq!(fields(&full[..len]), Ok(None), "{len}");
        }
        assert!(matches!(fields(full), Ok(Some((_, 21)))));
    }

    #[test]
    fn bounded_parse_fails_once_the_limit_is_exceeded() {
        let section = b"A: b\r\n\r\n";
        let parse = |w: &[u8]| parse_section(w, 0, line_end, |_| Ok(()));
        assert_eq!(parse_bounded(section, 8, parse), Ok(Some(8)));
        assert_eq!(
            parse_bounded(section, 7, parse),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(parse_bounded(&section[..7], 7, parse), Ok(None));
        assert_eq!(
            parse_bounded(b"A: bbbbbbbb", 7, parse),
            Err(HttpError::HeadersTooLarge)
        );
    }

    #[test]
    fn list_elements_split_and_trim() {
        let list: Vec<&[u8]> = list_elements(b" a ,b,, \t c\t,").collect();
        assert_eq!(list, [&b"a"[..], b"b", b"c"]);
        assert_eq!(list_elements(b"").count(), 0);
        assert_eq!(list_elements(b" , ,").count(), 0);
        assert_eq!(trim_ows(b"  \t "), b"");
    }

    #[test]
    fn spans_out_of_range_are_empty() {
        let span = Span { start: 3, end: 10 };
        assert_eq!(span.of(b"abc"), b"");
        assert_eq!(Span { start: 1, end: 2 }.of(b"abc"), b"b");
    }
}
