//! Routes: GET /v1/signal/{domain}/{region}, GET /v1/probes, GET /v1/peer: the failover
//! signal and what the peers poll. Also the router of `server.signal_listen`, the optional
//! extra listener for what Route 53 and the peers poll: `/v1/signal/{domain}/{region}`,
//! `/v1/probes`, `/v1/peer`, `/healthz` and `/readyz`, nothing else. It has its own
//! connection budget and accept loop, so a flood of connections or requests on
//! `server.listen` (the API, the webhook, the dashboard) cannot reach it. The same
//! endpoints also stay on `server.listen`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::{status, AppState};

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/signal/{domain}/{region}", get(signal))
        .route("/v1/probes", get(probes))
        .route("/v1/peer", get(peer))
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .with_state(state)
}

/// 200 while this replica requests failover of `domain` to `region`, 503 otherwise. Route
/// 53 health checks poll it inverted, so an engine outage never fails anything over.
pub(super) async fn signal(
    State(s): State<Arc<AppState>>,
    axum::extract::Path((domain, region)): axum::extract::Path<(String, String)>,
) -> Response {
    if s.signals.get(&domain, &region) {
        (StatusCode::OK, "failover requested\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no failover requested\n").into_response()
    }
}

/// This replica's view of each failover domain, for its peers (`/v1/peer`): what its
/// evaluation wants, which regions it judges healthy or bad, and the failover it
/// executes or follows, so the replicas agree on one executor.
pub(super) async fn peer(State(s): State<Arc<AppState>>) -> Response {
    let domains = s.peer.read().map(|p| p.clone()).unwrap_or_default();
    Json(crate::app::peers::PeerBody { domains }).into_response()
}

/// This replica's probes of every region, for its peers: a region is confirmed down only
/// when a quorum of replicas see it failing.
pub(super) async fn probes(State(s): State<Arc<AppState>>) -> Response {
    let regions = s.probes.read().map(|p| p.clone()).unwrap_or_default();
    Json(crate::app::peers::ProbesBody { regions }).into_response()
}
