//! The simulated world's metrics: [`SimSource`] answers the engine's queries (matched
//! by the specs' own query text) from the scenario's traffic and error faults, and
//! injects the monitoring faults (source down, partial data, no data, region down).

use std::collections::BTreeMap;

use regex::Regex;

use super::timeline::{active, ratio, Timeline};
use super::{GamedayError, Scenario, Traffic};
use crate::config::Config;
use crate::query::{MetricsSource, QueryError, QueryResult, Series};
use crate::slo::{RegionalSli, Service};
use crate::window::Window;

/// A query pattern: (template regex, slo key `service/slo`, is error query, region
/// label, external vantage).
type Template = (Regex, String, bool, String, bool);

/// Answers the engine's queries from the scenario at simulated times.
#[derive(Clone)]
pub struct SimSource {
    start: i64,
    traffic: BTreeMap<String, Traffic>,
    timeline: Timeline,
    /// (template regex, slo key `service/slo`, is error query, region label, external vantage)
    templates: Vec<Template>,
    /// Precondition query → (name, value at the start); faults change values by name.
    preconditions: BTreeMap<String, (String, bool)>,
}

fn slo_matches(filter: &Option<String>, key: &str) -> bool {
    match filter {
        None => true,
        Some(f) => f == key || key.rsplit('/').next() == Some(f.as_str()),
    }
}

impl SimSource {
    /// Mean error ratio of `region`/`slo` over (a, b] (seconds from the start).
    fn error_integral(&self, region: &str, slo: &str, a: i64, b: i64) -> f64 {
        let base = self
            .traffic
            .get(region)
            .filter(|t| slo_matches(&t.slo, slo))
            .map_or(0.0, |t| t.error_ratio);
        let mut total = base * (b - a) as f64;
        for (r, s, fs, fe, ratio) in &self.timeline.errors {
            if r.as_deref().is_some_and(|r| r != region) || !slo_matches(s, slo) {
                continue;
            }
            let overlap = (b.min(*fe) - a.max(*fs)).max(0) as f64;
            total += overlap * (ratio - base);
        }
        total / (b - a).max(1) as f64
    }

    fn value(
        &self,
        slo: &str,
        error: bool,
        external: bool,
        region: &str,
        t: i64,
        window: i64,
    ) -> Option<f64> {
        let rel = t - self.start;
        let down = self.timeline.down_at(region, rel);
        if !external
            && (down
                || self
                    .timeline
                    .no_data
                    .iter()
                    .any(|(r, s, e)| r == region && rel >= *s && rel < *e))
        {
            return None;
        }
        let traffic = self.traffic.get(region)?;
        let rps = traffic.rps;
        Some(if error {
            // Only an outside vantage saw the requests fail: the region's own telemetry
            // went down with it and holds no record of them.
            let failing: f64 = self
                .timeline
                .region_down
                .iter()
                .filter(|(r, ..)| external && r == region)
                .map(|(_, s, e)| ((rel).min(*e) - (rel - window).max(*s)).max(0) as f64)
                .sum::<f64>()
                / window.max(1) as f64;
            let base = self.error_integral(region, slo, rel - window, rel);
            rps * (failing + (1.0 - failing.min(1.0)) * base).min(1.0)
        } else {
            rps
        })
    }

    fn answer(&self, query: &str, times: &[i64]) -> Result<QueryResult, QueryError> {
        let rel = times.last().copied().unwrap_or(self.start) - self.start;
        if active(&self.timeline.down, rel) {
            return Err(QueryError::Connect {
                url: "sim://thanos".into(),
                message: "connection refused (GameDay: source down)".into(),
            });
        }
        let mut out = QueryResult::default();
        if active(&self.timeline.partial, rel) {
            out.degraded = true;
            out.warnings
                .push("partial response: a store is unreachable (GameDay)".into());
        }
        if let Some((name, initial)) = self.preconditions.get(query) {
            let mut v = *initial;
            for (n, s, e, val) in &self.timeline.preconditions {
                if n == name && rel >= *s && rel < *e {
                    v = *val;
                }
            }
            out.series.push(Series {
                labels: BTreeMap::new(),
                points: vec![(times[0], if v { 1.0 } else { 0.0 })],
            });
            return Ok(out);
        }
        let Some((re, slo, error, region_label, external)) =
            self.templates.iter().find(|(re, ..)| re.is_match(query))
        else {
            return Ok(out);
        };
        let window = re
            .captures(query)
            .and_then(|c| c.get(1))
            .and_then(|m| Window::parse(m.as_str()).ok())
            .map_or(60, |w| w.secs() as i64);
        for region in self.traffic.keys() {
            let points: Vec<(i64, f64)> = times
                .iter()
                .filter_map(|t| {
                    self.value(slo, *error, *external, region, *t, window)
                        .map(|v| (*t, v))
                })
                .collect();
            if !points.is_empty() {
                out.series.push(Series {
                    labels: [(region_label.clone(), region.clone())].into(),
                    points,
                });
            }
        }
        Ok(out)
    }
}

