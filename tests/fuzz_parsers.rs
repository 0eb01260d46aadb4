//! Property fuzzing of every parser that reads outside input (issue: hostile input): the
//! Alertmanager webhook JSON, OpenMetrics backtest data, SLO spec YAML, the engine config
//! YAML, GameDay scenario YAML and the operator API bodies. For random bytes and for
//! inputs stitched from each format's own keys and hostile values (huge numbers, NaN,
//! negative durations, deep nesting, long strings), each parse must return (Ok or a
//! clear error) without panicking, within a hang bound, and without allocating more than
//! a bounded multiple of its input (a counting allocator measures the peak).
//!
//! One `#[test]` runs everything in sequence so the allocator's peak belongs to one
//! parse at a time.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs one parse; fails on a panic (proptest reports it), a hang, or an allocation peak
/// beyond `256 × input + 16 MiB`.
fn bounded(what: &str, input: &str, parse: impl FnOnce(&str)) -> Result<(), TestCaseError> {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    parse(input);
    let took = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let limit = 256 * input.len() + (16 << 20);
    prop_assert!(
        took < Duration::from_secs(5),
        "{what} took {took:?} on {} bytes",
        input.len()
    );
    prop_assert!(
        peak <= limit,
        "{what} allocated {peak} bytes for {} bytes of input",
        input.len()
    );
    Ok(())
}

/// Random text built from a format's own tokens and hostile values.
fn stitched(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    let hostile = prop_oneof![
        Just("1e308".to_string()),
        Just("-1".to_string()),
        Just(".nan".to_string()),
        Just("NaN".to_string()),
        Just("9223372036854775807".to_string()),
        Just("0s".to_string()),
        Just("100000y".to_string()),
        Just("[[[[[[[[[[[[[[[[".to_string()),
        Just("{{{{{{{{{{".to_string()),
        (1usize..20_000).prop_map(|n| "a".repeat(n)),
        "[ -~]{0,24}",
    ];
    let token = prop_oneof![
        3 => proptest::sample::select(tokens).prop_map(str::to_string),
        1 => hostile,
        1 => Just("\n".to_string()),
        1 => Just(": ".to_string()),
        1 => Just("  ".to_string()),
    ];
    prop::collection::vec(token, 0..64).prop_map(|v| v.concat())
}

fn lossy_bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..2048)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn either(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![stitched(tokens), lossy_bytes()]
}

fn run(name: &str, strategy: impl Strategy<Value = String>, parse: impl Fn(&str)) {
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |input| bounded(name, &input, &parse))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

const WEBHOOK: &[&str] = &[
    "{\"version\":\"4\",",
    "\"groupKey\":",
    "\"alerts\":[",
    "{\"status\":\"firing\",",
    "\"labels\":{",
    "\"sloth_service\":\"a\",",
    "\"sloth_severity\":\"page\"",
    "\"fingerprint\":",
    "\"startsAt\":",
    "\"truncatedAlerts\":",
    "}",
    "]",
    "\"",
    ",",
    "null",
    "true",
];
const OPENMETRICS: &[&str] = &[
    "# TYPE http_requests counter\n",
    "http_requests_total",
    "{job=\"api\",code=\"500\"}",
    "{region=\"",
    " 1 ",
    " 1790000000",
    " 1e300",
    " -5",
    "# EOF\n",
    "+Inf",
    "\\\"",
    "}",
];
const SPEC: &[&str] = &[
    "version: prometheus/v1\n",
    "version: sloguard/v1\n",
    "service: api\n",
    "slos:\n",
    "  - name: a\n",
    "    objective: 99.9\n",
    "    sli:\n",
    "      events:\n",
    "        error_query: ",
    "sum(rate(x{a=\"1\"}[{{.window}}]))",
    "        total_query: ",
    "    alerting:\n",
    "      name: A\n",
    "    tiers:\n",
    "period: 30d\n",
    "region_label: region\n",
];
const CONFIG: &[&str] = &[
    "source:\n",
    "  thanos:\n",
    "    url: http://127.0.0.1:9\n",
    "evaluation:\n",
    "  interval: ",
    "  lookback: ",
    "regions:\n",
    "  active: a\n",
    "  standby: [b]\n",
    "server:\n",
    "  listen: ",
    "  max_body_bytes: ",
    "failover:\n",
    "  domains:\n",
    "    - name: web\n",
    "      runbook:\n",
    "        - {kind: sns, topic_arn: x}\n",
    "  policy: {consecutive: ",
    "cooldown: ",
    "target_max_burn: ",
];
const SCENARIO: &[&str] = &[
    "name: s\n",
    "duration: ",
    "step: ",
    "traffic:\n",
    "  a: {rps: ",
    "error_ratio: ",
    "}\n",
    "faults:\n",
    "  - {kind: errors, start: 1m, duration: ",
    "  - {kind: source_down, ",
    "expect:\n",
    "  failover: none\n",
    "config:\n",
    "  policy: {consecutive: ",
    "  active: a\n",
];
const OPERATOR: &[&str] = &[
    "{\"domain\":",
    "\"web\"",
    ",\"target\":",
    "\"b\"",
    ",\"reason\":",
    ",\"force\":",
    "true",
    "}",
    "null",
    "[",
];

#[test]
fn every_parser_is_bounded_on_hostile_input() {
    run("webhook", either(WEBHOOK), |t| {
        if let Ok(p) = sloguard::server::webhook::parse(t.as_bytes()) {
            let _ = sloguard::server::webhook::check_limits(&p);
        }
    });
    run("openmetrics", either(OPENMETRICS), |t| {
        let _ = sloguard::openmetrics::parse(t, |_, _| {});
    });
    run("spec", either(SPEC), |t| {
        let _ = sloguard::slo::parse_all(&[(PathBuf::from("fuzz.yaml"), t.to_string())]);
    });
    let dir = tempfile::tempdir().unwrap();
    run("config", either(CONFIG), |t| {
        let _ = sloguard::config::parse(Path::new("fuzz.yaml"), t, dir.path());
    });
    run("scenario", either(SCENARIO), |t| {
        if let Ok(sc) = sloguard::sim::gameday::Scenario::parse("fuzz.yaml", t) {
            let _ = sc.engine_config(Path::new("fuzz.yaml"), None);
        }
    });
    run("operator body", either(OPERATOR), |t| {
        let _ = sloguard::server::parse_operator_body(t.as_bytes());
    });
}
