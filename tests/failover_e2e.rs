//! An outage decided by the streaming core runs the whole runbook against moto:
//! `sloguard serve` reads a real Prometheus holding the last 6 hours of two-region
//! counters (the active region failing for the last 30 minutes), decides after N burning
//! evaluations, publishes to SNS, raises its failover signal, shifts Route 53 weights, and
//! journals the incident (read back from moto, the signal endpoint and the API). The
//! negative case: both regions burning is a global incident, with no traffic change.
//! Durability: after a failover, a `kill -9` and a restart serve the raised signal on the
//! very first request, keep the latch and the new active region, and start no second
//! incident; a corrupt journal turns automation off (readyz 503, `sloguard_journal_ok 0`)
//! and nothing acts.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

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
    start_with(outages, |_| {})
}

fn spawn_serve(dir: &std::path::Path, moto: &Moto, log: &str) -> std::process::Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    sloguard()
        .args(["serve", "--config"])
        .arg(dir.join("sloguard.yaml"))
        .envs(moto.aws_env())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `prepare` runs on the run's directory before `serve` starts (e.g. to corrupt the journal).
fn start_with(outages: Vec<Outage>, prepare: impl FnOnce(&std::path::Path)) -> Run {
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
{failover}"#,
            failover = web_failover_section(&topic, &zone_id),
            prom = prom.url
        ),
    )
    .unwrap();
    prepare(dir.path());
    let child = spawn_serve(dir.path(), &moto, "serve.log");
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

fn primary_outage() -> Vec<Outage> {
    vec![Outage {
        region: "us-east-1".into(),
        start: 6 * 3600 - 1800,
        duration: 7200,
        error_ratio: 1.0,
    }]
}

