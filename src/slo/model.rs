//! The SLO model every other module reads: services, SLOs, SLIs (as written and pinned
//! to the region label), tiers and alerting, the problems a spec can have, and the
//! number formatting the rules and reports share.

use std::fmt;
use std::path::PathBuf;

use super::{Calendar, LabelMap};
use crate::promql::{self, SliTemplate};
use crate::window::Window;

/// One problem in one file, optionally about one SLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub slo: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slo = self.slo.as_deref().unwrap_or("-");
        write!(f, "{}: {}: {}", self.file.display(), slo, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: tables align severities with `{:<6}`.
        f.pad(self.as_str())
    }
}

/// A multi-window burn-rate tier: it holds when both windows' error ratios exceed
/// `factor × (1 − objective)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub severity: Severity,
    pub long: Window,
    pub short: Window,
    pub factor: f64,
    /// How long the tier must hold before its alert fires (`for:`); None fires at once.
    /// Only the generated alert rules read it: the engine's own decision counts
    /// consecutive evaluations instead.
    pub for_: Option<Window>,
}

/// The SRE Workbook tiers (DESIGN.md): page 14.4× 1h/5m, page 6× 6h/30m,
/// ticket 3× 1d/2h, ticket 1× 3d/6h.
pub fn default_tiers() -> Vec<Tier> {
    vec![
        Tier {
            severity: Severity::Page,
            long: Window::hours(1),
            short: Window::minutes(5),
            factor: 14.4,
            for_: None,
        },
        Tier {
            severity: Severity::Page,
            long: Window::hours(6),
            short: Window::minutes(30),
            factor: 6.0,
            for_: None,
        },
        Tier {
            severity: Severity::Ticket,
            long: Window::days(1),
            short: Window::hours(2),
            factor: 3.0,
            for_: None,
        },
        Tier {
            severity: Severity::Ticket,
            long: Window::days(3),
            short: Window::hours(6),
            factor: 1.0,
            for_: None,
        },
    ]
}

/// The latency shorthand: requests slower than `threshold` seconds are errors.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySli {
    pub metric: String,
    pub selector: String,
    pub threshold: f64,
}

impl LatencySli {
    /// The `le` label value of the threshold bucket, as Prometheus client libraries write it.
    pub fn le(&self) -> String {
        format!("{}", self.threshold)
    }

    fn selector_with(&self, extra: Option<(&str, &str)>) -> String {
        let inner = self
            .selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        let mut parts: Vec<String> = Vec::new();
        if !inner.is_empty() {
            parts.push(inner.to_string());
        }
        if let Some((k, v)) = extra {
            parts.push(format!("{k}=\"{v}\""));
        }
        format!("{{{}}}", parts.join(","))
    }

    pub fn total_query(&self) -> String {
        format!(
            "sum(rate({}_count{}[{}]))",
            self.metric,
            self.selector_with(None),
            promql::WINDOW_PLACEHOLDER
        )
    }

    pub fn error_query(&self) -> String {
        format!(
            "(sum(rate({m}_count{all}[{w}])) - sum(rate({m}_bucket{le}[{w}])))",
            m = self.metric,
            all = self.selector_with(None),
            le = self.selector_with(Some(("le", &self.le()))),
            w = promql::WINDOW_PLACEHOLDER
        )
    }
}

/// How an SLO measures errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    Events {
        error_query: String,
        total_query: String,
    },
    Raw {
        error_ratio_query: String,
    },
    Latency(LatencySli),
}

impl Sli {
    /// The (error, total) event-count query templates, when the SLI has them.
    pub fn event_queries(&self) -> Option<(String, String)> {
        match self {
            Sli::Events {
                error_query,
                total_query,
            } => Some((error_query.clone(), total_query.clone())),
            Sli::Latency(l) => Some((l.error_query(), l.total_query())),
            Sli::Raw { .. } => None,
        }
    }
}

