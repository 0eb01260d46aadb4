//! Offline replay: OpenMetrics counter samples through the streaming core, reporting every
//! alert firing and resolution and the final error ratio and burn rate of every window.
//!
//! Samples are sorted by time first (OpenMetrics groups them by series), then replayed
//! with an evaluation every `step`, as Prometheus evaluates rules on an interval.

use serde::Serialize;

use crate::burn::series::{Ingestor, SeriesError, SeriesId};
use crate::burn::streams::{StreamRef, Streams};
use crate::burn::Transition;
use crate::openmetrics::{self, ParseError};
use crate::slo::Service;

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Series(#[from] SeriesError),
    #[error("data: {0}")]
    Parse(#[from] ParseError),
    #[error("data: no samples")]
    Empty,
    #[error("reading {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("data spans {days} days ({first} to {last}): the limit is {MAX_SPAN_DAYS} days")]
    Span {
        days: i64,
        first: String,
        last: String,
    },
}

/// The longest span a backtest replays (every evaluation step of it is computed).
pub const MAX_SPAN_DAYS: i64 = 400;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seconds between evaluations.
    pub step: i64,
    pub k: u32,
    pub lateness: i64,
    pub staleness: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            step: 30,
            k: crate::burn::DEFAULT_K,
            lateness: crate::burn::DEFAULT_LATENESS,
            staleness: crate::burn::DEFAULT_STALENESS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub service: String,
    pub slo: String,
    pub region: String,
    pub severity: crate::slo::Severity,
    #[serde(serialize_with = "rfc3339")]
    pub fired_at: i64,
    #[serde(serialize_with = "rfc3339_opt")]
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalRow {
    pub service: String,
    pub slo: String,
    pub region: String,
    pub window: String,
    pub error_ratio: Option<f64>,
    pub burn_rate: Option<f64>,
    pub events: u64,
    /// For the row of a calendar period (`window: calendar_month`): when the current
    /// period started; its figures count from there.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_opt"
    )]
    pub period_start: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub samples: usize,
    pub series: u64,
    pub unmatched_series: u64,
    pub rejected_samples: u64,
    /// Samples whose increase exceeded a bucket's range: refused, not clamped.
    pub overflowed_samples: u64,
    pub late_dropped: u64,
    pub evaluations: u64,
    #[serde(serialize_with = "rfc3339")]
    pub start: i64,
    #[serde(serialize_with = "rfc3339")]
    pub end: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub alerts: Vec<AlertRecord>,
    #[serde(rename = "final")]
    pub final_rows: Vec<FinalRow>,
    pub stats: Stats,
}

/// RFC 3339 UTC with seconds (`2026-11-27T06:45:00Z`).
pub fn format_time(ts: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `backtest --data FILE`: reads the file and replays it, reporting `progress(done,
/// total)` in bytes of the file (the binary draws a bar from it on a terminal).
pub fn run_file(
    services: &[Service],
    data: &std::path::Path,
    opts: &Options,
    progress: impl FnMut(usize, usize),
) -> Result<Report, BacktestError> {
    let text = std::fs::read_to_string(data).map_err(|source| BacktestError::Read {
        path: data.to_path_buf(),
        source,
    })?;
    run(services, &text, opts, progress)
}

/// A time given on the command line: RFC 3339, or unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{s:?} is neither RFC 3339 nor unix seconds: {e}"))?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| format!("{s:?} is before 1970"))
}

fn rfc3339<S: serde::Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*ts))
}

