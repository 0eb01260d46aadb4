//! The loop that runs the tick: start (resume, backfill, first snapshot), then evaluate
//! on the [`Schedule`], answer operator calls first and coalesced webhook pages next,
//! fetch coverage gaps, feed finished runbooks back, and drain on shutdown.

use tokio::sync::mpsc;

use super::clock::Timer;
use super::pages::coalesce;
use super::runbooks::{drain, recv, settle};
use super::{App, Inbox, Observer, OperatorCall, TickOutcome, Trigger};
use crate::failover::Finished;
use crate::query::MetricsSource;

/// When the loop evaluates: every `interval` seconds from the start, until `until`
/// (simulated runs end; `serve` runs until shut down).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub interval: i64,
    pub until: Option<i64>,
}

/// The loop: start (resume, backfill, first snapshot), then evaluate on schedule, serve
/// operator calls first and coalesced webhook triggers next, and feed finished runbooks
/// back, until `shutdown` resolves or the schedule ends. Returns the app for reports.
pub async fn run<S: MetricsSource, T: Timer>(
    mut app: App<S>,
    timer: &T,
    schedule: Schedule,
    mut inbox: Inbox,
    observer: &dyn Observer,
    shutdown: impl std::future::Future<Output = ()>,
) -> App<S> {
    tokio::pin!(shutdown);
    let start = app.start_serving(backfill_progress(), Some(&mut inbox.operator));
    let first = tokio::select! {
        out = start => out,
        _ = &mut shutdown => return app,
    };
    observer.observe(&first);
    // Ready only once every source has been backfilled: a start that could not read
    // the history retries it (with backoff) and decides nothing until it has.
    let mut ready = false;
    mark_ready(&app, &mut ready, observer);
    if !ready {
        tracing::warn!("backfill incomplete: not ready; retrying with backoff");
    }
    let mut finished = app.take_finished();
    // Webhook pages waiting for the next evaluation, and whether this interval's one
    // extra (page-triggered) evaluation already ran.
    let mut pages: Vec<Trigger> = Vec::new();
    let mut extra_done = false;
    let interval = schedule.interval.max(1);
    let mut next = timer.now() + interval;
    loop {
        if schedule.until.is_some_and(|u| next > u) {
            break;
        }
        let retry = app.engine.next_gap_retry().filter(|t| *t < next);
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                drain(&mut app, &mut finished, observer).await;
                app.save_windows();
                break;
            }
            Some(call) = inbox.operator.recv() => {
                if let Some(out) = operator_pass(&mut app, timer, &mut finished, call).await {
                    observer.observe(&out);
                }
            }
            Some(done) = recv(&mut finished), if !timer.simulated() => {
                observer.observe(&app.finished(&done));
            }
            _ = timer.wait_until(retry.unwrap_or(next)), if retry.is_some() => {
                observer.observe(&app.fill_gaps_serving(Some(&mut inbox.operator)).await);
                mark_ready(&app, &mut ready, observer);
            }
            // The schedule before webhook pages: a flood of pages never delays a
            // scheduled evaluation (only scheduled ones count toward N).
            _ = timer.wait_until(next) => {
                let out = scheduled_pass(&mut app, timer, &mut finished, &mut pages, &mut inbox.operator).await;
                observer.observe(&out);
                mark_ready(&app, &mut ready, observer);
                extra_done = false;
                next = next_evaluation(next, interval, timer.now());
            }
            Some(batch) = inbox.triggers.recv() => {
                // Coalesce: pages queued meanwhile join this batch; at most one extra
                // evaluation per interval answers them, later ones wait for the next
                // scheduled evaluation (which re-evaluates anyway).
                coalesce(&mut pages, batch, &mut inbox.triggers);
                if !extra_done {
                    extra_done = true;
                    let batch = std::mem::take(&mut pages);
                    observer.observe(&app.triggers_serving(&batch, Some(&mut inbox.operator)).await);
                }
            }
        }
    }
    tracing::info!("engine stopped");
    app
}

/// Logs the start-up backfill's progress every quarter.
fn backfill_progress() -> impl FnMut(usize, usize) {
    let mut last_pct = 0;
    move |done, total| {
        let pct = done * 100 / total.max(1);
        if pct >= last_pct + 25 {
            last_pct = pct;
            tracing::info!(done, total, "backfill progress");
        }
    }
}

/// Tells the observer (once) that the backfill is done.
fn mark_ready<S: MetricsSource>(app: &App<S>, ready: &mut bool, observer: &dyn Observer) {
    if !*ready && app.engine.backfilled() {
        *ready = true;
        observer.ready();
        tracing::info!("backfill done; ready");
    }
}

/// The time of the evaluation after `next`; a wall clock that fell behind (a slow
/// source) skips, never bursts.
fn next_evaluation(next: i64, interval: i64, now: i64) -> i64 {
    let next = next + interval;
    if next <= now {
        now + interval
    } else {
        next
    }
}

/// An operator call between passes; None when its caller already gave up.
async fn operator_pass<S: MetricsSource, T: Timer>(
    app: &mut App<S>,
    timer: &T,
    finished: &mut Option<mpsc::UnboundedReceiver<Finished>>,
    call: OperatorCall,
) -> Option<TickOutcome> {
    if call.reply.is_closed() {
        // The caller gave up waiting and was told the call was not applied.
        tracing::warn!(command = %serde_json::to_string(&call.command).unwrap_or_default(), "operator call dropped: its caller stopped waiting");
        return None;
    }
    let (result, out) = app.operator(call.domain.as_deref(), call.command, &call.reason);
    let _ = call.reply.send(result);
    Some(settle(app, timer, finished, out).await)
}

/// A scheduled evaluation: the notices of the pages waiting for it first, then the
/// tick's own decisions (and, in simulated time, the runbooks it started).
async fn scheduled_pass<S: MetricsSource, T: Timer>(
    app: &mut App<S>,
    timer: &T,
    finished: &mut Option<mpsc::UnboundedReceiver<Finished>>,
    pages: &mut Vec<Trigger>,
    ops: &mut mpsc::Receiver<OperatorCall>,
) -> TickOutcome {
    let notices = if pages.is_empty() {
        Vec::new()
    } else {
        app.page_notices(&std::mem::take(pages))
    };
    let mut out = app.evaluate_serving(true, Some(ops)).await;
    if !notices.is_empty() {
        let mut all = notices;
        all.append(&mut out.decisions);
        out.decisions = all;
    }
    settle(app, timer, finished, out).await
}
