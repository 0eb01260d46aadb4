//! The (service, SLO, region) streams of a set of specs: SLOs that share the same windows
//! share a [`Core`]; a stream is created the first time its region is seen. Both the
//! raw-series ingestor (backtest) and the engine (Thanos) feed streams through this.
//! Streams of a calendar-period SLO also count the events since the period's start
//! ([`PeriodTally`], reset at the boundary), beside their rolling windows.

use std::collections::HashMap;

use super::core::{Core, SloModel, TierModel, Transition, WindowEvents};
use super::layout::{Layout, LayoutError};
use super::store::StreamId;
use crate::calendar::{Calendar, PeriodTally};
use crate::slo::{Service, Slo, Tier};
use crate::window::Window;

/// Identity of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StreamKey {
    pub service: String,
    pub slo: String,
    pub region: String,
}

/// A stream in one of the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamRef {
    pub group: usize,
    pub id: StreamId,
}

/// SLOs with the same windows and their core.
#[derive(Debug, Clone)]
pub struct Group {
    pub windows: Vec<Window>,
    pub core: Core,
}

/// One SLO's place in the streams.
#[derive(Debug, Clone)]
pub struct SloEntry {
    pub group: usize,
    pub model: usize,
    pub service: String,
    pub slo: String,
    pub tiers: Vec<Tier>,
    pub budget: f64,
    /// The SLO's calendar period: its streams also count the events since its start.
    pub calendar: Option<Calendar>,
    pub counts_good: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("windows of {slo}: {source}")]
pub struct StreamsError {
    pub slo: String,
    #[source]
    pub source: LayoutError,
}

/// A tier's state for one stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TierState {
    pub severity: crate::slo::Severity,
    pub long_window: String,
    pub short_window: String,
    pub factor: f64,
    pub threshold: f64,
    pub holds: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Streams {
    pub groups: Vec<Group>,
    pub slos: Vec<SloEntry>,
    by_region: HashMap<(usize, String), StreamRef>,
    keys: HashMap<StreamRef, (StreamKey, usize)>,
    carry: HashMap<StreamRef, [f64; 2]>,
    /// Events since the current calendar period's start, of streams of calendar SLOs.
    periods: HashMap<StreamRef, PeriodTally>,
}

impl Streams {
    pub fn new() -> Self {
        Streams {
            groups: Vec::new(),
            slos: Vec::new(),
            by_region: HashMap::new(),
            keys: HashMap::new(),
            carry: HashMap::new(),
            periods: HashMap::new(),
        }
    }

