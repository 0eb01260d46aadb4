//! Sending the planned queries to the source (concurrently, each bounded by the query
//! timeout) and handing each SLO what its own queries would have returned.

use std::collections::{BTreeMap, BTreeSet};

use crate::promql::WINDOW_PLACEHOLDER;
use crate::query::{MetricsSource, QueryResult};
use crate::window::Window;

use super::answers::{whole_regions, Accumulated};
use super::{batch, Engine, StepEvents};

/// What one SLO's queries returned: per time and region the (error, total) events, and
/// the regions whose own server (or Thanos store) did not answer.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    pub(super) points: BTreeMap<i64, StepEvents>,
    pub(super) unreachable: BTreeMap<String, String>,
    /// Regions that returned a non-finite sample (NaN, ±Inf): degraded, never read as
    /// good; their points are left out.
    pub(super) nonfinite: BTreeMap<String, String>,
}

impl Fetched {
    /// Regions of this fetch whose data is not whole (unreachable or non-finite).
    pub(super) fn missing(&self) -> BTreeSet<String> {
        self.unreachable
            .keys()
            .chain(self.nonfinite.keys())
            .cloned()
            .collect()
    }
}

impl<S: MetricsSource> Engine<S> {
    /// Runs the SLO's queries (instant at `at`, or range over `(start, end]` at `step`) with
    /// the given rate window; returns per timestamp and region the (error, total) events,
    /// and the regions whose own server did not answer.
    pub(super) async fn fetch(
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

    /// Fetches SLO queries `qs` with one query per batch, at most
    /// `source.max_concurrency` at once, each bounded by the query timeout. A batch that
    /// fails or answers partially degrades only the SLOs it served; a non-finite sample
    /// degrades only its (SLO, region).
    pub(super) async fn fetch_all(
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
}
