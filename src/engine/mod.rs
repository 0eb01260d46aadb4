//! The async driver: backfill every window from range queries at start (coarse steps for
//! long windows, fine for short), then each interval query every SLO once (error and total
//! event rates per region), feed the streaming core, and evaluate. The clock lives here:
//! callers pass `at` for one-off evaluations, `serve` passes the wall clock.
//!
//! The number of queries per evaluation grows with the number of SLOs, never with the
//! number of windows: the core keeps the windows. A failed or partial query marks the
//! SLO's streams *degraded*; a region that stops answering is *no data*; neither is ever
//! read as good or bad, and neither is a non-finite sample (NaN/Inf): the stream it
//! belongs to is degraded for that evaluation.
//!
//! Coverage ([`coverage`]): the engine knows, per stream, the span its data covers; a
//! backfill that failed (or a region that missed a span) leaves a gap that is fetched
//! again with backoff, and a tier decides a failover only over a covered long window.

pub mod coverage;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::backtest::AlertRecord;
use crate::burn::streams::{StreamRef, Streams, StreamsError};
use crate::burn::Transition;
use crate::clock::Clock;
use crate::config::{EvaluationConfig, RegionsConfig};
use crate::promql::SliTemplate;
use crate::query::{MetricsSource, QueryError, QueryResult};
use crate::slo::{RegionalSli, Service, Severity};
use crate::snapshot::{
    CoverageView, DataStatus, GapView, Latency, RegionRow, Snapshot, StreamHealth, StreamRow,
    TierRow,
};
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
    /// Regions that returned a non-finite sample (NaN, ±Inf): degraded, never read as
    /// good; their points are left out.
    nonfinite: BTreeMap<String, String>,
}