fn rfc3339_opt<S: serde::Serializer>(ts: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

/// Replays `text` (OpenMetrics) through the core for `services`. `progress(done, total)`
/// reports the share of work done (parsing counts for half).
pub fn run(
    services: &[Service],
    text: &str,
    opts: &Options,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report, BacktestError> {
    let mut ingestor = Ingestor::new(services, opts.k, opts.lateness, opts.staleness)?;
    let parsed = openmetrics::parse(text, |done, total| progress(done / 2, total))?;
    let ids: Vec<SeriesId> = parsed
        .series
        .iter()
        .map(|s| ingestor.resolve(&s.name, &s.labels))
        .collect();
    let mut samples = parsed.samples;
    // Stable: samples of one series keep their file order at equal times.
    samples.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(BacktestError::Empty);
    };
    let start = first.ts.floor() as i64;
    let end = last.ts.floor() as i64;
    if end - start > MAX_SPAN_DAYS * 86_400 {
        return Err(BacktestError::Span {
            days: (end - start) / 86_400,
            first: format_time(start),
            last: format_time(end),
        });
    }
    let step = opts.step.max(1);

    let mut alerts: Vec<AlertRecord> = Vec::new();
    let mut transitions = Vec::new();
    let mut evaluations = 0u64;
    let mut next_eval = (start.div_euclid(step) + 1) * step;
    let mut evaluate = |ingestor: &mut Ingestor, at: i64, alerts: &mut Vec<AlertRecord>| {
        ingestor.advance(at);
        transitions.clear();
        ingestor.evaluate(&mut transitions);
        evaluations += 1;
        apply_transitions(&ingestor.streams, &transitions, at, alerts);
    };
    let total = samples.len();
    for (i, s) in samples.iter().enumerate() {
        let ts = s.ts.floor() as i64;
        while ts > next_eval {
            evaluate(&mut ingestor, next_eval, &mut alerts);
            next_eval += step;
        }
        ingestor.ingest(ids[s.series as usize], ts, s.value);
        if i % 16_384 == 16_383 {
            progress(text.len() / 2 + text.len() / 2 * i / total, text.len());
        }
    }
    evaluate(&mut ingestor, end, &mut alerts);

    let final_rows = final_rows(&ingestor.streams);
    Ok(Report {
        alerts,
        final_rows,
        stats: Stats {
            samples: total,
            series: ingestor.stats.series,
            unmatched_series: ingestor.stats.unmatched_series,
            rejected_samples: ingestor.stats.rejected_samples,
            overflowed_samples: ingestor.stats.overflowed_samples,
            late_dropped: ingestor.streams.late_dropped(),
            evaluations,
            start,
            end,
        },
    })
}

/// Records alert transitions evaluated at `at`: a firing opens a record, a resolution
/// closes the open record of the same stream and severity.
pub fn apply_transitions(
    streams: &Streams,
    transitions: &[(StreamRef, Transition)],
    at: i64,
    alerts: &mut Vec<AlertRecord>,
) {
    for (sref, t) in transitions {
        let Some(key) = streams.key(*sref) else {
            continue;
        };
        let severity = t.severity;
        if t.firing {
            alerts.push(AlertRecord {
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                severity,
                fired_at: at,
                resolved_at: None,
            });
        } else if let Some(a) = alerts.iter_mut().rev().find(|a| {
            a.resolved_at.is_none()
                && a.severity == severity
                && a.service == key.service
                && a.slo == key.slo
                && a.region == key.region
        }) {
            a.resolved_at = Some(at);
        }
    }
}

/// The error ratio, burn rate and events of every window of every stream, and of the
/// current calendar period of a calendar SLO's stream (after its rolling windows).
pub fn final_rows(streams: &Streams) -> Vec<FinalRow> {
    let mut rows = Vec::new();
    for (sref, key) in streams.all() {
        let budget = streams.budget(sref);
        for (w, ev) in streams.windows(sref) {
            let ratio = ev.ratio();
            rows.push(FinalRow {
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                window: w.to_string(),
                error_ratio: ratio,
                burn_rate: ratio.map(|r| r / budget),
                events: ev.total,
                period_start: None,
            });
        }
        if let Some((calendar, start, ev)) = streams.period(sref) {
            let ratio = ev.ratio();
            rows.push(FinalRow {
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                window: calendar.name().to_string(),
                error_ratio: ratio,
                burn_rate: ratio.map(|r| r / budget),
                events: ev.total,
                period_start: Some(start),
            });
        }
    }
    rows
}

/// The text report: alerts, then the final windows.
pub fn render_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "replayed {} samples of {} series ({} unmatched) from {} to {} in {} evaluations",
        r.stats.samples,
        r.stats.series,
        r.stats.unmatched_series,
        format_time(r.stats.start),
        format_time(r.stats.end),
        r.stats.evaluations
    );
    if r.stats.overflowed_samples > 0 {
        let _ = writeln!(
            out,
            "WARNING: {} samples increased by more than 4294967295 events at once and were refused (counters out of range): the ratios exclude them",
            r.stats.overflowed_samples
        );
    }
    if r.stats.rejected_samples + r.stats.late_dropped > 0 {
        let _ = writeln!(
            out,
            "rejected samples: {}, late samples dropped: {}",
            r.stats.rejected_samples, r.stats.late_dropped
        );
    }
    let _ = writeln!(out, "\nalerts ({}):", r.alerts.len());
    for a in &r.alerts {
        let _ = writeln!(
            out,
            "  {:<6} {}/{} {}: fired {} resolved {}",
            a.severity,
            a.service,
            a.slo,
            a.region,
            format_time(a.fired_at),
            a.resolved_at
                .map(format_time)
                .unwrap_or_else(|| "- (still firing)".into())
        );
    }
    let _ = writeln!(out, "\nfinal windows:");
    out.push_str(&render_final_table(&r.final_rows));
    out
}

/// The table of final windows (service/slo, region, window, error ratio, burn rate, events).
pub fn render_final_table(rows: &[FinalRow]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<32} {:<14} {:>6} {:>12} {:>10} {:>12}",
        "service/slo", "region", "window", "error_ratio", "burn_rate", "events"
    );
    let fmt = |x: Option<f64>, p: usize| {
        x.map(|v| format!("{v:.p$}"))
            .unwrap_or_else(|| "no data".into())
    };
    for f in rows {
        let _ = writeln!(
            out,
            "  {:<32} {:<14} {:>6} {:>12} {:>10} {:>12}",
            format!("{}/{}", f.service, f.slo),
            f.region,
            f.window,
            fmt(f.error_ratio, 6),
            fmt(f.burn_rate, 2),
            f.events
        );
    }
    out
}