impl MetricsSource for SimSource {
    /// The simulated world answers the specs' own queries (matched by their text), not
    /// batched ones.
    fn batches(&self) -> bool {
        false
    }

    async fn instant(
        &self,
        query: &str,
        at: i64,
        _decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.answer(query, &[at])
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        _decision: bool,
    ) -> Result<QueryResult, QueryError> {
        let times: Vec<i64> = (0..)
            .map(|i| start + i * step)
            .take_while(|t| *t <= end)
            .collect();
        self.answer(query, &times)
    }
}

impl SimSource {
    /// The simulated world of `scenario` from `start`: its traffic (checked), a query
    /// pattern per SLI of `services`, and each configured precondition's query.
    pub(super) fn build(
        scenario: &Scenario,
        config: &Config,
        services: &[Service],
        start: i64,
        timeline: Timeline,
    ) -> Result<SimSource, GamedayError> {
        let traffic = traffic(scenario)?;
        let templates = templates(services);
        let initial = scenario.precondition_values()?;
        let mut preconditions = BTreeMap::new();
        for d in config.failover.iter().flat_map(|f| f.domains.iter()) {
            for (name, query) in &d.preconditions {
                let v = initial.get(name).copied().unwrap_or(true);
                preconditions.insert(query.clone(), (name.clone(), v));
            }
        }
        Ok(SimSource {
            start,
            traffic,
            timeline,
            templates,
            preconditions,
        })
    }
}

/// Each region's traffic, checked (`rps` finite and not negative, `error_ratio` a ratio).
fn traffic(scenario: &Scenario) -> Result<BTreeMap<String, Traffic>, GamedayError> {
    let mut traffic: BTreeMap<String, Traffic> = BTreeMap::new();
    for (k, v) in &scenario.traffic {
        let name = k.as_str().unwrap_or_default().to_string();
        let t: Traffic = serde_yaml_ng::from_value(v.clone())
            .map_err(|e| GamedayError::Scenario(format!("traffic.{name}: {e}")))?;
        if !t.rps.is_finite() || t.rps < 0.0 {
            return Err(GamedayError::Scenario(format!(
                "traffic.{name}.rps: {} must be finite and not negative",
                t.rps
            )));
        }
        ratio(format!("traffic.{name}.error_ratio"), t.error_ratio)?;
        traffic.insert(name, t);
    }
    Ok(traffic)
}

/// A pattern per SLI query of `services`: the spec's query text with its window left
/// open (captured), so the source knows which SLO, which side and which window is asked.
fn templates(services: &[Service]) -> Vec<Template> {
    let mut templates = Vec::new();
    for s in services {
        for slo in &s.slos {
            let key = format!("{}/{}", s.name, slo.name);
            let external = slo.vantage == crate::slo::Vantage::External;
            let mut add = |t: &crate::promql::SliTemplate, error: bool| {
                let pattern = regex::escape(t.as_template()).replace(
                    &regex::escape(crate::promql::WINDOW_PLACEHOLDER),
                    "([0-9a-z]+)",
                );
                if let Ok(re) = Regex::new(&format!("^{pattern}$")) {
                    templates.push((re, key.clone(), error, s.region_label.clone(), external));
                }
            };
            match &slo.regional {
                RegionalSli::Events { error, total } => {
                    add(error, true);
                    add(total, false);
                }
                RegionalSli::Ratio { error_ratio } => add(error_ratio, true),
            }
        }
    }
    templates
}
