use std::sync::{Arc, Mutex};

use sonic_rs::JsonValueTrait;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

fn env(terminal: bool, no_color: Option<&str>, journal: bool) -> Environment {
    Environment {
        stderr_is_terminal: terminal,
        no_color: no_color.map(String::from),
        stderr_is_journal: journal,
    }
}

#[test]
fn colours_only_for_a_terminal_without_no_color() {
    let human = |e: &Environment| Style::decide(LogFormat::Human, e).ansi;
    assert!(human(&env(true, None, false)));
    assert!(
        human(&env(true, Some(""), false)),
        "an empty NO_COLOR is unset"
    );
    assert!(!human(&env(true, Some("1"), false)));
    assert!(!human(&env(false, None, false)));
    assert!(!Style::decide(LogFormat::Json, &env(true, None, false)).ansi);
    assert!(!Style::decide(LogFormat::Logfmt, &env(true, None, false)).ansi);
}

#[test]
fn journald_gets_priorities_and_no_timestamps() {
    for format in [LogFormat::Human, LogFormat::Logfmt, LogFormat::Json] {
        let journal = Style::decide(format, &env(false, None, true));
        assert!(!journal.timestamps && journal.priority_prefix, "{format:?}");
        let file = Style::decide(format, &env(false, None, false));
        assert!(file.timestamps && !file.priority_prefix, "{format:?}");
    }
}

#[test]
fn journal_stream_must_name_stderr() {
    assert!(!names_stderr("garbage"));
    assert!(!names_stderr("1:x"));
    // SAFETY: fstat on fd 2 into a zeroed stat we own.
    let stat = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(libc::STDERR_FILENO, &mut stat), 0);
        stat
    };
    let (dev, ino) = (stat.st_dev as u64, stat.st_ino as u64);
    assert!(names_stderr(&format!("{dev}:{ino}")));
    assert!(!names_stderr(&format!("{dev}:{}", ino + 1)));
}

/// Captures what the logger writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The lines `emit` logs in `style`.
fn lines_of(style: Style, emit: impl FnOnce()) -> Vec<String> {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(captured.clone())
            .with_ansi(style.ansi)
            .event_format(LineFormat::new(style)),
    );
    tracing::subscriber::with_default(subscriber, emit);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    text.lines().map(String::from).collect()
}

fn style(format: LogFormat, journal: bool) -> Style {
    Style::decide(format, &env(false, None, journal))
}

fn emit_sample() {
    let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    tracing::warn!(
        address = %addr,
        shards = 2u64,
        delta = -3i64,
        up = true,
        reason = "zone \"b\" = other\nline",
        "node {} serving",
        "one"
    );
}

#[test]
fn logfmt_quotes_only_what_needs_it() {
    let lines = lines_of(style(LogFormat::Logfmt, false), emit_sample);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(line.starts_with("time=20"), "{line}");
    let rest = line.split_once(' ').unwrap().1;
    assert_eq!(
        rest,
        "level=warn target=artemis::logging::tests msg=\"node one serving\" \
         address=127.0.0.1:8080 shards=2 delta=-3 up=true \
         reason=\"zone \\\"b\\\" = other\\nline\""
    );
}

#[test]
fn json_lines_parse_with_typed_fields() {
    let lines = lines_of(style(LogFormat::Json, false), emit_sample);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: sonic_rs::Value = sonic_rs::from_str(&lines[0]).expect("one JSON object per line");
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{}", lines[0]);
    assert_eq!(v["level"].as_str(), Some("warn"));
    assert_eq!(v["target"].as_str(), Some("artemis::logging::tests"));
    assert_eq!(v["message"].as_str(), Some("node one serving"));
    assert_eq!(v["address"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(v["shards"].as_u64(), Some(2));
    assert_eq!(v["delta"].as_i64(), Some(-3));
    assert_eq!(v["up"].as_bool(), Some(true));
    assert_eq!(v["reason"].as_str(), Some("zone \"b\" = other\nline"));
}

#[test]
fn under_journald_every_format_starts_with_the_priority_and_has_no_time() {
    for format in [LogFormat::Human, LogFormat::Logfmt, LogFormat::Json] {
        let lines = lines_of(style(format, true), || {
            tracing::error!("broken");
            tracing::info!("fine");
        });
        assert_eq!(lines.len(), 2, "{format:?}: {lines:?}");
        assert!(lines[0].starts_with("<3>"), "{format:?}: {}", lines[0]);
        assert!(lines[1].starts_with("<6>"), "{format:?}: {}", lines[1]);
        // A timestamp would start with this year: "2026-".
        let year = &lines::timestamp().unwrap()[..5];
        for line in &lines {
            assert!(!line.contains(year), "{format:?}: {line}");
        }
    }
    let human = lines_of(style(LogFormat::Human, true), || tracing::warn!("careful"));
    assert!(
        human[0].starts_with("<4>") && human[0].contains("WARN") && human[0].ends_with("careful"),
        "{human:?}"
    );
}

#[test]
fn human_lines_without_a_terminal_have_no_escape_codes() {
    let lines = lines_of(style(LogFormat::Human, false), emit_sample);
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].contains('\u{1b}'), "{:?}", lines[0]);
    assert!(lines[0].contains("WARN") && lines[0].contains("node one serving"));
}
