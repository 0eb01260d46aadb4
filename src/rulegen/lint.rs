//! `sloguard lint`: specs that are legal but doubtful. Pure: the specs, the scrape
//! interval and (optionally) the traffic a backtest saw are arguments.
//!
//! - A tier whose threshold is 1 or more can never fire (an error ratio never exceeds 1).
//! - A window shorter than four scrape intervals holds too few samples for `rate()` to
//!   mean much (Prometheus needs two; four tolerates a missed scrape or two).
//! - With traffic: a budget that a single failed request exhausts over the period, and a
//!   tier whose long window never sees `min_events` events (so it can never fire).

use crate::backtest::FinalRow;
use crate::slo::{Service, Slo};
use crate::window::Window;

/// One doubtful thing, named the way validation problems are: `file: slo: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: String,
    pub slo: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.slo, self.message)
    }
}

/// Every finding for `services`. `traffic`: the final rows of a backtest over
/// representative data (events per window and region), when available.
pub fn lint(services: &[Service], scrape: Window, traffic: Option<&[FinalRow]>) -> Vec<Finding> {
    let mut out = Vec::new();
    for service in services {
        for slo in &service.slos {
            let mut say = |message: String| {
                out.push(Finding {
                    file: service.file.display().to_string(),
                    slo: slo.name.clone(),
                    message,
                })
            };
            for t in &slo.tiers {
                let threshold = slo.threshold(t);
                if threshold >= 1.0 {
                    say(format!(
                        "{} tier {}/{} (factor {}) has threshold {threshold}: an error ratio never exceeds 1, so it can never fire",
                        t.severity, t.long, t.short, t.factor
                    ));
                }
            }
            let mut windows: Vec<Window> = slo
                .tiers
                .iter()
                .flat_map(|t| [t.long, t.short])
                .chain([Window::minutes(5)])
                .collect();
            windows.sort();
            windows.dedup();
            for w in windows {
                if w.secs() < 4 * scrape.secs() {
                    say(format!(
                        "window {w} is shorter than four scrape intervals ({scrape} each): its rate() rests on too few samples"
                    ));
                }
            }
            if let Some(rows) = traffic {
                traffic_findings(service, slo, rows, &mut say);
            }
        }
    }
    out
}

fn traffic_findings(service: &Service, slo: &Slo, rows: &[FinalRow], say: &mut impl FnMut(String)) {
    let events = |window: &str| -> Option<u64> {
        rows.iter()
            .filter(|r| r.service == service.name && r.slo == slo.name && r.window == window)
            .map(|r| r.events)
            .max()
    };
    let period = slo.period.to_string();
    if let Some(n) = events(&period) {
        let allowed = slo.error_budget() * n as f64;
        if n > 0 && allowed < 1.0 {
            say(format!(
                "at the traffic seen ({n} events over {period}), the budget allows {allowed:.2} failed requests: a single failure exhausts it"
            ));
        }
    }
    if slo.min_events > 0 {
        for t in &slo.tiers {
            if let Some(n) = events(&t.long.to_string()) {
                if n < slo.min_events {
                    say(format!(
                        "{} tier {}/{} cannot fire at the traffic seen: its long window saw {n} events, min_events is {}",
                        t.severity, t.long, t.short, slo.min_events
                    ));
                }
            }
        }
    }
}
