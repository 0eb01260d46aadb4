//! The router of `server.signal_listen`, the optional extra listener for what Route 53
//! and the peers poll: `/v1/signal/{domain}/{region}`, `/v1/probes`, `/v1/peer`, `/healthz` and
//! `/readyz`, nothing else. It has its own connection budget and accept loop, so a flood
//! of connections or requests on `server.listen` (the API, the webhook, the dashboard)
//! cannot reach it. The same endpoints also stay on `server.listen`.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use super::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/signal/{domain}/{region}", get(super::signal))
        .route("/v1/probes", get(super::probes))
        .route("/v1/peer", get(super::peer))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(super::readyz))
        .with_state(state)
}
