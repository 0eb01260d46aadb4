//! `sloguard import pyrra`: Pyrra `ServiceLevelObjective`s import with the alerts Pyrra
//! gave them. The expected tiers are computed here from Pyrra's window scaling (four
//! tiers defined for 28 days, each window `W / divisor` rounded to the minute), not read
//! from the importer.
// Test harness code; the clock lint guards the library.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::pipeline::import_to_promtool;
use common::*;
use sloguard::slo::{self, Severity};

/// Pyrra's tiers for a window of `days`: (severity, factor, long, short, for) in seconds.
fn pyrra_formula(days: u64) -> Vec<(Severity, f64, u64, u64, u64)> {
    let w = (days * 86_400) as f64;
    // Divisors of the window for 28 days = 1h/5m/2m, 6h/30m/15m, 1d/2h/1h, 4d/6h/3h.
    let minutes = |div: f64| (w / div / 60.0).round() as u64 * 60;
    [
        (Severity::Page, 14.0, 672.0, 8064.0, 20160.0),
        (Severity::Page, 7.0, 112.0, 1344.0, 2688.0),
        (Severity::Ticket, 2.0, 28.0, 336.0, 672.0),
        (Severity::Ticket, 1.0, 7.0, 112.0, 224.0),
    ]
    .into_iter()
    .map(|(s, f, l, sh, fo)| (s, f, minutes(l), minutes(sh), minutes(fo)))
    .collect()
}

#[test]
fn pyrra_alerts_keep_pyrra_windows_at_1w_2w_4w() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/pyrra/windows.yaml");
    let out = import_to_promtool("pyrra", &[&fixture], tmp.path(), 1);
    let services = slo::load_dir(&out.specs).unwrap();
    assert_eq!(services.len(), 1);
    let shop = &services[0];
    for (name, days) in [
        ("checkout-week", 7),
        ("checkout-fortnight", 14),
        ("checkout-month", 28),
    ] {
        let s = shop.slos.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s.period.secs(), days * 86_400, "{name}");
        let got: Vec<(Severity, f64, u64, u64, u64)> = s
            .tiers
            .iter()
            .map(|t| {
                (
                    t.severity,
                    t.factor,
                    t.long.secs(),
                    t.short.secs(),
                    t.for_.map_or(0, |f| f.secs()),
                )
            })
            .collect();
        assert_eq!(got, pyrra_formula(days), "{name} ({days}d)");
        assert_eq!(s.alerting.page.labels["severity"], "critical");
        assert_eq!(s.alerting.ticket.labels["severity"], "warning");
    }
    // The case: a 2w SLO pages at 14x over 30m and 3m, for 1m.
    assert_eq!(pyrra_formula(14)[0], (Severity::Page, 14.0, 1800, 180, 60));

    // Each tier is its own alert rule with Pyrra's `for:` and threshold (factor x budget).
    let rules = out.rules_of("shop");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rules).unwrap();
    let group = doc["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "sloguard-slo-shop-checkout-fortnight")
        .unwrap();
    let alerts: Vec<(String, String, String, String)> = group["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| r["alert"] == "CheckoutBurn")
        .map(|r| {
            (
                r["labels"]["long"].as_str().unwrap().to_string(),
                r["labels"]["short"].as_str().unwrap().to_string(),
                r["for"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(alerts.len(), 4, "{rules}");
    assert_eq!(
        (&alerts[0].0[..], &alerts[0].1[..], &alerts[0].2[..]),
        ("30m", "3m", "1m")
    );
    assert!(
        alerts[0].3.contains("slo:sli_error:ratio_rate3m{")
            && alerts[0].3.contains("slo:sli_error:ratio_rate30m{")
            && alerts[0].3.contains("> 0.07)"),
        "{}",
        alerts[0].3
    );
}
