//! The async driver: backfill every window from range queries at start (coarse steps for
//! long windows, fine for short), then each interval query every SLO once (error and total
//! event rates per region), feed the streaming core, and evaluate. The clock lives here:
//! callers pass `at` for one-off evaluations, `serve` passes the wall clock.
//!
//! The number of queries per evaluation grows with the number of SLOs, never with the
//! number of windows: the core keeps the windows. A failed or partial query marks the
//! SLO's streams *degraded*; a region that stops answering is *no data*; neither is ever
//! read as good or bad.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::backtest::AlertRecord;
use crate::burn::streams::{StreamRef, Streams, StreamsError};
use crate::burn::Transition;
use crate::clock::Clock;
use crate::config::{EvaluationConfig, RegionsConfig};
use crate::promql::SliTemplate;
use crate::query::{MetricsSource, QueryError, QueryResult};
use crate::slo::{RegionalSli, Service, Severity};
use crate::snapshot::{DataStatus, Latency, RegionRow, Snapshot, StreamHealth, StreamRow, TierRow};
use crate::window::Window;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Streams(#[from] StreamsError),
    #[error("evaluation.fine_step {step} must divide 6h")]
    FineStep { step: Window },
    #[error("the built-in probe SLI does not load: {0}")]
    ProbeSpec(String),
}

#[derive(Debug, Clone)]
enum SliQueries {
    Events {
        error: SliTemplate,
        total: SliTemplate,
    },
    Ratio {
        error_ratio: SliTemplate,
    },
}

#[derive(Debug, Clone)]
struct SloQueries {
    slo: usize,
    service: String,
    name: String,
    region_label: String,
    sli: SliQueries,
    /// `vantage: external`: measured from outside the region, so it is not one of the
    /// region's own SLIs (whose silence may mean the region is gone).
    external: bool,
}

/// What one SLO's queries returned: per time and region the (error, total) events, and
/// the regions whose own server (or Thanos store) did not answer.
#[derive(Debug, Default)]
struct Fetched {
    points: BTreeMap<i64, StepEvents>,
    unreachable: BTreeMap<String, String>,
}

/// The longest data gap one steady-state query fills (a longer outage keeps the rest
/// out of the windows, as a fresh start would).
const MAX_GAP: i64 = 6 * 3600;

/// Per-(SLO, region) event counts of one query step: (error events, total events).
type StepEvents = BTreeMap<String, (Option<f64>, f64)>;

pub struct Engine<S> {
    source: S,
    /// Measures query and evaluation latency; evaluation times are always arguments.
    clock: Arc<dyn Clock>,
    eval: EvaluationConfig,
    regions: RegionsConfig,
    streams: Streams,
    queries: Vec<SloQueries>,
    status: HashMap<(usize, String), DataStatus>,
    last_at: Option<i64>,
    /// Per SLO query: the time of its last successful step. After a source outage the
    /// next successful query covers the whole gap (see [`Engine::step`]).
    last_ok: Vec<Option<i64>>,
    query_hist: hdrhistogram::Histogram<u64>,
    eval_hist: hdrhistogram::Histogram<u64>,
    /// The built-in probe SLI's index in the core, when probes are configured.
    probe_slo: Option<usize>,
    /// Per configured region: since when all its own SLIs have had no data or its source
    /// has been unreachable (absent: it has data).
    silent_since: BTreeMap<String, i64>,
    /// Durations (seconds) of the queries of the last step, for /metrics.
    pub last_query_secs: Vec<f64>,
    pub last_eval_secs: f64,
}

fn hist() -> hdrhistogram::Histogram<u64> {
    // 1 µs .. 10 min at 3 significant digits; the bounds are constants, so this cannot fail.
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("valid sigfig"))
}

fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        count: h.len(),
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: h.max() as f64 / 1000.0,
    }
}

