//! The two commands that put the HTTP server in front of an app: `serve` (a Thanos
//! source, the wall clock, the configured step backends) and `demo` (the simulated world
//! and clock, dry-run backends, a terminal timeline). Both run [`super::serve`], the same
//! loop GameDays run; they differ only in the arguments.

use std::path::Path;
use std::time::Duration;

use crate::app::clock::WallClock;
use crate::app::{self, drill, App, Purpose, Schedule, StepBackends};
use crate::config::Config;
use crate::query::regional::Configured;
use crate::slo::Service;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("binding {listen}: {source}")]
    Bind {
        listen: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    #[error(transparent)]
    App(#[from] app::AppError),
    #[error(transparent)]
    Drill(#[from] drill::DrillError),
    #[error("--speed {0} must be more than 0 and at most 1000000, and leave at most a day between evaluations")]
    Speed(f64),
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| RunError::Bind {
            listen: listen.to_string(),
            source,
        })
}

/// `sloguard serve`: until `stop` turns true.
pub async fn serve(
    cfg: &Config,
    services: &[Service],
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), RunError> {
    let clock = WallClock::new();
    let source = Configured::from_config(cfg)?;
    let purpose = Purpose::Serve(StepBackends::Configured);
    let app = App::from_config(cfg, services, source, clock.clone(), purpose).await?;
    let listener = bind(&cfg.listen).await?;
    tracing::info!(listen = %cfg.listen, "serving /metrics, /api/v1/status, /healthz, /readyz");
    let signal = match &cfg.signal_listen {
        Some(addr) => {
            let l = bind(addr).await?;
            tracing::info!(signal_listen = %addr, "serving /v1/signal, /v1/probes, /healthz, /readyz");
            Some(l)
        }
        None => None,
    };
    let api = super::ApiConfig {
        webhook_auth: cfg.webhook_auth.clone(),
        api_token: cfg.api_token.clone(),
        max_body_bytes: cfg.max_body_bytes,
        region_label: cfg.regions.label.clone(),
        max_concurrent_webhooks: cfg.max_concurrent_webhooks,
    };
    let schedule = Schedule {
        interval: cfg.evaluation.interval.secs() as i64,
        until: None,
    };
    let quiet = drill::Quiet;
    super::serve(
        app,
        clock.as_ref(),
        schedule,
        super::listen::Listeners {
            main: listener,
            signal,
        },
        api,
        false,
        &quiet,
        stop,
        async {},
    )
    .await;
    Ok(())
}

/// How the demo runs.
pub struct DemoOptions<'a> {
    /// A scenario file, or None for the built-in primary outage.
    pub scenario: Option<&'a Path>,
    /// Simulated seconds per real second, in (0, 1e6].
    pub speed: f64,
    pub listen: &'a str,
    /// Resolves when the dashboard may stop after the scenario (or never resolves).
    pub linger: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>,
    /// Stops the run early (Ctrl-C).
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// Simulated unix seconds at the start.
    pub start: i64,
}

/// `sloguard demo`: the drill through the serve path, paced, with the dashboard and a
/// terminal timeline; returns the report once the dashboard stops.
pub async fn demo(o: DemoOptions<'_>) -> Result<drill::Report, RunError> {
    if !(o.speed > 0.0 && o.speed <= 1e6) {
        return Err(RunError::Speed(o.speed));
    }
    let (sc, d, services) = drill::prepare(o.scenario, None, o.start)?;
    // A positive but tiny speed would make one evaluation wait longer than a Duration holds.
    let pace = Duration::try_from_secs_f64(d.step() as f64 / o.speed)
        .ok()
        .filter(|p| *p <= Duration::from_secs(86_400))
        .ok_or(RunError::Speed(o.speed))?;
    let (clock, schedule) = drill::timing(&d, Some(pace));
    let app = drill::app(&d, &services, clock.clone()).await?;
    let listener = bind(o.listen).await?;
    let url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    println!(
        "sloguard demo: {:?} at {}x. Dashboard: {url}/  API: {url}/api/v1/status",
        sc.name, o.speed
    );
    let collector = drill::Collector::new(&d);
    let timeline = drill::Timeline { start: d.start };
    let both = app::Observers(vec![&collector, &timeline]);
    // Said as soon as the scenario ends, while the dashboard stays up.
    let linger = async {
        println!(
            "demo finished: {} failover(s); the dashboard is at {url}/",
            collector.failovers()
        );
        o.linger.await
    };
    let app = super::serve(
        app,
        clock.as_ref(),
        schedule,
        listener,
        Default::default(),
        true,
        &both,
        o.stop,
        linger,
    )
    .await;
    Ok(drill::finish(&sc, &app, &services, collector)?)
}
