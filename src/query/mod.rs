//! Reading SLIs from a server with the Prometheus HTTP API (Thanos Query, Prometheus,
//! Cortex, Mimir): the [`MetricsSource`] trait the engine depends on, its result types,
//! and the HTTP implementation in [`thanos`].
//!
//! An empty result is *no data*, never zero; partial-data warnings make a result
//! *degraded*; PromQL notices are only logged.

pub mod probe;
pub mod regional;
pub mod thanos;

use std::collections::BTreeMap;
use std::future::Future;

/// One series of a result, with its (unix seconds, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    pub series: Vec<Series>,
    /// The server reported partial data (a store was down): never decide on it.
    pub degraded: bool,
    /// Warnings that made the result degraded, for the record.
    pub warnings: Vec<String>,
    /// With one server per region: the regions whose server did not answer (region →
    /// why); their series are absent, the other regions' are whole.
    pub unreachable: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("query timed out after {secs}s")]
    Timeout { secs: u64 },
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        status: u16,
        url: String,
        message: String,
    },
    #[error("response of {url} is not JSON (content type {content_type:?}): {snippet}")]
    NotJson {
        url: String,
        content_type: String,
        snippet: String,
    },
    #[error("response of {url} exceeds {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("malformed response from {url}: {message}")]
    Malformed { url: String, message: String },
    #[error("cannot read secret {path}: {message}")]
    Secret { path: String, message: String },
}

/// A source of SLI data. `decision`: the query can lead to a failover decision, so the
/// source must refuse partial data and deduplicate replicas.
pub trait MetricsSource: Send + Sync {
    /// Whether the source answers any PromQL, so SLOs of one shape can share a batched
    /// query (a simulated world that answers only the specs' own queries says no).
    fn batches(&self) -> bool {
        true
    }

    fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> impl Future<Output = Result<QueryResult, QueryError>> + Send;
    fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> impl Future<Output = Result<QueryResult, QueryError>> + Send;
}

/// Parses a Prometheus sample value: numbers, `NaN`, `+Inf`, `-Inf`.
pub fn parse_sample_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Whether a warning is a PromQL notice (only logged) rather than a partial-data warning.
pub fn is_promql_notice(w: &str) -> bool {
    w.starts_with("PromQL info") || w.starts_with("PromQL warning")
}
