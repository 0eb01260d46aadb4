//! The Alertmanager receiver and operator API over HTTP on a free loopback port: auth
//! missing or wrong (401), oversized bodies (413), malformed JSON and wrong versions (400
//! naming the problem), duplicate deliveries processed once, resolved before firing,
//! truncated alerts, unknown alerts counted, page triggers queued for the engine; pages
//! for SLOs or regions that are not configured counted and dropped; requests a browser
//! could forge (foreign `Origin`, non-JSON content types) refused; `/api/v1/status` says
//! whether automation is on.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use sloguard::app::{Inbox, OperatorCall, Trigger};
use sloguard::config::Credential;
use sloguard::server::{router, ApiConfig, AppState, Catalog, SloInfo};

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
            ..Default::default()
        })
        .wired(Default::default(), None, Some(outbox), false)
        .with_catalog(catalog()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, state, rx)
}

/// The engine behind the test server evaluates `api/availability` and `api/slo-0..99`
/// in us-east-1 and eu-west-1.
fn catalog() -> Catalog {
    let slo = |name: String| SloInfo {
        service: "api".into(),
        slo: name,
        objective: 99.9,
        budget: 0.001,
        period: "30d".into(),
        windows: vec![],
        tiers: vec![],
        builtin: false,
    };
    Catalog {
        slos: std::iter::once("availability".to_string())
            .chain((0..100).map(|i| format!("slo-{i}")))
            .map(slo)
            .collect(),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
    }
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
    // Both log lines that quote the delivery: the handler's truncation warning and its
    // notice that the page (for an SLO this engine does not know) was dropped.
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

/// Pages for an SLO or a region the engine does not evaluate are counted by reason and
/// dropped: no trigger (so no re-evaluation and no journaled notice); resolved or ticket
/// alerts for them count as unknown; a known page in the same delivery still triggers.
#[tokio::test]
async fn pages_for_unconfigured_slos_or_regions_are_dropped() {
    let (url, state, mut rx) = server(None).await;
    let hook = format!("{url}/api/v1/alertmanager");
    let mut unknown_slo = sloguard_alert("firing", "u1", "2026-11-27T06:00:00Z");
    unknown_slo["labels"]["sloth_slo"] = "latency".into();
    let mut unknown_service = sloguard_alert("firing", "u2", "2026-11-27T06:00:00Z");
    unknown_service["labels"]["sloth_service"] = "web".into();
    let mut unknown_region = sloguard_alert("firing", "u3", "2026-11-27T06:00:00Z");
    unknown_region["labels"]["region"] = "mars-1".into();
    let mut resolved_unknown = sloguard_alert("resolved", "u4", "2026-11-27T06:00:00Z");
    resolved_unknown["labels"]["sloth_slo"] = "latency".into();
    let (status, body) = post(
        &hook,
        &payload(
            vec![
                unknown_slo.clone(),
                unknown_service,
                unknown_region,
                resolved_unknown,
            ],
            0,
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["processed"].as_u64(),
            body["dropped"].as_u64(),
            body["unknown"].as_u64()
        ),
        (Some(0), Some(3), Some(1)),
        "{body}"
    );
    assert!(
        rx.triggers.try_recv().is_err(),
        "a page for an unconfigured SLO or region re-evaluates nothing"
    );
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        "sloguard_webhook_pages_dropped_total{reason=\"unknown_slo\"} 2",
        "sloguard_webhook_pages_dropped_total{reason=\"unknown_region\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} missing from\n{metrics}");
    }
    // A known page beside an unknown one: only the known one triggers.
    let mut again = unknown_slo;
    again["fingerprint"] = "u5".into();
    let (status, body) = post(
        &hook,
        &payload(
            vec![
                again,
                sloguard_alert("firing", "k1", "2026-11-27T06:00:00Z"),
            ],
            0,
        ),
        None,
    )
    .await;
    assert_eq!((status, body["dropped"].as_u64()), (200, Some(1)), "{body}");
    let batch = rx.triggers.try_recv().expect("the known page triggers");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].slo, "availability");
    assert_eq!(
        state
            .webhook
            .dropped_unknown_slo
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

/// What a web page in the operator's browser could send to an unauthenticated loopback
/// engine is refused before the body is read: a `text/plain` or form POST (no CORS
/// preflight) with a foreign `Origin`, and any non-JSON body even without `Origin`. What
/// Alertmanager and the CLI send (JSON, no `Origin`) and same-origin JSON pass.
#[tokio::test]
async fn requests_a_browser_could_forge_are_refused() {
    let (url, state, mut rx) = server(None).await;
    let hook = format!("{url}/api/v1/alertmanager");
    let body = payload(
        vec![sloguard_alert("firing", "csrf", "2026-11-27T06:00:00Z")],
        0,
    );
    let send = |target: String, content_type: Option<&'static str>, origin: Option<String>| {
        let body = body.clone();
        async move {
            let mut req = reqwest::Client::new().post(target).body(body);
            if let Some(c) = content_type {
                req = req.header("content-type", c);
            }
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let evil = Some("https://evil.example".to_string());
    for (content_type, origin, want) in [
        (Some("text/plain;charset=UTF-8"), evil.clone(), 403),
        (Some("application/x-www-form-urlencoded"), evil.clone(), 403),
        (Some("application/json"), evil.clone(), 403),
        (Some("application/json"), Some("null".to_string()), 403),
        (Some("text/plain"), None, 415),
        (Some("multipart/form-data; boundary=x"), None, 415),
        (None, None, 415),
    ] {
        let (status, text) = send(hook.clone(), content_type, origin.clone()).await;
        assert_eq!(status, want, "{content_type:?} from {origin:?}: {text}");
    }
    assert!(
        rx.triggers.try_recv().is_err(),
        "nothing refused was queued"
    );
    assert_eq!(
        state
            .webhook
            .processed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // The operator API too, even with the token.
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/rearm"))
        .bearer_auth("op-token")
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(r#"{"domain": "web", "reason": "csrf"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        rx.operator.try_recv().is_err(),
        "no operator call reached the engine"
    );
    // Reads are not mutating: a foreign Origin may read the status.
    let r = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Same origin (the dashboard's own page) with JSON, and no Origin at all: accepted.
    let own = Some(url.clone());
    let (status, text) = send(hook.clone(), Some("application/json"), own).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = send(hook.clone(), Some("application/json; charset=utf-8"), None).await;
    assert_eq!(status, 200, "{text}");
}

/// `/api/v1/status` says whether automation may act and why not, before the first
/// evaluation too (`/readyz` says the same with its 503).
#[tokio::test]
async fn status_says_whether_automation_is_on() {
    use std::sync::atomic::Ordering;
    let (url, state, _rx) = server(None).await;
    let status = || async {
        let r = reqwest::get(format!("{url}/api/v1/status")).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        v["automation"].clone()
    };
    assert_eq!(
        status().await,
        serde_json::json!({"on": false, "reason": "failover is not configured"})
    );
    state.failover.store(true, Ordering::Release);
    assert_eq!(
        status().await,
        serde_json::json!({"on": true, "reason": null})
    );
    *state.automation_off.write().unwrap() = Some("the journal is not writable: disk full".into());
    assert_eq!(
        status().await,
        serde_json::json!({"on": false, "reason": "the journal is not writable: disk full"})
    );
}
