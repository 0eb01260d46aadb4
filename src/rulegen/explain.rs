//! Burn-rate arithmetic per tier (SRE Workbook ch. 5) and the `sloguard explain` table:
//! threshold, budget consumed when a tier fires, detection time at 100% and 10% errors,
//! and reset time after a sustained outage.

use std::fmt::Write;

use crate::slo::{decimal, Service, Severity, Slo, Tier};
use crate::window::human_secs;

/// Seconds of a sustained outage at `error_ratio` before a window of `window_secs`, full of
/// error-free traffic, exceeds `threshold`; `None` when it never does.
pub fn detection_secs(threshold: f64, error_ratio: f64, window_secs: f64) -> Option<f64> {
    (error_ratio > threshold).then(|| threshold / error_ratio * window_secs)
}

/// Seconds after a long outage at `error_ratio` ends until the short window drops below
/// `threshold` (the tier, and so the alert, resets then).
pub fn reset_secs(threshold: f64, error_ratio: f64, short_secs: f64) -> Option<f64> {
    (error_ratio > threshold).then(|| short_secs * (1.0 - threshold / error_ratio))
}

#[derive(Debug, Clone, PartialEq)]
pub struct TierFacts {
    pub tier: Tier,
    pub threshold: f64,
    /// Fraction of the period's budget spent when the tier first fires.
    pub budget_consumed: f64,
    pub detect_full: Option<f64>,
    pub detect_tenth: Option<f64>,
    pub reset_full: Option<f64>,
}

pub fn tier_facts(slo: &Slo, tier: &Tier) -> TierFacts {
    let threshold = slo.threshold(tier);
    let long = tier.long.as_f64();
    TierFacts {
        tier: *tier,
        threshold,
        budget_consumed: tier.factor * long / slo.period.as_f64(),
        detect_full: detection_secs(threshold, 1.0, long),
        detect_tenth: detection_secs(threshold, 0.1, long),
        reset_full: reset_secs(threshold, 1.0, tier.short.as_f64()),
    }
}

/// The fastest detection of a full outage by any tier of `severity`, its alert's `for:`
/// included.
pub fn fastest_detection(slo: &Slo, severity: Severity) -> Option<(Tier, f64)> {
    slo.tiers
        .iter()
        .filter(|t| t.severity == severity)
        .filter_map(|t| {
            let hold = t.for_.map_or(0.0, |w| w.as_f64());
            tier_facts(slo, t).detect_full.map(|d| (*t, d + hold))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn opt(x: Option<f64>) -> String {
    x.map(human_secs).unwrap_or_else(|| "never".to_string())
}

/// The `explain` report for every SLO of every service.
pub fn render(services: &[Service]) -> String {
    let mut out = String::new();
    for service in services {
        for slo in &service.slos {
            let _ = writeln!(
                out,
                "{} / {}: objective {}%, error budget {}, period {}, region label `{}`",
                service.name,
                slo.name,
                decimal(slo.objective),
                decimal(slo.error_budget()),
                slo.period,
                service.region_label
            );
            let _ = writeln!(
                out,
                "  {:<8} {:>8} {:>6} {:>10} {:>11} {:>13} {:>13} {:>12}",
                "severity",
                "windows",
                "factor",
                "threshold",
                "budget-used",
                "detect@100%",
                "detect@10%",
                "reset@100%"
            );
            for tier in &slo.tiers {
                let f = tier_facts(slo, tier);
                let _ = writeln!(
                    out,
                    "  {:<8} {:>8} {:>6} {:>10} {:>10}% {:>13} {:>13} {:>12}",
                    tier.severity.as_str(),
                    format!("{}/{}", tier.long, tier.short),
                    decimal(tier.factor),
                    decimal(f.threshold),
                    decimal(f.budget_consumed * 100.0),
                    opt(f.detect_full),
                    opt(f.detect_tenth),
                    opt(f.reset_full),
                );
            }
            if slo.min_events > 0 {
                let _ = writeln!(
                    out,
                    "  no tier fires while its long window saw fewer than {} events",
                    slo.min_events
                );
            }
            out.push('\n');
        }
    }
    out.push_str(FAILOVER_RULES);
    out
}

/// How `serve` turns these tiers into a failover decision (DESIGN.md defaults; the
/// config keys under `failover.policy` change them).
pub const FAILOVER_RULES: &str = "\
failover decision (serve with a failover section), per domain over its gating SLOs.
each region, at every scheduled evaluation, is one of:
  burning          a page tier of a gating SLO holds there
  down             its own SLIs have had no data, or its regional source has been
                   unreachable, for regions.down_after (default 2m) AND outside evidence
                   confirms failure: a quorum of replicas (failover.policy.quorum) each
                   saw its last regions.probe_failures (default 3) probes fail, or a
                   vantage: external SLO pages for it
  monitoring_lost  silent for down_after with no outside confirmation: one notice,
                   never an action, not an incident
  degraded         the shared source failed or answered with partial data: neither good
                   nor bad, the consecutive count holds
  healthy          no tier holds, every tier short window burns below
                   failover.policy.target_max_burn (default 1.0), data present and
                   complete (after a source outage the first successful query fills
                   the gap), and its probes pass where probes are configured
the active region is failed over when it is burning or down on N consecutive scheduled
evaluations (failover.policy.consecutive, default 2) spanning at least N-1 intervals
(webhook pages re-evaluate and notify but never count), and:
  guards        a standby is healthy, every precondition holds, no cooldown runs, a
                quorum of replicas votes for the same target, and the journal is usable
                (else automation is off)
  never         the active region and every standby burning or down (a global
                incident: notify only); monitoring lost; degraded data
  after         the automation latches until an operator re-arms it; failback is manual
worst-case time to decision:
  burning       the tier's detection time (above) + (N-1) x interval + one interval
  down          max(down_after, probe_failures x probe interval + one probe timeout)
                + (N-1) x interval + one interval (+ a peer poll when quorum > 1)
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workbook_figures_for_99_9() {
        // SRE Workbook: 14.4x over 1h at 99.9% detects a full outage in 51.8 s and
        // consumes 2% of a 30d budget; 6x over 6h: 5%; reset after 100% ~ 4.9 min.
        let thr = crate::slo::round_sig(14.4 * 0.001);
        assert_eq!(decimal(thr), "0.0144");
        let d = detection_secs(thr, 1.0, 3600.0).unwrap();
        assert!((d - 51.84).abs() < 1e-9);
        let tenth = detection_secs(thr, 0.1, 3600.0).unwrap();
        assert!((tenth - 518.4).abs() < 1e-9);
        let r = reset_secs(thr, 1.0, 300.0).unwrap();
        assert!((r - 295.68).abs() < 1e-9);
        assert!(detection_secs(0.2, 0.1, 3600.0).is_none());
    }
}
