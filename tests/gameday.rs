//! Every shipped GameDay scenario (`tests/gameday/*.yaml`) runs through the real engine,
//! policy and dry-run runbook and passes with the decision it expects; the JSON report
//! follows the contract; a failed expectation exits 1.

mod common;

use common::*;

fn gameday(path: &std::path::Path) -> (i32, serde_json::Value) {
    let o = run(sloguard()
        .args(["gameday", "--output", "json", "--scenario"])
        .arg(path));
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}: {}", path.display(), text(&o)));
    (o.status.code().unwrap_or(-1), v)
}

#[test]
fn every_shipped_scenario_passes() {
    let dir = repo().join("tests/gameday");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let (code, report) = gameday(&e.path());
        assert_eq!(code, 0, "{}: {report:#}", e.path().display());
        assert_eq!(report["passed"], true);
        assert_eq!(report["chaos"], true, "drills are tagged");
        for key in ["scenario", "failovers", "alerts", "actions", "budget"] {
            assert!(report.get(key).is_some(), "{key} missing");
        }
        names.push(report["scenario"].as_str().unwrap().to_string());
    }
    names.sort();
    for want in [
        "database-stop",
        "flapping-errors",
        "global-outage",
        "latency-injection",
        "monitoring-down-during-outage",
        "primary-outage",
        "standby-degraded",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing: {names:?}"
        );
    }
}

#[test]
fn primary_outage_report_contract() {
    let (_, r) = gameday(&repo().join("tests/gameday/primary-outage.yaml"));
    let f = &r["failovers"][0];
    assert_eq!(
        (f["from"].as_str(), f["to"].as_str()),
        (Some("us-east-1"), Some("eu-west-1"))
    );
    let at = f["at"].as_i64().unwrap();
    assert!((2400..=2700).contains(&at), "{at}");
    assert!(r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["severity"] == "page" && a["region"] == "us-east-1" && a["firing"] == true));
    assert!(r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "start_failover" && a["dry_run"] == true));
    let burnt = r["budget"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["region"] == "us-east-1"
                && b["slo"] == "requests-availability"
                && b["service"] == "checkout"
        })
        .unwrap();
    assert!(
        burnt["consumed"].as_f64().unwrap() > 0.1,
        "30 minutes of 100% errors spend a large share of the budget: {burnt}"
    );
}

#[test]
fn failed_expectation_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml"))
        .unwrap()
        .replace(
            "specs: ../../slo-specs",
            &format!("specs: {}", repo().join("slo-specs").display()),
        )
        .replace(
            "failover: {from: us-east-1, to: eu-west-1, after: 40m, before: 45m}",
            "failover: none",
        );
    let path = dir.path().join("wrong.yaml");
    std::fs::write(&path, text).unwrap();
    let (code, r) = gameday(&path);
    assert_eq!(code, 1);
    assert_eq!(r["passed"], false);
}
