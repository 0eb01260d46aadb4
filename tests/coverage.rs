//! Coverage before decisions (issue 19.1, 19.2): a start whose backfill fails decides on
//! nothing until the history has been read; once it has, the windows equal a normal
//! start's. A non-finite error series never makes a healthy target.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::repo;
use sloguard::app::clock::Timer;
use sloguard::app::{drill, App, Purpose};
use sloguard::clock::Clock;
use sloguard::policy::Action;
use sloguard::query::{MetricsSource, QueryError, QueryResult};
use sloguard::snapshot::{DataStatus, Snapshot};

/// The simulated world behind a switch: range queries (the backfill and gap fills) and
/// instant queries (steady evaluations) fail while theirs is on; `nan_error_in` answers
/// NaN for the error series of that region.
#[derive(Clone)]
struct Switched<S> {
    inner: S,
    ranges_down: Arc<AtomicBool>,
    instants_down: Arc<AtomicBool>,
    nan_error_in: Option<String>,
    /// The source holds no sample before this time (a Prometheus that lost its history).
    history_from: Option<i64>,
}

fn refused() -> QueryError {
    QueryError::Connect {
        url: "test://thanos".into(),
        message: "connection refused (test)".into(),
    }
}

impl<S: MetricsSource + Sync> Switched<S> {
    fn poison(&self, query: &str, mut r: QueryResult) -> QueryResult {
        if let Some(region) = &self.nan_error_in {
            // The error query of the specs matches 5xx codes; the total query does not.
            if query.contains("5..") {
                for s in &mut r.series {
                    if s.labels.get("region") == Some(region) {
                        for p in &mut s.points {
                            p.1 = f64::NAN;
                        }
                    }
                }
            }
        }
        r
    }
}

impl<S: MetricsSource + Sync> MetricsSource for Switched<S> {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        if self.instants_down.load(Ordering::SeqCst) {
            return Err(refused());
        }
        let r = self.inner.instant(query, at, decision).await?;
        Ok(self.poison(query, r))
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        if self.ranges_down.load(Ordering::SeqCst) {
            return Err(refused());
        }
        let mut r = self.inner.range(query, start, end, step, decision).await?;
        if let Some(from) = self.history_from {
            for s in &mut r.series {
                s.points.retain(|(t, _)| *t >= from);
            }
            r.series.retain(|s| !s.points.is_empty());
        }
        Ok(self.poison(query, r))
    }
}

fn scenario(dir: &std::path::Path, faults: &str) -> std::path::PathBuf {
    let path = dir.join("coverage.yaml");
    std::fs::write(
        &path,
        format!(
            "name: coverage\nduration: 2h\nstep: 10s\nspecs: {}\ntraffic:\n  us-east-1: {{rps: 200, error_ratio: 0.0002}}\n  eu-west-1: {{rps: 200, error_ratio: 0.0002}}\nfaults:\n{faults}",
            repo().join("slo-specs").display()
        ),
    )
    .unwrap();
    path
}

