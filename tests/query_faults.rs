//! The query client against a scripted in-test HTTP server on a free loopback port: 5xx
//! then success (retried), 400 (not retried), 422 (retried once), partial-data warnings
//! (degraded), PromQL notices (not degraded), empty results (no data), slow responses
//! (timeout), HTML error pages, a huge body, NaN/+Inf values, and the request parameters.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sloguard::config::{Auth, SourceConfig};
use sloguard::query::thanos::ThanosClient;
use sloguard::query::{MetricsSource, QueryError};
use sloguard::window::Window;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

fn json(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

const OK_VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"region":"us-east-1"},"value":[1700000000,"0.5"]}]}}"#;

/// Serves the replies in order (the last one repeats); returns the URL and the requests seen.
async fn server(replies: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut i = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let reply = replies[i.min(replies.len() - 1)].clone();
            i += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).to_string());
                tokio::time::sleep(reply.delay).await;
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.status,
                    reply.content_type,
                    reply.body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(reply.body.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

fn client(url: &str) -> ThanosClient {
    ThanosClient::new(SourceConfig {
        url: url.to_string(),
        timeout: Window::from_secs(1),
        retries: 2,
        max_response_bytes: 1 << 20,
        partial_response: false,
        auth: Auth::None,
        headers: BTreeMap::new(),
    })
    .unwrap()
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let (url, seen) = server(vec![
        json(
            503,
            r#"{"status":"error","errorType":"unavailable","error":"busy"}"#,
        ),
        json(200, OK_VECTOR),
    ])
    .await;
    let r = client(&url)
        .instant("up", 1_700_000_000, true)
        .await
        .unwrap();
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].points, vec![(1_700_000_000, 0.5)]);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_request_is_not_retried_and_names_the_problem() {
    let (url, seen) = server(vec![json(400, r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}"#)]).await;
    let e = client(&url).instant("sum(", 1, true).await.unwrap_err();
    assert!(
        matches!(&e, QueryError::Status { status: 400, message, .. } if message.contains("bad_data") && message.contains("parse error")),
        "{e}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unprocessable_is_retried_once() {
    let (url, seen) = server(vec![json(422, r#"{"status":"error","errorType":"execution","error":"expanding series: proxy Series(): rpc error: code = Aborted"}"#)]).await;
    let e = client(&url).instant("up", 1, true).await.unwrap_err();
    assert!(matches!(e, QueryError::Status { status: 422, .. }), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn partial_data_warnings_degrade_promql_notices_do_not() {
    let partial = r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["No StoreAPIs matched for this query","PromQL info: metric might not be a counter"]}"#;
    let (url, _) = server(vec![json(200, partial)]).await;
    let r = client(&url).instant("up", 1, true).await.unwrap();
    assert!(r.degraded);
    assert_eq!(
        r.warnings,
        vec!["No StoreAPIs matched for this query".to_string()]
    );
    let notice = r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["PromQL info: metric might not be a counter"]}"#;
    let (url, _) = server(vec![json(200, notice)]).await;
    let r = client(&url).instant("up", 1, true).await.unwrap();
    assert!(!r.degraded);
    assert!(r.series.is_empty(), "an empty result is no data");
}

#[tokio::test]
async fn slow_responses_time_out_within_budget() {
    let (url, _) = server(vec![Reply {
        delay: Duration::from_secs(6),
        ..json(200, OK_VECTOR)
    }])
    .await;
    let started = Instant::now();
    let e = client(&url).instant("up", 1, true).await.unwrap_err();
    assert!(matches!(e, QueryError::Timeout { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn html_error_pages_are_not_parsed_as_json() {
    let html = Reply {
        status: 502,
        content_type: "text/html",
        body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        delay: Duration::ZERO,
    };
    let (url, seen) = server(vec![html.clone()]).await;
    let e = client(&url).instant("up", 1, true).await.unwrap_err();
    assert!(
        matches!(&e, QueryError::Status { status: 502, message, .. } if message.contains("502 Bad Gateway")),
        "{e}"
    );
    assert_eq!(seen.lock().unwrap().len(), 3, "5xx retried twice");
    let (url, _) = server(vec![Reply {
        status: 200,
        ..html
    }])
    .await;
    let e = client(&url).instant("up", 1, true).await.unwrap_err();
    assert!(matches!(e, QueryError::NotJson { .. }), "{e}");
}

#[tokio::test]
async fn huge_bodies_are_refused() {
    let big = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[]}},"pad":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    let (url, _) = server(vec![json(200, &big)]).await;
    let e = client(&url).instant("up", 1, true).await.unwrap_err();
    assert!(
        matches!(
            e,
            QueryError::TooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn special_values_and_matrices() {
    let m = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"region":"a"},"values":[[10,"NaN"],[20,"+Inf"],[30,"-Inf"],[40,"1e-3"]]}]}}"#;
    let (url, _) = server(vec![json(200, m)]).await;
    let r = client(&url).range("up", 10, 40, 10, true).await.unwrap();
    let p = &r.series[0].points;
    assert!(
        p[0].1.is_nan()
            && p[1].1 == f64::INFINITY
            && p[2].1 == f64::NEG_INFINITY
            && p[3].1 == 0.001
    );
}

#[tokio::test]
async fn decision_queries_refuse_partial_data_and_carry_auth() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cr3t\n").unwrap();
    let (url, seen) = server(vec![json(200, OK_VECTOR)]).await;
    let mut headers = BTreeMap::new();
    headers.insert("X-Scope-OrgID".to_string(), "tenant-1".to_string());
    let c = ThanosClient::new(SourceConfig {
        url,
        timeout: Window::from_secs(7),
        retries: 2,
        max_response_bytes: 1 << 20,
        partial_response: false,
        auth: Auth::Bearer { token_file: token },
        headers,
    })
    .unwrap();
    c.instant("sum(rate(x[5m]))", 1_700_000_000, true)
        .await
        .unwrap();
    let req = seen.lock().unwrap()[0].clone();
    assert!(req.starts_with("POST /api/v1/query "), "{req}");
    for want in [
        "partial_response=false",
        "dedup=true",
        "timeout=7s",
        "time=1700000000",
        "authorization: Bearer s3cr3t",
        "x-scope-orgid: tenant-1",
    ] {
        assert!(
            req.to_ascii_lowercase()
                .contains(&want.to_ascii_lowercase()),
            "{want} missing in {req}"
        );
    }
}

#[tokio::test]
async fn connection_refused_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = client(&format!("http://127.0.0.1:{port}"))
        .instant("up", 1, true)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, QueryError::Connect { url, .. } if url.contains(&port.to_string())),
        "{e}"
    );
}
