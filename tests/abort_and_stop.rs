//! The world and the engine's word agree after a runbook stops part-way (issue 19.3-5),
//! against real `sloguard serve` processes and a real Prometheus:
//! - an abort after the signal step leaves traffic on the target: status, metrics and the
//!   policy name the target and say the failover is incomplete until an operator
//!   resolves it (here: rolls it back); with `on_abort: roll_back` the engine lowers what
//!   it raised and the old region stays active;
//! - SIGTERM during a slow exec step lets it finish (started once, finished once),
//!   journals it, and the restart runs the rest without repeating it;
//! - after a kill -9, a completed exec step whose `check` no longer holds runs again, and
//!   the step the kill cut is journaled as interrupted.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;
const TOKEN: &str = "op-secret-token";

fn serve(dir: &Path, config: &Path, log: &str) -> Child {
    sloguard()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).unwrap())
        .spawn()
        .unwrap()
}

/// A Prometheus holding an ongoing outage of us-east-1, specs, and a config whose
/// failover domain `web` runs `runbook` (YAML list items, indented by 8).
struct World {
    dir: tempfile::TempDir,
    _prom: Prometheus,
    port: u16,
    config: std::path::PathBuf,
}

fn world(runbook: &str, domain_extra: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_specs(
        &d.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let scenario = live_two_regions(vec![ongoing_outage("us-east-1")]);
    let prom = Prometheus::start(d, &sim::openmetrics(&scenario), &[]);
    std::fs::write(d.join("token"), TOKEN).unwrap();
    let port = free_port();
    let config = d.join("sloguard.yaml");
    std::fs::write(
        &config,
        format!(
            r#"specs: specs
source: {{thanos: {{url: {}}}}}
evaluation: {{interval: 1s}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server: {{listen: 127.0.0.1:{port}, api_token_file: token}}
failover:
  journal: journal.db
  domains:
    - name: web
{domain_extra}      runbook:
{runbook}"#,
            prom.url,
        ),
    )
    .unwrap();
    World {
        dir,
        _prom: prom,
        port,
        config,
    }
}

impl World {
    fn d(&self) -> &Path {
        self.dir.path()
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn status(&self) -> serde_json::Value {
        let (code, body) = curl(&self.url("/api/v1/status"));
        if code != 200 {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&body).unwrap_or_default()
    }
    fn incidents(&self) -> serde_json::Value {
        let (_, body) = curl(&self.url("/api/v1/incidents"));
        serde_json::from_str(&body).unwrap_or_default()
    }
    fn phase(&self) -> String {
        self.incidents()["policy"][0]["phase"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn signal(&self, region: &str) -> u16 {
        curl(&self.url(&format!("/v1/signal/web/{region}"))).0
    }
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.d().join(name)).unwrap_or_default()
    }
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

fn post(url: &str, body: &str) -> (u16, String) {
    post_json(url, TOKEN, body)
}

const SIGNAL_THEN_ABORT: &str = "        - {name: signal, kind: route53_signal}\n        - {name: dr, kind: exec, command: [sh, -c, 'exit 3'], on_failure: abort}\n";

#[test]
fn an_abort_after_the_signal_step_leaves_status_on_the_target_until_an_operator_resolves_it() {
    let w = world(SIGNAL_THEN_ABORT, "");
    let engine = serve(w.d(), &w.config, "serve.log");
    wait_for("the incomplete failover", 90, || {
        w.phase() == "incomplete_failover"
    });
    // Traffic moved (the signal for the target answers 200): everything says so.
    assert_eq!(w.signal("eu-west-1"), 200);
    assert_eq!(w.status()["active_region"], "eu-west-1", "{}", w.status());
    let (_, metrics) = curl(&w.url("/metrics"));
    assert!(
        metrics.contains("sloguard_active_region{domain=\"web\",region=\"eu-west-1\"} 1")
            || metrics
                .lines()
                .any(|l| l.starts_with("sloguard_active_region")
                    && l.contains("eu-west-1")
                    && l.ends_with(" 1")),
        "{metrics}"
    );
    // Only an operator leaves the phase: a re-arm does not.
    let (code, body) = post(
        &w.url("/api/v1/rearm"),
        r#"{"domain":"web","reason":"try to leave"}"#,
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(w.phase(), "incomplete_failover");
    // Roll back: the old region is active again and its signal is the raised one.
    let (code, body) = post(
        &w.url("/api/v1/incidents/1/resolve"),
        r#"{"action":"roll_back","reason":"DR script broken; go back"}"#,
    );
    assert_eq!(code, 200, "{body}");
    wait_for("the roll back", 30, || w.phase() == "failed_over");
    assert_eq!(w.signal("eu-west-1"), 503);
    assert_eq!(w.signal("us-east-1"), 200);
    assert_eq!(w.status()["active_region"], "us-east-1");
    stop(engine);
    let j = sloguard::journal::Journal::open_read_only(&w.d().join("journal.db")).unwrap();
    let inc = &j.incidents(10).unwrap()[0];
    assert_eq!(inc.status, "rolled_back", "{inc:?}");
    assert!(
        inc.steps
            .iter()
            .any(|s| s.name == "signal" && s.status == "rolled_back"),
        "{inc:?}"
    );
}

#[test]
fn on_abort_roll_back_lowers_what_it_raised() {
    let w = world(SIGNAL_THEN_ABORT, "      on_abort: roll_back\n");
    let engine = serve(w.d(), &w.config, "serve.log");
    wait_for("the failed failover", 90, || w.phase() == "failed_over");
    assert_eq!(w.signal("eu-west-1"), 503);
    assert_eq!(w.signal("us-east-1"), 200);
    assert_eq!(w.status()["active_region"], "us-east-1");
    stop(engine);
}

#[test]
fn sigterm_lets_a_running_step_finish_and_the_restart_runs_the_rest() {
    let log = "STEPLOG";
    let runbook = format!(
        "        - {{name: slow, kind: exec, timeout: 60s, command: [sh, -c, 'echo start >> {log}; sleep 3; echo end >> {log}']}}\n        - {{name: after, kind: exec, command: [sh, -c, 'echo after >> {log}']}}\n"
    );
    let w = world(&runbook, "");
    let steps = w.d().join(log);
    let config = std::fs::read_to_string(&w.config)
        .unwrap()
        .replace(log, &steps.display().to_string());
    std::fs::write(&w.config, config).unwrap();
    let read = || std::fs::read_to_string(&steps).unwrap_or_default();
    let first = serve(w.d(), &w.config, "serve-1.log");
    wait_for("the slow step to start", 90, || read().contains("start"));
    let sent = Instant::now();
    Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    let mut first = first;
    let status = first.wait().unwrap();
    assert!(status.success() || status.code().is_some(), "{status:?}");
    assert!(
        sent.elapsed() >= Duration::from_millis(1500),
        "the process waited for the step ({:?})",
        sent.elapsed()
    );
    assert_eq!(
        read().lines().collect::<Vec<_>>(),
        ["start", "end"],
        "the step finished once; nothing after it started"
    );
    {
        let j = sloguard::journal::Journal::open_read_only(&w.d().join("journal.db")).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 1, "the incident stays open to resume");
        assert!(
            open[0]
                .steps
                .iter()
                .any(|s| s.name == "slow" && s.status == "done"),
            "the finished step is journaled: {:?}",
            open[0].steps
        );
    }
    let second = serve(w.d(), &w.config, "serve-2.log");
    wait_for("the rest of the runbook", 90, || read().contains("after"));
    wait_for("the incident to close", 30, || {
        sloguard::journal::Journal::open_read_only(&w.d().join("journal.db"))
            .unwrap()
            .unfinished()
            .unwrap()
            .is_empty()
    });
    stop(second);
    assert_eq!(
        read().lines().collect::<Vec<_>>(),
        ["start", "end", "after"],
        "{}",
        w.log("serve-2.log")
    );
}

#[test]
fn after_a_kill_an_exec_step_whose_check_no_longer_holds_runs_again() {
    let runbook = "        - {name: mark, kind: exec, command: [sh, -c, 'touch MARKER; echo mark >> STEPLOG'], check: [test, -f, MARKER]}\n        - {name: wait, kind: exec, timeout: 120s, command: [sh, -c, 'echo wait-start >> STEPLOG; while [ ! -f GATE ]; do sleep 0.05; done; echo wait-end >> STEPLOG']}\n";
    let w = world(runbook, "");
    let d = w.d().to_path_buf();
    let (steps, marker, gate) = (d.join("STEPLOG"), d.join("MARKER"), d.join("GATE"));
    let config = std::fs::read_to_string(&w.config)
        .unwrap()
        .replace("STEPLOG", &steps.display().to_string())
        .replace("MARKER", &marker.display().to_string())
        .replace("GATE", &gate.display().to_string());
    std::fs::write(&w.config, config).unwrap();
    let read = || std::fs::read_to_string(&steps).unwrap_or_default();
    let mut first = serve(&d, &w.config, "serve-1.log");
    wait_for("the blocking step", 90, || read().contains("wait-start"));
    Command::new("kill")
        .args(["-KILL", &first.id().to_string()])
        .status()
        .unwrap();
    let _ = first.wait();
    // The effect of the completed step is undone before the restart.
    std::fs::remove_file(&marker).unwrap();
    std::fs::write(&gate, "").unwrap();
    let second = serve(&d, &w.config, "serve-2.log");
    wait_for("the resumed runbook to finish", 90, || {
        read().contains("wait-end")
    });
    wait_for("the incident to close", 30, || {
        sloguard::journal::Journal::open_read_only(&d.join("journal.db"))
            .unwrap()
            .unfinished()
            .unwrap()
            .is_empty()
    });
    stop(second);
    let lines: Vec<String> = read().lines().map(str::to_string).collect();
    assert_eq!(
        lines.iter().filter(|l| *l == "mark").count(),
        2,
        "the undone step ran again: {lines:?}"
    );
    assert!(marker.exists());
    let j = sloguard::journal::Journal::open_read_only(&d.join("journal.db")).unwrap();
    let inc = &j.incidents(10).unwrap()[0];
    assert!(
        inc.steps
            .iter()
            .any(|s| s.name == "wait" && s.status == "interrupted"),
        "the cut step is journaled as interrupted: {:?}",
        inc.steps
    );
}
