//! The HTTP face of `serve`, by route family: [`router`] is the table of contents, one
//! line per route with the module that owns it, and [`serve`] runs it in front of an
//! app's loop. Handlers only read the shared state ([`state`]); the engine loop writes it.
//! The built-in dashboard (`/`) reads `/api/v1/status`, `/api/v1/history` (`?since=` for
//! the new points only), `/api/v1/incidents` (with `chaos`) and `/api/v1/slos` (every
//! configured SLO with objective, period and tiers, the configured regions, `chaos`).
//! The forgery guard of the mutating routes is in [`guard`], the credential checks in
//! [`auth`], the connection and webhook budgets in [`limits`], the accept loop in
//! [`listen`], `server.signal_listen` in [`signal`].

pub mod alertmanager;
mod auth;
mod dashboard;
pub mod guard;
pub mod history;
pub mod limits;
pub mod listen;
mod metrics;
mod operator;
pub mod run;
pub mod signal;
mod state;
mod status;
pub mod webhook;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::app::Observer;

pub use history::History;
pub use metrics::render_metrics;
pub use operator::parse_operator_body;
pub use state::{ApiConfig, AppState, Catalog, SloInfo, Telemetry, TierInfo, WebhookCounters};

/// `serve` and `demo`: the HTTP server in front of an app, and the app's loop (the same
/// [`crate::app::run`] every command uses). The loop stops when `stop` turns true or the
/// schedule ends; the HTTP server then keeps answering until `linger` resolves or `stop`
/// turns true (a finished demo keeps its dashboard up). Returns the app.
#[allow(clippy::too_many_arguments)]
pub async fn serve<S: crate::query::MetricsSource, T: crate::app::clock::Timer>(
    app: crate::app::App<S>,
    timer: &T,
    schedule: crate::app::Schedule,
    listeners: impl Into<listen::Listeners>,
    api: ApiConfig,
    chaos: bool,
    extra: &dyn Observer,
    stop: tokio::sync::watch::Receiver<bool>,
    linger: impl std::future::Future<Output = ()>,
) -> crate::app::App<S> {
    let (outbox, inbox) = crate::app::inbox();
    let state = Arc::new(
        AppState::new(api)
            .wired(app.signals(), app.journal(), Some(outbox), chaos)
            .with_catalog(Catalog::of(app.engine())),
    );
    // What the journal restored, and whether automation is off, is true before the
    // backfill: the first answers say so.
    state.set_policy(app.policy());
    state
        .failover
        .store(app.journal().is_some(), Ordering::Release);
    if let Ok(mut a) = state.automation_off.write() {
        *a = app.automation_off();
    }
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    let (server_tx, server_rx) = tokio::sync::watch::channel(false);
    let servers = listeners.into().spawn(
        router(state.clone()),
        signal::router(state.clone()),
        server_rx,
    );
    let observers = crate::app::Observers(vec![state.as_ref(), extra]);
    let app = crate::app::run(
        app,
        timer,
        schedule,
        inbox,
        &observers,
        stopped(stop.clone()),
    )
    .await;
    tokio::select! {
        _ = linger => {}
        _ = stopped(stop) => {}
    }
    let _ = server_tx.send(true);
    for server in servers {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server task failed");
        }
    }
    app
}

/// Every route of `server.listen`. The mutating routes (the webhook and the operator
/// API) come first: only they carry the body limit and the forgery guard.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.api.max_body_bytes;
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/api/v1/history", get(dashboard::history))
        .route("/api/v1/slos", get(dashboard::slos))
        .route("/api/v1/alertmanager", post(alertmanager::handle))
        .route("/api/v1/failover", post(operator::op_failover))
        .route("/api/v1/approve/{incident}", post(operator::op_approve))
        .route("/api/v1/rearm", post(operator::op_rearm))
        .route("/api/v1/incidents/{id}/resolve", post(operator::op_resolve))
        .route("/api/v1/failback", post(operator::op_failback))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .route_layer(axum::middleware::from_fn(guard::refuse_forged))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/status", get(status::status))
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/v1/signal/{domain}/{region}", get(signal::signal))
        .route("/v1/probes", get(signal::probes))
        .route("/v1/peer", get(signal::peer))
        .route("/api/v1/incidents", get(dashboard::incidents))
        .route(
            "/api/v1/incidents/{id}/report",
            get(dashboard::incident_report),
        )
        .with_state(state)
}
