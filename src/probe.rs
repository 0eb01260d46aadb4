//! PURE region probes: what one replica's probes of each region showed, what the other
//! replicas report, and the evidence a region is down that the failover policy rests on.
//! No I/O and no clock: probe results arrive with their time ([`ProbeFeed`] hands them
//! over; the HTTP prober lives in `query::probe`, the simulated one in `sim`), and the
//! evaluation time is an argument.
//!
//! Why probes: when a region vanishes, its own Prometheus goes with it and its SLIs read
//! *no data*, which never counts as bad. Evidence from outside the region (the way Route
//! 53 health checkers probe from several places) tells *region down* from *monitoring of
//! the region down*. A region is down only when its own SLIs have been silent for
//! `regions.down_after` AND either a quorum of replicas each saw its last
//! `regions.probe_failures` probes fail, or a `vantage: external` SLO holds a page tier
//! for it. Silent without that is *monitoring lost*.
//!
//! Probe results also enter the streaming core as the SLI `sloguard-probes/reachability`
//! (one stream per probed region) so dashboards and alerts see a probe burn rate; the
//! decision itself uses consecutive failures, which confirm in about
//! `probe_failures × interval` (30 s by default) where a burn tier would take minutes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::snapshot::RegionEvidence;

/// The service of the built-in probe SLI.
pub const PROBE_SERVICE: &str = "sloguard-probes";
/// Its one SLO.
pub const PROBE_SLO: &str = "reachability";

/// One probe of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub region: String,
    /// Unix seconds the probe was sent.
    pub at: i64,
    pub ok: bool,
    /// Why it failed (status, timeout, connection error); empty when it passed.
    #[serde(default)]
    pub detail: String,
}

/// Hands over the probe results gathered up to a time (each exactly once).
pub trait ProbeFeed: Send + Sync {
    fn take(&self, until: i64) -> Vec<ProbeResult>;
}

/// What one replica sees of one region: shared with the peers on `/v1/probes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeView {
    pub region: String,
    pub consecutive_failures: u32,
    /// The last `probe_failures` probes all failed.
    pub failing: bool,
    /// The latest probe passed.
    pub passing: bool,
    /// Time of the latest probe (None: none answered yet).
    pub last_at: Option<i64>,
    pub last_detail: String,
    pub probes: u64,
    pub failures: u64,
}

/// This replica's probe history per region.
#[derive(Debug, Clone, Default)]
pub struct ProbeTracker {
    regions: BTreeMap<String, ProbeView>,
    /// Consecutive failures that make a region failing.
    threshold: u32,
}

impl ProbeTracker {
    /// A tracker for `regions`, failing after `threshold` consecutive failed probes.
    pub fn new(regions: impl IntoIterator<Item = String>, threshold: u32) -> Self {
        ProbeTracker {
            regions: regions
                .into_iter()
                .map(|r| {
                    (
                        r.clone(),
                        ProbeView {
                            region: r,
                            ..Default::default()
                        },
                    )
                })
                .collect(),
            threshold: threshold.max(1),
        }
    }

    /// Records results in time order; results for unprobed regions or older than the
    /// region's latest are ignored (a late answer never overrides a newer one).
    pub fn record(&mut self, results: &[ProbeResult]) {
        let mut sorted: Vec<&ProbeResult> = results.iter().collect();
        sorted.sort_by_key(|r| r.at);
        for r in sorted {
            let Some(v) = self.regions.get_mut(&r.region) else {
                continue;
            };
            if v.last_at.is_some_and(|t| r.at < t) {
                continue;
            }
            v.probes += 1;
            v.last_at = Some(r.at);
            v.passing = r.ok;
            if r.ok {
                v.consecutive_failures = 0;
                v.last_detail.clear();
            } else {
                v.failures += 1;
                v.consecutive_failures = v.consecutive_failures.saturating_add(1);
                v.last_detail = truncate(&r.detail, 200);
            }
            v.failing = v.consecutive_failures >= self.threshold;
        }
    }

    pub fn views(&self) -> Vec<ProbeView> {
        self.regions.values().cloned().collect()
    }

