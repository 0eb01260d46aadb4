//! `iam-policy` and `incidents` on the example configuration; bad failover configs are
//! clear errors at start-up.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

#[test]
fn iam_policy_covers_exactly_the_configured_steps() {
    let o = run(sloguard()
        .args(["iam-policy", "--config"])
        .arg(repo().join("sloguard.example.yaml")));
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let actions: Vec<String> = p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
        })
        .collect();
    for want in [
        "sns:Publish",
        "rds:SwitchoverGlobalCluster",
        "rds:DescribeGlobalClusters",
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
    ] {
        assert!(
            actions.contains(&want.to_string()),
            "{want} missing: {actions:?}"
        );
    }
    assert!(
        !actions
            .iter()
            .any(|a| a == "rds:FailoverGlobalCluster" || a.ends_with(":*")),
        "least privilege: {actions:?}"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("arn:aws:rds::123456789012:global-cluster:saas-global")
            && text.contains("hostedzone/Z0123456789ABCDEFGHIJ")
    );
}

#[test]
fn incidents_of_an_empty_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(repo().join("sloguard.example.yaml"))
        .unwrap()
        .replace(
            "specs: slo-specs/",
            &format!("specs: {}/slo-specs/", repo().display()),
        );
    std::fs::write(dir.path().join("c.yaml"), cfg).unwrap();
    let o = run(sloguard()
        .args(["incidents", "--config"])
        .arg(dir.path().join("c.yaml")));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no incidents"), "{}", text(&o));
    assert!(
        !dir.path().join("sloguard-journal.db").exists(),
        "a read never creates the journal"
    );
}

#[test]
fn bad_failover_config_is_an_error_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "source: {thanos: {url: http://127.0.0.1:1}}\nregions: {active: a, standby: [b]}\nfailover:\n  domains:\n    - name: web\n      runbook:\n        - {kind: route53_records, record_name: x, records: {a: 1.1.1.1, b: 2.2.2.2}}\n",
    )
    .unwrap();
    let o = run(sloguard()
        .args(["serve", "--config"])
        .arg(dir.path().join("c.yaml")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("runbook[0]: missing field `zone_id`"),
        "{}",
        text(&o)
    );
}