impl Fetched {
    /// Regions of this fetch whose data is not whole (unreachable or non-finite).
    fn missing(&self) -> BTreeSet<String> {
        self.unreachable
            .keys()
            .chain(self.nonfinite.keys())
            .cloned()
            .collect()
    }
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
    /// The span each stream's data covers and the gaps still to fetch.
    coverage: coverage::Coverage,
    /// Core SLO index -> query index (the probe SLI has no query: always covered).
    query_of_slo: HashMap<usize, usize>,
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
        let query_of_slo = queries
            .iter()
            .enumerate()
            .map(|(i, q)| (q.slo, i))
            .collect();
        Ok(Engine {
            query_of_slo,
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
            coverage: coverage::Coverage::default(),
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
        let mut nonfinite: BTreeMap<String, String> = BTreeMap::new();
        let region_of = |labels: &BTreeMap<String, String>| {
            labels.get(&region_label).cloned().filter(|r| !r.is_empty())
        };
        // A non-finite sample is never read as a count (NaN errors are not zero errors):
        // the region's stream is degraded and its points are left out below.
        let mut flag = |region: &str, series: &str, t: i64, v: f64| {
            nonfinite.entry(region.to_string()).or_insert_with(|| {
                format!(
                    "non-finite sample ({v}) in the {series} series at {}",
                    crate::backtest::format_time(t)
                )
            });
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
                        } else {
                            flag(&region, "total", *t, *v);
                        }
                    }
                }
                for s in &error_r.series {
                    let Some(region) = region_of(&s.labels) else {
                        continue;
                    };
                    for (t, v) in &s.points {
                        if !v.is_finite() {
                            flag(&region, "error", *t, *v);
                        } else if let Some(e) = out.get_mut(t).and_then(|m| m.get_mut(&region)) {
                            e.0 = Some(v * scale);
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
                        } else {
                            flag(&region, "error ratio", *t, *v);
                        }
                    }
                }
            }
        }
        for m in out.values_mut() {
            m.retain(|region, _| !nonfinite.contains_key(region));
        }
        out.retain(|_, m| !m.is_empty());
        Ok(Fetched {
            points: out,
            unreachable,
            nonfinite,
        })
    }

    /// Feeds one query's points to the core. `history`: points of a gap filled after the
    /// core's clock moved on (placed in their buckets whatever their age).
    fn ingest(&mut self, q: usize, points: BTreeMap<i64, StepEvents>, history: bool) {
        let slo = self.queries[q].slo;
        for (t, regions) in points {
            for (region, (err, total)) in regions {
                let s = self.streams.stream(slo, &region);
                // Regions without error series yet have 0 errors, not missing data.
                if history {
                    self.streams
                        .add_history_f64(s, t, err.unwrap_or(0.0), total);
                } else {
                    self.streams.add_f64(s, t, err.unwrap_or(0.0), total);
                }
            }
        }
    }

    /// The longest window of any SLO: how far back a start-up backfill reaches.
    fn max_window(&self) -> Window {
        self.streams
            .groups
            .iter()
            .flat_map(|g| g.windows.iter().copied())
            .max()
            .unwrap_or(Window::days(30))
    }

    /// Fetches query `q`'s events over `(from, to]` with range queries whose resolution
    /// follows the age of the data at `now`: 1h steps beyond 3 days, 5m steps from 3 days
    /// to 6 hours, `fine_step` over the last 6 hours. `tick` runs after each range query.
    async fn fetch_span(
        &mut self,
        q: usize,
        (from, to): (i64, i64),
        now: i64,
        tick: &mut dyn FnMut(),
    ) -> Result<Fetched, String> {
        let fine = self.eval.fine_step.secs() as i64;
        let mut all = Fetched::default();
        let mut failed = None;
        for (a, b, step) in span_segments(from, to, now, fine) {
            if failed.is_none() {
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
                        all.points.extend(f.points);
                        all.unreachable.extend(f.unreachable);
                        for (r, why) in f.nonfinite {
                            all.nonfinite.entry(r).or_insert(why);
                        }
                    }
                    Err(e) => failed = Some(e),
                }
            }
            tick();
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let missing = all.missing();
        for m in all.points.values_mut() {
            m.retain(|r, _| !missing.contains(r));
        }
        Ok(all)
    }

    /// Backfills every window from range queries ending at `end` (see
    /// [`Self::fetch_span`]). What fails (a query, a region) is a gap in the coverage,
    /// fetched again with backoff by [`Self::fill_gaps`]; until then the engine is not
    /// ready and no tier over that span decides a failover.
    pub async fn backfill(&mut self, end: i64, mut progress: impl FnMut(usize, usize)) {
        let fine = self.eval.fine_step.secs() as i64;
        let end = end.div_euclid(fine) * fine;
        let span = (end - self.max_window().secs() as i64, end);
        let per_query = span_segments(span.0, span.1, end, fine).len();
        let total = per_query * self.queries.len();
        let mut done = 0;
        let mut all: Vec<(usize, BTreeMap<i64, StepEvents>)> = Vec::new();
        let configured = self.regions.all();
        for q in 0..self.queries.len() {
            let mut tick = || {
                done += 1;
                progress(done, total);
            };
            match self.fetch_span(q, span, end, &mut tick).await {
                Ok(f) => {
                    let missing = f.missing();
                    let why = (!missing.is_empty()).then(|| {
                        f.unreachable
                            .values()
                            .chain(f.nonfinite.values())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    });
                    self.coverage
                        .backfilled(q, &configured, span, Some(missing), why);
                    self.mark(q, f.points.values().next_back(), None, &f);
                    all.push((q, f.points));
                }
                Err(e) => {
                    tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, error = %e, "backfill failed: retrying with backoff; no decision on this SLO until it succeeds");
                    self.coverage
                        .backfilled(q, &configured, span, None, Some(e.clone()));
                    self.mark(q, None, Some(e), &Fetched::default());
                }
            }
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
            self.ingest(q, BTreeMap::from([(t, ev)]), false);
        }
        self.streams.advance(end);
        self.last_at = Some(end);
        self.last_ok = vec![Some(end); self.queries.len()];
        self.update_silence(end);
    }

    /// Fetches every coverage gap whose retry is due at `now` and places its events in
    /// the windows; a gap that fails again waits longer (capped at 30 s). Returns the
    /// number of gaps closed.
    pub async fn fill_gaps(&mut self, now: i64) -> usize {
        let mut closed = 0;
        for gap in self.coverage.due(now) {
            match self
                .fetch_span(gap.query, (gap.from, gap.to), now, &mut || {})
                .await
            {
                Ok(f) => {
                    let wanted = |r: &String| gap.covers_region(r);
                    let still: BTreeSet<String> = f.missing().into_iter().filter(wanted).collect();
                    let mut points = f.points;
                    for m in points.values_mut() {
                        m.retain(|r, _| wanted(r) && !still.contains(r));
                    }
                    self.ingest(gap.query, points, true);
                    if still.is_empty() {
                        closed += 1;
                        tracing::info!(service = %self.queries[gap.query].service, slo = %self.queries[gap.query].name, from = gap.from, to = gap.to, attempts = gap.attempts, "coverage gap filled from the source");
                    }
                    self.coverage.filled(gap.id, still, now);
                }
                Err(e) => {
                    tracing::warn!(service = %self.queries[gap.query].service, slo = %self.queries[gap.query].name, from = gap.from, to = gap.to, attempts = gap.attempts + 1, error = %e, "coverage gap not filled: retrying with backoff");
                    self.coverage.failed(gap.id, now, e);
                }
            }
        }
        closed
    }

    /// Every start-up backfill has succeeded once (the engine may be ready).
    pub fn backfilled(&self) -> bool {
        self.coverage.ready()
    }

    /// When the next gap retry is due (None: no gap open).
    pub fn next_gap_retry(&self) -> Option<i64> {
        self.coverage.next_try()
    }

    /// Seconds of history a stream's windows cover (None: a stream without a query, the
    /// built-in probe SLI, whose windows only hold what the probes saw).
    fn covered_secs(&self, slo: usize, region: &str) -> Option<i64> {
        let q = *self.query_of_slo.get(&slo)?;
        Some(
            self.coverage
                .covered_secs(q, region, self.last_at.unwrap_or(0))
                .unwrap_or(0),
        )
    }

    /// Whether a stream may count as healthy or burning for a failover: every tier's long
    /// window is covered and its region's start-up backfill succeeded (the probe SLI,
    /// which has no query, always may).
    fn region_covered(&self, slo: usize, region: &str, tiers_covered: &[bool]) -> bool {
        !self.query_of_slo.contains_key(&slo)
            || (self.coverage.region_ready(region) && tiers_covered.iter().all(|c| *c))
    }

    /// Whether each tier of a stream may decide: its long window is covered.
    fn tiers_covered(&self, slo: usize, region: &str) -> Vec<bool> {
        let e = &self.streams.slos[slo];
        match self.covered_secs(slo, region) {
            None => vec![true; e.tiers.len()],
            Some(c) => e
                .tiers
                .iter()
                .map(|t| c as f64 >= coverage::COVERED_SHARE * t.long.secs() as f64)
                .collect(),
        }
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

    /// Records data completeness of an SLO's regions after a fetch (`latest`: its newest
    /// points; `failed`: the query failed); returns the regions that answered in full
    /// (data, or a valid no data).
    fn mark(
        &mut self,
        q: usize,
        latest: Option<&StepEvents>,
        failed: Option<String>,
        fetched: &Fetched,
    ) -> Vec<String> {
        let slo = self.queries[q].slo;
        let mut regions: Vec<String> = self.regions.all();
        regions.extend(
            self.status
                .keys()
                .filter(|(s, _)| *s == slo)
                .map(|(_, r)| r.clone()),
        );
        regions.extend(latest.into_iter().flat_map(|m| m.keys().cloned()));
        regions.extend(fetched.nonfinite.keys().cloned());
        regions.sort();
        regions.dedup();
        let mut answered = Vec::new();
        for r in regions {
            let status = match (
                &failed,
                fetched.nonfinite.get(&r),
                latest.and_then(|m| m.get(&r)),
            ) {
                (Some(e), _, _) | (None, Some(e), _) => DataStatus::Degraded(e.clone()),
                (None, None, Some(_)) => DataStatus::Complete,
                (None, None, None) => match fetched.unreachable.get(&r) {
                    Some(e) => DataStatus::Unreachable(e.clone()),
                    None => DataStatus::NoData,
                },
            };
            match &status {
                DataStatus::Degraded(e) => {
                    tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, region = %r, error = %e, "SLI data degraded");
                }
                DataStatus::Complete | DataStatus::NoData => answered.push(r.clone()),
                DataStatus::Unreachable(_) => {}
            }
            self.status.insert((slo, r), status);
        }
        answered
    }

    /// One steady-state evaluation at `at`: query each SLO once, feed the core, evaluate.
    pub async fn step(&mut self, at: i64) -> Vec<(StreamRef, Transition)> {
        let started = self.clock.monotonic();
        self.last_query_secs.clear();
        // Spans the windows have not seen are fetched first, so this evaluation sees them.
        if self.coverage.next_try().is_some_and(|t| t <= at) {
            self.fill_gaps(at).await;
        }
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
                Ok(f) => {
                    if elapsed > 2 * self.eval.interval.secs() as i64 {
                        tracing::info!(service = %self.queries[q].service, slo = %self.queries[q].name, gap_secs = elapsed, "filled a data gap with one query over it");
                    }
                    if let Some(last) = self.last_ok[q].filter(|l| *l < since_q) {
                        // Silent for longer than one query fills: the rest is a gap.
                        self.coverage.long_gap(q, last, since_q, at);
                    }
                    self.last_ok[q] = Some(at);
                    // Instant results are stamped `at`; keep them at `at` for the core.
                    let mut at_points = BTreeMap::new();
                    if let Some((_, ev)) = f.points.iter().next_back() {
                        at_points.insert(at, ev.clone());
                    }
                    let answered = self.mark(q, at_points.get(&at), None, &f);
                    for r in answered {
                        self.coverage.region_answered(q, &r, since_q, at);
                    }
                    self.ingest(q, at_points, false);
                }
                Err(e) => {
                    self.mark(q, None, Some(e), &Fetched::default());
                }
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
                        self.mark(q, f.points.values().next_back(), None, &f);
                        flat.extend(f.points.into_iter().map(|(t, ev)| (t, q, ev)));
                    }
                    Err(e) => {
                        self.mark(q, None, Some(e), &Fetched::default());
                    }
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
                self.ingest(q, BTreeMap::from([(t, ev)]), false);
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
            let covered = self.tiers_covered(slo_idx, &key.region);
            let held = |want: bool| -> Vec<Severity> {
                tiers
                    .iter()
                    .zip(&covered)
                    .filter(|(t, c)| t.holds && **c == want)
                    .map(|(t, _)| t.severity)
                    .collect()
            };
            out.push(StreamHealth {
                external: self.is_external(slo_idx),
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                data: self.data_status(sref, &key.region),
                holding: held(true),
                partial: held(false),
                covered: self.region_covered(slo_idx, &key.region, &covered),
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
                    partial: Vec::new(),
                    covered: self.region_covered(*slo, region, &self.tiers_covered(*slo, region)),
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
            let slo_idx = self.streams.slo_of(sref).unwrap_or(usize::MAX);
            let covered = self.tiers_covered(slo_idx, &key.region);
            if key.service != crate::probe::PROBE_SERVICE
                && ts
                    .iter()
                    .zip(&covered)
                    .any(|(t, c)| t.holds && *c && t.severity == Severity::Page)
            {
                burning
                    .entry(key.region.clone())
                    .or_default()
                    .push(format!("{}/{}", key.service, key.slo));
            }
            for (t, covered) in ts.into_iter().zip(covered) {
                tiers.push(TierRow {
                    service: key.service.clone(),
                    slo: key.slo.clone(),
                    region: key.region.clone(),
                    tier: t,
                    covered,
                });
            }
            stream_rows.push(StreamRow {
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                data: self.data_status(sref, &key.region),
                page_firing: self.streams.alert_firing(sref, Severity::Page),
                ticket_firing: self.streams.alert_firing(sref, Severity::Ticket),
                covered_secs: self.covered_secs(slo_idx, &key.region),
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
                    covered_secs: self.covered_secs(*slo, region),
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
            coverage: self.coverage_view(),
        }
    }

    /// Whether every start-up backfill succeeded, and the gaps still open.
    fn coverage_view(&self) -> CoverageView {
        CoverageView {
            backfilled: self.coverage.ready(),
            gaps: self
                .coverage
                .gaps()
                .iter()
                .map(|g| GapView {
                    service: self.queries[g.query].service.clone(),
                    slo: self.queries[g.query].name.clone(),
                    regions: g.regions.iter().flatten().cloned().collect(),
                    from: g.from,
                    to: g.to,
                    initial: g.initial,
                    attempts: g.attempts,
                    last_error: g.last_error.clone(),
                })
                .collect(),
        }
    }
}

/// Whether a partial-data warning names the store of `region` (by its region label, as
/// Thanos prints a store's label sets: `region="eu-west-1"`).
fn names_region(warning: &str, label: &str, region: &str) -> bool {
    warning.contains(&format!("{label}=\"{region}\""))
        || warning.contains(&format!("{label}={region}"))
}

/// The range queries that fetch `(from, to]` at `now`: `(a, b, step)` with points at
/// `a + step ..= b`, `b - a` a multiple of `step`. Data older than 3 days comes at 1h
/// steps, 6 hours to 3 days at 5m, the last 6 hours at `fine`; a span that does not
/// divide evenly takes its leading remainder at finer steps (the last piece, shorter
/// than `fine`, as one point of its own length).
fn span_segments(from: i64, to: i64, now: i64, fine: i64) -> Vec<(i64, i64, i64)> {
    let mut out = Vec::new();
    let mut lo = from;
    for (bound, step) in [
        (now - 3 * 86_400, 3600),
        (now - 6 * 3600, 300),
        (i64::MAX, fine),
    ] {
        let hi = bound.min(to);
        if hi <= lo {
            continue;
        }
        // The leading remainder that `step` does not divide: at `fine` steps, and what
        // `fine` does not divide as one point of its own length.
        let r = (hi - lo) % step;
        let tiny = r % fine;
        let mut a = lo;
        if tiny > 0 {
            out.push((a, a + tiny, tiny));
            a += tiny;
        }
        if r - tiny > 0 {
            out.push((a, a + r - tiny, fine));
            a += r - tiny;
        }
        if hi > a {
            out.push((a, hi, step));
        }
        lo = hi;
    }
    out
}

#[cfg(test)]
mod segment_tests {
    use super::span_segments;

    fn check(from: i64, to: i64, now: i64, fine: i64) -> Vec<(i64, i64, i64)> {
        let segs = span_segments(from, to, now, fine);
        let mut at = from;
        for &(a, b, step) in &segs {
            assert_eq!(a, at, "segments are contiguous: {segs:?}");
            assert!(b > a && step > 0 && (b - a) % step == 0, "{segs:?}");
            at = b;
        }
        assert_eq!(at, to.max(from), "segments end at the span's end: {segs:?}");
        segs
    }

    #[test]
    fn a_start_up_backfill_keeps_its_three_resolutions() {
        let now = 1_000_000 * 60;
        let segs = check(now - 30 * 86_400, now, now, 60);
        assert_eq!(
            segs,
            vec![
                (now - 30 * 86_400, now - 3 * 86_400, 3600),
                (now - 3 * 86_400, now - 6 * 3600, 300),
                (now - 6 * 3600, now, 60),
            ]
        );
    }

    #[test]
    fn odd_gaps_are_covered_exactly() {
        let now = 1_000_000 * 60;
        check(now - 4 * 86_400 + 7, now - 17, now, 60);
        check(now - 600 + 13, now - 5, now, 10);
        check(now - 7 * 3600 - 31, now - 6 * 3600 + 29, now, 60);
        assert!(span_segments(10, 10, 100, 10).is_empty());
    }
}
