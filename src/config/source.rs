//! The `source:` section: one query server for every region (`thanos:`) or one per region
//! (`regions:`), each with its timeout, retries, limits, authentication and headers, and
//! how SLI queries are sent (`max_concurrency`, `batch`, `records`).

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::{RawSource, RawThanos};
use super::{Auth, Checked, Ctx, SourceConfig};
use crate::window::Window;

/// The validated `source:` section.
pub(super) struct Sources {
    /// The one server; with per-region servers, the first region's (for messages).
    pub source: SourceConfig,
    /// Per region (`source.regions`); empty when one server serves all.
    pub region_sources: BTreeMap<String, SourceConfig>,
    pub max_concurrency: usize,
    pub batch: bool,
    pub records: bool,
    /// The longest server timeout plus 5 s: how long one SLI query may take.
    pub query_timeout: std::time::Duration,
}

/// Validates `source:`.
pub(super) fn validate(ctx: &Ctx, raw: &RawSource) -> Checked<Sources> {
    let f = &ctx.f;
    let mut problems = Vec::new();
    let (source, region_sources) = match (&raw.thanos, raw.regions.is_empty()) {
        (Some(t), true) => (
            server(ctx, "source.thanos", t, &mut problems),
            BTreeMap::new(),
        ),
        (None, false) => {
            let per: BTreeMap<String, SourceConfig> = raw
                .regions
                .iter()
                .map(|(r, t)| {
                    let field = format!("source.regions.{r}");
                    (r.clone(), server(ctx, &field, t, &mut problems))
                })
                .collect();
            let first = per.values().next().cloned().unwrap_or_else(empty_source);
            (first, per)
        }
        (Some(_), false) => {
            problems.push(format!(
                "{f}: source: thanos and regions are exclusive: one server for every region, or one per region"
            ));
            (empty_source(), BTreeMap::new())
        }
        (None, true) => {
            problems.push(format!(
                "{f}: source: needs thanos: {{url: ...}} or regions: {{<region>: {{url: ...}}}}"
            ));
            (empty_source(), BTreeMap::new())
        }
    };
    let query_timeout = std::time::Duration::from_secs(
        std::iter::once(&source)
            .chain(region_sources.values())
            .map(|s| s.timeout.secs())
            .max()
            .unwrap_or(10)
            + 5,
    );
    let max_concurrency = raw.max_concurrency.unwrap_or(8);
    if !(1..=256).contains(&max_concurrency) {
        problems.push(format!(
            "{f}: source.max_concurrency: {max_concurrency} must be 1 to 256"
        ));
    }
    Checked::new(
        Sources {
            source,
            region_sources,
            max_concurrency,
            batch: raw.batch.unwrap_or(true),
            records: raw.records.unwrap_or(false),
            query_timeout,
        },
        problems,
    )
}

/// A placeholder source while problems are collected (never used: the config is refused).
fn empty_source() -> SourceConfig {
    SourceConfig {
        url: String::new(),
        timeout: Window::from_secs(10),
        retries: 0,
        max_response_bytes: 0,
        partial_response: false,
        auth: Auth::None,
        headers: BTreeMap::new(),
    }
}

/// One query server's settings (`source.thanos`, or `source.regions.<region>`).
fn server(ctx: &Ctx, field: &str, t: &RawThanos, problems: &mut Vec<String>) -> SourceConfig {
    let f = &ctx.f;
    if !(t.url.starts_with("http://") || t.url.starts_with("https://"))
        || reqwest::Url::parse(&t.url).is_err()
    {
        problems.push(format!(
            "{f}: {field}.url: {:?} is not an http(s) URL",
            t.url
        ));
    }
    let timeout = match Window::parse(t.timeout.as_deref().unwrap_or("10s")) {
        Ok(w) => w,
        Err(e) => {
            problems.push(format!("{f}: {field}.timeout: {e}"));
            Window::from_secs(10)
        }
    };
    let auth = match (&t.bearer_token_file, &t.basic_auth) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{f}: {field}: bearer_token_file and basic_auth are exclusive"
            ));
            Auth::None
        }
        (Some(p), None) => Auth::Bearer {
            token_file: ctx.resolve(p),
        },
        (None, Some(b)) => Auth::Basic {
            username: b.username.clone(),
            password_file: ctx.resolve(&b.password_file),
        },
        (None, None) => Auth::None,
    };
    let secret_file: Option<&Path> = match &auth {
        Auth::Bearer { token_file } => Some(token_file),
        Auth::Basic { password_file, .. } => Some(password_file),
        Auth::None => None,
    };
    if let Some(file) = secret_file.filter(|p| !p.is_file()) {
        problems.push(format!(
            "{f}: {field}: secret file {} does not exist",
            file.display()
        ));
    }
    for k in t.headers.keys() {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            problems.push(format!(
                "{f}: {field}.headers: {k:?} is not a valid header name"
            ));
        }
    }
    SourceConfig {
        url: t.url.trim_end_matches('/').to_string(),
        timeout,
        retries: t.retries.unwrap_or(2),
        max_response_bytes: t.max_response_bytes.unwrap_or(64 << 20),
        partial_response: t.partial_response.unwrap_or(false),
        auth,
        headers: t.headers.clone(),
    }
}
