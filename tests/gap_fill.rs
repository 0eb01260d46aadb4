//! After a source outage the engine fills the gap: the first successful query covers the
//! whole outage, so every window longer than the gap holds its events again (data is
//! complete at the first successful query, and complete means the events are there).
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::repo;
use sloguard::app::clock::Timer;
use sloguard::app::drill;
use sloguard::clock::Clock;
use sloguard::snapshot::DataStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_query_after_a_source_outage_fills_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap.yaml");
    std::fs::write(
        &path,
        format!(
            "name: gap\nduration: 1h\nstep: 10s\nspecs: {}\ntraffic:\n  us-east-1: {{rps: 100, error_ratio: 0.0}}\n  eu-west-1: {{rps: 100, error_ratio: 0.0}}\nfaults:\n  - {{kind: source_down, start: 10m, duration: 20m}}\n  - {{kind: errors, region: us-east-1, start: 15m, duration: 10m, error_ratio: 1.0}}\n",
            repo().join("slo-specs").display()
        ),
    )
    .unwrap();
    let (_, d, services) = drill::prepare(Some(&path), None, drill::DRILL_START).unwrap();
    let (clock, schedule) = drill::timing(&d, None);
    let mut app = drill::app(&d, &services, clock.clone()).await.unwrap();
    app.start(|_, _| {}).await;
    let mut t = clock.now();
    let mut last = None;
    while t < d.start + 31 * 60 {
        t += schedule.interval;
        clock.wait_until(t).await;
        last = Some(app.evaluate(true).await);
    }
    let snap = last.unwrap().snapshot.unwrap();
    let stream = snap
        .streams
        .iter()
        .find(|s| {
            s.service == "checkout" && s.slo == "requests-availability" && s.region == "us-east-1"
        })
        .unwrap();
    assert_eq!(
        stream.data,
        DataStatus::Complete,
        "complete at the first successful query"
    );
    let row = |window: &str| {
        snap.final_rows
            .iter()
            .find(|r| {
                r.service == "checkout"
                    && r.slo == "requests-availability"
                    && r.region == "us-east-1"
                    && r.window == window
            })
            .unwrap()
            .clone()
    };
    // The 1h window holds the full hour of 100 rps, the 20 minute outage included.
    let hour = row("1h");
    assert!(
        hour.events as f64 > 0.97 * 100.0 * 3600.0,
        "the gap is missing from the 1h window: {hour:?}"
    );
    // And its errors: 10 of the 60 minutes failed.
    let ratio = hour.error_ratio.unwrap();
    assert!((ratio - 10.0 / 60.0).abs() < 0.02, "{hour:?}");
}
