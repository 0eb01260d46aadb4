//! Bounded and always answering (issue 20, item 4), against real `sloguard serve`
//! processes on loopback: many concurrent slow 1 MB webhook deliveries hold at most
//! `server.max_concurrent_webhooks` bodies (the rest answered 503 with `Retry-After`
//! before their bodies are read, memory bounded); a connection flood on `server.listen`
//! under a small descriptor limit never makes `accept` fail, is answered 503, and never
//! reaches `server.signal_listen`, which keeps answering the failover signal.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::prom::free_port;
use crate::common::{curl, sloguard, sloth_spec, write_specs};

/// A config for `serve` reading from a dead source (no evaluation needed here).
fn config(dir: &Path, server: &str) -> std::path::PathBuf {
    let q = |e: &str| format!(r#"sum(rate(http_requests_total{{job="api"{e}}}[{{{{.window}}}}]))"#);
    write_specs(
        &dir.join("specs"),
        &[(
            "api.yaml",
            &sloth_spec("api", &q(r#",code=~"5..""#), &q("")),
        )],
    );
    let config = dir.join("sloguard.yaml");
    std::fs::write(&config, format!("specs: specs\nsource: {{thanos: {{url: 'http://127.0.0.1:9', retries: 0, timeout: 1s}}}}\nevaluation: {{interval: 1h, lookback: 1h}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {server}\n")).unwrap();
    config
}

/// Stops the child when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{url}/healthz")).0 != 200 {
        assert!(Instant::now() < deadline, "serve did not start at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// What arrives on `c` within `wait` (empty when nothing does).
async fn read_some(c: &mut tokio::net::TcpStream, wait: Duration) -> String {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, c.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).to_string(),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_in_flight_are_capped() {
    const DELIVERIES: usize = 64;
    const CAP: usize = 16;
    const BODY: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The default cap (16) and body limit (1 MiB).
    let config = config(dir.path(), &format!("{{listen: 127.0.0.1:{port}}}"));
    let child = Serve(
        sloguard()
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url).await;
    let base = rss_kib(child.0.id());
    let body = |i: usize| {
        let head = format!(r#"{{"version":"4","groupKey":"slow-{i}","alerts":[],"pad":""#);
        let mut b = head.into_bytes();
        b.resize(BODY - 2, b'x');
        b.extend_from_slice(b"\"}");
        b
    };
    // Every delivery sends its headers, then nothing: the slow part of a slow delivery.
    let mut conns = Vec::new();
    for _ in 0..DELIVERIES {
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        c.write_all(format!("POST /api/v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        conns.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut admitted = Vec::new();
    let mut busy = 0;
    for mut c in conns {
        let answer = read_some(&mut c, Duration::from_millis(200)).await;
        if answer.is_empty() {
            admitted.push(c);
            continue;
        }
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.starts_with("http/1.1 503") && lower.contains("retry-after: 1"),
            "{answer}"
        );
        assert!(answer.contains("max_concurrent_webhooks"), "{answer}");
        busy += 1;
    }
    assert_eq!(
        (admitted.len(), busy),
        (CAP, DELIVERIES - CAP),
        "only the cap's deliveries are read"
    );
    // The admitted ones send all but their last byte: the most the server holds.
    let mut sending = Vec::new();
    for (i, mut c) in admitted.into_iter().enumerate() {
        sending.push(tokio::spawn(async move {
            let b = body(i);
            c.write_all(&b[..b.len() - 1]).await.unwrap();
            (c, b[b.len() - 1])
        }));
    }
    let mut admitted = Vec::new();
    for s in sending {
        admitted.push(s.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let peak = rss_kib(child.0.id());
    // A 1 MB body in flight costs about 2.4 MB (hyper's buffers, the collected chunks,
    // the allocator): 16 of them ~40 MB (measured 45), 64 unbounded ~150 MB.
    assert!(
        peak.saturating_sub(base) < 80 * 1024,
        "resident memory grew {} KiB with {CAP} bodies in flight",
        peak.saturating_sub(base)
    );
    for (mut c, last) in admitted {
        c.write_all(&[last]).await.unwrap();
        let answer = read_some(&mut c, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // The slots came back: the next delivery is read.
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/alertmanager"))
        .header("content-type", "application/json")
        .body(body(99))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, metrics) = curl(&format!("{url}/metrics"));
    assert!(
        metrics.contains(&format!(
            "sloguard_webhook_alerts{{result=\"busy\"}} {}",
            DELIVERIES - CAP
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_never_reaches_the_signal_listener() {
    const FLOOD: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let (port, signal_port) = (free_port(), free_port());
    let config = config(
        dir.path(),
        &format!("{{listen: 127.0.0.1:{port}, signal_listen: 127.0.0.1:{signal_port}}}"),
    );
    let log = dir.path().join("serve.log");
    // 256 descriptors: 112 connections for server.listen, 16 for server.signal_listen.
    let _child = Serve(
        std::process::Command::new("prlimit")
            .arg("--nofile=256:256")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_sloguard"))
            .args(["--log-format", "text", "serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let signal_url = format!("http://127.0.0.1:{signal_port}");
    wait_healthy(&url).await;
    wait_healthy(&signal_url).await;
    // Far more idle connections than the whole descriptor limit.
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        flood.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One more on the main listener is answered at once, without a request.
    let mut extra = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let answer = read_some(&mut extra, Duration::from_secs(2)).await;
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.contains("Retry-After: 1"),
        "{answer:?}"
    );
    // The signal listener answers what Route 53 and the peers ask, and nothing else.
    let started = Instant::now();
    let (code, text) = curl(&format!("{signal_url}/v1/signal/web/eu-west-1"));
    assert_eq!(
        (code, text.as_str()),
        (503, "no failover requested\n"),
        "an answer, not a refused connection"
    );
    assert_eq!(curl(&format!("{signal_url}/healthz")).0, 200);
    assert_eq!(curl(&format!("{signal_url}/v1/probes")).0, 200);
    assert!(matches!(curl(&format!("{signal_url}/readyz")).0, 200 | 503));
    assert_eq!(curl(&format!("{signal_url}/api/v1/status")).0, 404);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the signal listener took {:?} during the flood",
        started.elapsed()
    );
    // The flood ends; the main listener answers again.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    while curl(&format!("{url}/healthz")).0 != 200 {
        assert!(Instant::now() < deadline, "server.listen never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("accept failed"), "accept failed:\n{text}");
    assert!(text.contains("connection limit reached"), "{text}");
}
