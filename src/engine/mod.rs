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

pub mod batch;
pub mod coverage;
pub mod persist;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::backtest::AlertRecord;
use crate::burn::streams::{StreamRef, Streams, StreamsError};
use crate::burn::Transition;
use crate::clock::Clock;
use crate::config::{EvaluationConfig, RegionsConfig};
use crate::promql::{SliTemplate, WINDOW_PLACEHOLDER};
use crate::query::{MetricsSource, QueryResult};
use crate::slo::{RegionalSli, Service, Severity};
use crate::snapshot::{
    CoverageView, DataStatus, GapView, Latency, QueryPlan, RegionRow, Snapshot, StreamHealth,
    StreamRow, TierRow,
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
    /// How each of its templates joins a batch (None: it is asked on its own).
    shapes: Vec<Option<batch::Batchable>>,
    slo: usize,
    service: String,
    name: String,
    region_label: String,
    sli: SliQueries,
    /// `vantage: external`: measured from outside the region, so it is not one of the
    /// region's own SLIs (whose silence may mean the region is gone).
    external: bool,
}

impl SloQueries {
    /// Its templates, by side.
    fn sides(&self) -> Vec<(batch::Side, &SliTemplate)> {
        match &self.sli {
            SliQueries::Events { error, total } => {
                vec![(batch::Side::Error, error), (batch::Side::Total, total)]
            }
            SliQueries::Ratio { error_ratio } => vec![(batch::Side::Ratio, error_ratio)],
        }
    }

    /// Its templates with their batch shapes.
    fn templates(&self) -> Vec<(batch::Side, &SliTemplate, Option<&batch::Batchable>)> {
        self.sides()
            .into_iter()
            .zip(&self.shapes)
            .map(|((side, t), shape)| (side, t, shape.as_ref()))
            .collect()
    }
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
    /// Per (SLO, region): ordered, so one SLO's regions are a range, not a scan.
    status: BTreeMap<(usize, String), DataStatus>,
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
    /// How many queries an evaluation sends, and how the templates are served.
    plan_stats: QueryPlan,
    /// SLO queries whose recorded event rates were missing: asked directly.
    records_missing: BTreeSet<usize>,
    /// SLO queries whose windows a warm restart restored (not backfilled again).
    restored: BTreeSet<usize>,
    /// Core SLO index -> query index (the probe SLI has no query: always covered).
    query_of_slo: HashMap<usize, usize>,
    /// Durations (seconds) of the queries of the last step, for /metrics.
    pub last_query_secs: Vec<f64>,
    pub last_eval_secs: f64,
}

/// A latency histogram (µs).
pub(crate) fn hist() -> hdrhistogram::Histogram<u64> {
    // 1 µs .. 10 min at 3 significant digits; the bounds are constants, so this cannot fail.
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("valid sigfig"))
}

