//! Turning the engine's view into the policy's input: a domain's [`Evaluation`] (each
//! region's health over its gating SLOs, with the outside evidence), and which SLOs gate
//! a domain.

use std::collections::BTreeMap;

use crate::config::DomainConfig;
use crate::policy::{Evaluation, RegionHealth};
use crate::slo::Severity;
use crate::snapshot::{DataStatus, RegionEvidence, StreamHealth};

/// Whether the SLO `slo_id` of `service` gates `domain` (the built-in probe SLI never does).
pub(super) fn gates(domain: &DomainConfig, service: &str, slo_id: &str) -> bool {
    service != crate::probe::PROBE_SERVICE
        && (domain.slos.is_empty() || domain.slos.iter().any(|s| s == slo_id))
}

/// The health of every region for a domain's gating SLOs (`service/slo`, all when
/// empty; never the built-in probe SLI, whose evidence arrives as `evidence`), from the
/// engine's typed stream health and the outside evidence the app gathered.
pub fn evaluation_for(
    domain: &DomainConfig,
    regions: &[String],
    health: &[StreamHealth],
    preconditions: BTreeMap<String, Option<bool>>,
    evidence: &BTreeMap<String, RegionEvidence>,
) -> Evaluation {
    let gating = |h: &StreamHealth| gates(domain, &h.service, &h.slo_id());
    let mut gated_slos: Vec<String> = health
        .iter()
        .filter(|h| gating(h))
        .map(StreamHealth::slo_id)
        .collect();
    gated_slos.sort();
    gated_slos.dedup();
    // The gating SLOs with data, per region: one pass (a lookup per SLO and region
    // instead of a scan of every row, which is quadratic at thousands of SLOs).
    let mut with_data: std::collections::HashSet<(String, &str)> = std::collections::HashSet::new();
    for h in health.iter().filter(|h| gating(h)) {
        if !matches!(h.data, DataStatus::NoData | DataStatus::Unreachable(_)) {
            with_data.insert((h.slo_id(), h.region.as_str()));
        }
    }
    let mut out = BTreeMap::new();
    for r in regions {
        let rows: Vec<&StreamHealth> = health
            .iter()
            .filter(|h| &h.region == r && gating(h))
            .collect();
        out.insert(
            r.clone(),
            RegionHealth {
                burning: rows.iter().any(|h| h.holds(Severity::Page)),
                any_tier: rows.iter().any(|h| !h.holding.is_empty()),
                has_data: !gated_slos.is_empty()
                    && gated_slos
                        .iter()
                        .all(|id| with_data.contains(&(id.clone(), r.as_str()))),
                complete: rows
                    .iter()
                    .all(|h| !matches!(h.data, DataStatus::Degraded(_))),
                short_burn: rows.iter().filter_map(|h| h.short_burn).fold(0.0, f64::max),
                down: evidence.get(r).is_some_and(|e| e.down),
                monitoring_lost: evidence.get(r).is_some_and(|e| e.monitoring_lost),
                probes_passing: evidence
                    .get(r)
                    .filter(|e| e.probed)
                    .map(|e| e.probe_passing),
                covered: !rows.is_empty() && rows.iter().all(|h| h.covered),
            },
        );
    }
    Evaluation {
        regions: out,
        preconditions,
    }
}
