//! Writes an OpenMetrics counter file of simulated regions with a 1h outage in the first
//! region on the last day (for trying `backtest`, and for the benchmark backfills):
//! `cargo run --example gen_outage -- [days] [outage error ratio] [regions] [interval s] [end unix s]`.
use sloguard::sim::{openmetrics, CounterScenario, Outage, RegionTraffic};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).and_then(|a| a.parse::<f64>().ok());
    let days = arg(1).unwrap_or(3.0) as i64;
    let ratio = arg(2).unwrap_or(1.0);
    let regions = arg(3).unwrap_or(2.0) as usize;
    let interval = arg(4).unwrap_or(30.0) as i64;
    let names = ["us-east-1", "eu-west-1"];
    let start = match arg(5) {
        Some(end) => (end as i64 - days * 86_400) / interval * interval,
        None => 1_790_000_000 / 86_400 * 86_400,
    };
    let s = CounterScenario {
        start,
        duration: days * 86_400,
        interval,
        job: "api".into(),
        regions: (0..regions)
            .map(|i| RegionTraffic {
                region: names
                    .get(i)
                    .map_or_else(|| format!("region-{i}"), |n| n.to_string()),
                rps: 200.0,
                error_ratio: 0.0001,
            })
            .collect(),
        outages: vec![Outage {
            region: "us-east-1".into(),
            start: (days - 1) * 86_400 + 3_600,
            duration: 3_600,
            error_ratio: ratio,
        }],
    };
    print!("{}", openmetrics(&s));
}