/// Percentiles of a latency histogram.
pub(crate) fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
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
                let mut sq = SloQueries {
                    shapes: Vec::new(),
                    slo: idx,
                    service: service.name.clone(),
                    name: slo.name.clone(),
                    region_label: service.region_label.clone(),
                    sli,
                    external: slo.vantage == crate::slo::Vantage::External,
                };
                sq.shapes = sq
                    .sides()
                    .iter()
                    .map(|(_, t)| batch::Batchable::of(t, &sq.region_label))
                    .collect();
                queries.push(sq);
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
        let mut engine = Engine {
            query_of_slo,
            source,
            clock,
            eval,
            regions,
            streams,
            queries,
            status: BTreeMap::new(),
            last_at: None,
            last_ok: Vec::new(),
            query_hist: hist(),
            eval_hist: hist(),
            probe_slo,
            silent_since: BTreeMap::new(),
            coverage: coverage::Coverage::default(),
            plan_stats: QueryPlan::default(),
            records_missing: BTreeSet::new(),
            restored: BTreeSet::new(),
            last_query_secs: Vec::new(),
            last_eval_secs: 0.0,
        };
        engine.plan_stats = engine.compute_plan_stats();
        Ok(engine)
    }

    /// Queries one steady evaluation sends per region source (batches included).
    pub fn queries_per_evaluation(&self) -> usize {
        self.plan_stats.queries
    }

    /// How the SLOs' templates are fetched: batched with others, or on their own.
    fn compute_plan_stats(&self) -> QueryPlan {
        let (by_record, direct): (Vec<usize>, Vec<usize>) =
            (0..self.queries.len()).partition(|q| self.reads_record(*q));
        let records = self.records_plan(&by_record);
        let plans = self.plan(&direct);
        let mut out = QueryPlan {
            queries: plans.len() + records.len(),
            records_templates: 2 * by_record.len(),
            records_missing: self
                .records_missing
                .iter()
                .map(|q| format!("{}/{}", self.queries[*q].service, self.queries[*q].name))
                .collect(),
            ..QueryPlan::default()
        };
        for (_, p) in &plans {
            if p.members.len() > 1 {
                out.batched_templates += p.members.len();
            } else {
                out.single_templates += p.members.len();
            }
        }
        out
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
        self.fetch_all(&[q], window, range, at, scale)
            .await
            .remove(&q)
            .unwrap_or_else(|| Err("no query planned".into()))
    }

    /// The batched queries that fetch SLO queries `qs` (see [`batch`]).
    fn plan(&self, qs: &[usize]) -> Vec<(String, batch::Planned)> {
        let mut by_label: BTreeMap<&str, Vec<batch::Item<'_>>> = BTreeMap::new();
        for &q in qs {
            let sq = &self.queries[q];
            let items = by_label.entry(sq.region_label.as_str()).or_default();
            let batching = self.eval.batch && self.source.batches();
            for (side, template, shape) in sq.templates() {
                items.push(batch::Item {
                    query: q,
                    side,
                    template,
                    shape: shape.filter(|_| batching),
                });
            }
        }
        by_label
            .into_iter()
            .flat_map(|(label, items)| {
                batch::plan(&items, label)
                    .into_iter()
                    .map(move |p| (label.to_string(), p))
            })
            .collect()
    }

    /// Fetches SLO queries `qs` with one query per batch, at most
    /// `source.max_concurrency` at once, each bounded by the query timeout. A batch that
    /// fails or answers partially degrades only the SLOs it served; a non-finite sample
    /// degrades only its (SLO, region).
    async fn fetch_all(
        &mut self,
        qs: &[usize],
        window: Window,
        range: Option<(i64, i64, i64)>,
        at: i64,
        scale: f64,
    ) -> BTreeMap<usize, Result<Fetched, String>> {
        let (by_record, direct): (Vec<usize>, Vec<usize>) =
            qs.iter().partition(|q| self.reads_record(**q));
        let mut out = BTreeMap::new();
        if !by_record.is_empty() {
            // Event rates from the recording rule `generate` wrote (one selector per
            // source); its short window is smoothed over at least 3 minutes.
            let w = Window::from_secs(window.secs().max(180));
            let plans = self.records_plan(&by_record);
            out = self
                .fetch_round(plans, &by_record, w, range, at, scale)
                .await;
            // An SLO whose record is missing (its rules not loaded yet) is asked directly
            // from now on.
            let served = |f: &Option<&Result<Fetched, String>>| matches!(f, Some(Ok(f)) if !f.points.is_empty() || !f.unreachable.is_empty() || !f.nonfinite.is_empty());
            // A range of the past may hold no records for anyone (older than the rules):
            // only an SLO missing while others are served, or missing from an instant
            // answer, lacks its record.
            let any_served = by_record.iter().any(|q| served(&out.get(q)));
            if !any_served && range.is_some() {
                // Older than the records: this span comes from the SLOs' own queries.
                for q in &by_record {
                    if matches!(out.get(q), Some(Ok(_))) {
                        out.remove(q);
                    }
                }
            }
            for q in &by_record {
                let failed = matches!(out.get(q), Some(Err(_)));
                if out.contains_key(q)
                    && !served(&out.get(q))
                    && !failed
                    && (any_served || range.is_none())
                {
                    tracing::warn!(service = %self.queries[*q].service, slo = %self.queries[*q].name, record = crate::rulegen::EVENTS_RECORD, "no recorded event rates for this SLO: asking its own queries instead");
                    self.records_missing.insert(*q);
                    out.remove(q);
                }
            }
            if out.len() < by_record.len() {
                self.plan_stats = self.compute_plan_stats();
            }
        }
        let direct: Vec<usize> = direct
            .into_iter()
            .chain(by_record.into_iter().filter(|q| !out.contains_key(q)))
            .collect();
        if !direct.is_empty() {
            let plans = self.plan(&direct);
            out.extend(
                self.fetch_round(plans, &direct, window, range, at, scale)
                    .await,
            );
        }
        out
    }

    /// Whether SLO query `q` reads its rates from the recording rule.
    fn reads_record(&self, q: usize) -> bool {
        self.eval.records
            && self.source.batches()
            && matches!(self.queries[q].sli, SliQueries::Events { .. })
            && !self.records_missing.contains(&q)
    }

    /// One query per region label for the recorded event rates of `qs`, split back by
    /// `sloth_id` and `kind`.
    fn records_plan(&self, qs: &[usize]) -> Vec<(String, batch::Planned)> {
        let mut by_label: BTreeMap<String, batch::Planned> = BTreeMap::new();
        for &q in qs {
            let sq = &self.queries[q];
            let id = format!("{}-{}", sq.service, sq.name);
            let p = by_label
                .entry(sq.region_label.clone())
                .or_insert_with(|| batch::Planned {
                    template: format!(
                        "avg_over_time({}[{WINDOW_PLACEHOLDER}])",
                        crate::rulegen::EVENTS_RECORD
                    ),
                    split: vec!["kind".into(), "sloth_id".into()],
                    members: Vec::new(),
                });
            p.members
                .push((q, batch::Side::Error, vec!["error".into(), id.clone()]));
            p.members
                .push((q, batch::Side::Total, vec!["total".into(), id]));
        }
        by_label.into_iter().collect()
    }

    /// Sends `plans` (for SLO queries `qs`) concurrently and splits the answers back.
    async fn fetch_round(
        &mut self,
        plans: Vec<(String, batch::Planned)>,
        qs: &[usize],
        window: Window,
        range: Option<(i64, i64, i64)>,
        at: i64,
        scale: f64,
    ) -> BTreeMap<usize, Result<Fetched, String>> {
        use futures_util::StreamExt;
        let known = self.regions.all();
        let source = &self.source;
        let clock = self.clock.clone();
        let timeout = self.eval.query_timeout;
        let answers: Vec<(usize, Result<QueryResult, String>, f64)> =
            futures_util::stream::iter(plans.iter().enumerate().map(|(i, (_, p))| {
                let query = p.template.replace(WINDOW_PLACEHOLDER, &window.to_string());
                let clock = clock.clone();
                async move {
                    let started = clock.monotonic();
                    let asked = async {
                        match range {
                            Some((s, e, st)) => source.range(&query, s, e, st, true).await,
                            None => source.instant(&query, at, true).await,
                        }
                    };
                    let r = match tokio::time::timeout(timeout, asked).await {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(_) => Err(format!("query timed out after {}s", timeout.as_secs())),
                    };
                    (
                        i,
                        r,
                        clock.monotonic().saturating_sub(started).as_secs_f64(),
                    )
                }
            }))
            .buffer_unordered(self.eval.max_concurrency.max(1))
            .collect()
            .await;
        let mut acc = Accumulated::default();
        for (i, answer, secs) in answers {
            let _ = self.query_hist.record((secs * 1e6) as u64);
            self.last_query_secs.push(secs);
            let (label, p) = &plans[i];
            let members: Vec<usize> = p.members.iter().map(|m| m.0).collect();
            match answer.and_then(|r| whole_regions(r, &known, label)) {
                Err(e) => {
                    for q in members {
                        acc.failed.entry(q).or_insert_with(|| e.clone());
                    }
                }
                Ok((r, unreachable)) => {
                    for q in &members {
                        acc.unreachable
                            .entry(*q)
                            .or_default()
                            .extend(unreachable.clone());
                    }
                    acc.add(p, label, &r);
                }
            }
        }
        qs.iter()
            .map(|&q| (q, acc.assemble(q, &self.queries[q], scale)))
            .collect()
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

    /// Fetches SLO queries `qs` over `(from, to]` with batched range queries whose
    /// resolution follows the age of the data at `now`: 1h steps beyond 3 days, 5m steps
    /// from 3 days to 6 hours, `fine_step` over the last 6 hours (no answer exceeds
    /// Prometheus' 11,000 points per series). `tick` runs after each segment.
    async fn fetch_span(
        &mut self,
        qs: &[usize],
        (from, to): (i64, i64),
        now: i64,
        tick: &mut dyn FnMut(),
    ) -> BTreeMap<usize, Result<Fetched, String>> {
        let fine = self.eval.fine_step.secs() as i64;
        let mut all: BTreeMap<usize, Result<Fetched, String>> =
            qs.iter().map(|q| (*q, Ok(Fetched::default()))).collect();
        for (a, b, step) in span_segments(from, to, now, fine) {
            let pending: Vec<usize> = all
                .iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(q, _)| *q)
                .collect();
            if !pending.is_empty() {
                let window = Window::from_secs(step as u64);
                let got = self
                    .fetch_all(&pending, window, Some((a + step, b, step)), b, step as f64)
                    .await;
                for (q, r) in got {
                    let Some(slot) = all.get_mut(&q) else {
                        continue;
                    };
                    match (slot.as_mut(), r) {
                        (Ok(acc), Ok(f)) => {
                            acc.points.extend(f.points);
                            acc.unreachable.extend(f.unreachable);
                            for (r, why) in f.nonfinite {
                                acc.nonfinite.entry(r).or_insert(why);
                            }
                        }
                        (Ok(_), Err(e)) => *slot = Err(e),
                        (Err(_), _) => {}
                    }
                }
            }
            tick();
        }
        for f in all.values_mut().filter_map(|r| r.as_mut().ok()) {
            let missing = f.missing();
            for m in f.points.values_mut() {
                m.retain(|r, _| !missing.contains(r));
            }
        }
        all
    }

    /// Backfills every window from range queries ending at `end` (see
    /// [`Self::fetch_span`]). What fails (a query, a region) is a gap in the coverage,
    /// fetched again with backoff by [`Self::fill_gaps`]; until then the engine is not
    /// ready and no tier over that span decides a failover.
    pub async fn backfill(&mut self, end: i64, mut progress: impl FnMut(usize, usize)) {
        let fine = self.eval.fine_step.secs() as i64;
        let end = end.div_euclid(fine) * fine;
        let span = (end - self.max_window().secs() as i64, end);
        let segments = span_segments(span.0, span.1, end, fine);
        let total = segments.len();
        let configured = self.regions.all();
        let qs: Vec<usize> = (0..self.queries.len())
            .filter(|q| !self.restored.contains(q))
            .collect();
        // Segment by segment, oldest first, each ingested before the next is fetched:
        // memory holds one segment's answers, not the whole history. What fails (an SLO,
        // a region) from some segment on is a gap from that segment's start, so a later
        // fill never counts the segments already ingested twice.
        let mut acc: BTreeMap<usize, BackfillState> =
            qs.iter().map(|q| (*q, BackfillState::default())).collect();
        for (done, (a, b, step)) in segments.into_iter().enumerate() {
            let pending: Vec<usize> = acc
                .iter()
                .filter(|(_, st)| st.failed.is_none())
                .map(|(q, _)| *q)
                .collect();
            let got = self
                .fetch_all(
                    &pending,
                    Window::from_secs(step as u64),
                    Some((a + step, b, step)),
                    b,
                    step as f64,
                )
                .await;
            let mut flat: Vec<(i64, usize, StepEvents)> = Vec::new();
            for (q, result) in got {
                let Some(st) = acc.get_mut(&q) else { continue };
                match result {
                    Err(e) => st.failed = Some((a, e)),
                    Ok(f) => {
                        for (r, why) in f.unreachable.iter().chain(f.nonfinite.iter()) {
                            st.missing.entry(r.clone()).or_insert((a, why.clone()));
                        }
                        st.unreachable.extend(f.unreachable);
                        for (r, why) in f.nonfinite {
                            st.nonfinite.entry(r).or_insert(why);
                        }
                        for (t, mut ev) in f.points {
                            ev.retain(|r, _| !st.missing.contains_key(r));
                            for r in ev.keys() {
                                st.first.entry(r.clone()).or_insert(t);
                            }
                            st.latest = Some(ev.clone());
                            flat.push((t, q, ev));
                        }
                    }
                }
            }
            // Time order across SLOs keeps every core's clock moving forwards; history
            // placement, as a warm restart may have started the cores' clocks already.
            flat.sort_by_key(|(t, q, _)| (*t, *q));
            for (t, q, ev) in flat {
                self.ingest(q, BTreeMap::from([(t, ev)]), true);
            }
            progress(done + 1, total);
        }
        for (q, st) in acc {
            self.coverage
                .backfilled(q, &configured, span, Some(BTreeSet::new()), None);
            if let Some((from, e)) = st.failed {
                tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, error = %e, "backfill failed: retrying with backoff; no decision on this SLO until it succeeds");
                self.coverage.start_gap(q, None, (from, span.1), e.clone());
                self.mark(q, None, Some(e), &Fetched::default());
                continue;
            }
            for (r, (from, why)) in &st.missing {
                self.coverage.start_gap(
                    q,
                    Some(BTreeSet::from([r.clone()])),
                    (*from, span.1),
                    why.clone(),
                );
            }
            let mut firsts: BTreeMap<i64, StepEvents> = BTreeMap::new();
            for (r, t) in &st.first {
                firsts.entry(*t).or_default().insert(r.clone(), (None, 0.0));
            }
            self.cover_from_data(q, &configured, &firsts, span);
            let fetched = Fetched {
                points: BTreeMap::new(),
                unreachable: st.unreachable,
                nonfinite: st.nonfinite,
            };
            self.mark(q, st.latest.as_ref(), None, &fetched);
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
        // Gaps over the same span (a start-up backfill that failed for every SLO) are
        // fetched together, in the same batches as a backfill.
        let mut by_span: BTreeMap<(i64, i64), Vec<coverage::Gap>> = BTreeMap::new();
        for gap in self.coverage.due(now) {
            by_span.entry((gap.from, gap.to)).or_default().push(gap);
        }
        for (span, gaps) in by_span {
            let mut qs: Vec<usize> = gaps.iter().map(|g| g.query).collect();
            qs.sort_unstable();
            qs.dedup();
            let mut fetched = self.fetch_span(&qs, span, now, &mut || {}).await;
            for gap in gaps {
                let result = match fetched.get(&gap.query) {
                    Some(Ok(f)) => Ok(Fetched {
                        points: f.points.clone(),
                        unreachable: f.unreachable.clone(),
                        nonfinite: f.nonfinite.clone(),
                    }),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("not fetched".to_string()),
                };
                if self.fill_gap(&gap, result, now) {
                    closed += 1;
                }
            }
            fetched.clear();
        }
        closed
    }

    /// Places one gap's fetched events (only its regions) and updates the coverage;
    /// whether the gap closed.
    fn fill_gap(&mut self, gap: &coverage::Gap, result: Result<Fetched, String>, now: i64) -> bool {
        let q = gap.query;
        match result {
            Ok(f) => {
                let wanted = |r: &String| gap.covers_region(r);
                let still: BTreeSet<String> = f.missing().into_iter().filter(wanted).collect();
                let mut points = f.points;
                for m in points.values_mut() {
                    m.retain(|r, _| wanted(r) && !still.contains(r));
                }
                let regions: Vec<String> = self
                    .regions
                    .all()
                    .into_iter()
                    .filter(|r| gap.covers_region(r) && !still.contains(r))
                    .collect();
                self.cover_from_data(q, &regions, &points, (gap.from, gap.to));
                self.ingest(q, points, true);
                let closed = still.is_empty();
                if closed {
                    tracing::info!(service = %self.queries[q].service, slo = %self.queries[q].name, from = gap.from, to = gap.to, attempts = gap.attempts, "coverage gap filled from the source");
                }
                self.coverage.filled(gap.id, still, now);
                closed
            }
            Err(e) => {
                tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, from = gap.from, to = gap.to, attempts = gap.attempts + 1, error = %e, "coverage gap not filled: retrying with backoff");
                self.coverage.failed(gap.id, now, e);
                false
            }
        }
    }

    /// A fetched span `(from, to]` covers a region only from its first sample: a source
    /// that holds two minutes of history covers two minutes, not the span asked for.
    /// (Data from within the first hour of the span, the coarsest step, counts as from
    /// the start.)
    fn cover_from_data(
        &mut self,
        q: usize,
        regions: &[String],
        points: &BTreeMap<i64, StepEvents>,
        (from, to): (i64, i64),
    ) {
        for r in regions {
            let first = points
                .iter()
                .find(|(_, m)| m.contains_key(r))
                .map(|(t, _)| *t);
            let start = match first {
                Some(t) if t <= from + 3600 => from,
                Some(t) => t,
                None => to,
            };
            if start > from {
                tracing::debug!(service = %self.queries[q].service, slo = %self.queries[q].name, region = %r, data_from = start, "the source holds less history than the windows need: covered only from its first sample");
            }
            self.coverage.data_from(q, r, start);
        }
    }

    /// What shapes an SLO's windows: a saved image of another fingerprint is not its own.
    fn fingerprint(&self, q: usize) -> String {
        let sq = &self.queries[q];
        let e = &self.streams.slos[sq.slo];
        let windows: Vec<String> = self.streams.groups[e.group]
            .windows
            .iter()
            .map(Window::to_string)
            .collect();
        let tiers: Vec<String> = e
            .tiers
            .iter()
            .map(|t| format!("{}:{}:{}:{}", t.severity, t.long, t.short, t.factor))
            .collect();
        let templates: Vec<&str> = sq.sides().iter().map(|(_, t)| t.as_template()).collect();
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            templates.join("\n"),
            windows.join(","),
            tiers.join(","),
            e.budget,
            self.eval.buckets,
            self.eval.lateness,
            sq.region_label
        );
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The windows of every SLO, as a warm-restart file's bytes ([`persist`]).
    pub fn windows_image(&self) -> Vec<u8> {
        let mut data: Vec<u64> = Vec::new();
        let mut slos = Vec::new();
        // Each SLO's streams from one pass (not a pass over every stream per SLO).
        let mut regions_of: HashMap<usize, Vec<String>> = HashMap::new();
        for (sref, key) in self.streams.all() {
            if let Some(slo) = self.streams.slo_of(sref) {
                regions_of.entry(slo).or_default().push(key.region.clone());
            }
        }
        for q in 0..self.queries.len() {
            let sq = &self.queries[q];
            let e = &self.streams.slos[sq.slo];
            let store = &self.streams.groups[e.group].core.store;
            let Some(clock) = store.clock() else { continue };
            let mut streams = Vec::new();
            for r in regions_of.remove(&sq.slo).unwrap_or_default() {
                if streams.iter().any(|s: &persist::SavedStream| s.region == r) {
                    continue;
                }
                let Some(sref) = self.streams.find(sq.slo, &r) else {
                    continue;
                };
                let (tier_bits, alert_bits) = self.streams.groups[sref.group].core.bits(sref.id);
                streams.push(persist::SavedStream {
                    region: r,
                    tier_bits,
                    alert_bits,
                    offset: data.len(),
                });
                data.extend(store.image(sref.id));
            }
            let (cover, gaps) = self.coverage.export(q);
            slos.push(persist::SavedSlo {
                key: format!("{}/{}", sq.service, sq.name),
                fingerprint: self.fingerprint(q),
                clock,
                image_len: store.image_len(),
                streams,
                cover,
                gaps: gaps
                    .into_iter()
                    .map(|g| persist::SavedGap {
                        regions: g.regions.map(|r| r.into_iter().collect()),
                        from: g.from,
                        to: g.to,
                        initial: g.initial,
                    })
                    .collect(),
            });
        }
        let header = persist::Header {
            version: env!("CARGO_PKG_VERSION").into(),
            saved_at: self.last_at.unwrap_or(0),
            slos,
        };
        persist::encode(&header, &data)
    }

    /// Restores the windows of every SLO whose saved image is its own (same fingerprint)
    /// from a warm-restart file, before the start-up backfill: those SLOs fetch only the
    /// span since the file was written; the others backfill cold. Returns the restored
    /// and the cold SLO keys.
    pub fn restore_windows(
        &mut self,
        bytes: &[u8],
        now: i64,
    ) -> Result<(Vec<String>, Vec<String>), persist::PersistError> {
        let (header, data) = persist::decode(bytes)?;
        if header.saved_at <= 0 || header.saved_at > now {
            return Err(persist::PersistError::Malformed(format!(
                "saved at {} (now {now})",
                header.saved_at
            )));
        }
        let mut restored = Vec::new();
        let mut cold = Vec::new();
        let by_key: HashMap<&str, &persist::SavedSlo> =
            header.slos.iter().map(|s| (s.key.as_str(), s)).collect();
        for q in 0..self.queries.len() {
            let key = format!("{}/{}", self.queries[q].service, self.queries[q].name);
            let saved = by_key.get(key.as_str()).copied();
            let fits = saved.filter(|s| {
                let store = &self.streams.groups[self.streams.slos[self.queries[q].slo].group]
                    .core
                    .store;
                s.fingerprint == self.fingerprint(q)
                    && s.image_len == store.image_len()
                    && store.clock().is_none_or(|c| c == s.clock)
                    && s.streams
                        .iter()
                        .all(|st| st.offset + s.image_len <= data.len())
            });
            // A calendar SLO's events since its period start are not in the image: it
            // backfills cold, so its period budget is whole.
            let calendar = self.streams.slos[self.queries[q].slo].calendar.is_some();
            let Some(s) = fits.filter(|_| !calendar) else {
                cold.push(key);
                continue;
            };
            let slo = self.queries[q].slo;
            let group = self.streams.slos[slo].group;
            self.streams.groups[group].core.store.start_at(s.clock);
            for st in &s.streams {
                let sref = self.streams.stream(slo, &st.region);
                let core = &mut self.streams.groups[group].core;
                core.store
                    .restore(sref.id, &data[st.offset..st.offset + s.image_len]);
                core.set_bits(sref.id, st.tier_bits, st.alert_bits);
            }
            let gaps: Vec<coverage::Gap> = s
                .gaps
                .iter()
                .map(|g| coverage::Gap {
                    id: 0,
                    query: q,
                    regions: g.regions.clone().map(|r| r.into_iter().collect()),
                    from: g.from,
                    to: g.to,
                    initial: g.initial,
                    attempts: 0,
                    next_try: now,
                    last_error: None,
                })
                .collect();
            self.coverage
                .restore(q, &s.cover, &gaps, header.saved_at, now);
            self.restored.insert(q);
            restored.push(key);
        }
        Ok((restored, cold))
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

    /// Whether a stream may count as healthy or burning for a failover: every page tier's
    /// long window is covered and its region's start-up backfill succeeded (the probe SLI,
    /// which has no query, always may).
    fn region_covered(&self, slo: usize, region: &str, tiers_covered: &[bool]) -> bool {
        // Page tiers decide failovers: their long windows must be covered (a ticket
        // tier over 3 days may wait for a source with shorter retention).
        let pages = self.streams.slos[slo]
            .tiers
            .iter()
            .zip(tiers_covered)
            .filter(|(t, _)| t.severity == Severity::Page);
        !self.query_of_slo.contains_key(&slo)
            || (self.coverage.region_ready(region) && pages.into_iter().all(|(_, c)| *c))
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
                .range((slo, String::new())..(slo + 1, String::new()))
                .map(|((_, r), _)| r.clone()),
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
        // Events since each SLO's last successful step: after a source outage that is the
        // whole gap, queried as one rate over it (so the windows hold the outage's events,
        // lumped at `at`), up to MAX_GAP. SLOs with the same span share batches.
        let mut by_since: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for q in 0..self.queries.len() {
            let since_q = self.last_ok[q].unwrap_or(since).max(at - MAX_GAP);
            by_since.entry(since_q).or_default().push(q);
        }
        for (since_q, qs) in by_since {
            let elapsed = (at - since_q).max(0);
            let lookback = self.eval.lookback.secs() as i64;
            let window = if elapsed > lookback {
                Window::from_secs(((elapsed + 59) / 60 * 60) as u64)
            } else {
                self.eval.lookback
            };
            let results = self.fetch_all(&qs, window, None, at, elapsed as f64).await;
            for (q, result) in results {
                self.take_step(q, result, since_q, at);
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

    /// One SLO's steady answer at `at`, covering `(since_q, at]`: status, coverage, core.
    fn take_step(&mut self, q: usize, result: Result<Fetched, String>, since_q: i64, at: i64) {
        let elapsed = at - since_q;
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
        // One pass over the rows, then a lookup per stream: linear in the streams (a
        // scan of every row per stream is quadratic, minutes at 30,000 streams).
        let mut by_stream: HashMap<(&str, &str, &str), Vec<&crate::backtest::FinalRow>> =
            HashMap::new();
        for r in &rows {
            by_stream
                .entry((r.service.as_str(), r.slo.as_str(), r.region.as_str()))
                .or_default()
                .push(r);
        }
        let mut out = Vec::new();
        for (sref, key) in self.streams.all() {
            let tiers = self.streams.tiers(sref);
            let short: Vec<&str> = tiers.iter().map(|t| t.short_window.as_str()).collect();
            let short_burn = by_stream
                .get(&(key.service.as_str(), key.slo.as_str(), key.region.as_str()))
                .into_iter()
                .flatten()
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
            query_plan: self.plan_stats.clone(),
            tick_latency: Latency::default(),
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

/// One SLO's start-up backfill as its segments arrive.
#[derive(Default)]
struct BackfillState {
    /// The segment start from which its queries failed, and why.
    failed: Option<(i64, String)>,
    /// Regions missing (unreachable, non-finite) from a segment start on, and why.
    missing: BTreeMap<String, (i64, String)>,
    unreachable: BTreeMap<String, String>,
    nonfinite: BTreeMap<String, String>,
    /// Each region's first sample time.
    first: BTreeMap<String, i64>,
    /// The newest points (the data status is taken from them).
    latest: Option<StepEvents>,
}

/// Answers of one fetch, gathered per (SLO query, side) before they are assembled.
#[derive(Default)]
struct Accumulated {
    /// (query, side) → time → region → summed value.
    values: BTreeMap<(usize, batch::Side), BTreeMap<i64, BTreeMap<String, f64>>>,
    nonfinite: BTreeMap<usize, BTreeMap<String, String>>,
    unreachable: BTreeMap<usize, BTreeMap<String, String>>,
    failed: BTreeMap<usize, String>,
}

impl Accumulated {
    /// Splits one batch's answer back to its members.
    fn add(&mut self, p: &batch::Planned, region_label: &str, r: &QueryResult) {
        for s in &r.series {
            let Some(region) = s.labels.get(region_label).filter(|r| !r.is_empty()) else {
                continue;
            };
            for (q, side) in p.members_of(&s.labels) {
                for (t, v) in &s.points {
                    if v.is_finite() {
                        *self
                            .values
                            .entry((q, side))
                            .or_default()
                            .entry(*t)
                            .or_default()
                            .entry(region.clone())
                            .or_default() += v;
                    } else {
                        // A non-finite sample is never read as a count (NaN errors are
                        // not zero errors): the region's stream is degraded.
                        let what = match side {
                            batch::Side::Error => "error",
                            batch::Side::Total => "total",
                            batch::Side::Ratio => "error ratio",
                        };
                        self.nonfinite
                            .entry(q)
                            .or_default()
                            .entry(region.clone())
                            .or_insert_with(|| {
                                format!(
                                    "non-finite sample ({v}) in the {what} series at {}",
                                    crate::backtest::format_time(*t)
                                )
                            });
                    }
                }
            }
        }
    }

    /// One SLO's (error, total) events per time and region, as its own queries would
    /// have given them.
    fn assemble(&mut self, q: usize, sq: &SloQueries, scale: f64) -> Result<Fetched, String> {
        if let Some(e) = self.failed.remove(&q) {
            return Err(e);
        }
        let nonfinite = self.nonfinite.remove(&q).unwrap_or_default();
        let mut out: BTreeMap<i64, StepEvents> = BTreeMap::new();
        match &sq.sli {
            SliQueries::Events { .. } => {
                let errors = self
                    .values
                    .remove(&(q, batch::Side::Error))
                    .unwrap_or_default();
                for (t, regions) in self
                    .values
                    .remove(&(q, batch::Side::Total))
                    .unwrap_or_default()
                {
                    for (region, total) in regions {
                        let err = errors
                            .get(&t)
                            .and_then(|m| m.get(&region))
                            .map(|e| e * scale);
                        out.entry(t)
                            .or_default()
                            .insert(region, (err, total * scale));
                    }
                }
            }
            SliQueries::Ratio { .. } => {
                for (t, regions) in self
                    .values
                    .remove(&(q, batch::Side::Ratio))
                    .unwrap_or_default()
                {
                    for (region, v) in regions {
                        // A ratio carries no counts: weight each step by its length.
                        out.entry(t)
                            .or_default()
                            .insert(region, (Some(v.clamp(0.0, 1.0) * scale), scale));
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
            unreachable: self.unreachable.remove(&q).unwrap_or_default(),
            nonfinite,
        })
    }
}

/// A query's answer with the regions whose own store did not answer: partial data whose
/// every warning names the store of a known region (`region="eu-west-1"`) makes that
/// region unreachable and the others whole; any other warning is partial data, on which
/// no decision rests (an error).
fn whole_regions(
    r: QueryResult,
    known: &[String],
    region_label: &str,
) -> Result<(QueryResult, BTreeMap<String, String>), String> {
    let mut unreachable = r.unreachable.clone();
    if !r.degraded {
        return Ok((r, unreachable));
    }
    let named: Option<Vec<Vec<&String>>> = r
        .warnings
        .iter()
        .map(|w| {
            let hits: Vec<&String> = known
                .iter()
                .filter(|reg| names_region(w, region_label, reg))
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
                    .get(region_label)
                    .is_some_and(|v| unreachable.contains_key(v))
            });
            Ok((whole, unreachable))
        }
        _ => Err(format!("partial data: {}", r.warnings.join("; "))),
    }
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
