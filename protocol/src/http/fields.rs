//! Byte classes and the field-line grammar shared by the header section and the chunked trailer
//! section.
//!
//! Every scanner here is prefix-monotone: it reports an error only when the bytes already present
//! prove the input invalid, and `Ok(None)` when the buffer ends first. That is what makes
//! re-parsing a grown buffer give the same answer as parsing the whole thing at once.
//!
//! They are also resumable, so that re-parsing a grown buffer costs only the new bytes: sections
//! keep a checkpoint at the start of the first unfinished line (see [`parse_section`]), and within
//! that line [`Runs`] remembers how far each run of bytes of one class was already scanned.

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

/// Visible ASCII: the bytes of a request target. Non-ASCII must be percent-encoded (RFC 3986),
/// which also keeps the target valid UTF-8.
pub(crate) const fn is_target_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7E)
}

/// The byte classes scanned in runs; a [`Runs`] entry is keyed by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Tchar,
    Ows,
    Value,
    Target,
    HexDigit,
}

impl Class {
    const fn contains(self, b: u8) -> bool {
        match self {
            Class::Tchar => is_tchar(b),
            Class::Ows => is_ows(b),
            Class::Value => is_value_byte(b),
            Class::Target => is_target_byte(b),
            Class::HexDigit => b.is_ascii_hexdigit(),
        }
    }
}

/// Runs remembered. Enough for every run of the line being parsed: a field line has three (name,
/// whitespace, value), a chunk-size line three (digits, extension, its leading whitespace).
const RUN_SLOTS: usize = 4;

/// Remembers where the runs scanned by recent calls ended, so that re-parsing an unfinished line on
/// a grown buffer continues each run where the previous call stopped instead of re-reading the
/// line. Together with the line checkpoints of [`parse_section`] and of the request and chunk
/// parsers, this keeps the total work for a request linear however its bytes are split.
///
/// An entry is a fact about the buffer ("from `start`, bytes of `class` reach `end`"), so it stays
/// true as long as the bytes before `end` don't change, which is the contract of
/// `RequestParser::parse`. All positions must be offsets from one fixed origin (the start of the
/// request), and the memo must be discarded with the buffer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Runs {
    slots: [Option<Run>; RUN_SLOTS],
    next: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    class: Class,
    start: usize,
    end: usize,
}

impl Runs {
    /// Index of the first byte at or after `start` that isn't in `class` (`buf.len()` if none), like
    /// [`skip_while`], but scanning only bytes that no earlier call on this buffer scanned.
    pub(crate) fn skip(&mut self, buf: &[u8], start: usize, class: Class) -> usize {
        let known = self.slots.iter().position(|slot| {
            matches!(slot, Some(run) if run.class == class && run.start == start && run.end <= buf.len())
        });
        let from = known
            .and_then(|index| self.slots.get(index).copied().flatten())
            .map_or(start, |run| run.end);
        let end = skip_while(buf, from, |b| class.contains(b));
        count_work(end - from + 1);
        // Empty runs cost nothing to redo.
        if end > start {
            let index = known.unwrap_or_else(|| {
                let index = self.next;
                self.next = (self.next + 1) % RUN_SLOTS;
                index
            });
            if let Some(slot) = self.slots.get_mut(index) {
                *slot = Some(Run { class, start, end });
            }
        }
        end
    }
}

