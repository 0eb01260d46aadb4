//! Replaying a past span from the source at the fine step, evaluating at every point.

use std::collections::BTreeMap;

use crate::backtest::AlertRecord;
use crate::query::MetricsSource;

use super::fetch::Fetched;
use super::{Engine, StepEvents};

impl<S: MetricsSource> Engine<S> {
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
}