fn row<'a>(snap: &'a Snapshot, region: &str, window: &str) -> &'a sloguard::backtest::FinalRow {
    snap.final_rows
        .iter()
        .find(|r| {
            r.service == "checkout"
                && r.slo == "requests-availability"
                && r.region == region
                && r.window == window
        })
        .unwrap_or_else(|| panic!("no {region} {window} row"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_without_history_decides_nothing_until_the_backfill_succeeds() {
    start_without_history(None).await;
}

/// The same with the history read a point and an SLO at a time (`evaluation.backfill_points: 1`):
/// the backfill in one-point pieces, the gap fill one SLO per group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_without_history_filled_in_small_groups_equals_a_normal_start() {
    start_without_history(Some(1)).await;
}

async fn start_without_history(backfill_points: Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    // 100% errors in the active region from the first minute: on seconds of data every
    // window (30d included) would read 100% errors and page at once.
    let path = scenario(
        dir.path(),
        "  - {kind: errors, region: us-east-1, start: 1m, duration: 1h, error_ratio: 1.0}\n",
    );
    let (_, mut d, services) = drill::prepare(Some(&path), None, drill::DRILL_START).unwrap();
    // The reference is a normal start with the default pieces.
    let normal = d.config.clone();
    if let Some(points) = backfill_points {
        d.config.evaluation.backfill_points = points;
    }
    let ranges_down = Arc::new(AtomicBool::new(true));
    let source = Switched {
        inner: d.source.clone(),
        ranges_down: ranges_down.clone(),
        instants_down: Arc::new(AtomicBool::new(false)),
        nan_error_in: None,
        history_from: None,
    };
    let (clock, schedule) = drill::timing(&d, None);
    let mut app = App::from_config(&d.config, &services, source, clock.clone(), Purpose::Drill)
        .await
        .unwrap();
    let (ref_clock, _) = drill::timing(&d, None);
    let mut reference = App::from_config(
        &normal,
        &services,
        d.source.clone(),
        ref_clock.clone(),
        Purpose::Drill,
    )
    .await
    .unwrap();
    app.start(|_, _| {}).await;
    reference.start(|_, _| {}).await;
    assert!(!app.engine().backfilled(), "the backfill failed");
    assert!(reference.engine().backfilled());

    // Five minutes of steady evaluations with the history unreadable.
    let mut t = clock.now();
    let mut decisions = Vec::new();
    while t < d.start + 5 * 60 {
        t += schedule.interval;
        clock.wait_until(t).await;
        let out = app.evaluate(true).await;
        decisions.extend(out.decisions.iter().map(|d| d.action.clone()));
        let snap = out.snapshot.unwrap();
        assert!(!snap.coverage.backfilled);
        assert!(snap
            .coverage
            .gaps
            .iter()
            .any(|g| g.initial && g.attempts > 0));
    }
    assert!(
        !decisions
            .iter()
            .any(|a| matches!(a, Action::StartFailover { .. } | Action::Blocked { .. })),
        "no failover decision on windows the engine has not seen: {decisions:?}"
    );
    let health = app.engine().health();
    let east = health
        .iter()
        .find(|h| h.region == "us-east-1" && h.slo == "requests-availability")
        .unwrap();
    assert!(east.holding.is_empty(), "{east:?}");
    assert!(
        !east.partial.is_empty(),
        "the page tier holds, marked partial: {east:?}"
    );
    assert!(!east.covered);
    let policy = app.policy();
    assert_eq!(policy[0].active, "us-east-1");
    assert!(
        matches!(policy[0].phase, sloguard::policy::Phase::Armed),
        "{:?}",
        policy[0].phase
    );

    // The history comes back: the gap is fetched at its next retry (within the 30 s
    // backoff cap), before that evaluation's own queries.
    ranges_down.store(false, Ordering::SeqCst);
    let back = t;
    let mut snap;
    loop {
        t += schedule.interval;
        clock.wait_until(t).await;
        snap = app.evaluate(true).await.snapshot.unwrap();
        if app.engine().backfilled() || t > back + 40 {
            break;
        }
    }
    assert!(app.engine().backfilled(), "{:?}", snap.coverage);
    assert!(snap.coverage.gaps.is_empty(), "{:?}", snap.coverage);
    let mut rt = ref_clock.now();
    let mut ref_snap = None;
    while rt < t {
        rt += schedule.interval;
        ref_clock.wait_until(rt).await;
        ref_snap = reference.evaluate(true).await.snapshot;
    }
    let ref_snap = ref_snap.unwrap();
    for region in ["us-east-1", "eu-west-1"] {
        for window in ["5m", "1h", "6h", "30d"] {
            let (a, b) = (row(&snap, region, window), row(&ref_snap, region, window));
            let rel = (a.events as f64 - b.events as f64).abs() / (b.events as f64).max(1.0);
            assert!(
                rel < 0.01,
                "{region} {window}: {a:?} vs a normal start's {b:?}"
            );
            let (ra, rb) = (a.error_ratio.unwrap(), b.error_ratio.unwrap());
            assert!(
                (ra - rb).abs() <= 0.01 * rb.max(1e-6) + 1e-6,
                "{region} {window}: {a:?} vs {b:?}"
            );
        }
    }
    // Covered now: the 5 minutes of 100% errors are judged against a full history.
    let east = row(&snap, "us-east-1", "30d");
    assert!(east.error_ratio.unwrap() < 0.01, "{east:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nan_error_series_never_makes_a_healthy_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "  - {kind: errors, region: us-east-1, start: 1m, duration: 1h, error_ratio: 1.0}\n",
    );
    let (_, d, services) = drill::prepare(Some(&path), None, drill::DRILL_START).unwrap();
    let source = Switched {
        inner: d.source.clone(),
        ranges_down: Arc::new(AtomicBool::new(false)),
        instants_down: Arc::new(AtomicBool::new(false)),
        nan_error_in: Some("eu-west-1".into()),
        history_from: None,
    };
    let (clock, schedule) = drill::timing(&d, None);
    let mut app = App::from_config(&d.config, &services, source, clock.clone(), Purpose::Drill)
        .await
        .unwrap();
    app.start(|_, _| {}).await;
    let mut t = clock.now();
    let mut decisions = Vec::new();
    let mut last = None;
    while t < d.start + 15 * 60 {
        t += schedule.interval;
        clock.wait_until(t).await;
        let out = app.evaluate(true).await;
        decisions.extend(out.decisions.iter().map(|d| d.action.clone()));
        last = out.snapshot;
    }
    assert!(
        !decisions
            .iter()
            .any(|a| matches!(a, Action::StartFailover { .. })),
        "failed over to a region whose error series is NaN: {decisions:?}"
    );
    assert!(
        decisions
            .iter()
            .any(|a| matches!(a, Action::Blocked { reason } if reason.contains("eu-west-1"))),
        "the refusal names the target: {decisions:?}"
    );
    let snap = last.unwrap();
    let west = snap
        .streams
        .iter()
        .find(|s| s.region == "eu-west-1" && s.slo == "requests-availability")
        .unwrap();
    assert!(
        matches!(&west.data, DataStatus::Degraded(why) if why.contains("non-finite")),
        "{west:?}"
    );
    let state = snap
        .regions
        .iter()
        .find(|r| r.region == "eu-west-1")
        .unwrap();
    assert_eq!(state.state, "degraded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_lost_its_history_covers_only_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "  - {kind: errors, region: us-east-1, start: 1m, duration: 1h, error_ratio: 1.0}\n",
    );
    let (_, d, services) = drill::prepare(Some(&path), None, drill::DRILL_START).unwrap();
    // Two minutes of history: what a Prometheus on a fresh volume holds.
    let source = Switched {
        inner: d.source.clone(),
        ranges_down: Arc::new(AtomicBool::new(false)),
        instants_down: Arc::new(AtomicBool::new(false)),
        nan_error_in: None,
        history_from: Some(d.start - 120),
    };
    let (clock, schedule) = drill::timing(&d, None);
    let mut app = App::from_config(&d.config, &services, source, clock.clone(), Purpose::Drill)
        .await
        .unwrap();
    let start = app.start(|_, _| {}).await.snapshot.unwrap();
    let stream = start
        .streams
        .iter()
        .find(|s| s.region == "us-east-1" && s.slo == "requests-availability")
        .unwrap();
    assert!(
        stream.covered_secs.unwrap() <= 180,
        "covered from the first sample, not 30 days: {stream:?}"
    );
    let mut t = clock.now();
    let mut decisions = Vec::new();
    while t < d.start + 5 * 60 {
        t += schedule.interval;
        clock.wait_until(t).await;
        let out = app.evaluate(true).await;
        decisions.extend(out.decisions.iter().map(|d| d.action.clone()));
    }
    assert!(
        !decisions
            .iter()
            .any(|a| matches!(a, Action::StartFailover { .. })),
        "no failover on minutes of history: {decisions:?}"
    );
}
