//! Raw-series ingestion: samples of raw counter series (metric name + labels) are matched
//! against the SLI selectors of every SLO, turned into deltas per raw series, and summed
//! into the (service, SLO, region) streams. A raw series is resolved to its streams once
//! ([`Ingestor::resolve`]), never per sample.
//!
//! Offline evaluation understands the SLI shapes whose value is a function of series
//! rates: Sloth's `sum(rate(errors[w])) / sum(rate(total[w]))` (streams count bad events)
//! and `sum(rate(all[w])) - sum(rate(good[w]))` over the total, as the latency shorthand
//! expands (streams count good events).

use std::collections::HashMap;

use promql_parser::parser::ast::VectorSelector;

use super::core::{Core, SloModel, TierModel, Transition};
use super::counter::{CounterState, Observation};
use super::layout::{Layout, LayoutError};
use super::store::StreamId;
use crate::promql::{self, metric_name, selector_matches_with};
use crate::spec::{RegionalSli, Service, Slo};
use crate::window::Window;

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("{file}: {slo}: cannot be evaluated from raw series: {why}")]
    Unsupported {
        file: String,
        slo: String,
        why: String,
    },
    #[error("windows of {slo}: {source}")]
    Layout { slo: String, source: LayoutError },
}

/// Identity of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub service: String,
    pub slo: String,
    pub region: String,
}

/// A stream in one of the ingestor's cores (SLOs with the same windows share a core).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamRef {
    pub group: usize,
    pub id: StreamId,
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
    group: usize,
    model: usize,
    service: String,
    slo: String,
    region_label: String,
    first: VectorSelector,
    total: VectorSelector,
}

/// Windows and core of a group of SLOs that share them.
#[derive(Debug, Clone)]
pub struct Group {
    pub windows: Vec<Window>,
    pub core: Core,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub series: u64,
    pub unmatched_series: u64,
    pub rejected_samples: u64,
}

#[derive(Debug, Clone)]
pub struct Ingestor {
    pub groups: Vec<Group>,
    rules: Vec<SloRule>,
    streams: HashMap<(usize, String), StreamRef>,
    keys: HashMap<StreamRef, (StreamKey, usize)>,
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
    /// Builds the cores and matching rules for every SLO of `services`.
    pub fn new(
        services: &[Service],
        k: u32,
        lateness: i64,
        staleness: i64,
    ) -> Result<Self, SeriesError> {
        let mut groups: Vec<Group> = Vec::new();
        let mut rules = Vec::new();
        for service in services {
            for slo in &service.slos {
                let (first, total, counts_good) = selectors_of(service, slo)?;
                let windows = slo.windows();
                let group = match groups.iter().position(|g| g.windows == windows) {
                    Some(g) => g,
                    None => {
                        let layout =
                            Layout::new(&windows, k).map_err(|source| SeriesError::Layout {
                                slo: service.slo_id(slo),
                                source,
                            })?;
                        groups.push(Group {
                            windows: windows.clone(),
                            core: Core::new(layout, lateness),
                        });
                        groups.len() - 1
                    }
                };
                let layout = groups[group].core.store.layout().clone();
                let level = |w: Window| layout.level_of(w).unwrap_or(0);
                let model = groups[group].core.add_slo(SloModel {
                    tiers: slo
                        .tiers
                        .iter()
                        .map(|t| TierModel {
                            severity: t.severity,
                            long: level(t.long),
                            short: level(t.short),
                            threshold: slo.threshold(t),
                        })
                        .collect(),
                    min_events: slo.min_events,
                    counts_good,
                    budget: slo.error_budget(),
                });
                rules.push(SloRule {
                    group,
                    model,
                    service: service.name.clone(),
                    slo: slo.name.clone(),
                    region_label: service.region_label.clone(),
                    first,
                    total,
                });
            }
        }
        Ok(Ingestor {
            groups,
            rules,
            streams: HashMap::new(),
            keys: HashMap::new(),
            series: Vec::new(),
            staleness,
            stats: IngestStats::default(),
        })
    }

    /// Resolves a raw series to the streams it feeds (once per series).
    pub fn resolve(&mut self, name: &str, labels: &[(String, String)]) -> SeriesId {
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut routes: Vec<Route> = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            let first = selector_matches_with(&rule.first, name, get);
            let total = selector_matches_with(&rule.total, name, get);
            if !(first || total) {
                continue;
            }
            let Some(region) = get(&rule.region_label).filter(|v| !v.is_empty()) else {
                continue;
            };
            let stream = match self.streams.get(&(r, region.to_string())) {
                Some(s) => *s,
                None => {
                    let id = self.groups[rule.group].core.add_stream(rule.model);
                    let sref = StreamRef {
                        group: rule.group,
                        id,
                    };
                    self.streams.insert((r, region.to_string()), sref);
                    let key = StreamKey {
                        service: rule.service.clone(),
                        slo: rule.slo.clone(),
                        region: region.to_string(),
                    };
                    self.keys.insert(sref, (key, r));
                    sref
                }
            };
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
                let d = u32::try_from(d).unwrap_or(u32::MAX);
                for r in &entry.routes {
                    let first = if r.first { d } else { 0 };
                    let total = if r.total { d } else { 0 };
                    self.groups[r.stream.group]
                        .core
                        .store
                        .add(r.stream.id, ts, first, total);
                }
            }
            Observation::First => {}
            Observation::Rejected(_) => self.stats.rejected_samples += 1,
        }
    }

    /// Moves every core's clock to `now`.
    pub fn advance(&mut self, now: i64) {
        for g in &mut self.groups {
            g.core.store.advance(now);
        }
    }

    /// Evaluates every stream; appends (stream, transition) pairs.
    pub fn evaluate(&mut self, out: &mut Vec<(StreamRef, Transition)>) {
        let mut buf = Vec::new();
        for (gi, g) in self.groups.iter_mut().enumerate() {
            buf.clear();
            g.core.evaluate(&mut buf);
            out.extend(buf.iter().map(|t| {
                (
                    StreamRef {
                        group: gi,
                        id: t.stream,
                    },
                    *t,
                )
            }));
        }
    }

    pub fn key(&self, s: StreamRef) -> Option<&StreamKey> {
        self.keys.get(&s).map(|(k, _)| k)
    }

    /// Every stream with its key, sorted by (service, slo, region).
    pub fn streams(&self) -> Vec<(StreamRef, &StreamKey)> {
        let mut v: Vec<(StreamRef, &StreamKey)> =
            self.keys.iter().map(|(s, (k, _))| (*s, k)).collect();
        v.sort_by(|a, b| {
            (&a.1.service, &a.1.slo, &a.1.region).cmp(&(&b.1.service, &b.1.slo, &b.1.region))
        });
        v
    }

    /// Late samples dropped across all cores.
    pub fn late_dropped(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.core.store.stats.late_dropped)
            .sum()
    }
}
