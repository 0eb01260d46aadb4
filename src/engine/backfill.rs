//! The start-up backfill: every window filled from range queries, segment by segment,
//! with what failed left as coverage gaps.

use std::collections::{BTreeMap, BTreeSet};

use crate::query::MetricsSource;
use crate::window::Window;

use super::fetch::Fetched;
use super::segments::{chunked, span_segments};
use super::{Engine, StepEvents};

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

impl BackfillState {
    /// Takes one segment's answer (from segment start `a`) for SLO query `q`: its points
    /// go to `flat` (without the regions missing so far), its failures are remembered.
    fn absorb(
        &mut self,
        q: usize,
        a: i64,
        result: Result<Fetched, String>,
        flat: &mut Vec<(i64, usize, StepEvents)>,
    ) {
        match result {
            Err(e) => self.failed = Some((a, e)),
            Ok(f) => {
                for (r, why) in f.unreachable.iter().chain(f.nonfinite.iter()) {
                    self.missing.entry(r.clone()).or_insert((a, why.clone()));
                }
                self.unreachable.extend(f.unreachable);
                for (r, why) in f.nonfinite {
                    self.nonfinite.entry(r).or_insert(why);
                }
                for (t, mut ev) in f.points {
                    ev.retain(|r, _| !self.missing.contains_key(r));
                    for r in ev.keys() {
                        self.first.entry(r.clone()).or_insert(t);
                    }
                    self.latest = Some(ev.clone());
                    flat.push((t, q, ev));
                }
            }
        }
    }
}

impl<S: MetricsSource> Engine<S> {
    /// The longest window of any SLO: how far back a start-up backfill reaches.
    fn max_window(&self) -> Window {
        self.streams
            .groups
            .iter()
            .flat_map(|g| g.windows.iter().copied())
            .max()
            .unwrap_or(Window::days(30))
    }

    /// Backfills every window from range queries ending at `end` (see
    /// [`Self::fetch_span`]). What fails (a query, a region) is a gap in the coverage,
    /// fetched again with backoff by [`Self::fill_gaps`]; until then the engine is not
    /// ready and no tier over that span decides a failover.
    pub async fn backfill(&mut self, end: i64, mut progress: impl FnMut(usize, usize)) {
        let fine = self.eval.fine_step.secs() as i64;
        let end = end.div_euclid(fine) * fine;
        let span = (end - self.max_window().secs() as i64, end);
        let configured = self.regions.all();
        let qs: Vec<usize> = (0..self.queries.len())
            .filter(|q| !self.restored.contains(q))
            .collect();
        // At most `evaluation.backfill_points` (SLO query × point) answers held at once:
        // a piece of history per round, however many SLOs and however long the history.
        let max_points = (self.eval.backfill_points / qs.len().max(1) as u64).max(1) as i64;
        let segments = chunked(&span_segments(span.0, span.1, end, fine), max_points);
        let total = segments.len();
        // Piece by piece, oldest first, each ingested before the next is fetched:
        // memory holds one piece's answers, not the whole history. What fails (an SLO,
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
                if let Some(st) = acc.get_mut(&q) {
                    st.absorb(q, a, result, &mut flat);
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
            self.finish_backfill(q, st, &configured, span);
        }
        self.streams.advance(end);
        self.last_at = Some(end);
        self.last_ok = vec![Some(end); self.queries.len()];
        self.update_silence(end);
    }

    /// Records one SLO's backfill in the coverage (a failed SLO, or a missing region, is
    /// a gap from the segment where it failed) and its data status.
    fn finish_backfill(
        &mut self,
        q: usize,
        st: BackfillState,
        configured: &[String],
        span: (i64, i64),
    ) {
        self.coverage
            .backfilled(q, configured, span, Some(BTreeSet::new()), None);
        if let Some((from, e)) = st.failed {
            tracing::warn!(service = %self.queries[q].service, slo = %self.queries[q].name, error = %e, "backfill failed: retrying with backoff; no decision on this SLO until it succeeds");
            self.coverage.start_gap(q, None, (from, span.1), e.clone());
            self.mark(q, None, Some(e), &Fetched::default());
            return;
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
        self.cover_from_data(q, configured, &firsts, span);
        let fetched = Fetched {
            points: BTreeMap::new(),
            unreachable: st.unreachable,
            nonfinite: st.nonfinite,
        };
        self.mark(q, st.latest.as_ref(), None, &fetched);
    }
}
