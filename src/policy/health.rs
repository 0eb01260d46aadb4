//! What an evaluation says: each region's health over the domain's gating SLOs, and
//! the domain's preconditions. Which region is healthy (a target) or bad (a source).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One region's health at an evaluation, over the domain's gating SLOs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegionHealth {
    /// A gating SLO's page tier holds.
    pub burning: bool,
    /// Any tier of a gating SLO holds (a healthy target has none).
    pub any_tier: bool,
    /// Every gating SLO returned data for the region.
    pub has_data: bool,
    /// No query was degraded (partial or failed).
    pub complete: bool,
    /// The highest burn rate over the gating SLOs' tier short windows (5m, 30m, 2h, 6h by
    /// default): a target spending budget fast is not healthy even before a tier holds.
    #[serde(default)]
    pub short_burn: f64,
    /// Down: its own SLIs silent for `regions.down_after` AND outside evidence (probes
    /// from a quorum of replicas, or a `vantage: external` SLO burning) confirms failure.
    #[serde(default)]
    pub down: bool,
    /// Its own SLIs silent for `down_after` with no outside confirmation: notify, never act.
    #[serde(default)]
    pub monitoring_lost: bool,
    /// Probes of the region: None when none are configured; Some(true) when this
    /// replica's latest probe passed; Some(false) when it failed or none answered yet.
    #[serde(default)]
    pub probes_passing: Option<bool>,
    /// The gating SLOs' windows are covered by data the engine has seen (the region's
    /// start-up backfill succeeded and every tier's long window is at least 90%
    /// covered): no decision rests on windows the engine has not seen.
    #[serde(default = "covered_by_default")]
    pub covered: bool,
}

/// Journals written before coverage existed decided on covered data.
fn covered_by_default() -> bool {
    true
}

impl Default for RegionHealth {
    /// Nothing known: no data (so neither healthy nor burning), coverage not in question.
    fn default() -> Self {
        RegionHealth {
            burning: false,
            any_tier: false,
            has_data: false,
            complete: false,
            short_burn: 0.0,
            down: false,
            monitoring_lost: false,
            probes_passing: None,
            covered: true,
        }
    }
}

impl RegionHealth {
    /// Healthy as a failover target: nothing burning, no tier, complete data, short
    /// windows burning below `max_burn`, and its probes passing where they are configured.
    pub fn healthy(&self, max_burn: f64) -> bool {
        !self.burning
            && !self.any_tier
            && !self.down
            && self.has_data
            && self.complete
            && self.short_burn < max_burn
            && self.probes_passing != Some(false)
            && self.covered
    }

    /// Bad enough to fail over from: burning, or down.
    pub fn bad(&self) -> bool {
        self.burning || self.down
    }
}

/// An evaluation of a failover domain.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub regions: BTreeMap<String, RegionHealth>,
    /// Precondition queries: Some(true) holds, Some(false) fails, None unknown (no data).
    pub preconditions: BTreeMap<String, Option<bool>>,
}