    pub fn view(&self, region: &str) -> Option<&ProbeView> {
        self.regions.get(region)
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What decides whether a region is down, besides the probes.
#[derive(Debug, Clone, Copy)]
pub struct DownRule {
    /// Seconds of silence before outside evidence may declare the region down.
    pub down_after: i64,
    /// Replicas that must each see the region failing.
    pub quorum: u32,
}

/// A region's evidence at `now`: its own SLIs silent since `silent_since`; this
/// replica's view `own` (None: the region is not probed); the views peers reported
/// (None: the peer did not answer, so it confirms nothing); whether an external-vantage
/// SLO pages for it.
pub fn evidence(
    silent_since: Option<i64>,
    own: Option<&ProbeView>,
    peers: &[Option<ProbeView>],
    external_burning: bool,
    rule: DownRule,
    now: i64,
) -> RegionEvidence {
    let silent_secs = silent_since.map(|s| (now - s).max(0));
    let failing_replicas = u32::from(own.is_some_and(|v| v.failing))
        + peers
            .iter()
            .filter(|p| p.as_ref().is_some_and(|v| v.failing))
            .count() as u32;
    let confirmed = external_burning || (own.is_some() && failing_replicas >= rule.quorum.max(1));
    let silent_long = silent_secs.is_some_and(|s| s >= rule.down_after);
    RegionEvidence {
        silent_secs,
        probed: own.is_some(),
        probe_passing: own.is_some_and(|v| v.passing && v.last_at.is_some()),
        consecutive_failures: own.map_or(0, |v| v.consecutive_failures),
        failing_replicas,
        external_burning,
        down: silent_long && confirmed,
        monitoring_lost: silent_long && !confirmed,
    }
}

/// The built-in probe SLI as a `sloguard/v1` spec over `regions` probes, labelled with
/// `region_label`: objective 99.9%, the default tiers. Its queries are never sent (probe
/// results are fed to the core directly); they name what the stream counts.
pub fn probe_spec(region_label: &str) -> String {
    format!(
        "version: sloguard/v1\nservice: {PROBE_SERVICE}\nregion_label: {region_label}\nslos:\n  - name: {PROBE_SLO}\n    objective: 99.9\n    description: Probes of each region's endpoint from every replica (built in).\n    sli:\n      events:\n        error_query: sum(rate(sloguard_probe_failures_total[{{{{.window}}}}]))\n        total_query: sum(rate(sloguard_probes_total[{{{{.window}}}}]))\n    alerting:\n      name: SloguardRegionProbes\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(region: &str, at: i64, ok: bool) -> ProbeResult {
        ProbeResult {
            region: region.into(),
            at,
            ok,
            detail: if ok { String::new() } else { "timeout".into() },
        }
    }

    const RULE: DownRule = DownRule {
        down_after: 120,
        quorum: 1,
    };

    #[test]
    fn failing_after_the_threshold_and_reset_by_a_pass() {
        let mut t = ProbeTracker::new(["a".to_string()], 3);
        t.record(&[r("a", 10, false), r("a", 20, false)]);
        assert!(!t.view("a").unwrap().failing);
        t.record(&[r("a", 30, false)]);
        assert!(t.view("a").unwrap().failing);
        // Out of order and late: ignored.
        t.record(&[r("a", 5, true)]);
        assert!(t.view("a").unwrap().failing);
        t.record(&[r("a", 40, true)]);
        let v = t.view("a").unwrap();
        assert!(!v.failing && v.passing && v.consecutive_failures == 0);
        assert_eq!((v.probes, v.failures), (4, 3));
        // Unprobed regions are not tracked.
        t.record(&[r("b", 50, false)]);
        assert!(t.view("b").is_none());
    }

    #[test]
    fn down_needs_silence_for_down_after_and_outside_confirmation() {
        let failing = ProbeView {
            region: "a".into(),
            consecutive_failures: 3,
            failing: true,
            last_at: Some(0),
            ..Default::default()
        };
        let passing = ProbeView {
            region: "a".into(),
            passing: true,
            last_at: Some(0),
            ..Default::default()
        };
        // Silent long enough and probes fail: down.
        let e = evidence(Some(0), Some(&failing), &[], false, RULE, 120);
        assert!(e.down && !e.monitoring_lost, "{e:?}");
        // Not silent long enough: neither.
        let e = evidence(Some(0), Some(&failing), &[], false, RULE, 119);
        assert!(!e.down && !e.monitoring_lost);
        // Data present: never down, whatever the probes say.
        let e = evidence(None, Some(&failing), &[], true, RULE, 1000);
        assert!(!e.down && !e.monitoring_lost);
        // Silent, probes pass: monitoring lost.
        let e = evidence(Some(0), Some(&passing), &[], false, RULE, 500);
        assert!(!e.down && e.monitoring_lost && e.probe_passing);
        // Silent, no probes at all: monitoring lost, unless an external SLO pages.
        let e = evidence(Some(0), None, &[], false, RULE, 500);
        assert!(e.monitoring_lost && !e.probed);
        let e = evidence(Some(0), None, &[], true, RULE, 500);
        assert!(e.down);
    }

    #[test]
    fn quorum_counts_replicas_that_answered_and_see_it_failing() {
        let failing = ProbeView {
            failing: true,
            last_at: Some(0),
            ..Default::default()
        };
        let ok = ProbeView {
            passing: true,
            last_at: Some(0),
            ..Default::default()
        };
        let rule = DownRule {
            down_after: 60,
            quorum: 2,
        };
        // Alone: not enough.
        assert!(!evidence(Some(0), Some(&failing), &[None], false, rule, 100).down);
        // A peer that did not answer confirms nothing; one that sees it fine neither.
        assert!(
            !evidence(
                Some(0),
                Some(&failing),
                &[Some(ok.clone())],
                false,
                rule,
                100
            )
            .down
        );
        // Two replicas see it failing.
        let e = evidence(
            Some(0),
            Some(&failing),
            &[Some(failing.clone()), None],
            false,
            rule,
            100,
        );
        assert!(e.down && e.failing_replicas == 2, "{e:?}");
        // This replica sees it fine, two peers failing: the quorum still holds.
        let e = evidence(
            Some(0),
            Some(&ok),
            &[Some(failing.clone()), Some(failing)],
            false,
            rule,
            100,
        );
        assert!(e.down);
    }

    #[test]
    fn the_probe_spec_loads() {
        let services = crate::slo::parse_all(&[(
            std::path::PathBuf::from("probes.yaml"),
            probe_spec("region"),
        )])
        .expect("the built-in probe spec is valid");
        assert_eq!(services[0].name, PROBE_SERVICE);
        assert_eq!(services[0].slos[0].name, PROBE_SLO);
    }
}
