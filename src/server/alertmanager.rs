//! Routes: POST /api/v1/alertmanager: the HTTP side of the webhook (the parsing and dedup are
//! pure, in [`super::webhook`]): authenticate, take one of the
//! `server.max_concurrent_webhooks` slots (503 with `Retry-After` when none is free,
//! before reading the body), read and parse, deduplicate, drop pages for SLOs or regions
//! this engine does not evaluate (counted in `sloguard_webhook_pages_dropped_total`, no
//! re-evaluation, no journaled notice), queue the rest as one trigger batch, and
//! acknowledge at once. Also the webhook's metrics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::auth::{error, read_body, refuse_unauthorized};
use super::{webhook, AppState, Catalog, WebhookCounters};

/// The SLOs and regions this engine evaluates, indexed for the webhook: a page for
/// anything else is dropped.
#[derive(Debug, Default)]
pub struct Known {
    /// service → its SLOs.
    slos: HashMap<String, HashSet<String>>,
    /// None when `regions:` names none: the engine evaluates whichever regions the
    /// source returns, so no region is unknown.
    regions: Option<HashSet<String>>,
}

/// Why a page was dropped (the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    UnknownSlo,
    UnknownRegion,
}

impl Known {
    pub fn of(catalog: &Catalog) -> Self {
        let mut slos: HashMap<String, HashSet<String>> = HashMap::new();
        for s in &catalog.slos {
            slos.entry(s.service.clone())
                .or_default()
                .insert(s.slo.clone());
        }
        Known {
            slos,
            regions: (!catalog.regions.is_empty())
                .then(|| catalog.regions.iter().cloned().collect()),
        }
    }

    /// None when (service, slo) is configured and the region is one of the engine's.
    pub fn drop_reason(&self, service: &str, slo: &str, region: &str) -> Option<DropReason> {
        if !self.slos.get(service).is_some_and(|s| s.contains(slo)) {
            Some(DropReason::UnknownSlo)
        } else if self.regions.as_ref().is_some_and(|r| !r.contains(region)) {
            Some(DropReason::UnknownRegion)
        } else {
            None
        }
    }
}

/// `POST /api/v1/alertmanager`: authenticate, bound, parse, deduplicate, drop the
/// unknown, queue page triggers, and acknowledge at once; the engine confirms every
/// trigger with its own evaluation.
pub async fn handle(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(r) = refuse_unauthorized(&headers, s.api.webhook_auth.as_ref()) {
        s.webhook.rejected.fetch_add(1, Relaxed);
        return r;
    }
    // Held until the delivery is processed: at most this many bodies in memory.
    let Some(_slot) = s.webhook_slots.enter() else {
        s.webhook.busy.fetch_add(1, Relaxed);
        return s.webhook_slots.busy();
    };
    let body = match read_body(body, s.api.max_body_bytes).await {
        Ok(b) => b,
        Err(r) => {
            s.webhook.rejected.fetch_add(1, Relaxed);
            return r;
        }
    };
    let payload = match webhook::parse(&body).and_then(|p| webhook::check_limits(&p).map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            s.webhook.rejected.fetch_add(1, Relaxed);
            let status = if e.too_large() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, e.to_string());
        }
    };
    let Ok(Tally {
        processed,
        duplicates,
        unknown,
        unknown_slo,
        unknown_region,
        dropped_example,
        pages,
    }) = sort_alerts(&s, &payload)
    else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "dedup state poisoned");
    };
    let w = &s.webhook;
    w.processed.fetch_add(processed, Relaxed);
    w.duplicates.fetch_add(duplicates, Relaxed);
    w.unknown.fetch_add(unknown, Relaxed);
    w.dropped_unknown_slo.fetch_add(unknown_slo, Relaxed);
    w.dropped_unknown_region.fetch_add(unknown_region, Relaxed);
    if let Some((service, slo, region)) = dropped_example {
        tracing::warn!(unknown_slo, unknown_region, service = %service, slo = %slo, region = %region, "Alertmanager pages for SLOs or regions this engine does not evaluate: dropped (the first one named)");
    }
    if payload.truncated_alerts > 0 {
        let group_key = webhook::truncate(&payload.group_key, webhook::MAX_LOGGED);
        tracing::warn!(group_key = %group_key, truncated = payload.truncated_alerts, "Alertmanager truncated alerts (max_alerts); the engine evaluates every SLO itself");
    }
    // One delivery is at most one re-evaluation: its pages travel as one batch.
    if !pages.is_empty() {
        if let Some(outbox) = &s.outbox {
            let n = pages.len() as u64;
            // Never block the acknowledgement: a full queue means an evaluation is imminent.
            if outbox.triggers.try_send(pages).is_ok() {
                w.triggers.fetch_add(n, Relaxed);
            }
        }
    }
    Json(serde_json::json!({
        "received": payload.alerts.len(),
        "processed": processed,
        "duplicates": duplicates,
        "unknown": unknown,
        "dropped": unknown_slo + unknown_region,
        "truncated": payload.truncated_alerts,
    }))
    .into_response()
}

