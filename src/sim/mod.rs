//! Simulated multi-region request counters, deterministic and pure: the data that tests,
//! benchmarks and backfills replay. [`openmetrics`] renders a scenario of per-region
//! request rates, baseline error ratios and error outages as OpenMetrics counter text
//! (`http_requests_total{job,code,region}`), the format `promtool tsdb
//! create-blocks-from openmetrics` and `sloguard backtest` read.

pub mod gameday;

use std::fmt::Write;

/// One region's traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionTraffic {
    pub region: String,
    /// Requests per second.
    pub rps: f64,
    /// Error ratio outside outages.
    pub error_ratio: f64,
}

/// A period of a different error ratio in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub region: String,
    /// Seconds from the start.
    pub start: i64,
    pub duration: i64,
    pub error_ratio: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CounterScenario {
    /// Unix seconds of the first sample.
    pub start: i64,
    /// Seconds of data.
    pub duration: i64,
    /// Seconds between samples (scrape interval).
    pub interval: i64,
    pub job: String,
    pub regions: Vec<RegionTraffic>,
    pub outages: Vec<Outage>,
}

impl CounterScenario {
    /// The error ratio of a region during the interval ending at `offset` seconds.
    pub fn error_ratio_at(&self, region: &RegionTraffic, offset: i64) -> f64 {
        self.outages
            .iter()
            .find(|o| {
                o.region == region.region && offset > o.start && offset <= o.start + o.duration
            })
            .map_or(region.error_ratio, |o| o.error_ratio)
    }
}

/// Renders the scenario as OpenMetrics text: per region a `code="200"` and a `code="500"`
/// counter, whole numbers of requests (fractions carry over), ending with `# EOF`.
pub fn openmetrics(s: &CounterScenario) -> String {
    let steps = s.duration / s.interval;
    let mut out = String::with_capacity((steps as usize + 1) * s.regions.len() * 2 * 80);
    out.push_str("# HELP http_requests Requests served.\n# TYPE http_requests counter\n");
    for r in &s.regions {
        for (code, bad) in [("200", false), ("500", true)] {
            let series = format!(
                "http_requests_total{{code=\"{code}\",job=\"{}\",region=\"{}\"}}",
                s.job, r.region
            );
            let (mut value, mut carry) = (0.0f64, 0.0f64);
            for i in 0..=steps {
                if i > 0 {
                    let e = s.error_ratio_at(r, i * s.interval);
                    let n = r.rps * s.interval as f64 * if bad { e } else { 1.0 - e } + carry;
                    carry = n - n.floor();
                    value += n.floor();
                }
                let _ = writeln!(out, "{series} {value} {}", s.start + i * s.interval);
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_the_outage() {
        let s = CounterScenario {
            start: 1_000_000,
            duration: 120,
            interval: 30,
            job: "api".into(),
            regions: vec![RegionTraffic {
                region: "a".into(),
                rps: 10.0,
                error_ratio: 0.0,
            }],
            outages: vec![Outage {
                region: "a".into(),
                start: 60,
                duration: 30,
                error_ratio: 1.0,
            }],
        };
        let text = openmetrics(&s);
        let bad: Vec<&str> = text.lines().filter(|l| l.contains("\"500\"")).collect();
        assert_eq!(bad.len(), 5);
        assert!(bad[3].contains(" 300 1000090"), "{}", bad[3]);
        assert!(bad[4].contains(" 300 1000120"));
        assert!(text.ends_with("# EOF\n"));
    }
}
