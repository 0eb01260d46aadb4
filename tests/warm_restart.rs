//! Warm restart (issue 21.5) with a real `sloguard serve` and Prometheus: the windows
//! persist beside the journal; after a kill -9 the restart restores them, fetches only
//! the span since the save, is ready at once, and its burn rates equal a cold
//! backfill's (`eval` at the same time) within the edge bound. A corrupt file and a
//! changed spec start cold, named in the log.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

fn serve(d: &Path, log: &str) -> Child {
    sloguard()
        .args(["serve", "--config"])
        .arg(d.join("sloguard.yaml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join(log)).unwrap())
        .spawn()
        .unwrap()
}

fn ready(port: u16) -> bool {
    curl(&format!("http://127.0.0.1:{port}/readyz")).0 == 200
}

fn kill9(mut c: Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &c.id().to_string()])
        .status();
    let _ = c.wait();
}

#[test]
fn a_warm_restart_after_kill_9_equals_a_cold_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_specs(
        &d.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let prom = Prometheus::start(
        d,
        &sim::openmetrics(&live_two_regions(vec![ongoing_outage("us-east-1")])),
        &[],
    );
    let port = free_port();
    std::fs::write(
        d.join("sloguard.yaml"),
        format!(
            "specs: specs\nsource: {{thanos: {{url: {}}}}}\nevaluation: {{interval: 1s}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {{listen: 127.0.0.1:{port}}}\nfailover:\n  journal: journal.db\n  policy: {{mode: dry-run}}\n  domains:\n    - name: web\n      runbook:\n        - {{name: signal, kind: route53_signal}}\n",
            prom.url
        ),
    )
    .unwrap();
    let windows = d.join("journal.db.windows");
    let first = serve(d, "serve-1.log");
    wait_for("the first start", 90, || ready(port));
    wait_for("the windows to be saved", 60, || windows.exists());
    std::thread::sleep(Duration::from_secs(2));
    kill9(first);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&windows).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let second = serve(d, "serve-2.log");
    let took = wait_for("the warm restart", 30, || ready(port));
    let log = std::fs::read_to_string(d.join("serve-2.log")).unwrap();
    assert!(
        log.contains("warm restart: windows restored")
            && log.contains("restored=1")
            && log.contains("cold=0"),
        "{log}"
    );
    assert!(took < Duration::from_secs(10), "ready after {took:?}");
    std::thread::sleep(Duration::from_secs(3));
    let (_, body) = curl(&format!("http://127.0.0.1:{port}/api/v1/status"));
    let warm: serde_json::Value = serde_json::from_str(&body).unwrap();
    kill9(second);
    // A cold backfill at the same time.
    let at = warm["at"].as_str().unwrap().to_string();
    let o = run(sloguard()
        .args(["eval", "--config"])
        .arg(d.join("sloguard.yaml"))
        .args(["--at", &at, "--output", "json"]));
    let cold: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let rows = |v: &serde_json::Value| -> std::collections::BTreeMap<String, (f64, f64)> {
        v["final"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| ["1h", "6h", "1d", "30d"].contains(&r["window"].as_str().unwrap_or("")))
            .map(|r| {
                (
                    format!("{}/{}", r["region"], r["window"]),
                    (
                        r["events"].as_f64().unwrap(),
                        r["error_ratio"].as_f64().unwrap_or(0.0),
                    ),
                )
            })
            .collect()
    };
    let (w, c) = (rows(&warm), rows(&cold));
    assert_eq!(w.len(), c.len(), "{w:?} vs {c:?}");
    for (k, (ce, cr)) in &c {
        let (we, wr) = w[k];
        // The edge bound: a bucket of the fine step (1 minute of the 1 h window, 1.7%)
        // plus the steady lookback of the evaluations since the restart.
        assert!(
            (we - ce).abs() <= 0.04 * ce + 500.0,
            "{k} events: warm {we} vs cold {ce}"
        );
        assert!(
            (wr - cr).abs() <= 0.02 * cr + 0.002,
            "{k} error ratio: warm {wr} vs cold {cr}"
        );
    }

    // A corrupt file is named and ignored: a cold start.
    let mut bytes = std::fs::read(&windows).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&windows, bytes).unwrap();
    let third = serve(d, "serve-3.log");
    wait_for("a cold start after corruption", 90, || ready(port));
    kill9(third);
    let log = std::fs::read_to_string(d.join("serve-3.log")).unwrap();
    assert!(
        log.contains("the saved windows are unusable") && log.contains("checksum"),
        "{log}"
    );

    // A changed SLO starts cold, named.
    std::thread::sleep(Duration::from_secs(1));
    let fourth = serve(d, "serve-4.log");
    wait_for("a start", 90, || ready(port));
    wait_for("the windows to be saved again", 60, || {
        std::fs::read(&windows)
            .map(|b| b.len() > 100)
            .unwrap_or(false)
            && std::fs::read_to_string(d.join("serve-4.log"))
                .map(|l| l.contains("ready"))
                .unwrap_or(false)
    });
    std::thread::sleep(Duration::from_secs(11));
    kill9(fourth);
    let spec = std::fs::read_to_string(d.join("specs/api.yaml"))
        .unwrap()
        .replace("99.9", "99.5");
    std::fs::write(d.join("specs/api.yaml"), spec).unwrap();
    let fifth = serve(d, "serve-5.log");
    wait_for("a start with a changed spec", 90, || ready(port));
    kill9(fifth);
    let log = std::fs::read_to_string(d.join("serve-5.log")).unwrap();
    assert!(
        log.contains("these SLOs changed") && log.contains("api/availability"),
        "{log}"
    );
}
