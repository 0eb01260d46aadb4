//! What the engine knows at one evaluation, as typed rows: the JSON of `/api/v1/status`
//! and `eval --output json`, the dashboard's data, and the typed per-stream health the
//! failover policy is built from. No I/O and no logic beyond shaping: it sits low so the
//! engine writes it and the app, the server and the binary read it without importing
//! each other.

use serde::{Deserialize, Serialize};

use crate::backtest::{format_time, FinalRow};
use crate::burn::streams::TierState;
use crate::slo::Severity;

/// How complete a stream's data is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum DataStatus {
    Complete,
    Degraded(String),
    NoData,
    /// The region's own query server did not answer (per-region sources, or a Thanos
    /// store of that region reported down): counts toward `regions.down_after`, like no
    /// data, never as good or bad.
    Unreachable(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct TierRow {
    pub service: String,
    pub slo: String,
    pub region: String,
    #[serde(flatten)]
    pub tier: TierState,
    /// The tier's long window is covered by data the engine has seen (at least 90%):
    /// only then may it decide a failover. A tier that holds uncovered is *partial*.
    pub covered: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRow {
    pub service: String,
    pub slo: String,
    pub region: String,
    pub data: DataStatus,
    pub page_firing: bool,
    pub ticket_firing: bool,
    /// Seconds of history the stream's windows cover without a hole (None: not
    /// tracked, the built-in probe SLI).
    #[serde(default)]
    pub covered_secs: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionRow {
    pub region: String,
    /// active, standby, or other (seen in data but not configured).
    pub role: String,
    /// healthy, burning (a page tier holds), degraded (incomplete data) or no_data.
    pub state: String,
    /// SLOs burning in this region.
    pub burning: Vec<String>,
    /// Outside evidence about the region (probes, silence), when any is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<RegionEvidence>,
}

/// What is known about a region from outside its own telemetry: how long its own SLIs
/// have been missing, and what probes from this and the other replicas see. Built by the
/// app layer each evaluation; the failover policy's *down* and *monitoring lost* rest on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionEvidence {
    /// Seconds the region's own SLIs have had no data or its source has been
    /// unreachable (None: its data is there).
    pub silent_secs: Option<i64>,
    /// Probes are configured for the region.
    pub probed: bool,
    /// This replica's latest probe of the region passed.
    pub probe_passing: bool,
    /// Consecutive failed probes of the region seen by this replica.
    pub consecutive_failures: u32,
    /// Replicas (this one included) whose last `probe_failures` probes all failed.
    pub failing_replicas: u32,
    /// A `vantage: external` SLO holds a page tier for the region.
    pub external_burning: bool,
    /// Silent for `down_after` and confirmed from outside: the region is down.
    pub down: bool,
    /// Silent for `down_after` with no outside confirmation: monitoring is lost, the
    /// region may be fine; notify, never act.
    pub monitoring_lost: bool,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Everything the engine knows at one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    #[serde(serialize_with = "rfc3339")]
    pub at: i64,
    pub active_region: Option<String>,
    #[serde(rename = "final")]
    pub final_rows: Vec<FinalRow>,
    pub tiers: Vec<TierRow>,
    pub streams: Vec<StreamRow>,
    pub regions: Vec<RegionRow>,
    pub query_latency: Latency,
    pub evaluation_latency: Latency,
    pub queries_per_evaluation: usize,
    /// How the SLOs' queries are sent: batched by shape, or one by one.
    pub query_plan: QueryPlan,
    /// A whole tick (queries, core, decisions), in the shape of `evaluation_latency`.
    pub tick_latency: Latency,
    /// Whether every start-up backfill succeeded, and the spans still to fetch.
    pub coverage: CoverageView,
}

/// The queries one evaluation sends per region source, and how many SLI templates (an
/// SLO has an error and a total, or a ratio) each path serves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueryPlan {
    pub queries: usize,
    /// Templates fetched in batches shared with others of the same shape.
    pub batched_templates: usize,
    /// Templates fetched by their own query (a shape that does not batch).
    pub single_templates: usize,
    /// Templates read from the generated `sloguard:sli_events:rate2m` records
    /// (`source.records: true`), one selector per source.
    pub records_templates: usize,
    /// SLOs (`service/slo`) whose records were missing: asked with their own queries.
    pub records_missing: Vec<String>,
}

/// The engine's coverage as `/api/v1/status` and `eval` show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CoverageView {
    /// Every configured source has been backfilled once (until then: not ready, and no
    /// failover decision).
    pub backfilled: bool,
    /// Spans the windows have not seen yet, fetched again with backoff.
    pub gaps: Vec<GapView>,
}

/// One coverage gap.
#[derive(Debug, Clone, Serialize)]
pub struct GapView {
    pub service: String,
    pub slo: String,
    /// Regions it is missing for (empty: all).
    pub regions: Vec<String>,
    #[serde(serialize_with = "rfc3339")]
    pub from: i64,
    #[serde(serialize_with = "rfc3339")]
    pub to: i64,
    /// Part of the start-up backfill.
    pub initial: bool,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Snapshot {
    /// The active region and each region's role as the policy holds them.
    pub fn set_roles(&mut self, active: &str, standby: &[String]) {
        self.active_region = Some(active.to_string());
        for r in &mut self.regions {
            r.role = if r.region == active {
                "active"
            } else if standby.contains(&r.region) {
                "standby"
            } else {
                "other"
            }
            .into();
        }
    }
}

/// One (SLO, region) stream as a decision saw it, journaled with the decision so a
/// post-incident report shows what drove it: its data state, the tiers holding and the
/// burn rate and error ratio of every window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamFacts {
    pub service: String,
    pub slo: String,
    pub region: String,
    pub data: DataStatus,
    pub holding: Vec<Severity>,
    /// (window, burn rate, error ratio), shortest window first; None where no data.
    pub windows: Vec<(String, Option<f64>, Option<f64>)>,
}

