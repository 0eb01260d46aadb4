//! Filling coverage gaps: fetching a span again with backoff, and how much of it the
//! source's data covers.

use std::collections::{BTreeMap, BTreeSet};

use crate::query::MetricsSource;
use crate::window::Window;

use super::fetch::Fetched;
use super::segments::span_segments;
use super::{coverage, Engine, StepEvents};

impl<S: MetricsSource> Engine<S> {
    /// Fetches SLO queries `qs` over `(from, to]` with batched range queries whose
    /// resolution follows the age of the data at `now`: 1h steps beyond 3 days, 5m steps
    /// from 3 days to 6 hours, `fine_step` over the last 6 hours (no answer exceeds
    /// Prometheus' 11,000 points per series). `tick` runs after each segment.
    pub(super) async fn fetch_span(
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
        let fine = self.eval.fine_step.secs() as i64;
        for (span, gaps) in by_span {
            let mut qs: Vec<usize> = gaps.iter().map(|g| g.query).collect();
            qs.sort_unstable();
            qs.dedup();
            // A group of SLOs at a time, at most `evaluation.backfill_points` points held:
            // after a start without history the gap is every SLO's whole span, which
            // fetched at once would hold the history of all of them.
            let per_query: i64 = span_segments(span.0, span.1, now, fine)
                .iter()
                .map(|(a, b, step)| (b - a) / step)
                .sum();
            let group = (self.eval.backfill_points / per_query.max(1) as u64).max(1) as usize;
            for members in qs.chunks(group) {
                let fetched = self.fetch_span(members, span, now, &mut || {}).await;
                // `qs` is sorted, so each group is too.
                for gap in gaps
                    .iter()
                    .filter(|g| members.binary_search(&g.query).is_ok())
                {
                    let result = match fetched.get(&gap.query) {
                        Some(Ok(f)) => Ok(Fetched {
                            points: f.points.clone(),
                            unreachable: f.unreachable.clone(),
                            nonfinite: f.nonfinite.clone(),
                        }),
                        Some(Err(e)) => Err(e.clone()),
                        None => Err("not fetched".to_string()),
                    };
                    if self.fill_gap(gap, result, now) {
                        closed += 1;
                    }
                }
            }
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
    pub(super) fn cover_from_data(
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
}
