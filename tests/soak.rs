//! Soak under mixed hostile load (issue: hostile input): a real `sloguard serve` process
//! takes valid, duplicate, malformed, oversized and unauthenticated webhook deliveries,
//! operator reads and failover-signal polls at a steady rate. Asserted: every request gets
//! the answer its kind deserves, no unique alert is lost or processed twice, and the
//! server's memory stays flat after warm-up (under 10% growth). Latency and throughput are
//! reported, not asserted (they are benchmark figures: `benches/soak.sh` runs the
//! 10-minute, 5,000 req/s version on the release build and `benches/README.md` has them).
//!
//! `SOAK_SECS` (default 60) and `SOAK_RATE` (requests per second, default 1,000) size it.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::prom::free_port;
use common::*;

const TOKEN: &str = "soak-webhook-token-0123456789";

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn delivery(fingerprint: &str) -> String {
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"Burn\"}}","status":"firing","receiver":"sloguard","truncatedAlerts":0,"alerts":[{{"status":"firing","labels":{{"alertname":"Burn","sloth_service":"checkout","sloth_slo":"requests-availability","sloth_severity":"ticket","region":"us-east-1"}},"annotations":{{}},"startsAt":"2026-11-27T06:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"{fingerprint}"}}]}}"#
    )
}

#[derive(Default)]
struct Tally {
    sent_unique: AtomicU64,
    wrong: AtomicU64,
    errors: AtomicU64,
}

#[test]
fn mixed_hostile_load_keeps_memory_flat_and_loses_nothing() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let rate: u64 = std::env::var("SOAK_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("token"), TOKEN).unwrap();
    std::fs::write(d.join("api-token"), "soak-api-token-0123456789").unwrap();
    let port = free_port();
    let dead = free_port();
    std::fs::write(
        d.join("sloguard.yaml"),
        format!(
            "specs: {specs}\nsource: {{thanos: {{url: 'http://127.0.0.1:{dead}', retries: 0, timeout: 1s}}}}\nevaluation: {{interval: 1h, lookback: 1h}}\nserver:\n  listen: 127.0.0.1:{port}\n  max_body_bytes: 65536\n  max_concurrent_webhooks: 256\n  webhook_auth: {{bearer_token_file: {tok}}}\n  api_token_file: {api}\n",
            specs = repo().join("slo-specs").display(),
            tok = d.join("token").display(),
            api = d.join("api-token").display(),
        ),
    )
    .unwrap();
    let mut child = sloguard()
        .args(["serve", "--config"])
        .arg(d.join("sloguard.yaml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{base}/healthz")).0 != 200 {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(std::sync::Mutex::new(
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let mut rss = Vec::new();
    let started = Instant::now();
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let limit = Arc::new(tokio::sync::Semaphore::new(256));
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let oversized = Arc::new("x".repeat(70_000));
        let mut n: u64 = 0;
        let mut last_fp = String::from("warmup");
        let mut next_rss = Instant::now();
        while started.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            if Instant::now() >= next_rss {
                rss.push((started.elapsed().as_secs(), rss_kib(pid)));
                next_rss += Duration::from_secs(5);
            }
            n += 1;
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            // The mix, per 20 requests: 8 unique deliveries, 2 duplicates, 2 malformed,
            // 1 oversized, 2 unauthenticated, 2 status reads, 3 signal polls.
            let kind = n % 20;
            let (req, want): (reqwest::RequestBuilder, u16) = match kind {
                0..=7 => {
                    last_fp = format!("fp-{n}");
                    tally.sent_unique.fetch_add(1, Ordering::Relaxed);
                    (
                        http.post(format!("{base}/api/v1/alertmanager"))
                            .header("content-type", "application/json")
                            .bearer_auth(TOKEN)
                            .body(delivery(&last_fp)),
                        200,
                    )
                }
                8 | 9 => (
                    http.post(format!("{base}/api/v1/alertmanager"))
                        .header("content-type", "application/json")
                        .bearer_auth(TOKEN)
                        .body(delivery(&last_fp)),
                    200,
                ),
                10 | 11 => (
                    http.post(format!("{base}/api/v1/alertmanager"))
                        .header("content-type", "application/json")
                        .bearer_auth(TOKEN)
                        .body("{\"version\": \"4\", \"alerts\": ["),
                    400,
                ),
                12 => (
                    http.post(format!("{base}/api/v1/alertmanager"))
                        .header("content-type", "application/json")
                        .bearer_auth(TOKEN)
                        .body(oversized.as_str().to_owned()),
                    413,
                ),
                13 | 14 => (
                    http.post(format!("{base}/api/v1/alertmanager"))
                        .header("content-type", "application/json")
                        .body(delivery("x")),
                    401,
                ),
                15 | 16 => (http.get(format!("{base}/api/v1/status")), 503),
                _ => (http.get(format!("{base}/v1/signal/web/eu-west-1")), 503),
            };
            let tally = tally.clone();
            let latencies = latencies.clone();
            tokio::spawn(async move {
                let t0 = Instant::now();
                match req.send().await {
                    Ok(r) => {
                        let code = r.status().as_u16();
                        let _ = r.bytes().await;
                        if let Ok(mut h) = latencies.lock() {
                            let _ = h.record(t0.elapsed().as_micros() as u64);
                        }
                        // Status reads answer 503 until the (unreachable) source gives a
                        // first evaluation; 200 is fine too.
                        let ok = code == want || (want == 503 && code == 200);
                        if !ok {
                            tally.wrong.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                drop(permit);
            });
        }
        // Let in-flight requests finish.
        let _ = limit.acquire_many(256).await;
    });
    let elapsed = started.elapsed().as_secs_f64();
    rss.push((elapsed as u64, rss_kib(pid)));
    let (_, metrics) = curl(&format!("{base}/metrics"));
    let metric = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    let processed = metric("sloguard_webhook_alerts{result=\"processed\"}");
    let _ = child.kill();
    let _ = child.wait();

    let h = latencies.lock().unwrap();
    let sent = h.len();
    eprintln!(
        "soak: {sent} requests in {elapsed:.0}s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; RSS KiB over time {rss:?}",
        sent as f64 / elapsed,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
    );
    assert_eq!(
        tally.errors.load(Ordering::Relaxed),
        0,
        "requests failed outright"
    );
    assert_eq!(
        tally.wrong.load(Ordering::Relaxed),
        0,
        "requests answered with the wrong status"
    );
    assert_eq!(
        processed,
        tally.sent_unique.load(Ordering::Relaxed),
        "every unique alert processed exactly once"
    );
    // Memory flat after warm-up: the sample after the first fifth against the last.
    let warm = rss[rss.len() / 5].1.max(1);
    let last = rss.last().unwrap().1;
    assert!(
        last as f64 <= warm as f64 * 1.10,
        "RSS grew {warm} KiB -> {last} KiB: {rss:?}"
    );
}
