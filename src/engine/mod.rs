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
//!
//! Where each job lives (PURE files do no I/O and read no clock):
//! - building and planning: `build` (`Engine::new` from the SLOs and the probe SLI,
//!   accessors), `error`, `queries` (each SLO's templates by side, with their batch
//!   shapes), `plan` (which batched or recorded-rate queries fetch which SLOs), [`batch`]
//!   (PURE: batching same-shape templates);
//! - fetching: `fetch` (sending the planned queries), `answers` (PURE: whole regions, and
//!   each SLO's events split back from the answers), `segments` (PURE: the range queries
//!   of a span of history);
//! - filling the windows: `backfill` (at start), `gaps` (coverage gaps, with backoff),
//!   `step` (each interval, and probe results), `replay` (a past span), `warm` (the
//!   warm-restart image and its restore; [`persist`] is its PURE file format);
//! - reading the state: `status` (data completeness, region silence), `readiness`
//!   (covered spans, which tiers may decide), `health` (typed, for failover decisions),
//!   `snapshot` (for display), `timing` (latency histograms).

mod answers;
mod backfill;
pub mod batch;
mod build;
pub mod coverage;
mod error;
mod fetch;
mod gaps;
mod health;
pub mod persist;
mod plan;
mod queries;
mod readiness;
mod replay;
mod segments;
mod snapshot;
mod status;
mod step;
mod timing;
mod warm;

pub use error::EngineError;
pub(crate) use timing::{hist, latency};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::burn::streams::Streams;
use crate::clock::Clock;
use crate::config::{EvaluationConfig, RegionsConfig};
use crate::snapshot::{DataStatus, QueryPlan};

use queries::SloQueries;

/// Per-(SLO, region) event counts of one query step: (error events, total events).
type StepEvents = BTreeMap<String, (Option<f64>, f64)>;

/// The async driver (see the module doc); its methods live in the files above, by job.
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