impl StreamFacts {
    pub fn slo_id(&self) -> String {
        format!("{}/{}", self.service, self.slo)
    }
}

impl Snapshot {
    /// Every stream's facts, from the rows of this snapshot.
    pub fn stream_facts(&self) -> Vec<StreamFacts> {
        self.streams
            .iter()
            .map(|s| {
                let same = |svc: &str, slo: &str, region: &str| {
                    svc == s.service && slo == s.slo && region == s.region
                };
                let mut holding: Vec<Severity> = self
                    .tiers
                    .iter()
                    .filter(|t| same(&t.service, &t.slo, &t.region) && t.tier.holds)
                    .map(|t| t.tier.severity)
                    .collect();
                holding.sort();
                holding.dedup();
                StreamFacts {
                    service: s.service.clone(),
                    slo: s.slo.clone(),
                    region: s.region.clone(),
                    data: s.data.clone(),
                    holding,
                    windows: self
                        .final_rows
                        .iter()
                        .filter(|f| same(&f.service, &f.slo, &f.region))
                        .map(|f| (f.window.clone(), f.burn_rate, f.error_ratio))
                        .collect(),
                }
            })
            .collect()
    }
}

fn rfc3339<S: serde::Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*ts))
}

/// One (SLO, region) stream's health as the policy needs it: typed, straight from the
/// engine's state (never parsed back from display rows).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamHealth {
    /// Measured from outside the region (`vantage: external`).
    pub external: bool,
    pub service: String,
    pub slo: String,
    pub region: String,
    pub data: DataStatus,
    /// Severities of the tiers that hold now over covered long windows (the only ones
    /// that may decide a failover).
    pub holding: Vec<Severity>,
    /// Severities of tiers that hold over a long window the data does not cover yet:
    /// shown, never decided on.
    pub partial: Vec<Severity>,
    /// Every page tier's long window is covered and the region's start-up backfill
    /// succeeded.
    pub covered: bool,
    /// The highest burn rate over the stream's tier short windows (None: no data there).
    pub short_burn: Option<f64>,
}

impl StreamHealth {
    /// `service/slo`, the form failover domains name their gating SLOs in.
    pub fn slo_id(&self) -> String {
        format!("{}/{}", self.service, self.slo)
    }

    pub fn holds(&self, severity: Severity) -> bool {
        self.holding.contains(&severity)
    }
}

/// The part of `/api/v1/status` that `sloguard status` prints, decoded into types.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusView {
    /// RFC 3339 time of the evaluation.
    pub at: String,
    pub active_region: Option<String>,
    pub regions: Vec<RegionRow>,
    pub streams: Vec<StreamRow>,
}

impl StatusView {
    /// The terminal form of a status: one line per region, then per stream.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "evaluation at {} (active {})\n",
            crate::text::escape_control(&self.at),
            crate::text::escape_control(self.active_region.as_deref().unwrap_or("-"))
        );
        for r in &self.regions {
            let _ = writeln!(
                out,
                "  region {:<16} {:<8} {}",
                crate::text::escape_control(&r.region),
                crate::text::escape_control(&r.role),
                crate::text::escape_control(&r.state)
            );
        }
        for s in &self.streams {
            out.push_str(&s.line());
        }
        out
    }
}

impl StreamRow {
    /// The terminal line of a stream (status and eval share it); the data label may
    /// quote a source's error, so every field is escaped.
    pub fn line(&self) -> String {
        use crate::text::escape_control as esc;
        format!(
            "  {}/{} {}: page {} ticket {} data {}\n",
            esc(&self.service),
            esc(&self.slo),
            esc(&self.region),
            self.page_firing,
            self.ticket_firing,
            esc(&self.data.label())
        )
    }
}

impl DataStatus {
    /// A short human form: `complete`, `no data`, `degraded: <reason>`.
    pub fn label(&self) -> String {
        match self {
            DataStatus::Complete => "complete".into(),
            DataStatus::NoData => "no data".into(),
            DataStatus::Degraded(e) => format!("degraded: {e}"),
            DataStatus::Unreachable(e) => format!("unreachable: {e}"),
        }
    }
}

/// The terminal form of a snapshot (`eval`): regions, streams, then every window's burn.
pub fn render(s: &Snapshot) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "evaluation at {} ({} queries per evaluation)",
        format_time(s.at),
        s.queries_per_evaluation
    );
    for r in &s.regions {
        let burning = if r.burning.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.burning.join(", "))
        };
        let _ = writeln!(
            out,
            "  region {:<16} {:<8} {}{burning}",
            r.region, r.role, r.state
        );
    }
    for st in &s.streams {
        out.push_str(&st.line());
    }
    out.push('\n');
    out.push_str(&crate::backtest::render_final_table(&s.final_rows));
    out
}