impl<S: MetricsSource> Engine<S> {
    pub fn new(
        source: S,
        services: &[Service],
        eval: EvaluationConfig,
        regions: RegionsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        if 6 * 3600 % eval.fine_step.secs() != 0 {
            return Err(EngineError::FineStep {
                step: eval.fine_step,
            });
        }
        let mut streams = Streams::new();
        let mut queries = Vec::new();
        for service in services {
            for slo in &service.slos {
                let idx = streams.add_slo(
                    service,
                    slo,
                    false,
                    eval.buckets,
                    eval.lateness.secs() as i64,
                )?;
                let sli = match &slo.regional {
                    RegionalSli::Events { error, total } => SliQueries::Events {
                        error: error.clone(),
                        total: total.clone(),
                    },
                    RegionalSli::Ratio { error_ratio } => SliQueries::Ratio {
                        error_ratio: error_ratio.clone(),
                    },
                };
                queries.push(SloQueries {
                    slo: idx,
                    service: service.name.clone(),
                    name: slo.name.clone(),
                    region_label: service.region_label.clone(),
                    sli,
                    external: slo.vantage == crate::slo::Vantage::External,
                });
            }
        }
        let probe_slo = if regions.probes.is_empty() {
            None
        } else {
            let spec = crate::probe::probe_spec(&regions.label);
            let probe_services =
                crate::slo::parse_all(&[(std::path::PathBuf::from("built-in probes"), spec)])
                    .map_err(|p| EngineError::ProbeSpec(format!("{p:?}")))?;
            let mut idx = None;
            for ps in &probe_services {
                for slo in &ps.slos {
                    idx = Some(streams.add_slo(
                        ps,
                        slo,
                        false,
                        eval.buckets,
                        eval.lateness.secs() as i64,
                    )?);
                }
            }
            idx
        };
        Ok(Engine {
            source,
            clock,
            eval,
            regions,
            streams,
            queries,
            status: HashMap::new(),
            last_at: None,
            last_ok: Vec::new(),
            query_hist: hist(),
            eval_hist: hist(),
            probe_slo,
            silent_since: BTreeMap::new(),
            last_query_secs: Vec::new(),
            last_eval_secs: 0.0,
        })
    }

    pub fn queries_per_evaluation(&self) -> usize {
        self.queries
            .iter()
            .map(|q| {
                if matches!(q.sli, SliQueries::Events { .. }) {
                    2
                } else {
                    1
                }
            })
            .sum()
    }

    /// One query of a template, timed into the latency histogram.
    async fn query(
        &mut self,
        t: &SliTemplate,
        window: Window,
        range: Option<(i64, i64, i64)>,
        at: i64,
    ) -> Result<QueryResult, QueryError> {
        let query = t.render(window);
        let started = self.clock.monotonic();
        let r = match range {
            Some((s, e, st)) => self.source.range(&query, s, e, st, true).await,
            None => self.source.instant(&query, at, true).await,
        };
        let secs = self.clock.monotonic().saturating_sub(started).as_secs_f64();
        let _ = self.query_hist.record((secs * 1e6) as u64);
        self.last_query_secs.push(secs);
        r
    }

