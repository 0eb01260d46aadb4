//! Criterion benches of the streaming core (issue: streaming burn-rate core). Run on one
//! core: `taskset -c 0 cargo bench --bench burn`. Figures are in benches/README.md.
//!
//! `naive` is the comparison the issue asks for: per stream, 1-minute raw buckets over 30
//! days, re-summed for every window on every evaluation.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sloguard::backtest;
use sloguard::burn::series::Ingestor;
use sloguard::burn::{Core, Layout, SloModel, StreamId, TierModel};
use sloguard::sim::{self, CounterScenario, Outage, RegionTraffic};
use sloguard::slo::{self, Severity};
use sloguard::window::Window;

fn default_windows() -> Vec<Window> {
    ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
        .iter()
        .map(|w| Window::parse(w).unwrap())
        .collect()
}

fn core_with(streams: usize) -> (Core, Vec<StreamId>) {
    let layout = Layout::new(&default_windows(), 30).unwrap();
    let lvl = |w: &str| layout.level_of(Window::parse(w).unwrap()).unwrap();
    let tiers = vec![
        TierModel {
            severity: Severity::Page,
            long: lvl("1h"),
            short: lvl("5m"),
            threshold: 0.0144,
        },
        TierModel {
            severity: Severity::Page,
            long: lvl("6h"),
            short: lvl("30m"),
            threshold: 0.006,
        },
        TierModel {
            severity: Severity::Ticket,
            long: lvl("1d"),
            short: lvl("2h"),
            threshold: 0.003,
        },
        TierModel {
            severity: Severity::Ticket,
            long: lvl("3d"),
            short: lvl("6h"),
            threshold: 0.001,
        },
    ];
    let mut core = Core::new(layout, 300);
    let slo = core.add_slo(SloModel {
        tiers,
        min_events: 0,
        counts_good: false,
        budget: 0.001,
    });
    let ids = (0..streams).map(|_| core.add_stream(slo)).collect();
    (core, ids)
}

/// A fixed pseudo-random order of stream handles (xorshift), as samples arrive.
fn shuffled(ids: &[StreamId], n: usize) -> Vec<StreamId> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ids[(x % ids.len() as u64) as usize]
        })
        .collect()
}

const T0: i64 = 1_790_000_000;

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest_prehandle");
    for streams in [10_000usize, 1_000_000] {
        let (mut core, ids) = core_with(streams);
        let order = shuffled(&ids, 1 << 20);
        core.store.add(ids[0], T0, 0, 1);
        g.throughput(Throughput::Elements(order.len() as u64));
        g.bench_function(format!("{streams}_streams"), |b| {
            b.iter(|| {
                for id in &order {
                    core.store.add(*id, T0, 1, 3);
                }
            })
        });
    }
    g.finish();
}

fn rotate(c: &mut Criterion) {
    let mut g = c.benchmark_group("rotate_10s");
    for streams in [10_000usize, 1_000_000] {
        let (mut core, ids) = core_with(streams);
        for id in &ids {
            core.store.add(*id, T0, 1, 3);
        }
        let mut t = T0;
        g.bench_function(format!("{streams}_streams"), |b| {
            b.iter(|| {
                t += 10;
                core.store.advance(t);
            })
        });
    }
    g.finish();
}