/// The SLI pinned to the region label, ready to render per window.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionalSli {
    Events {
        error: SliTemplate,
        total: SliTemplate,
    },
    Ratio {
        error_ratio: SliTemplate,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertSpec {
    pub disable: bool,
    pub labels: LabelMap,
    pub annotations: LabelMap,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alerting {
    pub name: String,
    pub labels: LabelMap,
    pub annotations: LabelMap,
    pub page: AlertSpec,
    pub ticket: AlertSpec,
}

/// Where an SLI is measured from.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    /// The region's own telemetry (its Prometheus, its services).
    #[default]
    Internal,
    /// From outside the region (e.g. blackbox probes scraped in another region): still
    /// answers when the region and its telemetry are gone.
    External,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub name: String,
    /// Percent, strictly between 0 and 100 (99.9).
    pub objective: f64,
    pub description: Option<String>,
    /// Service labels merged with the SLO's own (SLO wins).
    pub labels: LabelMap,
    pub sli: Sli,
    pub regional: RegionalSli,
    pub alerting: Alerting,
    /// The rolling period, or for a calendar period the longest it can be (31d for a
    /// month): the window the engine keeps so a restart backfills the whole period.
    pub period: Window,
    /// A calendar period (UTC): the budget resets at its boundary ([`crate::calendar`]).
    pub calendar: Option<Calendar>,
    pub tiers: Vec<Tier>,
    pub min_events: u64,
    /// Measured from inside the region (default) or from outside it.
    pub vantage: Vantage,
}

impl Slo {
    /// The error budget as a ratio, rounded to 12 significant digits so 99.9 gives 0.001.
    pub fn error_budget(&self) -> f64 {
        round_sig((100.0 - self.objective) / 100.0)
    }

    pub fn objective_ratio(&self) -> f64 {
        round_sig(self.objective / 100.0)
    }

    /// The error-ratio threshold of a tier: factor × budget, exactly rounded.
    pub fn threshold(&self, tier: &Tier) -> f64 {
        round_sig(tier.factor * self.error_budget())
    }

    /// Every window the SLO needs: 5m (current burn rate), the tiers' windows and the period.
    pub fn windows(&self) -> Vec<Window> {
        let mut w = vec![Window::minutes(5), self.period];
        for t in &self.tiers {
            w.push(t.long);
            w.push(t.short);
        }
        w.sort();
        w.dedup();
        w
    }

    /// The windows the generated rules record a ratio for: [`Self::windows`] without the
    /// rolling stand-in of a calendar period (its ratio is the calendar one), with the
    /// step the calendar ratio is summed at.
    pub fn rule_windows(&self) -> Vec<Window> {
        let mut w = self.windows();
        if let Some(c) = self.calendar {
            if !self.tiers.iter().any(|t| t.long == self.period) {
                w.retain(|x| *x != self.period);
            }
            w.push(c.step());
            w.sort();
            w.dedup();
        }
        w
    }

    /// The period as specs and reports name it: `30d`, or `calendar_month`.
    pub fn period_name(&self) -> String {
        match self.calendar {
            Some(c) => c.name().to_string(),
            None => self.period.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub file: PathBuf,
    pub version: String,
    pub labels: LabelMap,
    pub region_label: String,
    pub slos: Vec<Slo>,
    /// The Kubernetes object the spec came from (Sloth's `PrometheusServiceLevel`): the
    /// PrometheusRule written back for it takes its name and namespace.
    pub object: Option<K8sObject>,
}

/// A Kubernetes object's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sObject {
    pub name: String,
    pub namespace: Option<String>,
}

impl Service {
    /// Sloth's id of an SLO: `<service>-<slo>`.
    pub fn slo_id(&self, slo: &Slo) -> String {
        format!("{}-{}", self.name, slo.name)
    }
}

/// Rounds to 12 significant digits: enough to keep every meaningful digit of a spec value
/// while dropping binary noise (1 − 0.999 = 0.0010000000000000009).
pub fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let s = format!("{:.11e}", x);
    s.parse().unwrap_or(x)
}

/// Formats a number as the shortest exact decimal (`0.0144`, `14.4`, `1`).
pub fn decimal(x: f64) -> String {
    let r = round_sig(x);
    let s = format!("{r}");
    if s.contains('e') {
        format!("{r:.15}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        s
    }
}