    /// Runs the SLO's queries (instant at `at`, or range over `(start, end]` at `step`) with
    /// the given rate window; returns per timestamp and region the (error, total) events,
    /// and the regions whose own server did not answer.
    async fn fetch(
        &mut self,
        q: usize,
        window: Window,
        range: Option<(i64, i64, i64)>,
        at: i64,
        scale: f64,
    ) -> Result<Fetched, String> {
        let sli = self.queries[q].sli.clone();
        let region_label = self.queries[q].region_label.clone();
        let known = self.regions.all();
        let mut unreachable: BTreeMap<String, String> = BTreeMap::new();
        let mut check = |r: Result<QueryResult, QueryError>| -> Result<QueryResult, String> {
            let r = r.map_err(|e| e.to_string())?;
            unreachable.extend(r.unreachable.clone());
            if r.degraded {
                // Partial data whose every warning names the store of a known region
                // (`region="eu-west-1"`): that region is unreachable, the others are
                // whole. Anything else is partial data: no decision on it.
                let named: Option<Vec<Vec<&String>>> = r
                    .warnings
                    .iter()
                    .map(|w| {
                        let hits: Vec<&String> = known
                            .iter()
                            .filter(|reg| names_region(w, &region_label, reg))
                            .collect();
                        (!hits.is_empty()).then_some(hits)
                    })
                    .collect();
                match named {
                    Some(lists) if !r.warnings.is_empty() => {
                        for (w, regs) in r.warnings.iter().zip(lists) {
                            for reg in regs {
                                unreachable.insert(reg.clone(), format!("store down: {w}"));
                            }
                        }
                        let mut whole = r;
                        whole.series.retain(|s| {
                            !s.labels
                                .get(&region_label)
                                .is_some_and(|v| unreachable.contains_key(v))
                        });
                        return Ok(whole);
                    }
                    _ => return Err(format!("partial data: {}", r.warnings.join("; "))),
                }
            }
            Ok(r)
        };
        let mut out: BTreeMap<i64, StepEvents> = BTreeMap::new();
        let region_of = |labels: &BTreeMap<String, String>| {
            labels.get(&region_label).cloned().filter(|r| !r.is_empty())
        };
        match sli {
            SliQueries::Events { error, total } => {
                let total_r = check(self.query(&total, window, range, at).await)?;
                let error_r = check(self.query(&error, window, range, at).await)?;
                for s in &total_r.series {
                    let Some(region) = region_of(&s.labels) else {
                        continue;
                    };
                    for (t, v) in &s.points {
                        if v.is_finite() {
                            out.entry(*t)
                                .or_default()
                                .insert(region.clone(), (None, v * scale));
                        }
                    }
                }
                for s in &error_r.series {
                    let Some(region) = region_of(&s.labels) else {
                        continue;
                    };
                    for (t, v) in &s.points {
                        if let Some(e) = out.get_mut(t).and_then(|m| m.get_mut(&region)) {
                            if v.is_finite() {
                                e.0 = Some(v * scale);
                            }
                        }
                    }
                }
            }
            SliQueries::Ratio { error_ratio } => {
                let r = check(self.query(&error_ratio, window, range, at).await)?;
                for s in &r.series {
                    let Some(region) = region_of(&s.labels) else {
                        continue;
                    };
                    for (t, v) in &s.points {
                        if v.is_finite() {
                            // A ratio carries no counts: weight each step by its length.
                            out.entry(*t)
                                .or_default()
                                .insert(region.clone(), (Some(v.clamp(0.0, 1.0) * scale), scale));
                        }
                    }
                }
            }
        }
        Ok(Fetched {
            points: out,
            unreachable,
        })
    }

    fn ingest(&mut self, q: usize, points: BTreeMap<i64, StepEvents>) {
        let slo = self.queries[q].slo;
        for (t, regions) in points {
            for (region, (err, total)) in regions {
                let s = self.streams.stream(slo, &region);
                // Regions without error series yet have 0 errors, not missing data.
                self.streams.add_f64(s, t, err.unwrap_or(0.0), total);
            }
        }
    }

