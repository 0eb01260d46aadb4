//! An outage decided by the streaming core runs the whole runbook against moto:
//! `sloguard serve` reads a real Prometheus holding the last 6 hours of two-region
//! counters (the active region failing for the last 30 minutes), decides after N burning
//! evaluations, publishes to SNS, raises its failover signal, shifts Route 53 weights, and
//! journals the incident (read back from moto, the signal endpoint and the API). The
//! negative case: both regions burning is a global incident, with no traffic change.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim::{self, Outage};

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

struct Run {
    _dir: tempfile::TempDir,
    _prom: Prometheus,
    moto: Moto,
    base: String,
    child: std::process::Child,
    zone_id: String,
    topic: String,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(outages: Vec<Outage>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let scenario = live_two_regions(outages);
    let prom = Prometheus::start(dir.path(), &sim::openmetrics(&scenario), &[]);
    let moto = Moto::start();
    let (zone_id, topic) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(moto.weighted_zone_and_topic());
    let port = free_port();
    let config = dir.path().join("sloguard.yaml");
    std::fs::write(
        &config,
        format!(
            r#"specs: specs
source: {{thanos: {{url: {prom}}}}}
evaluation: {{interval: 1s}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server: {{listen: 127.0.0.1:{port}}}
failover:
  journal: journal.db
  policy: {{mode: auto, consecutive: 2, cooldown: 1h, quorum: 1}}
  domains:
    - name: web
      slos: [api/availability]
      runbook:
        - {{name: page, kind: sns, topic_arn: '{topic}'}}
        - {{name: signal, kind: route53_signal}}
        - {{name: dns, kind: route53_records, zone_id: '{zone_id}', record_name: app.example.com, type: A, ttl: 60, records: {{us-east-1: 10.0.0.1, eu-west-1: 10.1.0.1}}}}
"#,
            prom = prom.url
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = sloguard()
        .args(["serve", "--config"])
        .arg(&config)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Run {
        _dir: dir,
        _prom: prom,
        moto,
        base: format!("http://127.0.0.1:{port}"),
        child,
        zone_id,
        topic,
    }
}

fn weights(run: &Run) -> Vec<(String, i64)> {
    run.moto.weights(&run.zone_id)
}

#[test]
fn outage_in_the_active_region_runs_the_runbook() {
    let run = start(vec![Outage {
        region: "us-east-1".into(),
        start: 6 * 3600 - 1800,
        duration: 7200,
        error_ratio: 1.0,
    }]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let incidents = loop {
        let (code, body) = curl(&format!("{}/api/v1/incidents", run.base));
        if code == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            // The runbook finished and the policy took the result (next evaluation).
            if v["incidents"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["status"] == "done"))
                && v["policy"][0]["phase"]["phase"] == "failed_over"
            {
                break v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no finished incident: {}",
            std::fs::read_to_string(run._dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let inc = &incidents["incidents"][0];
    assert_eq!(inc["from"], "us-east-1");
    assert_eq!(inc["to"], "eu-west-1");
    assert_eq!(inc["chaos"], false);
    let status: Vec<&str> = inc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    // The signal is already raised by this replica's vote, so its step finds it done.
    assert_eq!(status, ["done", "skipped", "done"], "{inc}");
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)]
    );
    let data = run.moto.data();
    let sent: Vec<String> = data["sns"]["Topic"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            t["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|n| n.to_string())
        .collect();
    assert!(
        sent.iter()
            .any(|m| m.contains("failing over web from us-east-1 to eu-west-1")),
        "{sent:?} on {}",
        run.topic
    );
    assert_eq!(
        curl(&format!("{}/v1/signal/web/eu-west-1", run.base)).0,
        200
    );
    assert_eq!(
        curl(&format!("{}/v1/signal/web/us-east-1", run.base)).0,
        503
    );
    // Latched: the policy shows the failover and does not start another.
    assert_eq!(
        incidents["policy"][0]["phase"]["phase"], "failed_over",
        "{incidents}"
    );
    assert_eq!(incidents["incidents"].as_array().unwrap().len(), 1);
}

#[test]
fn both_regions_burning_notifies_without_traffic_change() {
    let run = start(vec![
        Outage {
            region: "us-east-1".into(),
            start: 6 * 3600 - 1800,
            duration: 7200,
            error_ratio: 1.0,
        },
        Outage {
            region: "eu-west-1".into(),
            start: 6 * 3600 - 1800,
            duration: 7200,
            error_ratio: 1.0,
        },
    ]);
    // Wait for several evaluations after the backfill.
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{}/readyz", run.base)).0 != 200 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    let (_, body) = curl(&format!("{}/api/v1/incidents", run.base));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["incidents"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["policy"][0]["phase"]["phase"], "global_incident", "{v}");
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
    assert_eq!(
        curl(&format!("{}/v1/signal/web/eu-west-1", run.base)).0,
        503
    );
    let logs = std::fs::read_to_string(run._dir.path().join("serve.log")).unwrap();
    assert!(logs.contains("global incident"), "{logs}");
}
