//! Shared helpers for integration tests: the sloguard binary, external tools (a missing
//! tool fails the test with a clear message, never skips it), and temp spec directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sloguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sloguard"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of an external tool; panics (fails the test) when it is not installed.
pub fn tool(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .expect("sh runs");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "required tool `{name}` is not installed: run the README's test command (scripts/test.sh), which installs it"
    );
    PathBuf::from(path)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command starts")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn write_specs(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

/// A minimal valid Sloth spec with the given SLI queries.
pub fn sloth_spec(service: &str, error_query: &str, total_query: &str) -> String {
    format!(
        r#"version: "prometheus/v1"
service: "{service}"
labels:
  owner: team
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: '{error_query}'
        total_query: '{total_query}'
    alerting:
      name: {service}Burn
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        labels:
          severity: warning
"#
    )
}
pub mod moto;
pub mod pipeline;
pub mod prom;

/// GET a URL with curl: (status, body); status 0 when nothing answered.
pub fn curl(url: &str) -> (u16, String) {
    let o = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A JSON POST with a bearer token: (status, body).
pub fn post_json(url: &str, token: &str, body: &str) -> (u16, String) {
    let o = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", &format!("authorization: Bearer {token}")])
        .args(["-H", "content-type: application/json", "--data", body, url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Waits (polling) until `f` holds, at most `secs`; returns how long it took.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) -> std::time::Duration {
    let started = std::time::Instant::now();
    while !f() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    started.elapsed()
}

/// The last 6 hours (ending now) of two-region counters at 50 rps with the given outages
/// (offsets from the start; 6h − 1800 s is "30 minutes ago").
pub fn live_two_regions(outages: Vec<sloguard::sim::Outage>) -> sloguard::sim::CounterScenario {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    sloguard::sim::CounterScenario {
        start: (now - 6 * 3600) / 30 * 30,
        duration: 6 * 3600 - 30,
        interval: 30,
        job: "api".into(),
        regions: ["us-east-1", "eu-west-1"]
            .iter()
            .map(|r| sloguard::sim::RegionTraffic {
                region: r.to_string(),
                rps: 50.0,
                error_ratio: 0.0,
            })
            .collect(),
        outages,
    }
}

/// An outage of `region` that began 30 minutes before the end of [`live_two_regions`].
pub fn ongoing_outage(region: &str) -> sloguard::sim::Outage {
    sloguard::sim::Outage {
        region: region.into(),
        start: 6 * 3600 - 1800,
        duration: 7200,
        error_ratio: 1.0,
    }
}

/// The shipped primary-outage GameDay, prepared as a drill at the fixed drill start.
pub fn primary_outage_drill() -> (
    sloguard::sim::gameday::Scenario,
    sloguard::sim::gameday::Drill,
    Vec<sloguard::slo::Service>,
) {
    let path = repo().join("tests/gameday/primary-outage.yaml");
    sloguard::app::drill::prepare(Some(&path), None, sloguard::app::drill::DRILL_START)
        .expect("scenario prepares")
}

/// The `failover:` section of the end-to-end configs: domain `web` gating
/// `api/availability`, auto mode, N = 2, and a runbook that pages over SNS, raises the
/// signal and flips the weighted `app.example.com` records in `zone_id`.
pub fn web_failover_section(topic: &str, zone_id: &str) -> String {
    format!(
        r#"failover:
  journal: journal.db
  policy: {{mode: auto, consecutive: 2, cooldown: 1h, quorum: 1}}
  domains:
    - name: web
      slos: [api/availability]
      runbook:
        - {{name: page, kind: sns, topic_arn: '{topic}'}}
        - {{name: signal, kind: route53_signal}}
        - {{name: dns, kind: route53_records, zone_id: '{zone_id}', record_name: app.example.com, type: A, ttl: 60, records: {{us-east-1: 10.0.0.1, eu-west-1: 10.1.0.1}}}}
"#
    )
}
