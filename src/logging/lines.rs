//! One log line per event in the configured [`LogFormat`]. `human` is tracing-subscriber's own
//! full format; `logfmt` and `json` are written here (field by field, no span context: the
//! server opens no spans).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::Style;
use crate::config::LogFormat;

pub struct LineFormat {
    style: Style,
    human: Format<Full, SystemTime>,
    human_untimed: Format<Full, ()>,
}

impl LineFormat {
    pub fn new(style: Style) -> LineFormat {
        LineFormat {
            style,
            human: Format::default(),
            human_untimed: Format::default().without_time(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        if self.style.priority_prefix {
            write!(writer, "<{}>", syslog_priority(level))?;
        }
        let time = self.style.timestamps.then(timestamp).transpose()?;
        match self.style.format {
            LogFormat::Human if self.style.timestamps => {
                self.human.format_event(ctx, writer, event)
            }
            LogFormat::Human => self.human_untimed.format_event(ctx, writer, event),
            LogFormat::Logfmt => writeln!(writer, "{}", logfmt_line(time.as_deref(), event)),
            LogFormat::Json => writeln!(writer, "{}", json_line(time.as_deref(), event)),
        }
    }
}

/// sd-daemon(3) priorities: err, warning, info, debug (trace has none finer).
fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The current UTC time, RFC 3339 with microseconds.
pub(super) fn timestamp() -> Result<String, fmt::Error> {
    let mut time = String::new();
    SystemTime.format_time(&mut Writer::new(&mut time))?;
    Ok(time)
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// `time=… level=… target=… msg=… key=value…`.
fn logfmt_line(time: Option<&str>, event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut line = String::with_capacity(128);
    if let Some(time) = time {
        line.push_str("time=");
        line.push_str(time);
        line.push(' ');
    }
    line.push_str("level=");
    line.push_str(level_name(*meta.level()));
    line.push_str(" target=");
    push_logfmt_value(&mut line, meta.target());
    let mut fields = LogfmtFields { line: &mut line };
    event.record(&mut fields);
    line
}

struct LogfmtFields<'a> {
    line: &'a mut String,
}

impl LogfmtFields<'_> {
    fn key(&mut self, field: &Field) {
        self.line.push(' ');
        let name = field.name();
        self.line
            .push_str(if name == "message" { "msg" } else { name });
        self.line.push('=');
    }
}

impl Visit for LogfmtFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_logfmt_value(self.line, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        push_logfmt_value(self.line, &format!("{value:?}"));
    }
}

/// A value as is when it is one plain word, else quoted with `"` and `\` escaped.
fn push_logfmt_value(line: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// `{"time":…,"level":…,"target":…,"message":…,"key":value…}`: numbers and booleans as JSON
/// numbers and booleans, everything else as strings.
fn json_line(time: Option<&str>, event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut out = Vec::with_capacity(160);
    out.push(b'{');
    if let Some(time) = time {
        out.extend_from_slice(b"\"time\":");
        protocol::model::write_str(&mut out, time);
        out.push(b',');
    }
    out.extend_from_slice(b"\"level\":\"");
    out.extend_from_slice(level_name(*meta.level()).as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    protocol::model::write_str(&mut out, meta.target());
    let mut fields = JsonFields { out: &mut out };
    event.record(&mut fields);
    out.push(b'}');
    // write_str escapes ASCII only and copies the rest of its UTF-8 input.
    String::from_utf8(out).expect("JSON written from UTF-8 strings is UTF-8")
}

struct JsonFields<'a> {
    out: &'a mut Vec<u8>,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.out.push(b',');
        protocol::model::write_str(self.out, field.name());
        self.out.push(b':');
    }

    fn raw(&mut self, field: &Field, value: impl fmt::Display) {
        self.key(field);
        self.out.extend_from_slice(value.to_string().as_bytes());
    }
}

impl Visit for JsonFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        protocol::model::write_str(self.out, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        protocol::model::write_str(self.out, &format!("{value:?}"));
    }
}