fn evaluate(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate_all_windows_tiers");
    for streams in [10_000usize, 1_000_000] {
        let (mut core, ids) = core_with(streams);
        for (i, id) in ids.iter().enumerate() {
            core.store.add(*id, T0, (i % 7) as u32, 100);
        }
        let mut out = Vec::new();
        g.bench_function(format!("{streams}_streams"), |b| {
            b.iter(|| {
                out.clear();
                core.evaluate(&mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// Naive: 1-minute buckets over 30 days per stream, re-summed per window per evaluation.
struct Naive {
    buckets: Vec<[u32; 2]>,
    per_stream: usize,
    windows_min: Vec<usize>,
}

impl Naive {
    fn new(streams: usize) -> Self {
        let per_stream = 30 * 24 * 60;
        Naive {
            buckets: vec![[0, 0]; streams * per_stream],
            per_stream,
            windows_min: vec![5, 30, 60, 120, 360, 1440, 4320, 43200],
        }
    }
    fn add(&mut self, s: usize, ts: i64, bad: u32, total: u32) {
        let b = &mut self.buckets[s * self.per_stream + (ts / 60) as usize % self.per_stream];
        b[0] += bad;
        b[1] += total;
    }
    fn evaluate(&self, now: i64, thresholds: &[(usize, usize, f64)]) -> usize {
        let cur = (now / 60) as usize;
        let mut firing = 0;
        let mut sums = [[0u64; 2]; 8];
        for s in 0..self.buckets.len() / self.per_stream {
            let ring = &self.buckets[s * self.per_stream..(s + 1) * self.per_stream];
            for (i, w) in self.windows_min.iter().enumerate() {
                let mut acc = [0u64; 2];
                for k in 0..*w {
                    let b = ring[(cur + self.per_stream - k) % self.per_stream];
                    acc[0] += u64::from(b[0]);
                    acc[1] += u64::from(b[1]);
                }
                sums[i] = acc;
            }
            for (long, short, thr) in thresholds {
                let (l, sh) = (sums[*long], sums[*short]);
                if l[1] > 0
                    && sh[1] > 0
                    && l[0] as f64 > thr * l[1] as f64
                    && sh[0] as f64 > thr * sh[1] as f64
                {
                    firing += 1;
                }
            }
        }
        firing
    }
}

fn naive_vs_core(c: &mut Criterion) {
    let streams = 1_000;
    let mut g = c.benchmark_group("evaluate_1k_streams");
    g.sample_size(10);
    let mut naive = Naive::new(streams);
    for s in 0..streams {
        naive.add(s, T0, (s % 7) as u32, 100);
    }
    let thr = [(2, 0, 0.0144), (4, 1, 0.006), (5, 3, 0.003), (6, 4, 0.001)];
    g.bench_function("naive_resum", |b| {
        b.iter(|| black_box(naive.evaluate(T0, &thr)))
    });
    let (mut core, ids) = core_with(streams);
    for (i, id) in ids.iter().enumerate() {
        core.store.add(*id, T0, (i % 7) as u32, 100);
    }
    let mut out = Vec::new();
    g.bench_function("cascaded_rings", |b| {
        b.iter(|| {
            out.clear();
            core.evaluate(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

fn raw_series(c: &mut Criterion) {
    // 100 SLOs (10 services x 10), 100k raw series: per SLO 4 regions x 2 codes x 125 pods.
    let mut files = Vec::new();
    for s in 0..10 {
        let mut y = format!("version: \"prometheus/v1\"\nservice: svc{s}\nslos:\n");
        for i in 0..10 {
            y += &format!(
                "  - name: slo{i}\n    objective: 99.9\n    sli:\n      events:\n        error_query: sum(rate(http_requests_total{{job=\"svc{s}\",handler=\"/h{i}\",code=~\"5..\"}}[{{{{.window}}}}]))\n        total_query: sum(rate(http_requests_total{{job=\"svc{s}\",handler=\"/h{i}\"}}[{{{{.window}}}}]))\n    alerting: {{name: A{s}x{i}}}\n"
            );
        }
        files.push((std::path::PathBuf::from(format!("svc{s}.yaml")), y));
    }
    let services = slo::parse_all(&files).unwrap();
    let mut ing = Ingestor::new(&services, 30, 300, 300).unwrap();
    let mut series = Vec::new();
    let start = std::time::Instant::now();
    for s in 0..10 {
        for i in 0..10 {
            for region in ["us-east-1", "eu-west-1", "us-west-2", "ap-south-1"] {
                for code in ["200", "500"] {
                    for pod in 0..125 {
                        let labels: Vec<(String, String)> = [
                            ("code", code.to_string()),
                            ("handler", format!("/h{i}")),
                            ("job", format!("svc{s}")),
                            ("pod", format!("pod-{pod}")),
                            ("region", region.to_string()),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                        series.push(ing.resolve("http_requests_total", &labels));
                    }
                }
            }
        }
    }
    let resolve = start.elapsed();
    eprintln!(
        "resolved {} raw series in {:?} ({:.1} us/series)",
        series.len(),
        resolve,
        resolve.as_secs_f64() * 1e6 / series.len() as f64
    );
    let order: Vec<_> = shuffled(
        &(0..series.len() as u32).map(StreamId).collect::<Vec<_>>(),
        series.len(),
    )
    .into_iter()
    .map(|i| series[i.0 as usize])
    .collect();
    let mut round = 0i64;
    let mut g = c.benchmark_group("raw_series_ingest");
    g.throughput(Throughput::Elements(order.len() as u64));
    g.bench_function("100k_series", |b| {
        b.iter(|| {
            round += 1;
            let ts = T0 + round;
            let v = (round * 10) as f64;
            for id in &order {
                ing.ingest(*id, ts, v);
            }
        })
    });
    g.finish();
}

fn backtest_end_to_end(c: &mut Criterion) {
    let regions: Vec<RegionTraffic> = (0..60)
        .map(|i| RegionTraffic {
            region: format!("r{i}"),
            rps: 200.0,
            error_ratio: 0.0001,
        })
        .collect();
    let scenario = CounterScenario {
        start: T0 / 86_400 * 86_400,
        duration: 3 * 86_400,
        interval: 30,
        job: "api".into(),
        regions,
        outages: vec![Outage {
            region: "r0".into(),
            start: 2 * 86_400,
            duration: 3_600,
            error_ratio: 1.0,
        }],
    };
    let text = sim::openmetrics(&scenario);
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    let spec_text = "version: \"prometheus/v1\"\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n    sli:\n      events:\n        error_query: sum(rate(http_requests_total{job=\"api\",code=~\"5..\"}[{{.window}}]))\n        total_query: sum(rate(http_requests_total{job=\"api\"}[{{.window}}]))\n    alerting: {name: ApiBurn}\n";
    let services = slo::parse_all(&[("api.yaml".into(), spec_text.to_string())]).unwrap();
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function(format!("{samples}_samples_{}MB", text.len() >> 20), |b| {
        b.iter_batched(
            || (),
            |_| {
                black_box(
                    backtest::run(&services, &text, &backtest::Options::default(), |_, _| {})
                        .unwrap(),
                )
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    ingest,
    rotate,
    evaluate,
    naive_vs_core,
    raw_series,
    backtest_end_to_end
);
criterion_main!(benches);