    /// Registers an SLO; returns its index. `counts_good`: its streams count good events.
    pub fn add_slo(
        &mut self,
        service: &Service,
        slo: &Slo,
        counts_good: bool,
        k: u32,
        lateness: i64,
    ) -> Result<usize, StreamsError> {
        let windows = slo.windows();
        let group = match self.groups.iter().position(|g| g.windows == windows) {
            Some(g) => g,
            None => {
                let layout = Layout::new(&windows, k).map_err(|source| StreamsError {
                    slo: service.slo_id(slo),
                    source,
                })?;
                self.groups.push(Group {
                    windows: windows.clone(),
                    core: Core::new(layout, lateness),
                });
                self.groups.len() - 1
            }
        };
        let layout = self.groups[group].core.store.layout().clone();
        let level = |w: Window| layout.level_of(w).unwrap_or(0);
        let model = self.groups[group].core.add_slo(SloModel {
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
        self.slos.push(SloEntry {
            group,
            model,
            service: service.name.clone(),
            slo: slo.name.clone(),
            tiers: slo.tiers.clone(),
            budget: slo.error_budget(),
            calendar: slo.calendar,
            counts_good,
        });
        Ok(self.slos.len() - 1)
    }

    /// The stream of an SLO in a region, created on first use.
    pub fn stream(&mut self, slo: usize, region: &str) -> StreamRef {
        if let Some(s) = self.by_region.get(&(slo, region.to_string())) {
            return *s;
        }
        let e = &self.slos[slo];
        let id = self.groups[e.group].core.add_stream(e.model);
        let sref = StreamRef { group: e.group, id };
        self.by_region.insert((slo, region.to_string()), sref);
        let key = StreamKey {
            service: e.service.clone(),
            slo: e.slo.clone(),
            region: region.to_string(),
        };
        self.keys.insert(sref, (key, slo));
        if let Some(c) = e.calendar {
            self.periods.insert(sref, PeriodTally::new(c));
        }
        sref
    }

    /// The period's events of a stream by names: since the calendar period's start, or
    /// over the period window (the longest window).
    pub fn find_slo(&self, service: &str, slo: &str, region: &str) -> Option<WindowEvents> {
        let idx = self
            .slos
            .iter()
            .position(|e| e.service == service && e.slo == slo)?;
        let s = self.find(idx, region)?;
        if let Some((_, _, ev)) = self.period(s) {
            return Some(ev);
        }
        self.windows(s).last().map(|(_, ev)| *ev)
    }

    /// The existing stream of an SLO in a region.
    pub fn find(&self, slo: usize, region: &str) -> Option<StreamRef> {
        self.by_region.get(&(slo, region.to_string())).copied()
    }

    #[inline]
    pub fn add(&mut self, s: StreamRef, ts: i64, first: u32, total: u32) {
        self.groups[s.group].core.store.add(s.id, ts, first, total);
        self.add_period(s, ts, first, total);
    }

    /// Counts a sample in its stream's calendar period, if the SLO has one.
    #[inline]
    fn add_period(&mut self, s: StreamRef, ts: i64, first: u32, total: u32) {
        if self.periods.is_empty() {
            return;
        }
        if let Some(p) = self.periods.get_mut(&s) {
            p.add(ts, u64::from(first), u64::from(total));
        }
    }

    /// Adds fractional event counts (rate × seconds); fractions carry over per stream.
    pub fn add_f64(&mut self, s: StreamRef, ts: i64, first: f64, total: f64) {
        let (f, t) = self.whole(s, first, total);
        self.add(s, ts, f, t);
    }

    /// [`Self::add_f64`] for a past span the stream missed (a coverage gap fetched after
    /// the clock moved on): placed in its buckets whatever its age.
    pub fn add_history_f64(&mut self, s: StreamRef, ts: i64, first: f64, total: f64) {
        let (f, t) = self.whole(s, first, total);
        self.groups[s.group].core.store.add_history(s.id, ts, f, t);
        self.add_period(s, ts, f, t);
    }

    /// Whole event counts of fractional ones, carrying the fractions per stream.
    fn whole(&mut self, s: StreamRef, first: f64, total: f64) -> (u32, u32) {
        let c = self.carry.entry(s).or_insert([0.0, 0.0]);
        let f = first.max(0.0) + c[0];
        let t = total.max(0.0) + c[1];
        let (fw, tw) = (f.floor(), t.floor());
        *c = [f - fw, t - tw];
        let clip = |x: f64| {
            if x >= f64::from(u32::MAX) {
                u32::MAX
            } else {
                x as u32
            }
        };
        (clip(fw), clip(tw))
    }

    pub fn advance(&mut self, now: i64) {
        for g in &mut self.groups {
            g.core.store.advance(now);
        }
        // A period with no sample yet still starts at its boundary: the budget is whole.
        for p in self.periods.values_mut() {
            p.advance(now);
        }
    }

    /// The calendar period of a stream's SLO, its start (unix seconds) and its events
    /// since then (None: the SLO's period is rolling).
    pub fn period(&self, s: StreamRef) -> Option<(Calendar, i64, WindowEvents)> {
        let p = self.periods.get(&s)?;
        let counts_good = self.slo_of(s).is_some_and(|i| self.slos[i].counts_good);
        let bad = if counts_good {
            p.total.saturating_sub(p.first)
        } else {
            p.first.min(p.total)
        };
        Some((
            p.calendar,
            p.start,
            WindowEvents {
                bad,
                total: p.total,
            },
        ))
    }

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

    pub fn slo_of(&self, s: StreamRef) -> Option<usize> {
        self.keys.get(&s).map(|(_, i)| *i)
    }

    /// Every stream with its key, sorted by (service, slo, region).
    pub fn all(&self) -> Vec<(StreamRef, &StreamKey)> {
        let mut v: Vec<(StreamRef, &StreamKey)> =
            self.keys.iter().map(|(s, (k, _))| (*s, k)).collect();
        v.sort_by(|a, b| {
            (&a.1.service, &a.1.slo, &a.1.region).cmp(&(&b.1.service, &b.1.slo, &b.1.region))
        });
        v
    }

    /// (window, events) of every window of a stream.
    pub fn windows(&self, s: StreamRef) -> Vec<(Window, WindowEvents)> {
        let g = &self.groups[s.group];
        g.windows
            .iter()
            .copied()
            .zip(g.core.windows(s.id))
            .collect()
    }

    /// Tier states of a stream (as of the last evaluation).
    pub fn tiers(&self, s: StreamRef) -> Vec<TierState> {
        let Some(slo) = self.slo_of(s) else {
            return Vec::new();
        };
        let e = &self.slos[slo];
        let core = &self.groups[s.group].core;
        e.tiers
            .iter()
            .enumerate()
            .map(|(i, t)| TierState {
                severity: t.severity,
                long_window: t.long.to_string(),
                short_window: t.short.to_string(),
                factor: t.factor,
                threshold: crate::slo::round_sig(t.factor * e.budget),
                holds: core.tier_holds(s.id, i),
            })
            .collect()
    }

    pub fn alert_firing(&self, s: StreamRef, severity: crate::slo::Severity) -> bool {
        self.groups[s.group].core.alert_firing(s.id, severity)
    }

    pub fn budget(&self, s: StreamRef) -> f64 {
        self.slo_of(s).map_or(0.0, |i| self.slos[i].budget)
    }

    /// Late samples dropped across all cores.
    pub fn late_dropped(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.core.store.stats.late_dropped)
            .sum()
    }
}