    /// Backfills every window from range queries ending at `end`: 1h steps beyond 3 days,
    /// 5m steps from 3 days to 6 hours, `fine_step` over the last 6 hours.
    pub async fn backfill(&mut self, end: i64, mut progress: impl FnMut(usize, usize)) {
        let max_window = self
            .streams
            .groups
            .iter()
            .flat_map(|g| g.windows.iter().copied())
            .max()
            .unwrap_or(Window::days(30));
        let fine = self.eval.fine_step.secs() as i64;
        let end = end.div_euclid(fine) * fine;
        let p = max_window.secs() as i64;
        let mut segments = Vec::new();
        let bounds = [
            (p, 3 * 86_400, 3600),
            (3 * 86_400, 6 * 3600, 300),
            (6 * 3600, 0, fine),
        ];
        for (from, to, step) in bounds {
            let (a, b) = (end - from.min(p), end - to.min(p));
            if a < b && (b - a) % step == 0 {
                segments.push((a, b, step));
            }
        }
        let total = segments.len() * self.queries.len();
        let mut done = 0;
        let mut all: Vec<(usize, BTreeMap<i64, StepEvents>)> = Vec::new();
        for q in 0..self.queries.len() {
            let mut merged: BTreeMap<i64, StepEvents> = BTreeMap::new();
            let mut unreachable = BTreeMap::new();
            let mut failed = None;
            for &(a, b, step) in &segments {
                match self
                    .fetch(
                        q,
                        Window::from_secs(step as u64),
                        Some((a + step, b, step)),
                        b,
                        step as f64,
                    )
                    .await
                {
                    Ok(f) => {
                        merged.extend(f.points);
                        unreachable = f.unreachable;
                    }
                    Err(e) => failed = Some(e),
                }
                done += 1;
                progress(done, total);
            }
            self.mark(q, &merged, failed, &unreachable);
            all.push((q, merged));
        }
        // Time order across SLOs keeps every core's clock moving forwards.
        let mut flat: Vec<(i64, usize, StepEvents)> = Vec::new();
        for (q, points) in all {
            for (t, ev) in points {
                flat.push((t, q, ev));
            }
        }
        flat.sort_by_key(|(t, q, _)| (*t, *q));
        for (t, q, ev) in flat {
            let mut one = BTreeMap::new();
            one.insert(t, ev);
            self.ingest(q, one);
        }
        self.streams.advance(end);
        self.last_at = Some(end);
        self.last_ok = vec![Some(end); self.queries.len()];
        self.update_silence(end);
    }

    /// Since when each configured region's own SLIs have all been missing or
    /// unreachable. Degraded data (the shared source failed) tells nothing either way:
    /// the clock neither starts nor stops on it.
    fn update_silence(&mut self, at: i64) {
        for r in self.regions.all() {
            let own: Vec<&DataStatus> = self
                .queries
                .iter()
                .filter(|q| !q.external)
                .map(|q| {
                    self.status
                        .get(&(q.slo, r.clone()))
                        .unwrap_or(&DataStatus::NoData)
                })
                .collect();
            if own.is_empty() || own.iter().any(|d| matches!(d, DataStatus::Degraded(_))) {
                continue;
            }
            if own
                .iter()
                .all(|d| matches!(d, DataStatus::NoData | DataStatus::Unreachable(_)))
            {
                self.silent_since.entry(r).or_insert(at);
            } else {
                self.silent_since.remove(&r);
            }
        }
    }

    /// Since when `region`'s own SLIs have been silent (None: it has data).
    pub fn silent_since(&self, region: &str) -> Option<i64> {
        self.silent_since.get(region).copied()
    }

    /// Probe results enter the core as the built-in probe SLI (one event per probe, an
    /// error when it failed); call before [`Self::step`] of the same time.
    pub fn ingest_probes(&mut self, results: &[crate::probe::ProbeResult]) {
        let Some(slo) = self.probe_slo else {
            return;
        };
        let mut sorted: Vec<&crate::probe::ProbeResult> = results
            .iter()
            .filter(|r| self.regions.probes.contains_key(&r.region))
            .collect();
        sorted.sort_by_key(|r| r.at);
        for r in sorted {
            let s = self.streams.stream(slo, &r.region);
            self.streams
                .add_f64(s, r.at, if r.ok { 0.0 } else { 1.0 }, 1.0);
            self.status
                .insert((slo, r.region.clone()), DataStatus::Complete);
        }
    }

