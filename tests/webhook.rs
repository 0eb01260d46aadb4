//! The Alertmanager receiver and operator API over HTTP on a free loopback port: auth
//! missing or wrong (401), oversized bodies (413), malformed JSON and wrong versions (400
//! naming the problem), duplicate deliveries processed once, resolved before firing,
//! truncated alerts, unknown alerts counted, page triggers queued for the engine.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use sloguard::app::{Inbox, OperatorCall, Trigger};
use sloguard::config::Credential;
use sloguard::server::{router, ApiConfig, AppState};

const FIRING: &str = include_str!("data/alertmanager-firing.json");

fn sloguard_alert(status: &str, fingerprint: &str, starts: &str) -> serde_json::Value {
    serde_json::json!({
        "status": status,
        "labels": {"alertname": "ApiBurn", "sloth_service": "api", "sloth_slo": "availability", "sloth_severity": "page", "region": "us-east-1", "severity": "critical"},
        "annotations": {}, "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint
    })
}

fn payload(alerts: Vec<serde_json::Value>, truncated: u64) -> String {
    serde_json::json!({"receiver": "sloguard", "status": "firing", "alerts": alerts, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093", "version": "4", "groupKey": "{}:{alertname=\"ApiBurn\"}", "truncatedAlerts": truncated})
    .to_string()
}

async fn server(auth: Option<Credential>) -> (String, Arc<AppState>, Inbox) {
    let (outbox, rx) = sloguard::app::inbox();
    let state = Arc::new(
        AppState::new(ApiConfig {
            webhook_auth: auth,
            api_token: Some("op-token".into()),
            max_body_bytes: 64 * 1024,
            region_label: "region".into(),
        })
        .wired(Default::default(), None, Some(outbox), false),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, state, rx)
}

async fn post(url: &str, body: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let (url, _, _) = server(Some(Credential::Bearer("s3cr3t".into()))).await;
    let hook = format!("{url}/api/v1/alertmanager");
    assert_eq!(post(&hook, FIRING, None).await.0, 401);
    assert_eq!(post(&hook, FIRING, Some("Bearer wrong")).await.0, 401);
    assert_eq!(post(&hook, FIRING, Some("Basic czNjcjN0")).await.0, 401);
    let (status, body) = post(&hook, FIRING, Some("Bearer s3cr3t")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unknown"], 1, "the sample is not a sloguard alert");

    let (url, _, _) = server(Some(Credential::Basic {
        username: "am".into(),
        password: "pw".into(),
    }))
    .await;
    // base64("am:pw") = "YW06cHc="
    assert_eq!(
        post(
            &format!("{url}/api/v1/alertmanager"),
            FIRING,
            Some("Basic YW06cHc=")
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            &format!("{url}/api/v1/alertmanager"),
            FIRING,
            Some("Basic YW06eHg=")
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let (url, _, _) = server(None).await;
    let hook = format!("{url}/api/v1/alertmanager");
    let (status, body) = post(&hook, "{\"version\": \"4\", ", None).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON"),
        "{body}"
    );
    let (status, body) = post(
        &hook,
        &FIRING.replace("\"version\": \"4\"", "\"version\": \"3\""),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unsupported payload version \"3\""),
        "{body}"
    );
    let big = payload(
        vec![sloguard_alert(
            "firing",
            &"f".repeat(70 * 1024),
            "2026-11-27T06:00:00Z",
        )],
        0,
    );
    assert_eq!(post(&hook, &big, None).await.0, 413);
}

#[tokio::test]
async fn duplicates_are_processed_once_and_pages_trigger_the_engine() {
    let (url, state, mut rx) = server(None).await;
    let hook = format!("{url}/api/v1/alertmanager");
    let body = payload(
        vec![sloguard_alert("firing", "fp1", "2026-11-27T06:00:00Z")],
        0,
    );
    let (_, first) = post(&hook, &body, None).await;
    let (_, second) = post(&hook, &body, None).await;
    assert_eq!(
        (first["processed"].as_u64(), second["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{first} {second}"
    );
    match rx.triggers.try_recv().as_deref() {
        Ok(
            [Trigger {
                service,
                slo,
                region,
            }],
        ) => assert_eq!(
            (service.as_str(), slo.as_str(), region.as_str()),
            ("api", "availability", "us-east-1")
        ),
        other => panic!("expected one trigger, got {other:?}"),
    }
    assert!(
        rx.triggers.try_recv().is_err(),
        "the duplicate triggers nothing"
    );
    assert_eq!(
        state
            .webhook
            .processed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn resolved_before_firing_and_truncated_alerts() {
    let (url, _, mut rx) = server(None).await;
    let hook = format!("{url}/api/v1/alertmanager");
    let (s, b) = post(
        &hook,
        &payload(
            vec![sloguard_alert("resolved", "fp2", "2026-11-27T06:00:00Z")],
            0,
        ),
        None,
    )
    .await;
    assert_eq!((s, b["processed"].as_u64()), (200, Some(1)));
    assert!(
        rx.triggers.try_recv().is_err(),
        "a resolution triggers nothing"
    );
    let (s, b) = post(
        &hook,
        &payload(
            vec![sloguard_alert("firing", "fp2", "2026-11-27T06:00:00Z")],
            3,
        ),
        None,
    )
    .await;
    assert_eq!(
        (s, b["processed"].as_u64(), b["truncated"].as_u64()),
        (200, Some(1), Some(3)),
        "{b}"
    );
    assert!(matches!(
        rx.triggers.try_recv().as_deref(),
        Ok([Trigger { .. }])
    ));
}

#[tokio::test]
async fn operator_api_needs_the_token() {
    let (url, _, mut rx) = server(None).await;
    let body = r#"{"domain": "web", "target": "eu-west-1", "reason": "drill"}"#;
    assert_eq!(
        post(&format!("{url}/api/v1/failover"), body, None).await.0,
        401
    );
    assert_eq!(
        post(&format!("{url}/api/v1/failover"), body, Some("Bearer nope"))
            .await
            .0,
        401
    );
    let (s, b) = post(
        &format!("{url}/api/v1/failover"),
        "{\"domain\": 1}",
        Some("Bearer op-token"),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    // With the token the command reaches the engine, which answers through the reply.
    let answer = tokio::spawn(async move {
        if let Some(OperatorCall {
            domain,
            command,
            reason,
            reply,
        }) = rx.operator.recv().await
        {
            assert_eq!(domain.as_deref(), Some("web"));
            assert_eq!(reason, "drill");
            assert!(matches!(
                command,
                sloguard::policy::Command::Failover { force: false, .. }
            ));
            let _ = reply.send(Ok(vec![sloguard::policy::Action::Blocked {
                reason: "target eu-west-1 has no data".into(),
            }]));
        }
    });
    let (s, b) = post(
        &format!("{url}/api/v1/failover"),
        body,
        Some("Bearer op-token"),
    )
    .await;
    answer.await.unwrap();
    assert_eq!(s, 409, "a blocked failover is a conflict: {b}");
    assert!(b.to_string().contains("has no data"));
}

/// Hostile deliveries (issue: hostile input): nothing is read or explained before
/// authentication; the bearer scheme is case-insensitive; oversized fields are refused
/// naming the limit; a delivery of many pages is one batch (one re-evaluation).
#[tokio::test]
async fn hostile_deliveries_are_bounded_and_learn_nothing() {
    let (url, state, mut rx) = server(Some(Credential::Bearer("s3cr3t-token-0123".into()))).await;
    let hook = format!("{url}/api/v1/alertmanager");
    // Unauthenticated: 401 for an oversized body and for malformed JSON alike (no 413 or
    // 400 that would reveal the limit or the schema).
    let huge = "x".repeat(200 * 1024);
    assert_eq!(post(&hook, &huge, None).await.0, 401);
    assert_eq!(post(&hook, "{", None).await.0, 401);
    assert_eq!(post(&hook, "{", Some("Bearer wrong")).await.0, 401);
    // Scheme case does not matter; the token does.
    let (status, _) = post(&hook, FIRING, Some("bearer s3cr3t-token-0123")).await;
    assert_eq!(status, 200);
    assert_eq!(
        post(&hook, FIRING, Some("BEARER s3cr3t-token-0124"))
            .await
            .0,
        401
    );
    // A groupKey past its limit is refused, naming it.
    let mut big_key: serde_json::Value = serde_json::from_str(&payload(
        vec![sloguard_alert("firing", "k1", "2026-11-27T06:00:00Z")],
        0,
    ))
    .unwrap();
    big_key["groupKey"] = serde_json::Value::String("g".repeat(20_000));
    let (status, body) = post(
        &hook,
        &big_key.to_string(),
        Some("Bearer s3cr3t-token-0123"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("groupKey"),
        "{body}"
    );
    // 100 distinct pages in one delivery: one batch on the queue.
    let alerts: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut a = sloguard_alert("firing", &format!("fp-{i}"), "2026-11-27T06:00:00Z");
            a["labels"]["sloth_slo"] = serde_json::Value::String(format!("slo-{i}"));
            a
        })
        .collect();
    let (status, body) = post(&hook, &payload(alerts, 0), Some("Bearer s3cr3t-token-0123")).await;
    assert_eq!(status, 200, "{body}");
    let batch = rx.triggers.try_recv().expect("one batch");
    assert_eq!(batch.len(), 100);
    assert!(rx.triggers.try_recv().is_err(), "one delivery, one batch");
    assert!(
        state
            .webhook
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 4,
        "refusals are counted"
    );
    // The operator API authenticates before reading the body too.
    let (status, body) = post(&format!("{url}/api/v1/failover"), "{\"domain\": 1}", None).await;
    assert_eq!(status, 401, "{body}");
}

/// Outside text never reaches the terminal raw: a real `serve` receives a webhook whose
/// labels and group key hold an escape sequence (clear the screen) and a newline with a
/// forged log line. Its text log on stderr quotes them escaped: no ESC byte, no line
/// starting with the forgery.
#[tokio::test]
async fn escape_sequences_in_labels_never_reach_the_text_log_raw() {
    use crate::common::prom::free_port;
    use crate::common::{curl, sloguard, sloth_spec, write_specs};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let q = |e: &str| format!(r#"sum(rate(http_requests_total{{job="api"{e}}}[{{{{.window}}}}]))"#);
    write_specs(
        &dir.path().join("specs"),
        &[(
            "api.yaml",
            &sloth_spec("api", &q(r#",code=~"5..""#), &q("")),
        )],
    );
    let port = free_port();
    let config = dir.path().join("sloguard.yaml");
    std::fs::write(&config, format!("specs: specs\nsource: {{thanos: {{url: 'http://127.0.0.1:9'}}}}\nevaluation: {{interval: 2s}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {{listen: 127.0.0.1:{port}}}\n")).unwrap();
    let log = dir.path().join("serve.log");
    let mut child = sloguard()
        .args(["--log-format", "text", "serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl(&format!("{base}/healthz")).0 != 200 {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut alert = sloguard_alert("firing", "evil", "2024-01-01T00:00:00Z");
    alert["labels"]["sloth_service"] = "api\u{1b}[2J".into();
    alert["labels"]["sloth_slo"] = "availability\nFORGED line".into();
    alert["labels"]["region"] = "us-east-1\u{1b}]0;pwned\u{7}".into();
    let mut body: serde_json::Value = serde_json::from_str(&payload(vec![alert], 1)).unwrap();
    body["groupKey"] = "{}:{x=\"\u{1b}[2J\nFORGED group\"}".into();
    let (status, answer) = post(
        &format!("{base}/api/v1/alertmanager"),
        &body.to_string(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Both log lines that quote the delivery: the handler's truncation warning and the
    // engine's re-evaluation notice.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("truncated alerts") && text.contains("Alertmanager pages") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery was not logged:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !text.contains('\u{1b}'),
        "a raw ESC reached the log:\n{text:?}"
    );
    assert!(
        !text.contains('\u{7}'),
        "a raw BEL reached the log:\n{text:?}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("FORGED")),
        "a forged line:\n{text}"
    );
    for quoted in [
        r"service=api\u{1b}[2J",
        r"slo=availability\nFORGED line",
        r"region=us-east-1\u{1b}]0;pwned\u{7}",
        r"\u{1b}[2J\nFORGED group",
    ] {
        assert!(text.contains(quoted), "{quoted} missing from:\n{text}");
    }
}
