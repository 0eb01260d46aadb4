//! The typed per-stream health that failover decisions are built from.

use std::collections::HashMap;

use crate::query::MetricsSource;
use crate::slo::Severity;
use crate::snapshot::StreamHealth;

use super::Engine;

impl<S: MetricsSource> Engine<S> {
    /// Every (SLO, region) stream's data status and holding tiers, typed, as of the last
    /// evaluation; pairs queried but never seen in data appear with their status and no
    /// tiers. This, not the display rows, is what failover decisions are built from.
    pub fn health(&self) -> Vec<StreamHealth> {
        let rows = crate::backtest::final_rows(&self.streams);
        // One pass over the rows, then a lookup per stream: linear in the streams (a
        // scan of every row per stream is quadratic, minutes at 30,000 streams).
        let mut by_stream: HashMap<(&str, &str, &str), Vec<&crate::backtest::FinalRow>> =
            HashMap::new();
        for r in &rows {
            by_stream
                .entry((r.service.as_str(), r.slo.as_str(), r.region.as_str()))
                .or_default()
                .push(r);
        }
        let mut out = Vec::new();
        for (sref, key) in self.streams.all() {
            let tiers = self.streams.tiers(sref);
            let short: Vec<&str> = tiers.iter().map(|t| t.short_window.as_str()).collect();
            let short_burn = by_stream
                .get(&(key.service.as_str(), key.slo.as_str(), key.region.as_str()))
                .into_iter()
                .flatten()
                .filter(|r| short.contains(&r.window.as_str()))
                .filter_map(|r| r.burn_rate)
                .reduce(f64::max);
            let slo_idx = self.streams.slo_of(sref).unwrap_or(usize::MAX);
            let covered = self.tiers_covered(slo_idx, &key.region);
            let held = |want: bool| -> Vec<Severity> {
                tiers
                    .iter()
                    .zip(&covered)
                    .filter(|(t, c)| t.holds && **c == want)
                    .map(|(t, _)| t.severity)
                    .collect()
            };
            out.push(StreamHealth {
                external: self.is_external(slo_idx),
                service: key.service.clone(),
                slo: key.slo.clone(),
                region: key.region.clone(),
                data: self.data_status(sref, &key.region),
                holding: held(true),
                partial: held(false),
                covered: self.region_covered(slo_idx, &key.region, &covered),
                short_burn,
            });
        }
        for ((slo, region), data) in &self.status {
            if self.streams.find(*slo, region).is_none() {
                let e = &self.streams.slos[*slo];
                out.push(StreamHealth {
                    external: self.is_external(*slo),
                    service: e.service.clone(),
                    slo: e.slo.clone(),
                    region: region.clone(),
                    data: data.clone(),
                    holding: Vec::new(),
                    partial: Vec::new(),
                    covered: self.region_covered(*slo, region, &self.tiers_covered(*slo, region)),
                    short_burn: None,
                });
            }
        }
        out
    }
}
