//! Writes a two-region OpenMetrics counter file with an outage (for trying `backtest`):
//! `cargo run --example gen_outage -- <days> <outage error ratio> > data.om`.
use sloguard::sim::{openmetrics, CounterScenario, Outage, RegionTraffic};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let days: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let ratio: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let start = 1_790_000_000 / 86_400 * 86_400;
    let s = CounterScenario {
        start,
        duration: days * 86_400,
        interval: 30,
        job: "api".into(),
        regions: vec![
            RegionTraffic {
                region: "us-east-1".into(),
                rps: 200.0,
                error_ratio: 0.0001,
            },
            RegionTraffic {
                region: "eu-west-1".into(),
                rps: 200.0,
                error_ratio: 0.0001,
            },
        ],
        outages: vec![Outage {
            region: "us-east-1".into(),
            start: (days - 1) * 86_400 + 3_600,
            duration: 3_600,
            error_ratio: ratio,
        }],
    };
    print!("{}", openmetrics(&s));
}
