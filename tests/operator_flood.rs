//! Webhook floods never change a decision and never starve the operator: pages
//! re-evaluate and notify but never count toward the N consecutive evaluations (checked
//! step by step on the app in simulated time), and over HTTP a 5,000-alert delivery is
//! followed by an operator call that answers at once. A non-forced failover of a healthy
//! active region is refused with 409 naming the guard; a call without a reason is 400.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::time::{Duration, Instant};

use common::primary_outage_drill;
use sloguard::app::clock::Timer;
use sloguard::app::{drill, Trigger};
use sloguard::clock::Clock;
use sloguard::policy::{Action, Phase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_never_count_toward_n() {
    let (_, d, services) = primary_outage_drill();
    let (clock, schedule) = drill::timing(&d, None);
    let mut app = drill::app(&d, &services, clock.clone()).await.unwrap();
    app.start(|_, _| {}).await;
    // Scheduled evaluations until the active region has burned once (1 of N = 2).
    let mut t = clock.now();
    loop {
        t += schedule.interval;
        clock.wait_until(t).await;
        let out = app.evaluate(true).await;
        assert!(
            !out.decisions
                .iter()
                .any(|x| matches!(x.action, Action::StartFailover { .. })),
            "failed over before the test could page"
        );
        if matches!(app.policy()[0].phase, Phase::Suspect { count: 1, .. }) {
            break;
        }
        assert!(t < d.start + d.duration, "the outage never burned");
    }
    // A flood of pages at the same moment: notices and fresh burn rates, no decision.
    let pages: Vec<Trigger> = (0..5_000)
        .map(|i| Trigger {
            service: "checkout".into(),
            slo: format!("requests-availability-{i}"),
            region: "us-east-1".into(),
        })
        .collect();
    for _ in 0..3 {
        let out = app.triggers(&pages).await;
        assert!(out.snapshot.is_some(), "a page re-evaluates");
        assert!(!out.scheduled);
        assert!(
            out.decisions
                .iter()
                .all(|x| matches!(x.action, Action::Notify { .. })),
            "pages only notify: {:?}",
            out.decisions
                .iter()
                .find(|x| !matches!(x.action, Action::Notify { .. }))
        );
    }
    assert!(
        matches!(app.policy()[0].phase, Phase::Suspect { count: 1, .. }),
        "pages counted toward N: {:?}",
        app.policy()[0].phase
    );
    // The next scheduled evaluation is the second: now it fails over.
    clock.wait_until(t + schedule.interval).await;
    let out = app.evaluate(true).await;
    assert!(
        out.decisions
            .iter()
            .any(|x| matches!(x.action, Action::StartFailover { .. })),
        "{:?}",
        out.decisions
    );
}

async fn post(url: &str, body: String, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn flood(n: usize) -> String {
    let alerts: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "status": "firing",
                "labels": {"alertname": "Burn", "sloth_service": "checkout", "sloth_slo": format!("slo-{i}"), "sloth_severity": "page", "region": "us-east-1"},
                "annotations": {}, "startsAt": "2026-11-27T06:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "", "fingerprint": format!("{i:016x}")
            })
        })
        .collect();
    serde_json::json!({"receiver": "sloguard", "status": "firing", "alerts": alerts, "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "version": "4", "groupKey": "{}:{alertname=\"Burn\"}", "truncatedAlerts": 0})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_never_starves_the_operator() {
    let (_, d, services) = primary_outage_drill();
    // Paced so the run is still going while the test calls in.
    let (clock, schedule) = drill::timing(&d, Some(Duration::from_millis(10)));
    let app = drill::app(&d, &services, clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = sloguard::server::ApiConfig {
        webhook_auth: None,
        api_token: Some("op-token".into()),
        max_body_bytes: 16 << 20,
        region_label: "region".into(),
        ..Default::default()
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let calls = async {
        let http = reqwest::Client::new();
        while http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            != 200
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Wait for the first scheduled evaluation: before it the active region's state is
        // unknown, and the refusal says so instead.
        loop {
            let v: serde_json::Value = serde_json::from_str(
                &http
                    .get(format!("{url}/api/v1/incidents"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            )
            .unwrap();
            if !v["policy"][0]["last_evaluation"].is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let failover = |reason: &str| {
            serde_json::json!({"domain": "gameday", "target": "eu-west-1", "reason": reason})
                .to_string()
        };
        let (code, body) = post(
            &format!("{url}/api/v1/failover"),
            failover(""),
            Some("op-token"),
        )
        .await;
        assert_eq!(code, 400, "a call needs a reason: {body}");
        assert!(body.contains("reason"), "{body}");
        let (code, body) = post(
            &format!("{url}/api/v1/failover"),
            failover("looks slow"),
            Some("op-token"),
        )
        .await;
        assert_eq!(code, 409, "{body}");
        assert!(
            body.contains("is not burning"),
            "the refusing guard is named: {body}"
        );

        let (code, body) = post(&format!("{url}/api/v1/alertmanager"), flood(5_000), None).await;
        assert_eq!(code, 200, "{body}");
        let started = Instant::now();
        let rearm = serde_json::json!({"domain": "gameday", "reason": "checking"}).to_string();
        let (code, body) = post(&format!("{url}/api/v1/rearm"), rearm, Some("op-token")).await;
        let took = started.elapsed();
        assert_eq!(code, 409, "nothing to re-arm yet: {body}");
        assert!(
            took < Duration::from_secs(2),
            "the operator waited {took:?} behind the flood"
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
    // The operator's calls and their reasons are journaled, refusals included.
    let journal = app.journal().unwrap();
    let decisions = journal.lock().unwrap().decisions(10_000).unwrap();
    assert!(
        decisions
            .iter()
            .any(|d| d.3 == "operator" && d.4.contains("looks slow")),
        "{decisions:?}"
    );
    assert!(decisions
        .iter()
        .any(|d| d.3 == "blocked" && d.4.contains("not burning")));
    assert!(
        journal.lock().unwrap().incidents(10).unwrap().is_empty(),
        "a refusal is not an incident"
    );
}
