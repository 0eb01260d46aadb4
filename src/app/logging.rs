//! The text log's field formatter. tracing-subscriber's default writes `%` values (a
//! webhook label, an operator's reason, a step's output) as they are, so a value holding
//! a newline forges a second log line and one holding an escape sequence clears or
//! retitles the operator's terminal. [`EscapedFields`] writes every field value and the
//! message through [`crate::text::escape_control`]; everything else stays as the default
//! prints it (`name=value`, strings quoted, the message bare, field names in italics
//! when colours are on). The JSON log needs none of this: JSON escapes control
//! characters itself.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

use crate::text::escape_control;

/// The text log's [`FormatFields`]: field values and messages with control characters
/// escaped (`\n`, `\u{1b}`).
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = Visitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct Visitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        let value = escape_control(value);
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = if name == "message" {
            write!(self.writer, "{sep}{value}")
        } else if self.writer.has_ansi_escapes() {
            // The default's styles: the name in italics, the '=' dimmed.
            write!(
                self.writer,
                "{sep}\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m{value}"
            )
        } else {
            write!(self.writer, "{sep}{name}={value}")
        };
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, value);
        } else {
            // Quoted, as the default writes strings recorded as such.
            self.write(field, &format!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.write(field, &text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::EscapedFields;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(ansi: bool) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .without_time()
            .with_target(false)
            .with_ansi(ansi)
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let label = "api\u{1b}[2J\nFORGED line";
            let err = std::io::Error::other("boom\r\nFORGED error");
            tracing::warn!(region = %label, reason = label, count = 3, error = &err as &(dyn std::error::Error + 'static), "page from {}", label);
        });
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn field_values_and_messages_are_escaped() {
        let text = logged(false);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert_eq!(
            text,
            " WARN page from api\\u{1b}[2J\\nFORGED line region=api\\u{1b}[2J\\nFORGED line reason=\"api\\u{1b}[2J\\nFORGED line\" count=3 error=boom\\r\\nFORGED error\n"
        );
    }

    #[test]
    fn colours_stay_while_values_are_escaped() {
        let text = logged(true);
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(!text.contains("\u{1b}[2J"), "{text:?}");
        assert!(text.contains("\u{1b}[3mregion\u{1b}[0m"), "{text:?}");
        assert!(
            text.contains("region\u{1b}[0m\u{1b}[2m=\u{1b}[0mapi\\u{1b}[2J\\nFORGED line"),
            "{text:?}"
        );
    }
}
