//! The steady-state evaluation: each interval, query every SLO once, feed the core
//! (and the probe results), evaluate.

use std::collections::BTreeMap;

use crate::burn::streams::StreamRef;
use crate::burn::Transition;
use crate::query::MetricsSource;
use crate::snapshot::DataStatus;
use crate::window::Window;

use super::fetch::Fetched;
use super::{Engine, StepEvents};

/// The longest data gap one steady-state query fills (a longer outage keeps the rest
/// out of the windows, as a fresh start would).
const MAX_GAP: i64 = 6 * 3600;

impl<S: MetricsSource> Engine<S> {
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

    /// Feeds one query's points to the core. `history`: points of a gap filled after the
    /// core's clock moved on (placed in their buckets whatever their age).
    pub(super) fn ingest(&mut self, q: usize, points: BTreeMap<i64, StepEvents>, history: bool) {
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

    /// Evaluates the tiers at the current clock without querying (after a backfill).
    pub fn evaluate_now(&mut self) -> Vec<(StreamRef, Transition)> {
        let mut out = Vec::new();
        self.streams.evaluate(&mut out);
        out
    }
}