/// What one delivery's alerts came to: counted by outcome, and the page triggers to queue.
struct Tally {
    processed: u64,
    duplicates: u64,
    unknown: u64,
    unknown_slo: u64,
    unknown_region: u64,
    /// The first dropped page's (service, slo, region), for the log.
    dropped_example: Option<(String, String, String)>,
    pages: Vec<crate::app::Trigger>,
}

/// The dedup state's lock was poisoned: the delivery cannot be processed.
struct DedupPoisoned;

/// Deduplicates a delivery's alerts, maps them to SLO streams, drops the pages for SLOs
/// or regions this engine does not evaluate, and collects the page triggers (each once).
fn sort_alerts(s: &AppState, payload: &webhook::Payload) -> Result<Tally, DedupPoisoned> {
    let (mut processed, mut duplicates, mut unknown) = (0u64, 0u64, 0u64);
    let (mut unknown_slo, mut unknown_region) = (0u64, 0u64);
    // The first dropped page's (service, slo, region), for the log.
    let mut dropped_example: Option<(String, String, String)> = None;
    let mut pages: Vec<crate::app::Trigger> = Vec::new();
    let Ok(mut dedup) = s.dedup.lock() else {
        return Err(DedupPoisoned);
    };
    for a in &payload.alerts {
        if !dedup.first_time(&payload.group_key, a) {
            duplicates += 1;
            continue;
        }
        let Some(m) = webhook::map_alert(a, &s.api.region_label) else {
            unknown += 1;
            continue;
        };
        let page = m.firing && m.severity == Some(crate::slo::Severity::Page);
        if let Some(why) = s.known.drop_reason(&m.service, &m.slo, &m.region) {
            // Not an SLO stream of this engine: never a re-evaluation.
            if !page {
                unknown += 1;
                continue;
            }
            match why {
                DropReason::UnknownSlo => unknown_slo += 1,
                DropReason::UnknownRegion => unknown_region += 1,
            }
            dropped_example.get_or_insert_with(|| {
                let t = |v: &str| webhook::truncate(v, webhook::MAX_LOGGED);
                (t(&m.service), t(&m.slo), t(&m.region))
            });
            continue;
        }
        processed += 1;
        let trigger = crate::app::Trigger {
            service: m.service,
            slo: m.slo,
            region: m.region,
        };
        if page && !pages.contains(&trigger) {
            pages.push(trigger);
        }
    }
    Ok(Tally {
        processed,
        duplicates,
        unknown,
        unknown_slo,
        unknown_region,
        dropped_example,
        pages,
    })
}

/// The webhook's metrics: `sloguard_webhook_alerts{result}` and
/// `sloguard_webhook_pages_dropped_total{reason}`.
pub fn register_metrics(reg: &mut Registry, w: &WebhookCounters) {
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ResultLabel {
        result: String,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ReasonLabel {
        reason: String,
    }
    let alerts = Family::<ResultLabel, Gauge>::default();
    for (result, v) in [
        ("processed", &w.processed),
        ("duplicate", &w.duplicates),
        ("unknown", &w.unknown),
        ("trigger", &w.triggers),
        ("rejected", &w.rejected),
        ("busy", &w.busy),
    ] {
        alerts
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .set(v.load(Relaxed) as i64);
    }
    reg.register("webhook_alerts", "Alertmanager webhook alerts by outcome: processed once, duplicate, unknown, page trigger; and deliveries rejected or answered 503 (busy: server.max_concurrent_webhooks reached)", alerts);
    let dropped = Family::<ReasonLabel, Counter>::default();
    for (reason, v) in [
        ("unknown_slo", &w.dropped_unknown_slo),
        ("unknown_region", &w.dropped_unknown_region),
    ] {
        dropped
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc_by(v.load(Relaxed));
    }
    reg.register(
        "webhook_pages_dropped",
        "Firing page alerts for an SLO or region this engine does not evaluate: dropped, never a re-evaluation",
        dropped,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_streams() {
        let catalog = Catalog {
            slos: vec![],
            regions: vec!["us-east-1".into()],
        };
        let mut k = Known::of(&catalog);
        k.slos
            .entry("api".into())
            .or_default()
            .insert("availability".into());
        assert_eq!(k.drop_reason("api", "availability", "us-east-1"), None);
        assert_eq!(
            k.drop_reason("api", "latency", "us-east-1"),
            Some(DropReason::UnknownSlo)
        );
        assert_eq!(
            k.drop_reason("web", "availability", "us-east-1"),
            Some(DropReason::UnknownSlo)
        );
        assert_eq!(
            k.drop_reason("api", "availability", "mars-1"),
            Some(DropReason::UnknownRegion)
        );
        // No regions configured: the source's regions are the engine's.
        let mut open = Known::of(&Catalog::default());
        open.slos = k.slos.clone();
        assert_eq!(open.drop_reason("api", "availability", "mars-1"), None);
        assert_eq!(
            open.drop_reason("api", "latency", "mars-1"),
            Some(DropReason::UnknownSlo)
        );
    }
}
