//! `sloguard serve` against a real Prometheus holding the last 6 hours of two-region
//! counters: /healthz, /readyz after the backfill, /api/v1/status, /metrics, JSON logs,
//! and a clean exit on SIGTERM. And the engine against a source that only returns partial
//! data: every stream is degraded, no region is called burning or healthy.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim::{self, CounterScenario, Outage, RegionTraffic};

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

#[test]
fn serve_backfills_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now - 6 * 3600) / 30 * 30;
    let scenario = CounterScenario {
        start,
        // The last sample at most 60 s old: two samples stay inside the 2m lookback for
        // the whole test (an older end made `rate` see one sample, i.e. no data).
        duration: 6 * 3600 - 30,
        interval: 30,
        job: "api".into(),
        regions: vec![
            RegionTraffic {
                region: "us-east-1".into(),
                rps: 50.0,
                error_ratio: 0.0,
            },
            RegionTraffic {
                region: "eu-west-1".into(),
                rps: 50.0,
                error_ratio: 0.0,
            },
        ],
        outages: vec![Outage {
            region: "us-east-1".into(),
            start: 6 * 3600 - 1800,
            duration: 3600,
            error_ratio: 1.0,
        }],
    };
    let prom = Prometheus::start(dir.path(), &sim::openmetrics(&scenario), &[]);
    let port = free_port();
    let config = dir.path().join("sloguard.yaml");
    std::fs::write(
        &config,
        format!("specs: specs\nsource: {{thanos: {{url: {}}}}}\nevaluation: {{interval: 2s}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {{listen: 127.0.0.1:{port}}}\n", prom.url),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut child = sloguard()
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{base}/readyz")).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready: {}",
            std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(curl(&format!("{base}/healthz")).0, 200);
    // Wait for two steady-state evaluations.
    std::thread::sleep(Duration::from_secs(5));
    let (code, body) = curl(&format!("{base}/api/v1/status"));
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let regions = status["regions"].as_array().unwrap();
    let state = |r: &str| {
        regions.iter().find(|x| x["region"] == r).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("us-east-1"), "burning", "{status}");
    assert_eq!(state("eu-west-1"), "healthy", "{status}");
    assert!(status["query_latency"]["count"].as_u64().unwrap() > 2);
    assert!(status["query_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(
        status["evaluation_latency"]["count"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert_eq!(
        status["automation"],
        serde_json::json!({"on": false, "reason": "failover is not configured"}),
        "{status}"
    );
    let (code, metrics) = curl(&format!("{base}/metrics"));
    assert_eq!(code, 200);
    for want in [
        "sloguard_error_ratio{service=\"api\",slo=\"availability\",region=\"us-east-1\",window=\"5m\"} 1.0",
        "sloguard_burn_rate{",
        "sloguard_tier_holds{",
        "sloguard_region_state{region=\"us-east-1\",state=\"burning\"} 1",
        "sloguard_active_region{domain=\"\",region=\"us-east-1\",state=\"active\"} 1",
        "sloguard_query_duration_seconds_bucket",
        "sloguard_evaluation_duration_seconds_count",
    ] {
        assert!(metrics.contains(want), "{want} missing from\n{metrics}");
    }
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
    let logs = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "JSON logs only:\n{logs}"
    );
    assert!(
        logs.contains("alert transition") || logs.contains("backfill done"),
        "{logs}"
    );
    drop(prom);
}

#[test]
fn partial_data_never_reads_as_good_or_bad() {
    // A source that answers every query with a 200 carrying partial-data warnings.
    let port = free_port();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            use std::io::{Read, Write};
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"region":"us-east-1"},"values":[[1700000000,"5"]]}]},"warnings":["partial response: store 10.0.0.1 unavailable"]}"#;
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let config = dir.path().join("sloguard.yaml");
    std::fs::write(&config, format!("specs: specs\nsource: {{thanos: {{url: http://127.0.0.1:{port}}}}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\n")).unwrap();
    let o = run(sloguard()
        .args(["eval", "--output", "json", "--at", "1700000000", "--config"])
        .arg(&config));
    let out: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(
        o.status.code(),
        Some(2),
        "every query degraded is an error exit: {}",
        text(&o)
    );
    for r in out["regions"].as_array().unwrap() {
        assert_eq!(r["state"], "degraded", "{r}");
    }
    let streams = out["streams"].as_array().unwrap();
    assert_eq!(
        streams.len(),
        2,
        "both configured regions are reported: {out}"
    );
    assert!(
        streams
            .iter()
            .all(|s| s["data"]["status"] == "degraded" && s["page_firing"] == false),
        "{out}"
    );
    assert!(
        streams[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("partial"),
        "{out}"
    );
}