    /// Records data completeness of an SLO's regions after a fetch.
    fn mark(
        &mut self,
        q: usize,
        points: &BTreeMap<i64, StepEvents>,
        failed: Option<String>,
        unreachable: &BTreeMap<String, String>,
    ) {
        let slo = self.queries[q].slo;
        let mut regions: Vec<String> = self.regions.all();
        regions.extend(
            self.status
                .keys()
                .filter(|(s, _)| *s == slo)
                .map(|(_, r)| r.clone()),
        );
        let latest = points.values().next_back();
        regions.extend(latest.into_iter().flat_map(|m| m.keys().cloned()));
        regions.sort();
        regions.dedup();
        for r in regions {
            let status = match (&failed, latest.and_then(|m| m.get(&r))) {
                (Some(e), _) => DataStatus::Degraded(e.clone()),
                (None, Some(_)) => DataStatus::Complete,
                (None, None) => match unreachable.get(&r) {
                    Some(e) => DataStatus::Unreachable(e.clone()),
                    None => DataStatus::NoData,
                },
            };
            if let Some(DataStatus::Degraded(e)) = Some(&status) {
                tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, region = %r, error = %e, "SLI data degraded");
            }
            self.status.insert((slo, r), status);
        }
    }

    /// One steady-state evaluation at `at`: query each SLO once, feed the core, evaluate.
    pub async fn step(&mut self, at: i64) -> Vec<(StreamRef, Transition)> {
        let started = self.clock.monotonic();
        self.last_query_secs.clear();
        let since = self
            .last_at
            .unwrap_or(at - self.eval.interval.secs() as i64);
        self.last_ok.resize(self.queries.len(), None);
        for q in 0..self.queries.len() {
            // Events since this SLO's last successful step: after a source outage that is
            // the whole gap, queried as one rate over it (so the windows hold the
            // outage's events, lumped at `at`), up to MAX_GAP.
            let since_q = self.last_ok[q].unwrap_or(since).max(at - MAX_GAP);
            let elapsed = (at - since_q).max(0);
            let lookback = self.eval.lookback.secs() as i64;
            let window = if elapsed > lookback {
                Window::from_secs(((elapsed + 59) / 60 * 60) as u64)
            } else {
                self.eval.lookback
            };
            let result = self.fetch(q, window, None, at, elapsed as f64).await;
            match result {
                Ok(Fetched {
                    points,
                    unreachable,
                }) => {
                    if elapsed > 2 * self.eval.interval.secs() as i64 {
                        tracing::info!(service = %self.queries[q].service, slo = %self.queries[q].name, gap_secs = elapsed, "filled a data gap with one query over it");
                    }
                    self.last_ok[q] = Some(at);
                    // Instant results are stamped `at`; keep them at `at` for the core.
                    let mut at_points = BTreeMap::new();
                    if let Some((_, ev)) = points.into_iter().next_back() {
                        at_points.insert(at, ev);
                    }
                    self.mark(q, &at_points, None, &unreachable);
                    self.ingest(q, at_points);
                }
                Err(e) => self.mark(q, &BTreeMap::new(), Some(e), &BTreeMap::new()),
            }
        }
        self.update_silence(at);
        self.last_at = Some(at);
        self.streams.advance(at);
        let mut out = Vec::new();
        self.streams.evaluate(&mut out);
        for (s, t) in &out {
            if let Some(k) = self.streams.key(*s) {
                tracing::info!(service = %k.service, slo = %k.slo, region = %k.region, severity = %t.severity, firing = t.firing, "alert transition");
            }
        }
        self.last_eval_secs = self.clock.monotonic().saturating_sub(started).as_secs_f64();
        let _ = self.eval_hist.record((self.last_eval_secs * 1e6) as u64);
        out
    }

    /// Evaluates the tiers at the current clock without querying (after a backfill).
    pub fn evaluate_now(&mut self) -> Vec<(StreamRef, Transition)> {
        let mut out = Vec::new();
        self.streams.evaluate(&mut out);
        out
    }

    /// Replays `(start, end]` from the source at the fine step, evaluating at every point
    /// (after a [`Self::backfill`] ending at `start`); returns every alert firing and
    /// resolution.
    pub async fn replay(&mut self, start: i64, end: i64) -> Vec<AlertRecord> {
        let step = self.eval.fine_step.secs() as i64;
        let chunk = 10_000 * step;
        let mut flat: Vec<(i64, usize, StepEvents)> = Vec::new();
        for q in 0..self.queries.len() {
            let mut a = start;
            while a < end {
                let b = (a + chunk).min(end);
                match self
                    .fetch(
                        q,
                        self.eval.fine_step,
                        Some((a + step, b, step)),
                        b,
                        step as f64,
                    )
                    .await
                {
                    Ok(f) => {
                        self.mark(q, &f.points, None, &f.unreachable);
                        flat.extend(f.points.into_iter().map(|(t, ev)| (t, q, ev)));
                    }
                    Err(e) => self.mark(q, &BTreeMap::new(), Some(e), &BTreeMap::new()),
                }
                a = b;
            }
        }
        flat.sort_by_key(|(t, q, _)| (*t, *q));
        let mut alerts = Vec::new();
        let mut transitions = Vec::new();
        let mut i = 0;
        while i < flat.len() {
            let t = flat[i].0;
            while i < flat.len() && flat[i].0 == t {
                let (t, q, ev) = std::mem::take(&mut flat[i]);
                self.ingest(q, BTreeMap::from([(t, ev)]));
                i += 1;
            }
            self.streams.advance(t);
            transitions.clear();
            self.streams.evaluate(&mut transitions);
            crate::backtest::apply_transitions(&self.streams, &transitions, t, &mut alerts);
        }
        self.streams.advance(end);
        self.last_at = Some(end);
        alerts
    }

    /// A precondition query: holds when it returns a non-zero sample, fails when every
    /// sample is zero, unknown (None) on no data, errors or partial data.
    pub async fn precondition(&mut self, query: &str, at: i64) -> Option<bool> {
        let started = self.clock.monotonic();
        let r = self.source.instant(query, at, true).await;
        let _ = self
            .query_hist
            .record((self.clock.monotonic().saturating_sub(started).as_secs_f64() * 1e6) as u64);
        match r {
            Ok(r) if !r.degraded => {
                let values: Vec<f64> = r
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1))
                    .filter(|v| v.is_finite())
                    .collect();
                if values.is_empty() {
                    None
                } else {
                    Some(values.iter().any(|v| *v != 0.0))
                }
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(query, error = %e, "precondition query failed");
                None
            }
        }
    }

    pub fn regions(&self) -> &RegionsConfig {
        &self.regions
    }

    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// Whether the SLO at core index `slo` is measured from outside its region.
    fn is_external(&self, slo: usize) -> bool {
        self.queries.iter().any(|q| q.slo == slo && q.external)
    }

    /// A stream's data status as of the last fetch (no data when never fetched).
    fn data_status(&self, sref: StreamRef, region: &str) -> DataStatus {
        let slo = self.streams.slo_of(sref).unwrap_or(0);
        self.status
            .get(&(slo, region.to_string()))
            .cloned()
            .unwrap_or(DataStatus::NoData)
    }

    /// Every (SLO, region) stream's data status and holding tiers, typed, as of the last
    /// evaluation; pairs queried but never seen in data appear with their status and no
    /// tiers. This, not the display rows, is what failover decisions are built from.
    pub fn health(&self) -> Vec<StreamHealth> {
        let rows = crate::backtest::final_rows(&self.streams);
        let mut out = Vec::new();
        for (sref, key) in self.streams.all() {
            let tiers = self.streams.tiers(sref);
            let short: Vec<&str> = tiers.iter().map(|t| t.short_window.as_str()).collect();
            let short_burn = rows
                .iter()
                .filter(|r| r.service == key.service && r.slo == key.slo && r.region == key.region)
                .filter(|r| short.contains(&r.window.as_str()))
                .filter_map(|r| r.burn_rate)
                .reduce(f64::max);
            let slo_idx = self.streams.slo_of(sref).unwrap_or(usize::MAX);
            out.push(StreamHealth {
                external: self.is_external(slo_idx),
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                data: self.data_status(sref, &key.region),
                holding: tiers
                    .iter()
                    .filter(|t| t.holds)
                    .map(|t| t.severity)
                    .collect(),
                short_burn,
            });
        }
        for ((slo, region), data) in &self.status {
            if self.streams.find(*slo, region).is_none() {
                let e = &self.streams.slos[*slo];
                out.push(StreamHealth {
                    external: self.is_external(*slo),
                    service: e.service.clone(),
                    slo: e.slo.clone(),
                    region: region.clone(),
                    data: data.clone(),
                    holding: Vec::new(),
                    short_burn: None,
                });
            }
        }
        out
    }

    /// The state at the last evaluation.
    pub fn snapshot(&self) -> Snapshot {
        let at = self.last_at.unwrap_or(0);
        let mut tiers = Vec::new();
        let mut stream_rows = Vec::new();
        let mut burning: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let final_rows = crate::backtest::final_rows(&self.streams);
        for (sref, key) in self.streams.all() {
            let ts = self.streams.tiers(sref);
            if key.service != crate::probe::PROBE_SERVICE
                && ts.iter().any(|t| t.holds && t.severity == Severity::Page)
            {
                burning
                    .entry(key.region.clone())
                    .or_default()
                    .push(format!("{}/{}", key.service, key.slo));
            }
            for t in ts {
                tiers.push(TierRow {
                    service: key.service.clone(),
                    slo: key.slo.clone(),
                    region: key.region.clone(),
                    tier: t,
                });
            }
            stream_rows.push(StreamRow {
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                data: self.data_status(sref, &key.region),
                page_firing: self.streams.alert_firing(sref, Severity::Page),
                ticket_firing: self.streams.alert_firing(sref, Severity::Ticket),
            });
        }
        // (SLO, region) pairs that were queried but never produced a stream (the source
        // failed, or the region never answered) are reported too.
        let mut missing: Vec<StreamRow> = self
            .status
            .iter()
            .filter(|((slo, region), _)| self.streams.find(*slo, region).is_none())
            .map(|((slo, region), data)| {
                let e = &self.streams.slos[*slo];
                StreamRow {
                    service: e.service.clone(),
                    slo: e.slo.clone(),
                    region: region.clone(),
                    data: data.clone(),
                    page_firing: false,
                    ticket_firing: false,
                }
            })
            .collect();
        missing
            .sort_by(|a, b| (&a.service, &a.slo, &a.region).cmp(&(&b.service, &b.slo, &b.region)));
        stream_rows.extend(missing);
        let mut region_names: Vec<String> = self.regions.all();
        for r in stream_rows.iter().map(|s| s.region.clone()) {
            if !region_names.contains(&r) {
                region_names.push(r);
            }
        }
        let regions = region_names
            .into_iter()
            .map(|r| {
                let role = if self.regions.active.as_deref() == Some(r.as_str()) {
                    "active"
                } else if self.regions.standby.contains(&r) {
                    "standby"
                } else {
                    "other"
                };
                let rows: Vec<&StreamRow> = stream_rows
                    .iter()
                    .filter(|s| s.region == r && s.service != crate::probe::PROBE_SERVICE)
                    .collect();
                // Incomplete data wins over any verdict: the region can be judged neither
                // burning nor healthy on it.
                let state = if rows
                    .iter()
                    .any(|s| matches!(s.data, DataStatus::Degraded(_)))
                {
                    "degraded"
                } else if burning.contains_key(&r) {
                    "burning"
                } else if rows.is_empty()
                    || rows
                        .iter()
                        .any(|s| matches!(s.data, DataStatus::NoData | DataStatus::Unreachable(_)))
                {
                    "no_data"
                } else {
                    "healthy"
                };
                RegionRow {
                    evidence: None,
                    burning: burning.get(&r).cloned().unwrap_or_default(),
                    region: r,
                    role: role.into(),
                    state: state.into(),
                }
            })
            .collect();
        Snapshot {
            at,
            active_region: self.regions.active.clone(),
            final_rows,
            tiers,
            streams: stream_rows,
            regions,
            query_latency: latency(&self.query_hist),
            evaluation_latency: latency(&self.eval_hist),
            queries_per_evaluation: self.queries_per_evaluation(),
        }
    }
}

/// Whether a partial-data warning names the store of `region` (by its region label, as
/// Thanos prints a store's label sets: `region="eu-west-1"`).
fn names_region(warning: &str, label: &str, region: &str) -> bool {
    warning.contains(&format!("{label}=\"{region}\""))
        || warning.contains(&format!("{label}={region}"))
}
