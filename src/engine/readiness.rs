//! Whether the engine's data covers enough to decide: the start-up backfill, each
//! stream's covered span, and which tiers and regions may count for a failover.

use crate::query::MetricsSource;
use crate::slo::Severity;

use super::{coverage, Engine};

impl<S: MetricsSource> Engine<S> {
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
    pub(super) fn covered_secs(&self, slo: usize, region: &str) -> Option<i64> {
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
    pub(super) fn region_covered(&self, slo: usize, region: &str, tiers_covered: &[bool]) -> bool {
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
    pub(super) fn tiers_covered(&self, slo: usize, region: &str) -> Vec<bool> {
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
}