/// Runs `sloguard <args> --config <config>` (up to 30 s), checking all along that nothing
/// listens on `port`; (exit code, output).
fn refused_before_listening(args: &[&str], config: &std::path::Path, port: u16) -> (i32, String) {
    let dir = config.parent().unwrap();
    let (out, err) = (dir.join("out.log"), dir.join("err.log"));
    let mut child = sloguard()
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{args:?} listened on {port} with a refused config"
        );
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not exit with a refused config");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!(
        "{}{}",
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap()
    );
    (status.code().unwrap_or(-1), text)
}

#[test]
fn serve_refuses_an_ambiguous_config_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let port = free_port();
    let head = format!("specs: specs\nsource: {{thanos: {{url: 'http://127.0.0.1:9'}}}}\nserver: {{listen: 127.0.0.1:{port}}}\n");
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        format!("{head}regions: {{active: us-east-1, standby: [eu-west-1, eu-west-1]}}\nfailover:\n  journal: journal.db\n  policy: {{consecutive: 0}}\n  domains:\n    - name: web\n      runbook:\n        - {{name: signal, kind: route53_signal}}\n        - {{name: signal, kind: route53_signal}}\n    - name: web\n      runbook: [{{kind: route53_signal}}]\n"),
    )
    .unwrap();
    let (code, out) = refused_before_listening(&["serve"], &config, port);
    assert_ne!(code, 0, "{out}");
    for want in [
        "bad.yaml: failover.domains[1].name: duplicate domain name \"web\"",
        "bad.yaml: regions.standby[1]: duplicate standby region \"eu-west-1\"",
        "bad.yaml: failover.domains[0].runbook[1].name: duplicate step name \"signal\" (also runbook[0])",
        "bad.yaml: failover.policy.consecutive: 0 must be at least 1",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    assert!(!dir.path().join("journal.db").exists(), "no journal opened");

    // A domain gated by an SLO no spec defines: refused by every command that reads the
    // config with its specs, listing the known SLOs.
    std::fs::write(
        &config,
        format!("{head}regions: {{active: us-east-1, standby: [eu-west-1]}}\nfailover:\n  journal: journal.db\n  domains:\n    - name: web\n      slos: [api/latency]\n      runbook: [{{kind: route53_signal}}]\n"),
    )
    .unwrap();
    let want = "bad.yaml: failover.domains[0].slos[0]: unknown SLO \"api/latency\" (known, as service/slo: api/availability)";
    let scenario = repo().join("tests/gameday/primary-outage.yaml");
    let scenario = scenario.to_str().unwrap();
    for args in [
        &["serve"][..],
        &["eval", "--at", "1700000000"],
        &["playbook"],
        &["report", "1"],
        // The scenario brings its own specs: its SLOs are the known ones.
        &["gameday", "--scenario", scenario],
    ] {
        let (code, out) = refused_before_listening(args, &config, port);
        assert_ne!(code, 0, "{args:?}: {out}");
        let want = if args[0] == "gameday" {
            "failover.domains[0].slos[0]: unknown SLO \"api/latency\" (known, as service/slo: checkout/"
        } else {
            want
        };
        assert!(out.contains(want), "{args:?}: {want} missing from:\n{out}");
    }
}
