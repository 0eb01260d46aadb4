//! The tick keeps time (issue 20.3): a flood of distinct webhook pages during an outage,
//! with a source that answers slowly, never holds scheduled evaluations off. The
//! failover comes within `consecutive + 1` intervals of the first burning evaluation,
//! and pages add at most one extra evaluation per interval.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::repo;
use sloguard::app::{self, drill, App, Observer, Purpose, TickOutcome, Trigger};
use sloguard::policy::Action;
use sloguard::query::{MetricsSource, QueryError, QueryResult};

/// The simulated world, answering every query after 20 ms of real time.
#[derive(Clone)]
struct Slow<S>(S);

impl<S: MetricsSource + Sync> MetricsSource for Slow<S> {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.0.instant(query, at, decision).await
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.0.range(query, start, end, step, decision).await
    }
}

#[derive(Default)]
struct Record(Mutex<Vec<TickOutcome>>);

impl Observer for Record {
    fn observe(&self, outcome: &TickOutcome) {
        self.0.lock().unwrap().push(outcome.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_pages_never_delays_the_failover() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.yaml");
    std::fs::write(
        &path,
        format!(
            "name: flood\nduration: 30m\nstep: 10s\nspecs: {}\ntraffic:\n  us-east-1: {{rps: 200, error_ratio: 0.0002}}\n  eu-west-1: {{rps: 200, error_ratio: 0.0002}}\nfaults:\n  - {{kind: errors, region: us-east-1, start: 2m, duration: 1h, error_ratio: 1.0}}\n",
            repo().join("slo-specs").display()
        ),
    )
    .unwrap();
    let (_, d, services) = drill::prepare(Some(&path), None, drill::DRILL_START).unwrap();
    // 50 ms of real time per 10 s evaluation; an evaluation's queries take ~200 ms, so
    // pages arriving every 10 ms always wait in the queue.
    let (clock, schedule) = drill::timing(&d, Some(Duration::from_millis(50)));
    let consecutive = i64::from(d.config.failover.as_ref().unwrap().policy.consecutive);
    let app = App::from_config(
        &d.config,
        &services,
        Slow(d.source.clone()),
        clock.clone(),
        Purpose::Drill,
    )
    .await
    .unwrap();
    let (outbox, inbox) = app::inbox();
    let record = Record::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = flooding.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            // Bounded: at most 4000 deliveries (40 s), and it stops with the test.
            while flooding.load(Ordering::SeqCst) && i < 4000 {
                i += 1;
                let page = Trigger {
                    service: "checkout".into(),
                    slo: format!("requests-availability-{i}"),
                    region: "us-east-1".into(),
                };
                let _ = outbox.triggers.try_send(vec![page]);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let stopper = {
        let clock = clock.clone();
        let start = d.start;
        tokio::spawn(async move {
            // Stop 10 simulated minutes in, or after 40 s of real time.
            let real = tokio::time::Instant::now();
            while sloguard::clock::Clock::now(clock.as_ref()) < start + 10 * 60
                && real.elapsed() < Duration::from_secs(40)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = stop_tx.send(true);
        })
    };
    let mut stop_rx2 = stop_rx.clone();
    let _app = app::run(app, clock.as_ref(), schedule, inbox, &record, async move {
        while !*stop_rx2.borrow_and_update() {
            if stop_rx2.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    flooding.store(false, Ordering::SeqCst);
    let _ = flood.await;
    let _ = stopper.await;
    let outcomes = record.0.into_inner().unwrap();
    let first_burn = outcomes
        .iter()
        .find(|o| {
            o.scheduled
                && o.decisions.iter().any(|d| {
                    matches!(&d.action, Action::Notify { message } if message.contains("is burning its error budget (1/"))
                })
        })
        .map(|o| o.at)
        .expect("a scheduled evaluation saw the active region burn during the flood");
    let failover = outcomes
        .iter()
        .find(|o| {
            o.decisions
                .iter()
                .any(|d| matches!(d.action, Action::StartFailover { .. }))
        })
        .map(|o| o.at)
        .expect("the failover happened during the flood");
    assert!(
        failover - first_burn <= (consecutive + 1) * schedule.interval,
        "failover {}s after the first burning evaluation (interval {}s, N = {consecutive})",
        failover - first_burn,
        schedule.interval
    );
    let paged = outcomes
        .iter()
        .filter(|o| {
            !o.scheduled
                && o.decisions.iter().any(|d| {
                    matches!(&d.action, Action::Notify { message } if message.contains("Alertmanager paged"))
                })
        })
        .count();
    assert!(paged > 0, "pages were answered with re-evaluations");
    // At most one page-triggered evaluation between two scheduled ones.
    let mut extra = 0;
    for o in &outcomes {
        if o.scheduled {
            extra = 0;
        } else if o.snapshot.is_some()
            && o.decisions.iter().any(|d| {
                matches!(&d.action, Action::Notify { message } if message.contains("Alertmanager paged"))
            })
        {
            extra += 1;
            assert!(extra <= 1, "two page evaluations in one interval at {}", o.at);
        }
    }
}
