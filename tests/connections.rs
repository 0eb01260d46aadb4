//! Slow and idle clients (issue: hostile input): 5,000 connections that send half a
//! request header and idle never keep `/healthz` or the failover signal from answering
//! within a second, and a half-sent connection is closed after the header-read timeout.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sloguard::server::{listen, router, AppState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_connections_never_starve_the_signal() {
    listen::raise_fd_limit();
    let state = Arc::new(AppState::default());
    state.signals.set("web", "eu-west-1", true).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(listen::serve_with(
        listener,
        router(state),
        stop,
        Duration::from_secs(3),
    ));
    let mut idle = Vec::new();
    for _ in 0..5_000 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        idle.push(c);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for path in ["/healthz", "/v1/signal/web/eu-west-1"] {
        let started = Instant::now();
        let r = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            took < Duration::from_secs(1),
            "{path} took {took:?} behind 5,000 idle connections"
        );
    }
    // The half-sent connections are closed once the header-read timeout passes.
    let mut first = idle.swap_remove(0);
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), first.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "a half-sent connection was never closed");
    drop(idle);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
}
