//! Region loss end to end on real parts (issue 12): two real Prometheus servers, one per
//! region, each holding its own region's last 6 hours of counters; a small HTTP endpoint
//! per region that `serve` probes; `serve` with per-region sources and probes; moto for
//! Route 53 and SNS.
//! - Stop the primary's endpoint and its Prometheus: the region is silent for
//!   `down_after` and its probes fail, so it is down; the runbook runs once (weights
//!   flip, on-call paged over SNS).
//! - Stop only the primary's Prometheus: its probes still pass, so monitoring is lost:
//!   one notice, no traffic change, no incident.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::prom::{free_port, Prometheus};
use common::*;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

/// A region's service endpoint: answers 200 to every request until stopped, then its
/// port refuses connections.
struct Endpoint {
    url: String,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Acquire) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 2048];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                );
            }
        });
        Endpoint {
            url: format!("http://127.0.0.1:{port}/healthz"),
            stop,
            port,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

struct World {
    dir: tempfile::TempDir,
    proms: Vec<Option<Prometheus>>,
    endpoints: Vec<Endpoint>,
    moto: Moto,
    zone_id: String,
    base: String,
    child: std::process::Child,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn start() -> World {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let all = live_two_regions(vec![]);
    let mut proms = Vec::new();
    for r in REGIONS {
        let mut one = all.clone();
        one.regions.retain(|t| t.region == r);
        let sub = dir.path().join(format!("prom-{r}"));
        std::fs::create_dir_all(&sub).unwrap();
        proms.push(Some(Prometheus::start(
            &sub,
            &sloguard::sim::openmetrics(&one),
            &[],
        )));
    }
    let endpoints: Vec<Endpoint> = REGIONS.iter().map(|_| Endpoint::start()).collect();
    let moto = Moto::start();
    let (zone_id, topic) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(moto.weighted_zone_and_topic());
    let port = free_port();
    let url = |i: usize| proms[i].as_ref().unwrap().url.clone();
    std::fs::write(
        dir.path().join("sloguard.yaml"),
        format!(
            r#"specs: specs
source:
  regions:
    us-east-1: {{url: '{p0}', timeout: 2s, retries: 0}}
    eu-west-1: {{url: '{p1}', timeout: 2s, retries: 0}}
evaluation: {{interval: 1s}}
regions:
  active: us-east-1
  standby: [eu-west-1]
  down_after: 5s
  probe_failures: 3
  probes:
    us-east-1: {{url: '{e0}', interval: 1s, timeout: 1s}}
    eu-west-1: {{url: '{e1}', interval: 1s, timeout: 1s}}
server: {{listen: 127.0.0.1:{port}}}
{failover}"#,
            failover = web_failover_section(&topic, &zone_id),
            p0 = url(0),
            p1 = url(1),
            e0 = endpoints[0].url,
            e1 = endpoints[1].url,
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = sloguard()
        .args(["serve", "--config"])
        .arg(dir.path().join("sloguard.yaml"))
        .envs(moto.aws_env())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    World {
        dir,
        proms,
        endpoints,
        moto,
        zone_id,
        base: format!("http://127.0.0.1:{port}"),
        child,
    }
}

impl World {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn status(&self) -> serde_json::Value {
        let (code, body) = curl(&format!("{}/api/v1/status", self.base));
        if code != 200 {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&body).unwrap_or_default()
    }

    fn region_state(&self, region: &str) -> String {
        self.status()["regions"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["region"] == region).cloned())
            .map(|r| r["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Waits until both regions are healthy and both probes have passed.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let st = self.status();
            let ok = st["regions"].as_array().is_some_and(|rs| {
                rs.len() >= 2
                    && rs
                        .iter()
                        .all(|r| r["state"] == "healthy" && r["evidence"]["probe_passing"] == true)
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "regions never healthy: {st}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn incidents(&self) -> serde_json::Value {
        let (code, body) = curl(&format!("{}/api/v1/incidents", self.base));
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn metric(&self, name_and_labels: &str) -> Option<f64> {
        let (_, body) = curl(&format!("{}/metrics", self.base));
        body.lines()
            .find(|l| l.starts_with(name_and_labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}

#[test]
fn a_vanished_active_region_is_failed_over_once() {
    let mut w = start();
    w.wait_healthy();
    assert_eq!(
        w.moto.weights(&w.zone_id),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
    // The whole primary region goes: its service endpoint and its Prometheus.
    let lost = Instant::now();
    w.endpoints[0].stop();
    w.proms[0] = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    let decided = loop {
        let inc = w.incidents();
        // The runbook finished and the policy took its result.
        if inc["incidents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["status"] == "done"))
            && inc["policy"][0]["phase"]["phase"] == "failed_over"
        {
            break lost.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "no failover after the region vanished: {inc}\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "region_loss: region lost -> runbook done in {:.1}s (down_after 5s, 2 evaluations at 1s, probes 3 x 1s)",
        decided.as_secs_f64()
    );
    assert_eq!(
        w.moto.weights(&w.zone_id),
        vec![("eu-west-1".to_string(), 100), ("us-east-1".to_string(), 0)]
    );
    let sent = w.moto.sns_sent();
    assert!(
        sent.iter().any(
            |m| m.contains("failing over web from us-east-1 to eu-west-1") && m.contains("down")
        ),
        "{sent:?}"
    );
    assert_eq!(curl(&format!("{}/v1/signal/web/eu-west-1", w.base)).0, 200);
    // Status and metrics say why: the old primary is down, the new one active.
    assert_eq!(w.region_state("us-east-1"), "down", "{}", w.status());
    assert_eq!(w.status()["active_region"], "eu-west-1");
    assert_eq!(
        w.metric("sloguard_region_down{region=\"us-east-1\"}"),
        Some(1.0)
    );
    // Once: the latch holds while the region stays gone.
    std::thread::sleep(Duration::from_secs(4));
    let inc = w.incidents();
    assert_eq!(inc["incidents"].as_array().unwrap().len(), 1, "{inc}");
    assert_eq!(sent.len(), w.moto.sns_sent().len());
}

#[test]
fn lost_monitoring_of_a_serving_region_only_notifies() {
    let mut w = start();
    w.wait_healthy();
    // Only the primary's Prometheus goes; the region keeps serving, its probes pass.
    w.proms[0] = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while w.region_state("us-east-1") != "monitoring_lost" {
        assert!(
            Instant::now() < deadline,
            "never monitoring lost: {}\n{}",
            w.status(),
            w.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        w.metric("sloguard_region_monitoring_lost{region=\"us-east-1\"}"),
        Some(1.0)
    );
    // The standby stays readable: its own server answers for it.
    assert_eq!(w.region_state("eu-west-1"), "healthy", "{}", w.status());
    // Well past down_after plus N evaluations: still nothing acted.
    std::thread::sleep(Duration::from_secs(8));
    let inc = w.incidents();
    assert_eq!(inc["incidents"].as_array().unwrap().len(), 0, "{inc}");
    assert_eq!(
        w.moto.weights(&w.zone_id),
        vec![("eu-west-1".to_string(), 0), ("us-east-1".to_string(), 100)]
    );
    assert!(w.moto.sns_sent().is_empty());
    assert_eq!(curl(&format!("{}/v1/signal/web/eu-west-1", w.base)).0, 503);
    let notices = w
        .log()
        .lines()
        .filter(|l| l.contains("failover notice") && l.contains("monitoring lost"))
        .count();
    assert_eq!(notices, 1, "{}", w.log());
}
