//! The display state at the last evaluation: tiers, streams, regions, latencies, the
//! query plan and the coverage.

use std::collections::BTreeMap;

use crate::query::MetricsSource;
use crate::slo::Severity;
use crate::snapshot::{
    CoverageView, DataStatus, GapView, Latency, RegionRow, Snapshot, StreamRow, TierRow,
};

use super::{latency, Engine};

/// The rows of the streams the core holds.
struct StreamRows {
    tiers: Vec<TierRow>,
    streams: Vec<StreamRow>,
    /// Per region: the `service/slo` of every SLO with a covered page tier holding.
    burning: BTreeMap<String, Vec<String>>,
}

impl<S: MetricsSource> Engine<S> {
    /// The state at the last evaluation.
    pub fn snapshot(&self) -> Snapshot {
        let at = self.last_at.unwrap_or(0);
        let final_rows = crate::backtest::final_rows(&self.streams);
        let StreamRows {
            tiers,
            streams: mut stream_rows,
            burning,
        } = self.stream_rows();
        stream_rows.extend(self.unseen_stream_rows());
        let regions = self.region_rows(&stream_rows, &burning);
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

    /// The tier and stream rows of every stream in the core, and the SLOs burning (a
    /// covered page tier holds) per region.
    fn stream_rows(&self) -> StreamRows {
        let mut tiers = Vec::new();
        let mut stream_rows = Vec::new();
        let mut burning: BTreeMap<String, Vec<String>> = BTreeMap::new();
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
        StreamRows {
            tiers,
            streams: stream_rows,
            burning,
        }
    }

    /// (SLO, region) pairs that were queried but never produced a stream (the source
    /// failed, or the region never answered) are reported too.
    fn unseen_stream_rows(&self) -> Vec<StreamRow> {
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
        missing
    }

    /// One row per region: the configured ones, then any other the streams name.
    fn region_rows(
        &self,
        stream_rows: &[StreamRow],
        burning: &BTreeMap<String, Vec<String>>,
    ) -> Vec<RegionRow> {
        let mut region_names: Vec<String> = self.regions.all();
        for r in stream_rows.iter().map(|s| s.region.clone()) {
            if !region_names.contains(&r) {
                region_names.push(r);
            }
        }
        region_names
            .into_iter()
            .map(|r| self.region_row(r, stream_rows, burning))
            .collect()
    }

    /// A region's role and state (degraded, burning, no data or healthy).
    fn region_row(
        &self,
        r: String,
        stream_rows: &[StreamRow],
        burning: &BTreeMap<String, Vec<String>>,
    ) -> RegionRow {
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