/// Waits for the runbook to finish and the policy to latch; returns `/api/v1/incidents`.
fn failed_over(run: &Run) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = curl(&format!("{}/api/v1/incidents", run.base));
        if code == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            // The runbook finished and the policy took the result (next evaluation).
            if v["incidents"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["status"] == "done"))
                && v["policy"][0]["phase"]["phase"] == "failed_over"
            {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no finished incident: {}",
            std::fs::read_to_string(run._dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn outage_in_the_active_region_runs_the_runbook() {
    let run = start(primary_outage());
    let incidents = failed_over(&run);
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

    // The post-incident report of the real journal, from the CLI (read-only beside the
    // running engine) and from the engine's own endpoint.
    let id = inc["id"].as_u64().unwrap().to_string();
    let cli = common::run(
        sloguard()
            .args(["report", &id, "--config"])
            .arg(run._dir.path().join("sloguard.yaml")),
    );
    assert!(cli.status.success(), "{}", text(&cli));
    let md = String::from_utf8(cli.stdout).unwrap();
    assert!(
        !md.contains("GameDay drill"),
        "a real incident is not a drill:\n{md}"
    );
    assert!(
        md.contains("**decision**: fail over us-east-1 → eu-west-1"),
        "{md}"
    );
    assert!(md.contains("**first burn"), "{md}");
    for step in inc["steps"].as_array().unwrap() {
        let step = step["name"].as_str().unwrap();
        assert!(
            md.contains(&format!("`{step}`")),
            "step {step} in the timeline:\n{md}"
        );
    }
    let burning = md
        .lines()
        .find(|l| l.starts_with("| api/availability | us-east-1 | complete |"))
        .unwrap_or_else(|| panic!("no evidence row:\n{md}"));
    assert!(burning.contains("| page"), "{burning}");
    assert!(
        md.lines()
            .any(|l| l.starts_with("| healthy target | yes |")),
        "{md}"
    );
    let (code, page) = curl(&format!("{}/api/v1/incidents/{id}/report", run.base));
    assert_eq!(code, 200);
    assert!(
        page.starts_with("<!doctype html>") && page.contains("<h2>Guards checked</h2>"),
        "{page}"
    );
    let (code, served_md) = curl(&format!(
        "{}/api/v1/incidents/{id}/report?format=md",
        run.base
    ));
    assert_eq!(code, 200);
    assert!(
        served_md.contains("**decision**: fail over us-east-1 → eu-west-1"),
        "{served_md}"
    );
    assert_eq!(
        curl(&format!("{}/api/v1/incidents/99/report", run.base)).0,
        404
    );
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

#[test]
fn a_restart_after_a_failover_keeps_it_in_place() {
    let mut run = start(primary_outage());
    failed_over(&run);
    // kill -9: no shutdown path runs.
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let dir = run._dir.path().to_path_buf();
    run.child = spawn_serve(&dir, &run.moto, "serve-2.log");
    // The very first answer of the restarted engine already carries the raised signal:
    // Route 53's health checks never see traffic allowed back to the failing region.
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let (code, _) = curl(&format!("{}/v1/signal/web/eu-west-1", run.base));
        if code != 0 {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted engine never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(first, 200, "signal lowered by the restart");
    assert_eq!(
        curl(&format!("{}/v1/signal/web/us-east-1", run.base)).0,
        503
    );
    while curl(&format!("{}/readyz", run.base)).0 != 200 {
        assert!(Instant::now() < deadline, "not ready after restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Several evaluations (1 s interval) with us-east-1 still failing.
    std::thread::sleep(Duration::from_secs(4));
    let (_, body) = curl(&format!("{}/api/v1/incidents", run.base));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["incidents"].as_array().unwrap().len(),
        1,
        "a second incident: {v}"
    );
    let p = &v["policy"][0];
    assert_eq!(
        p["phase"]["phase"], "failed_over",
        "the latch was re-armed: {v}"
    );
    assert_eq!(p["active"], "eu-west-1", "{v}");
    assert!(
        p["last_failover"].as_i64().is_some(),
        "the cooldown start was lost: {v}"
    );
    let (_, status) = curl(&format!("{}/api/v1/status", run.base));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["active_region"], "eu-west-1", "{status}");
    let (_, metrics) = curl(&format!("{}/metrics", run.base));
    assert!(
        metrics.contains(
            "sloguard_active_region{domain=\"web\",region=\"eu-west-1\",state=\"active\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("sloguard_journal_ok 1"), "{metrics}");
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)]
    );
}

#[test]
fn a_corrupt_journal_turns_automation_off() {
    let run = start_with(primary_outage(), |dir| {
        std::fs::write(dir.join("journal.db"), vec![0x5a; 8192]).unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let (code, body) = loop {
        let (code, body) = curl(&format!("{}/readyz", run.base));
        if code != 0 && !body.contains("backfilling") {
            break (code, body);
        }
        assert!(Instant::now() < deadline, "never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("automation off") && body.contains("journal.db"),
        "{body}"
    );
    // The outage burns for several evaluations; nothing acts.
    std::thread::sleep(Duration::from_secs(4));
    let (_, metrics) = curl(&format!("{}/metrics", run.base));
    assert!(metrics.contains("sloguard_journal_ok 0"), "{metrics}");
    assert_eq!(
        curl(&format!("{}/v1/signal/web/eu-west-1", run.base)).0,
        503
    );
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
    let logs = std::fs::read_to_string(run._dir.path().join("serve.log")).unwrap();
    assert!(
        logs.contains("journal.db") && logs.contains("automation is OFF"),
        "{logs}"
    );
    assert!(
        logs.contains("automation is off"),
        "the refusal is said: {logs}"
    );
}

#[test]
fn a_standby_spending_budget_is_not_a_target() {
    // The standby's last 5 minutes run at 2% errors (5m burn 20x at 99.9%, 1h 1.7x): no
    // tier holds there yet, but it is not healthy, so the burning primary stays put.
    let mut outages = primary_outage();
    outages.push(Outage {
        region: "eu-west-1".into(),
        start: 6 * 3600 - 300,
        duration: 3600,
        error_ratio: 0.02,
    });
    let run = start(outages);
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{}/readyz", run.base)).0 != 200 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(4));
    let (_, body) = curl(&format!("{}/api/v1/incidents", run.base));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["incidents"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
    let logs = std::fs::read_to_string(run._dir.path().join("serve.log")).unwrap();
    assert!(
        logs.contains("short windows burn at"),
        "the refusal names the guard: {logs}"
    );
}

#[test]
fn a_journal_that_can_only_be_read_still_keeps_the_failover_in_place() {
    let mut run = start(primary_outage());
    failed_over(&run);
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let dir = run._dir.path().to_path_buf();
    // Another holder of the journal's lock: the restarted engine cannot write it (as
    // with a read-only or full disk) but can read it.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("journal.db.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    run.child = spawn_serve(&dir, &run.moto, "serve-ro.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let (code, _) = curl(&format!("{}/v1/signal/web/eu-west-1", run.base));
        if code != 0 {
            break code;
        }
        assert!(Instant::now() < deadline, "never answered");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        first, 200,
        "the raised signal was restored from the read-only journal"
    );
    let (code, body) = curl(&format!("{}/readyz", run.base));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("in use by another sloguard"), "{body}");
    while curl(&format!("{}/api/v1/status", run.base)).0 != 200 {
        assert!(Instant::now() < deadline, "no status");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, status) = curl(&format!("{}/api/v1/status", run.base));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["active_region"], "eu-west-1", "{status}");
    assert_eq!(
        weights(&run),
        vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)]
    );
    drop(lock);
}
