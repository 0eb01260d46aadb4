//! A `sloguard serve` process killed (SIGKILL) while a runbook step runs: on restart the
//! journal shows the incident, completed steps are not repeated, and the rest finishes.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

fn serve(dir: &std::path::Path, config: &std::path::Path, log: &str) -> Child {
    sloguard()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).unwrap())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killed_serve_resumes_the_runbook_without_repeating_steps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_specs(
        &d.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let scenario = live_two_regions(vec![ongoing_outage("us-east-1")]);
    let prom = Prometheus::start(d, &sim::openmetrics(&scenario), &[]);
    let (log, gate) = (d.join("steps.log"), d.join("gate"));
    let port = free_port();
    let config = d.join("sloguard.yaml");
    std::fs::write(
        &config,
        format!(
            r#"specs: specs
source: {{thanos: {{url: {}}}}}
evaluation: {{interval: 1s}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server: {{listen: 127.0.0.1:{port}}}
failover:
  journal: journal.db
  domains:
    - name: web
      runbook:
        - {{name: one, kind: exec, command: [sh, -c, 'echo one >> {log}']}}
        - {{name: two, kind: exec, timeout: 120s, command: [sh, -c, 'echo two-start >> {log}; while [ ! -f {gate} ]; do sleep 0.05; done; echo two-end >> {log}']}}
        - {{name: three, kind: exec, command: [sh, -c, 'echo three >> {log}']}}
"#,
            prom.url,
            log = log.display(),
            gate = gate.display()
        ),
    )
    .unwrap();
    let mut first = serve(d, &config, "serve-1.log");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("step two to start", || read().contains("two-start"));
    Command::new("kill")
        .args(["-KILL", &first.id().to_string()])
        .status()
        .unwrap();
    let _ = first.wait();
    // The killed process's step-two child may outlive it; it must not finish the step.
    let _ = Command::new("pkill")
        .args(["-f", &gate.display().to_string()])
        .status();
    {
        let j = sloguard::journal::Journal::open_read_only(&d.join("journal.db")).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 1, "the journal shows the interrupted incident");
        assert!(open[0]
            .steps
            .iter()
            .any(|s| s.name == "one" && s.status == "done"));
    }
    std::fs::write(&gate, "").unwrap();
    let mut second = serve(d, &config, "serve-2.log");
    wait_for("the resumed runbook to finish", || read().contains("three"));
    let j = || sloguard::journal::Journal::open_read_only(&d.join("journal.db")).unwrap();
    wait_for("the incident to close", || {
        j().unfinished().unwrap().is_empty()
    });
    let _ = second.kill();
    let _ = second.wait();
    let lines: Vec<String> = read().lines().map(str::to_string).collect();
    assert_eq!(
        lines.iter().filter(|l| *l == "one").count(),
        1,
        "step one not repeated: {lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| *l == "three").count(),
        1,
        "{lines:?}"
    );
    assert!(lines.contains(&"two-end".to_string()), "{lines:?}");
    let incidents = j().incidents(10).unwrap();
    assert_eq!(
        incidents.len(),
        1,
        "resuming did not open a second incident: {incidents:?}"
    );
    assert_eq!(incidents[0].status, "done");
    let logs = std::fs::read_to_string(d.join("serve-2.log")).unwrap();
    assert!(logs.contains("resuming an unfinished runbook"), "{logs}");
}

/// Killed at every step boundary k (the fault hook aborts the process as `kill -9`
/// would, before step k; k = 4 is after the last step, before the incident closes), then
/// restarted: the runbook completes once, every effect is present, no step's effect is
/// repeated (one SNS message, each exec line once) and there is one incident.
#[test]
fn killed_at_every_step_boundary_completes_once() {
    use common::moto::Moto;
    let dir = tempfile::tempdir().unwrap();
    let d0 = dir.path();
    write_specs(
        &d0.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let scenario = live_two_regions(vec![ongoing_outage("us-east-1")]);
    let prom = Prometheus::start(d0, &sim::openmetrics(&scenario), &[]);
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for k in 0..=4 {
        let d = d0.join(format!("k{k}"));
        std::fs::create_dir_all(&d).unwrap();
        let (zone_id, topic) = rt.block_on(moto.weighted_zone_and_topic());
        // The topic is shared by name across iterations: count this iteration's messages.
        let sent = |topic: &str| -> usize {
            moto.data()["sns"]["Topic"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["arn"].as_str() == Some(topic))
                .map(|t| t["sent_notifications"].as_array().map_or(0, Vec::len))
                .sum()
        };
        let sent_before = sent(&topic);
        let log = d.join("steps.log");
        let port = free_port();
        let config = d.join("sloguard.yaml");
        std::fs::write(
            &config,
            format!(
                r#"specs: {specs}
source: {{thanos: {{url: {url}}}}}
evaluation: {{interval: 1s}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server: {{listen: 127.0.0.1:{port}}}
failover:
  journal: journal.db
  domains:
    - name: web
      runbook:
        - {{name: page, kind: sns, topic_arn: '{topic}'}}
        - {{name: one, kind: exec, command: [sh, -c, 'echo one >> {log}']}}
        - {{name: dns, kind: route53_records, zone_id: '{zone_id}', record_name: app.example.com, type: A, ttl: 60, records: {{us-east-1: 10.0.0.1, eu-west-1: 10.1.0.1}}}}
        - {{name: three, kind: exec, command: [sh, -c, 'echo three >> {log}']}}
"#,
                specs = d0.join("specs").display(),
                url = prom.url,
                log = log.display(),
            ),
        )
        .unwrap();
        let spawn = |name: &str, fault: Option<usize>| {
            let mut c = sloguard();
            c.args(["serve", "--config"])
                .arg(&config)
                .envs(moto.aws_env())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join(name)).unwrap());
            if let Some(k) = fault {
                c.env("SLOGUARD_FAULT_ABORT_AT_STEP", k.to_string());
            }
            c.spawn().unwrap()
        };
        let mut first = spawn("serve-1.log", Some(k));
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = first.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "k={k}: the fault hook never fired: {}",
                std::fs::read_to_string(d.join("serve-1.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success(), "k={k}: aborted, not a clean exit");
        let mut second = spawn("serve-2.log", None);
        let j = || sloguard::journal::Journal::open_read_only(&d.join("journal.db")).unwrap();
        wait_for("the resumed runbook to close", || {
            let inc = j().incidents(10).unwrap();
            !inc.is_empty() && inc.iter().all(|i| i.status != "running")
        });
        let _ = second.kill();
        let _ = second.wait();
        let incidents = j().incidents(10).unwrap();
        assert_eq!(incidents.len(), 1, "k={k}: {incidents:?}");
        assert_eq!(incidents[0].status, "done", "k={k}: {incidents:?}");
        let lines = std::fs::read_to_string(&log).unwrap_or_default();
        for want in ["one", "three"] {
            assert_eq!(
                lines.lines().filter(|l| *l == want).count(),
                1,
                "k={k}: {want} must run exactly once: {lines:?}"
            );
        }
        assert_eq!(
            moto.weights(&zone_id),
            vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)],
            "k={k}"
        );
        assert_eq!(
            sent(&topic) - sent_before,
            1,
            "k={k}: the page is sent exactly once"
        );
    }
}
