//! Data completeness per (SLO, region) after each fetch, and since when a region's own
//! SLIs have been silent.

use crate::burn::streams::StreamRef;
use crate::query::MetricsSource;
use crate::snapshot::DataStatus;

use super::fetch::Fetched;
use super::{Engine, StepEvents};

impl<S: MetricsSource> Engine<S> {
    /// Records data completeness of an SLO's regions after a fetch (`latest`: its newest
    /// points; `failed`: the query failed); returns the regions that answered in full
    /// (data, or a valid no data).
    pub(super) fn mark(
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

    /// Since when each configured region's own SLIs have all been missing or
    /// unreachable. Degraded data (the shared source failed) tells nothing either way:
    /// the clock neither starts nor stops on it.
    pub(super) fn update_silence(&mut self, at: i64) {
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

    /// A stream's data status as of the last fetch (no data when never fetched).
    pub(super) fn data_status(&self, sref: StreamRef, region: &str) -> DataStatus {
        let slo = self.streams.slo_of(sref).unwrap_or(0);
        self.status
            .get(&(slo, region.to_string()))
            .cloned()
            .unwrap_or(DataStatus::NoData)
    }

    /// Whether the SLO at core index `slo` is measured from outside its region.
    pub(super) fn is_external(&self, slo: usize) -> bool {
        self.queries.iter().any(|q| q.slo == slo && q.external)
    }
}
