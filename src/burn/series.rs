//! Raw-series ingestion: samples of raw counter series (metric name + labels) are matched
//! against the SLI selectors of every SLO, turned into deltas per raw series, and summed
//! into the (service, SLO, region) streams. A raw series is resolved to its streams once
//! ([`Ingestor::resolve`]), never per sample.
//!
//! Offline evaluation understands the SLI shapes whose value is a function of series
//! rates: Sloth's `sum(rate(errors[w])) / sum(rate(total[w]))` (streams count bad events)
//! and `sum(rate(all[w])) - sum(rate(good[w]))` over the total, as the latency shorthand
//! expands (streams count good events).

use promql_parser::parser::ast::VectorSelector;

use super::core::Transition;
use super::counter::{CounterState, Observation};
use super::streams::{StreamRef, Streams, StreamsError};
use crate::promql::{self, metric_name, selector_matches_with};
use crate::slo::{RegionalSli, Service, Slo};

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("{file}: {slo}: cannot be evaluated from raw series: {why}")]
    Unsupported {
        file: String,
        slo: String,
        why: String,
    },
    #[error(transparent)]
    Streams(#[from] StreamsError),
}

/// A raw series handle from [`Ingestor::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    stream: StreamRef,
    first: bool,
    total: bool,
}

#[derive(Debug, Clone)]
struct SeriesEntry {
    state: CounterState,
    routes: Vec<Route>,
}

/// How one SLO reads raw series.
#[derive(Debug, Clone)]
struct SloRule {
    slo: usize,
    region_label: String,
    first: VectorSelector,
    total: VectorSelector,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub series: u64,
    pub unmatched_series: u64,
    pub rejected_samples: u64,
    /// Samples whose increase since the previous one exceeds a bucket's range (u32 events
    /// per sample): refused and counted, never clamped into a wrong ratio.
    pub overflowed_samples: u64,
}

#[derive(Debug, Clone)]
pub struct Ingestor {
    pub streams: Streams,
    rules: Vec<SloRule>,
    series: Vec<SeriesEntry>,
    staleness: i64,
    pub stats: IngestStats,
}

fn unsupported(service: &Service, slo: &Slo, why: &str) -> SeriesError {
    SeriesError::Unsupported {
        file: service.file.display().to_string(),
        slo: slo.name.clone(),
        why: why.to_string(),
    }
}

/// The (first, total, counts_good) selectors of an SLO's SLI, if offline evaluation
/// understands its shape.
fn selectors_of(
    service: &Service,
    slo: &Slo,
) -> Result<(VectorSelector, VectorSelector, bool), SeriesError> {
    let RegionalSli::Events { error, total } = &slo.regional else {
        return Err(unsupported(
            service,
            slo,
            "a raw error-ratio SLI has no event counts to replay",
        ));
    };
    let rl = &service.region_label;
    let shape = "only sum(rate(<selector>[{{.window}}])) error/total queries, or all - good, can be replayed";
    let et =
        promql::linear_terms(error.source(), rl).ok_or_else(|| unsupported(service, slo, shape))?;
    let tt =
        promql::linear_terms(total.source(), rl).ok_or_else(|| unsupported(service, slo, shape))?;
    let [(ts, tsel)] = tt.as_slice() else {
        return Err(unsupported(service, slo, shape));
    };
    if *ts < 0.0 {
        return Err(unsupported(service, slo, shape));
    }
    match et.as_slice() {
        [(s, esel)] if *s > 0.0 => Ok((esel.clone(), tsel.clone(), false)),
        [(s1, all), (s2, good)]
            if *s1 > 0.0 && *s2 < 0.0 && metric_name(all) == metric_name(tsel) =>
        {
            Ok((good.clone(), tsel.clone(), true))
        }
        _ => Err(unsupported(service, slo, shape)),
    }
}

impl Ingestor {
    /// Builds the streams and matching rules for every SLO of `services`.
    pub fn new(
        services: &[Service],
        k: u32,
        lateness: i64,
        staleness: i64,
    ) -> Result<Self, SeriesError> {
        let mut streams = Streams::new();
        let mut rules = Vec::new();
        for service in services {
            for slo in &service.slos {
                let (first, total, counts_good) = selectors_of(service, slo)?;
                let idx = streams.add_slo(service, slo, counts_good, k, lateness)?;
                rules.push(SloRule {
                    slo: idx,
                    region_label: service.region_label.clone(),
                    first,
                    total,
                });
            }
        }
        Ok(Ingestor {
            streams,
            rules,
            series: Vec::new(),
            staleness,
            stats: IngestStats::default(),
        })
    }

    /// Resolves a raw series to the streams it feeds (once per series).
    pub fn resolve(&mut self, name: &str, labels: &[(String, String)]) -> SeriesId {
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut routes: Vec<Route> = Vec::new();
        for rule in &self.rules {
            let first = selector_matches_with(&rule.first, name, get);
            let total = selector_matches_with(&rule.total, name, get);
            if !(first || total) {
                continue;
            }
            let Some(region) = get(&rule.region_label).filter(|v| !v.is_empty()) else {
                continue;
            };
            let stream = self.streams.stream(rule.slo, region);
            routes.push(Route {
                stream,
                first,
                total,
            });
        }
        self.stats.series += 1;
        if routes.is_empty() {
            self.stats.unmatched_series += 1;
        }
        self.series.push(SeriesEntry {
            state: CounterState::default(),
            routes,
        });
        SeriesId(self.series.len() as u32 - 1)
    }

    /// Feeds one cumulative counter sample of a resolved series.
    #[inline]
    pub fn ingest(&mut self, id: SeriesId, ts: i64, value: f64) {
        let entry = &mut self.series[id.0 as usize];
        if entry.routes.is_empty() {
            return;
        }
        match entry.state.observe(ts, value, self.staleness) {
            Observation::Delta(d) => {
                let Ok(d) = u32::try_from(d) else {
                    self.stats.overflowed_samples += 1;
                    return;
                };
                for r in &entry.routes {
                    let first = if r.first { d } else { 0 };
                    let total = if r.total { d } else { 0 };
                    self.streams.add(r.stream, ts, first, total);
                }
            }
            Observation::First => {}
            Observation::Rejected(_) => self.stats.rejected_samples += 1,
        }
    }

    pub fn advance(&mut self, now: i64) {
        self.streams.advance(now);
    }

    pub fn evaluate(&mut self, out: &mut Vec<(StreamRef, Transition)>) {
        self.streams.evaluate(out);
    }
}
