//! The HTTP client of the Prometheus query API (Thanos Query and compatible servers):
//! form POSTs to `/api/v1/query` and `/api/v1/query_range` with `dedup=true` and
//! `partial_response=false` on decision queries, a server-side `timeout` and a client
//! timeout 2 s longer, retries with backoff and jitter (connection errors and 5xx within
//! the budget, 422 once, 400 never), JSON decoded only when the content type says so, and
//! a response size limit.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{is_promql_notice, parse_sample_value, MetricsSource, QueryError, QueryResult, Series};
use crate::config::{Auth, SourceConfig};

#[derive(Debug, Clone)]
pub struct ThanosClient {
    http: reqwest::Client,
    cfg: SourceConfig,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    infos: Vec<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

enum Attempt {
    Done(Result<QueryResult, QueryError>),
    Retry(QueryError),
}

impl ThanosClient {
    pub fn new(cfg: SourceConfig) -> Result<Self, QueryError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(cfg.timeout.secs() + 2))
            .build()
            .map_err(|e| QueryError::Connect {
                url: cfg.url.clone(),
                message: e.to_string(),
            })?;
        Ok(ThanosClient { http, cfg })
    }

    fn secret(path: &std::path::Path) -> Result<String, QueryError> {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| QueryError::Secret {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }

    async fn post(
        &self,
        path: &str,
        mut form: Vec<(&'static str, String)>,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        let url = format!("{}{path}", self.cfg.url);
        form.push(("timeout", format!("{}s", self.cfg.timeout.secs())));
        form.push(("dedup", "true".into()));
        form.push((
            "partial_response",
            if decision {
                self.cfg.partial_response
            } else {
                true
            }
            .to_string(),
        ));
        let budget = Duration::from_secs(self.cfg.timeout.secs() + 2);
        // The retry budget as a timer, not a clock read: a backoff that would outlast it
        // ends the query with the last error instead.
        let deadline = tokio::time::sleep(budget);
        tokio::pin!(deadline);
        let mut retried_422 = false;
        let mut attempt = 0u32;
        loop {
            match self.once(&url, &form).await {
                Attempt::Done(r) => return r,
                Attempt::Retry(e) => {
                    let is_422 = matches!(e, QueryError::Status { status: 422, .. });
                    if (is_422 && retried_422) || attempt >= self.cfg.retries {
                        return Err(e);
                    }
                    retried_422 |= is_422;
                    let backoff = Duration::from_millis(100 * (1 << attempt.min(6)));
                    let jitter =
                        Duration::from_millis(fastrand::u64(0..=backoff.as_millis() as u64 / 2));
                    tracing::debug!(url = %url, attempt, error = %e, "retrying query");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff + jitter) => {}
                        _ = &mut deadline => return Err(e),
                    }
                    attempt += 1;
                }
            }
        }
    }

    async fn once(&self, url: &str, form: &[(&'static str, String)]) -> Attempt {
        let mut req = self.http.post(url).form(form);
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        match &self.cfg.auth {
            Auth::None => {}
            Auth::Bearer { token_file } => match Self::secret(token_file) {
                Ok(t) => req = req.bearer_auth(t),
                Err(e) => return Attempt::Done(Err(e)),
            },
            Auth::Basic {
                username,
                password_file,
            } => match Self::secret(password_file) {
                Ok(p) => req = req.basic_auth(username, Some(p)),
                Err(e) => return Attempt::Done(Err(e)),
            },
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(QueryError::Timeout {
                    secs: self.cfg.timeout.secs() + 2,
                })
            }
            Err(e) => {
                return Attempt::Retry(QueryError::Connect {
                    url: url.to_string(),
                    message: e.to_string(),
                })
            }
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > self.cfg.max_response_bytes {
                        return Attempt::Done(Err(QueryError::TooLarge {
                            url: url.to_string(),
                            limit: self.cfg.max_response_bytes,
                        }));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Attempt::Retry(QueryError::Timeout {
                        secs: self.cfg.timeout.secs() + 2,
                    })
                }
                Err(e) => {
                    return Attempt::Retry(QueryError::Connect {
                        url: url.to_string(),
                        message: e.to_string(),
                    })
                }
            }
        }
        let is_json = content_type.contains("json");
        let envelope: Option<Envelope> = if is_json {
            serde_json::from_slice(&body).ok()
        } else {
            None
        };
        if !(200..300).contains(&status) {
            let message = match &envelope {
                Some(e) => format!(
                    "{}: {}",
                    e.error_type.clone().unwrap_or_default(),
                    e.error.clone().unwrap_or_default()
                ),
                None => snippet(&body),
            };
            let err = QueryError::Status {
                status,
                url: url.to_string(),
                message,
            };
            return match status {
                422 | 429 | 500..=599 => Attempt::Retry(err),
                _ => Attempt::Done(Err(err)),
            };
        }
        if !is_json {
            return Attempt::Done(Err(QueryError::NotJson {
                url: url.to_string(),
                content_type,
                snippet: snippet(&body),
            }));
        }
        let Some(env) = envelope else {
            return Attempt::Done(Err(QueryError::Malformed {
                url: url.to_string(),
                message: format!("not a query response: {}", snippet(&body)),
            }));
        };
        Attempt::Done(decode(url, env))
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode(url: &str, env: Envelope) -> Result<QueryResult, QueryError> {
    let malformed = |message: String| QueryError::Malformed {
        url: url.to_string(),
        message,
    };
    if env.status != "success" {
        return Err(malformed(format!(
            "status {:?}: {}",
            env.status,
            env.error.unwrap_or_default()
        )));
    }
    let mut out = QueryResult::default();
    for w in env.warnings.iter().chain(env.infos.iter()) {
        if is_promql_notice(w) {
            tracing::info!(url, notice = %w, "PromQL notice");
        } else {
            out.degraded = true;
            out.warnings.push(w.clone());
        }
    }
    let data = env.data.ok_or_else(|| malformed("no data".into()))?;
    let point = |(t, v): &(f64, String)| -> Result<(i64, f64), QueryError> {
        let value =
            parse_sample_value(v).ok_or_else(|| malformed(format!("bad sample value {v:?}")))?;
        Ok((t.floor() as i64, value))
    };
    match data.result_type.as_str() {
        "vector" | "matrix" => {
            let raw: Vec<RawSeries> =
                serde_json::from_value(data.result).map_err(|e| malformed(e.to_string()))?;
            for r in raw {
                let mut points = Vec::with_capacity(r.values.len().max(1));
                if let Some(v) = &r.value {
                    points.push(point(v)?);
                }
                for v in &r.values {
                    points.push(point(v)?);
                }
                out.series.push(Series {
                    labels: r.metric,
                    points,
                });
            }
        }
        "scalar" => {
            let v: (f64, String) =
                serde_json::from_value(data.result).map_err(|e| malformed(e.to_string()))?;
            out.series.push(Series {
                labels: BTreeMap::new(),
                points: vec![point(&v)?],
            });
        }
        other => return Err(malformed(format!("unexpected result type {other:?}"))),
    }
    Ok(out)
}

impl MetricsSource for ThanosClient {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.post(
            "/api/v1/query",
            vec![("query", query.to_string()), ("time", at.to_string())],
            decision,
        )
        .await
    }

    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.post(
            "/api/v1/query_range",
            vec![
                ("query", query.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
            decision,
        )
        .await
    }
}
