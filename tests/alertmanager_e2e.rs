//! The whole product on real components, all on loopback: Prometheus 2.42 with the
//! generated rules over live two-region data, Alertmanager 0.25 configured from the
//! generated example and delivering to `sloguard serve`'s webhook (bearer token), and moto
//! for Route 53 and SNS. An outage in the active region → Prometheus fires the page alert
//! → Alertmanager delivers → sloguard confirms with its own evaluation → the runbook
//! changes Route 53 and publishes to SNS (read back) → the incident is in the journal and
//! the API. The negative case: both regions burning → notification only.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::prom::{free_port, Prometheus};
use common::*;
use sloguard::sim::{self, Outage};

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct World {
    dir: tempfile::TempDir,
    moto: Moto,
    zone_id: String,
    base: String,
    _prom: Prometheus,
    _procs: Vec<Killed>,
}

fn world(outages: Vec<Outage>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_specs(
        &d.join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(d.join("specs"))
        .arg("--out")
        .arg(d.join("rules")));
    assert!(o.status.success(), "{}", text(&o));
    let token = d.join("webhook-token");
    std::fs::write(&token, "am-s3cr3t\n").unwrap();

    let moto = Moto::start();
    let (zone_id, topic) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(moto.weighted_zone_and_topic());

    let (am_port, sg_port) = (free_port(), free_port());
    let scenario = live_two_regions(outages);
    let prom = Prometheus::start_with(
        d,
        &sim::openmetrics(&scenario),
        &[d.join("rules/api.yaml")],
        &format!("alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"),
    );

    std::fs::write(
        d.join("sloguard.yaml"),
        format!(
            r#"specs: specs
source: {{thanos: {{url: {}}}}}
evaluation: {{interval: 5s, lookback: 1h}}
regions: {{active: us-east-1, standby: [eu-west-1]}}
server:
  listen: 127.0.0.1:{sg_port}
  webhook_auth: {{bearer_token_file: webhook-token}}
failover:
  journal: journal.db
  policy: {{mode: auto, consecutive: 1, cooldown: 1h}}
  domains:
    - name: web
      runbook:
        - {{name: page, kind: sns, topic_arn: '{topic}'}}
        - {{name: dns, kind: route53_records, zone_id: '{zone_id}', record_name: app.example.com, type: A, records: {{us-east-1: 10.0.0.1, eu-west-1: 10.1.0.1}}}}
"#,
            prom.url
        ),
    )
    .unwrap();
    let serve = sloguard()
        .args(["serve", "--config"])
        .arg(d.join("sloguard.yaml"))
        .envs(moto.aws_env())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{sg_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{base}/readyz")).0 != 200 {
        assert!(Instant::now() < deadline, "sloguard not ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Alertmanager from the generated example: point it at this sloguard, short waits.
    let am_cfg = std::fs::read_to_string(d.join("rules/alertmanager/sloguard.yaml"))
        .unwrap()
        .replace("http://sloguard.monitoring.svc:8080", &base)
        .replace(
            "/etc/alertmanager/sloguard-webhook-token",
            &token.display().to_string(),
        )
        .replace("group_wait: 10s", "group_wait: 1s")
        .replace("group_interval: 1m", "group_interval: 5s");
    std::fs::write(d.join("am.yml"), am_cfg).unwrap();
    let am = Command::new(tool("prometheus-alertmanager"))
        .arg(format!("--config.file={}", d.join("am.yml").display()))
        .arg(format!("--storage.path={}", d.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("am.log")).unwrap())
        .spawn()
        .unwrap();
    World {
        dir,
        moto,
        zone_id,
        base,
        _prom: prom,
        _procs: vec![Killed(am), Killed(serve)],
    }
}

fn weights(w: &World) -> Vec<(String, i64)> {
    w.moto.weights(&w.zone_id)
}

fn metric(w: &World, name: &str) -> f64 {
    curl(&format!("{}/metrics", w.base))
        .1
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn logs(w: &World) -> String {
    ["serve.log", "am.log", "prometheus.log"]
        .iter()
        .map(|f| {
            format!(
                "--- {f}\n{}",
                std::fs::read_to_string(w.dir.path().join(f)).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn page_from_alertmanager_is_confirmed_and_runs_the_runbook() {
    let w = world(vec![Outage {
        region: "us-east-1".into(),
        start: 6 * 3600 - 1800,
        duration: 7200,
        error_ratio: 1.0,
    }]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let v = loop {
        let (_, body) = curl(&format!("{}/api/v1/incidents", w.base));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let done = v["incidents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["status"] == "done"));
        if done && metric(&w, "sloguard_webhook_alerts{result=\"trigger\"}") >= 1.0 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no incident from the Alertmanager page:\n{}",
            logs(&w)
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    // The page re-evaluated and was journaled as a notice; the decision itself came from
    // the engine's own scheduled evaluations (a webhook never counts toward N).
    let inc = &v["incidents"][0];
    assert_eq!(
        (inc["from"].as_str(), inc["to"].as_str()),
        (Some("us-east-1"), Some("eu-west-1"))
    );
    assert_eq!(
        weights(&w),
        vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)]
    );
    let sent: Vec<String> = w.moto.data()["sns"]["Topic"]
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
        "{sent:?}"
    );
    // The trigger is journaled.
    let o = run(sloguard()
        .args(["incidents", "--output", "json", "--config"])
        .arg(w.dir.path().join("sloguard.yaml")));
    assert!(o.status.success(), "{}", text(&o));
    let journal =
        sloguard::journal::Journal::open_read_only(&w.dir.path().join("journal.db")).unwrap();
    assert!(
        journal
            .decisions(100)
            .unwrap()
            .iter()
            .any(|d| d.3 == "notify" && d.4.contains("Alertmanager paged")),
        "trigger recorded"
    );
}

#[test]
fn both_regions_paging_notifies_only() {
    let w = world(vec![
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
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, body) = curl(&format!("{}/api/v1/incidents", w.base));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let paged = metric(&w, "sloguard_webhook_alerts{result=\"trigger\"}") >= 1.0;
        if paged && v["policy"][0]["phase"]["phase"] == "global_incident" {
            assert!(v["incidents"].as_array().unwrap().is_empty(), "{v}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no global incident:\n{}",
            logs(&w)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(metric(&w, "sloguard_webhook_alerts{result=\"trigger\"}") >= 1.0);
    assert_eq!(
        weights(&w),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
}
