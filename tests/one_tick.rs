//! One tick: a scenario run through the `serve` path (the real HTTP server in front of
//! the app, the simulated world as its source, a simulated clock driven as fast as it
//! computes) and through `gameday` makes the same decisions, alert transitions and
//! recorded runbook calls, in the same order, at the same simulated times. While the
//! serve path runs, its HTTP API answers from the same state.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::primary_outage_drill;
use sloguard::app::drill::{self, Collector, Report};

async fn via_gameday() -> Report {
    let (sc, d, services) = primary_outage_drill();
    drill::run(&sc, &d, &services, &drill::Quiet)
        .await
        .expect("gameday runs")
}

/// The serve path; returns the report and what the HTTP API said once the run ended.
async fn via_serve() -> (Report, serde_json::Value, u16) {
    let (sc, d, services) = primary_outage_drill();
    let (clock, schedule) = drill::timing(&d, None);
    let app = drill::app(&d, &services, clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let collector = Collector::new(&d);
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let answers = std::sync::Mutex::new(None);
    // Once the loop has ended, the server still answers until `linger` resolves.
    let linger = async {
        let http = reqwest::Client::new();
        let body = http
            .get(format!("{url}/api/v1/status"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        let signal = http
            .get(format!("{url}/v1/signal/gameday/eu-west-1"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        *answers.lock().unwrap() = Some((status, signal));
    };
    let app = sloguard::server::serve(
        app,
        clock.as_ref(),
        schedule,
        listener,
        Default::default(),
        true,
        &collector,
        stop,
        linger,
    )
    .await;
    let report = drill::finish(&sc, &app, &services, collector).unwrap();
    let (status, signal) = answers.into_inner().unwrap().expect("the API answered");
    (report, status, signal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_gameday_decide_the_same() {
    let gameday = via_gameday().await;
    let (serve, status, signal) = via_serve().await;
    assert!(gameday.passed, "{:?}", gameday.expectations);
    assert!(
        !gameday.failovers.is_empty() && !gameday.calls.is_empty(),
        "the scenario fails over and records its runbook"
    );
    assert_eq!(
        json(&serve.alerts),
        json(&gameday.alerts),
        "alert transitions"
    );
    assert_eq!(json(&serve.actions), json(&gameday.actions), "decisions");
    assert_eq!(
        json(&serve.calls),
        json(&gameday.calls),
        "recorded step calls"
    );
    assert_eq!(json(&serve.failovers), json(&gameday.failovers));
    assert_eq!(serve.steps, gameday.steps, "scheduled evaluations");

    // The serve path's API shows the outcome: the policy's active region and the raised
    // failover signal the Route 53 health checks poll.
    assert_eq!(status["active_region"], "eu-west-1", "{status:#}");
    assert_eq!(signal, 200);
}

/// Serializes a report part for comparison (and readable diffs on failure).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap()
}
