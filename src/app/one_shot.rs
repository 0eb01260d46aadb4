//! The app run once, without the loop: `eval` (backfill and evaluate once) and
//! `backtest --config` (backfill, then replay a span through the same engine).

use std::sync::Arc;

use super::{App, AppError, Purpose};
use crate::clock::Clock;
use crate::config::Config;
use crate::query::MetricsSource;
use crate::slo::Service;
use crate::snapshot::Snapshot;

/// `backtest --config`: backfill to `start`, then replay `(start, end]` from the source at
/// the fine step through the same engine the tick uses; no decisions.
pub async fn replay<S: MetricsSource>(
    cfg: &Config,
    services: &[Service],
    source: S,
    start: i64,
    end: i64,
) -> Result<crate::backtest::Report, AppError> {
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::FixedClock(start));
    let mut app = App::from_config(cfg, services, source, clock, Purpose::Evaluate).await?;
    app.start(|_, _| {}).await;
    let alerts = app.engine.replay(start, end).await;
    Ok(crate::backtest::Report {
        alerts,
        final_rows: crate::backtest::final_rows(app.engine.streams()),
        stats: crate::backtest::Stats {
            start,
            end,
            ..Default::default()
        },
    })
}

/// `eval`: backfill every window up to the clock's time and evaluate once; the snapshot.
pub async fn evaluate_once<S: MetricsSource>(
    cfg: &Config,
    services: &[Service],
    source: S,
    clock: Arc<dyn Clock>,
    progress: impl FnMut(usize, usize),
) -> Result<Snapshot, AppError> {
    let mut app = App::from_config(cfg, services, source, clock, Purpose::Evaluate).await?;
    let out = app.start(progress).await;
    Ok(out.snapshot.unwrap_or_else(|| app.snapshot()))
}
