//! A reader for the OpenMetrics text that `promtool tsdb create-blocks-from openmetrics`
//! takes: `# TYPE`/`# HELP`/`# UNIT` comments, `name{label="value",...} value timestamp`
//! lines with timestamps in seconds, and `# EOF`. Series text is interned (each distinct
//! series is parsed once), so large files stream at memory speed. Errors name the line.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A distinct series of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

/// The latest timestamp accepted (2100-01-01T00:00:00Z): later ones are typos or
/// milliseconds, and would make a replay step through centuries.
pub const MAX_TIMESTAMP: f64 = 4_102_444_800.0;

/// One sample: timestamp in seconds, series index, value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts: f64,
    pub series: u32,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub series: Vec<SeriesInfo>,
    pub samples: Vec<Sample>,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn is_name_char(c: u8, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || (!first && c.is_ascii_digit())
}

/// Parses `{a="1",b="2"}` (the braces included) into pairs.
fn parse_labels(text: &str, line: usize) -> Result<Vec<(String, String)>, ParseError> {
    let b = text.as_bytes();
    let mut i = 1;
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return Err(err(line, "unterminated label set"));
        }
        if b[i] == b'}' {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && is_name_char(b[i], i == start) {
            i += 1;
        }
        if i == start {
            return Err(err(line, format!("invalid label name at column {}", i + 1)));
        }
        let name = &text[start..i];
        if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
            return Err(err(line, format!("expected =\" after label {name}")));
        }
        i += 2;
        let mut value = String::new();
        loop {
            match b.get(i) {
                None => return Err(err(line, format!("unterminated value of label {name}"))),
                Some(b'"') => break,
                Some(b'\\') => {
                    match b.get(i + 1) {
                        Some(b'n') => value.push('\n'),
                        Some(b'"') => value.push('"'),
                        Some(b'\\') => value.push('\\'),
                        _ => return Err(err(line, format!("invalid escape in label {name}"))),
                    }
                    i += 2;
                    continue;
                }
                Some(_) => {
                    let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                    value.push(ch);
                    i += ch.len_utf8();
                    continue;
                }
            }
        }
        i += 1;
        out.push((name.to_string(), value));
    }
}

/// Where the series text of a sample line ends (after `}` or the name).
fn series_end(b: &[u8], line: usize) -> Result<usize, ParseError> {
    let mut i = 0;
    while i < b.len() && is_name_char(b[i], i == 0) {
        i += 1;
    }
    if i == 0 {
        return Err(err(line, "expected a metric name"));
    }
    if b.get(i) == Some(&b'{') {
        let mut in_str = false;
        while i < b.len() {
            match b[i] {
                b'\\' if in_str => i += 1,
                b'"' => in_str = !in_str,
                b'}' if !in_str => return Ok(i + 1),
                _ => {}
            }
            i += 1;
        }
        return Err(err(line, "unterminated label set"));
    }
    Ok(i)
}

/// Parses a whole file. `progress` is called every 16,384 lines with (bytes done, total).
pub fn parse(text: &str, mut progress: impl FnMut(usize, usize)) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut offset = 0;
    for (n, raw) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line_start = offset;
        offset += raw.len() + 1;
        if n % 16_384 == 16_383 {
            progress(line_start, text.len());
        }
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.trim() == "EOF" {
                break;
            }
            continue;
        }
        let end = series_end(line.as_bytes(), line_no)?;
        let series_text = &line[..end];
        let mut rest = line[end..].split_whitespace();
        let value = rest
            .next()
            .ok_or_else(|| err(line_no, "sample has no value"))?;
        let value =
            parse_value(value).ok_or_else(|| err(line_no, format!("invalid value {value:?}")))?;
        let ts = rest
            .next()
            .ok_or_else(|| err(line_no, "sample has no timestamp (backtest needs one)"))?;
        let ts: f64 = ts
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| err(line_no, format!("invalid timestamp {ts:?}")))?;
        if !(0.0..=MAX_TIMESTAMP).contains(&ts) {
            return Err(err(
                line_no,
                format!("timestamp {ts} is outside 1970-01-01 .. 2100-01-01 (unix seconds)"),
            ));
        }
        if let Some(extra) = rest.next() {
            if extra != "#" {
                return Err(err(
                    line_no,
                    format!("unexpected {extra:?} after the timestamp"),
                ));
            }
        }
        let series = match index.get(series_text) {
            Some(s) => *s,
            None => {
                let name_end = series_text.find('{').unwrap_or(series_text.len());
                let labels = if name_end < series_text.len() {
                    parse_labels(&series_text[name_end..], line_no)?
                } else {
                    Vec::new()
                };
                parsed.series.push(SeriesInfo {
                    name: series_text[..name_end].to_string(),
                    labels,
                });
                let id = parsed.series.len() as u32 - 1;
                index.insert(series_text, id);
                id
            }
        };
        parsed.samples.push(Sample { ts, series, value });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_promtool_backfill_format() {
        let text = "# HELP http_requests_total x\n# TYPE http_requests counter\nhttp_requests_total{code=\"500\",region=\"us-east-1\"} 1230 1795499820\nhttp_requests_total{code=\"500\",region=\"us-east-1\"} 1240 1795499850.5\nup 1 1795499850\n# EOF\n";
        let p = parse(text, |_, _| {}).unwrap();
        assert_eq!(p.series.len(), 2);
        assert_eq!(p.series[0].name, "http_requests_total");
        assert_eq!(
            p.series[0].labels,
            vec![
                ("code".into(), "500".into()),
                ("region".into(), "us-east-1".into())
            ]
        );
        assert_eq!(
            p.samples[1],
            Sample {
                ts: 1795499850.5,
                series: 0,
                value: 1240.0
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(
            "# TYPE x counter\nx{a=\"1\"} 1 1\nx{a=\"1\" 2 2\n",
            |_, _| {},
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("x 1\n", |_, _| {}).unwrap_err();
        assert!(
            e.to_string().contains("line 1: sample has no timestamp"),
            "{e}"
        );
        let e = parse("x abc 1\n", |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("invalid value"), "{e}");
    }

    #[test]
    fn escapes_and_special_values() {
        let p = parse(
            "x{a=\"q\\\"}\\\\\"} NaN 1\nx{a=\"q\\\"}\\\\\"} +Inf 2\n",
            |_, _| {},
        )
        .unwrap();
        assert_eq!(p.series[0].labels[0].1, "q\"}\\");
        assert!(p.samples[0].value.is_nan());
        assert_eq!(p.samples[1].value, f64::INFINITY);
    }
}
