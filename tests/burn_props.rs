//! Property tests of the streaming core against a brute-force oracle that keeps every
//! sample: window sums are exact over the time range the rings cover, that range is within
//! one bucket (1/K) of the window, samples aligned to bucket edges give Prometheus' exact
//! window, late samples are kept or dropped by the lateness rule, and the counter adapter
//! matches Prometheus' reset-adjusted increase.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use sloguard::burn::counter::{CounterState, Observation};
use sloguard::burn::{Layout, Store};
use sloguard::window::Window;

const LATENESS: i64 = 300;

#[derive(Debug, Clone)]
enum Op {
    /// Sample `back` seconds behind (or `ahead` of) the clock.
    Sample {
        ahead: i64,
        back: i64,
        first: u32,
        total: u32,
    },
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0i64..120, 0i64..10, 0u32..5, 0u32..20).prop_map(|(ahead, _, first, total)| Op::Sample { ahead, back: 0, first, total }),
        2 => (0i64..420, 0u32..5, 0u32..20).prop_map(|(back, first, total)| Op::Sample { ahead: 0, back, first, total }),
        1 => (0i64..5_000).prop_map(Op::Advance),
    ]
}

fn windows(spec: &[&str]) -> Vec<Window> {
    spec.iter().map(|w| Window::parse(w).unwrap()).collect()
}

fn check(windows: &[Window], k: u32, ops: &[Op], t0: i64) -> Result<(), TestCaseError> {
    let layout = Layout::new(windows, k).unwrap();
    let mut store = Store::new(layout.clone(), LATENESS);
    let id = store.add_stream();
    let mut kept: Vec<(i64, u64, u64)> = Vec::new();
    let mut clock = t0;
    let mut dropped = 0u64;
    store.advance(t0);
    for op in ops {
        match *op {
            Op::Sample {
                ahead,
                back,
                first,
                total,
            } => {
                let ts = clock + ahead - back;
                let accepted = store.add(id, ts, first, total);
                clock = clock.max(ts);
                let expect = ts >= clock - LATENESS;
                prop_assert_eq!(accepted, expect, "ts {} clock {}", ts, clock);
                if expect {
                    kept.push((ts, u64::from(first), u64::from(total)));
                } else {
                    dropped += 1;
                }
            }
            Op::Advance(dt) => {
                clock += dt;
                store.advance(clock);
            }
        }
        for (level, l) in layout.levels.iter().enumerate() {
            let start = store.window_start(level).unwrap();
            let w = l.window.secs() as i64;
            prop_assert!(
                clock - start < w && clock - start >= w - l.width,
                "level {} covers {}s of {}s",
                level,
                clock - start,
                w
            );
            let (f, t) = kept
                .iter()
                .filter(|(ts, _, _)| *ts >= start && *ts <= clock)
                .fold((0, 0), |a, s| (a.0 + s.1, a.1 + s.2));
            let got = store.window(id, level);
            prop_assert_eq!(
                (got.first, got.total),
                (f, t),
                "level {} window at clock {}",
                level,
                clock
            );
        }
    }
    prop_assert_eq!(store.stats.late_dropped, dropped);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn small_windows_match_oracle(ops in prop::collection::vec(op(), 1..150), t0 in 1_700_000_000i64..1_700_100_000) {
        check(&windows(&["1m", "5m", "10m", "1h"]), 6, &ops, t0)?;
    }

    #[test]
    fn default_windows_match_oracle(ops in prop::collection::vec(op(), 1..80), t0 in 1_700_000_000i64..1_700_100_000) {
        check(&windows(&["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]), 30, &ops, t0)?;
    }

    /// Samples on bucket edges, read at a bucket edge: the sum is exactly Prometheus'
    /// window (t − W, t].
    #[test]
    fn aligned_samples_are_exact(counts in prop::collection::vec((0u32..5, 1u32..9), 1..200), gaps in prop::collection::vec(0i64..3, 1..200)) {
        let ws = windows(&["1m", "5m", "10m", "1h"]);
        let layout = Layout::new(&ws, 6).unwrap();
        let g = layout.levels.last().unwrap().width;
        let mut store = Store::new(layout.clone(), LATENESS);
        let id = store.add_stream();
        let mut t = 1_700_000_400 / g * g;
        let mut kept = Vec::new();
        for ((first, total), gap) in counts.iter().zip(gaps.iter().cycle()) {
            t += (1 + gap) * g;
            store.add(id, t, *first, *total);
            kept.push((t, u64::from(*first), u64::from(*total)));
            for (level, l) in layout.levels.iter().enumerate() {
                let w = l.window.secs() as i64;
                let exact = kept.iter().filter(|(ts, _, _)| *ts > t - w && *ts <= t).fold((0, 0), |a, s| (a.0 + s.1, a.1 + s.2));
                let got = store.window(id, level);
                prop_assert_eq!((got.first, got.total), exact, "level {} at {}", level, t);
            }
        }
    }

    /// Deltas add up to Prometheus' reset-adjusted increase, gaps within staleness included.
    #[test]
    fn counter_deltas_match_increase(values in prop::collection::vec(0.0f64..1000.0, 2..100), steps in prop::collection::vec(1i64..200, 2..100)) {
        let mut c = CounterState::default();
        let mut t = 0;
        let mut sum = 0u64;
        let mut expect = 0.0;
        let mut prev: Option<f64> = None;
        for (v, dt) in values.iter().zip(steps.iter().cycle()) {
            t += dt;
            match c.observe(t, *v, 300) {
                Observation::First => prop_assert!(prev.is_none()),
                Observation::Delta(d) => sum += d,
                Observation::Rejected(r) => prop_assert!(false, "rejected {:?}", r),
            }
            if let Some(p) = prev {
                expect += if *v < p { *v } else { v - p };
            }
            prev = Some(*v);
        }
        prop_assert!((sum as f64 - expect.floor()).abs() <= 1.0, "sum {} expect {}", sum, expect);
    }
}