#[cfg(test)]
thread_local! {
    static WORK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Test instrumentation: counts the bytes the parsers examine (and one per line, chunk or call
/// visited), so tests can check that the total is linear in the input however it is split.
#[cfg(test)]
pub(crate) fn count_work(units: usize) {
    WORK.with(|work| work.set(work.get() + units));
}

#[cfg(not(test))]
#[inline(always)]
pub(crate) fn count_work(_units: usize) {}

/// The work counted on this thread since the last call.
#[cfg(test)]
pub(crate) fn take_work() -> usize {
    WORK.with(|work| work.replace(0))
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
fn field_line(buf: &[u8], pos: usize, end: LineEnd, runs: &mut Runs) -> Step<(FieldLine, usize)> {
    count_work(1);
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
    let name_end = runs.skip(buf, pos, Class::Tchar);
    match buf.get(name_end) {
        None => return Ok(None),
        // Whitespace before the colon is refused (RFC 9112 §5.1): agents disagree on what the name
        // is.
        Some(b':') if name_end > pos => {}
        Some(_) => return Err(HttpError::BadRequest("invalid header name")),
    }
    let value_start = runs.skip(buf, name_end + 1, Class::Ows);
    let value_stop = runs.skip(buf, value_start, Class::Value);
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

/// Parses field lines from `*pos` through the empty line ending the section, handing each field to
/// `on_field`. Returns the position just after the section.
///
/// `*pos` is a checkpoint: it moves past every complete line, so when the buffer ends first
/// (`Ok(None)`) it is the start of the unfinished line, every field before it has been handed to
/// `on_field`, and a call on the grown buffer with the same `pos` and `runs` carries on from there.
pub(crate) fn parse_section(
    buf: &[u8],
    pos: &mut usize,
    end: LineEnd,
    runs: &mut Runs,
    mut on_field: impl FnMut(FieldSpan) -> Result<(), HttpError>,
) -> Step<usize> {
    loop {
        let Some((line, next)) = field_line(buf, *pos, end, runs)? else {
            return Ok(None);
        };
        debug_assert!(next > *pos, "every line consumes at least its line ending");
        match line {
            FieldLine::End => return Ok(Some(next)),
            FieldLine::Field(field) => on_field(field)?,
        }
        *pos = next;
    }
}

/// Runs `parse` on the buffer cut `limit` bytes after `start`, where the section begins. If the
/// section doesn't end within the limit although more bytes than that are already buffered, it
/// never will: fail now instead of buffering a slow client forever.
pub(crate) fn parse_bounded<'b, T>(
    buf: &'b [u8],
    start: usize,
    limit: usize,
    parse: impl FnOnce(&'b [u8]) -> Step<T>,
) -> Step<T> {
    let window = buf.get(..start.saturating_add(limit)).unwrap_or(buf);
    match parse(window)? {
        Some(parsed) => Ok(Some(parsed)),
        None if buf.len().saturating_sub(start) > limit => Err(HttpError::HeadersTooLarge),
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

/// Whether the comma-separated list `value` has an element equal to `wanted`, ignoring ASCII case.
pub(crate) fn has_element(value: &[u8], wanted: &str) -> bool {
    list_elements(value).any(|element| element.eq_ignore_ascii_case(wanted.as_bytes()))
}

/// `bytes` without leading and trailing spaces and tabs.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
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
        let end = parse_section(buf, &mut 0, line_end, &mut Runs::default(), |field| {
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
        let strict =
            |buf: &[u8]| parse_section(buf, &mut 0, crlf, &mut Runs::default(), |_| Ok(()));
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
        let parse = |w: &[u8]| parse_section(w, &mut 0, line_end, &mut Runs::default(), |_| Ok(()));
        assert_eq!(parse_bounded(section, 0, 8, parse), Ok(Some(8)));
        assert_eq!(
            parse_bounded(section, 0, 7, parse),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(parse_bounded(&section[..7], 0, 7, parse), Ok(None));
        assert_eq!(
            parse_bounded(b"A: bbbbbbbb", 0, 7, parse),
            Err(HttpError::HeadersTooLarge)
        );
        // The limit counts from where the section starts.
        let parse_at_2 =
            |w: &[u8]| parse_section(w, &mut 2, line_end, &mut Runs::default(), |_| Ok(()));
        let shifted = b"xxA: b\r\n\r\n";
        assert_eq!(parse_bounded(shifted, 2, 8, parse_at_2), Ok(Some(10)));
        assert_eq!(
            parse_bounded(shifted, 2, 7, parse_at_2),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(parse_bounded(&shifted[..9], 2, 7, parse_at_2), Ok(None));
    }

    #[test]
    fn runs_continue_where_the_last_scan_stopped() {
        let mut runs = Runs::default();
        let buf = b"abc:  value\r\n";
        take_work();
        assert_eq!(runs.skip(&buf[..2], 0, Class::Tchar), 2);
        assert_eq!(runs.skip(&buf[..3], 0, Class::Tchar), 3);
        assert_eq!(
            take_work(),
            3 + 2,
            "the second call only reads the new byte"
        );
        assert_eq!(runs.skip(buf, 0, Class::Tchar), 3);
        assert_eq!(take_work(), 1, "a finished run is answered at once");
        // Keyed by class as well as start: "  value" is Value bytes but only partly Ows.
        assert_eq!(runs.skip(buf, 4, Class::Value), 11);
        assert_eq!(runs.skip(buf, 4, Class::Ows), 6);
        assert_eq!(runs.skip(buf, 4, Class::Value), 11);
        // A remembered run past the end of a shorter buffer is ignored, not trusted.
        assert_eq!(runs.skip(&buf[..5], 4, Class::Value), 5);
        // Older runs are forgotten, which only costs a re-scan.
        for start in 0..RUN_SLOTS + 1 {
            assert_eq!(runs.skip(buf, start, Class::Value), 11);
        }
        assert_eq!(runs.skip(buf, 0, Class::Tchar), 3);
    }

    #[test]
    fn sections_resume_at_the_unfinished_line() {
        let full = b"Host: a\r\nX-Long: 0123456789\r\n\r\n";
        let mut pos = 0;
        let mut runs = Runs::default();
        let mut seen = Vec::new();
        for len in 0..full.len() {
            let step = parse_section(&full[..len], &mut pos, line_end, &mut runs, |field| {
                seen.push(field);
                Ok(())
            });
            assert_eq!(step, Ok(None), "{len}");
            // The checkpoint is the start of the unfinished line.
            let expected = match len {
                0..=8 => 0,
                9..=28 => 9,
                _ => 29,
            };
            assert_eq!(pos, expected, "{len}");
        }
        let end = parse_section(full, &mut pos, line_end, &mut runs, |field| {
            seen.push(field);
            Ok(())
        });
        assert_eq!(end, Ok(Some(full.len())));
        let names: Vec<&[u8]> = seen.iter().map(|field| field.name.of(full)).collect();
        assert_eq!(
            names,
            [&b"Host"[..], b"X-Long"],
            "each field handed over once"
        );
        assert_eq!(seen[1].value.of(full), b"0123456789");
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
