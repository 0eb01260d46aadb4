//! A slow source never holds an operator back: while the backfill or an evaluation waits
//! on queries (here every instant query takes 1 s, so an evaluation of 10 queries 10 s, and every range query 400 ms), operator
//! calls over HTTP are answered by the failover driver at once.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::time::{Duration, Instant};

use common::primary_outage_drill;
use sloguard::app::{drill, App, Purpose};
use sloguard::query::{MetricsSource, QueryError, QueryResult};

/// The simulated world, answering slowly.
struct Slow<S>(S);

impl<S: MetricsSource> MetricsSource for Slow<S> {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.0.instant(query, at, decision).await
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.0.range(query, start, end, step, decision).await
    }
}

async fn rearm(url: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/rearm"))
        .bearer_auth("op-token")
        .header("content-type", "application/json")
        .body(r#"{"domain": "gameday", "reason": "probe"}"#)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_calls_are_answered_while_queries_hang() {
    let (_, d, services) = primary_outage_drill();
    let (clock, schedule) = drill::timing(&d, Some(Duration::from_millis(10)));
    let app = App::from_config(
        &d.config,
        &services,
        Slow(d.source.clone()),
        clock.clone(),
        Purpose::Drill,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = sloguard::server::ApiConfig {
        webhook_auth: None,
        api_token: Some("op-token".into()),
        max_body_bytes: 1 << 20,
        region_label: "region".into(),
        ..Default::default()
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let calls = async {
        let http = reqwest::Client::new();
        let ready = || async {
            http.get(format!("{url}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        };
        // During the backfill (several seconds of slow range queries).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_ne!(ready().await, 200, "the backfill is still running");
        let (code, took) = rearm(&url).await;
        assert_eq!(code, 409, "nothing to re-arm");
        assert!(
            took < Duration::from_secs(2),
            "answered after {took:?} during the backfill"
        );
        // During an evaluation whose queries hang for seconds.
        while ready().await != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (code, took) = rearm(&url).await;
        assert_eq!(code, 409);
        assert!(
            took < Duration::from_secs(2),
            "answered after {took:?} during an evaluation"
        );
        let _ = stop_tx.send(true);
    };
    let quiet = drill::Quiet;
    let serve = sloguard::server::serve(
        app,
        clock.as_ref(),
        schedule,
        listener,
        api,
        true,
        &quiet,
        stop,
        async {},
    );
    let (app, ()) = tokio::join!(serve, calls);
    let decisions = app
        .journal()
        .unwrap()
        .lock()
        .unwrap()
        .decisions(1000)
        .unwrap();
    assert_eq!(
        decisions.iter().filter(|d| d.3 == "operator").count(),
        2,
        "both calls were applied and journaled: {decisions:?}"
    );
}
