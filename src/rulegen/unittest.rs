//! Synthesises promtool unit tests (`rules/tests/<service>_test.yaml`) for generated rules.
//!
//! For each SLO whose SLI selectors allow it, input series are solved from the query
//! matchers (`=`, `!=`, `=~`, `!~`): "good" series that match the total query but not the
//! error query, and "bad" series that match both (or, when the two queries read different
//! metrics, one series for each). The synthesis is checked by evaluating the selectors on
//! the series before it is used. The test then asserts: no alert at a healthy baseline;
//! the page alert fires for the failing region only, no later than one evaluation interval
//! after the computed detection time; it resolves after recovery.

use std::collections::BTreeMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::ast::VectorSelector;
use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Serialize;

use super::explain::fastest_detection;
use super::{id_labels, quote};
use crate::promql::{self, metric_name, selector_matches, SliTemplate};
use crate::slo::{decimal, RegionalSli, Service, Severity, Slo};

const INTERVAL_MIN: u64 = 1;
const REGION_POOL: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "region-a",
    "region-b",
];
const VALUE_POOL: &[&str] = &[
    "200", "500", "503", "404", "429", "0", "1", "ok", "error", "GET", "sloguard", "x",
];

#[derive(Debug, Serialize)]
pub struct TestFile {
    pub rule_files: Vec<String>,
    pub evaluation_interval: String,
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Serialize)]
pub struct TestGroup {
    pub name: String,
    pub interval: String,
    pub input_series: Vec<InputSeries>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_rule_test: Vec<AlertRuleTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promql_expr_test: Vec<PromqlExprTest>,
}

#[derive(Debug, Serialize)]
pub struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Serialize)]
pub struct AlertRuleTest {
    pub eval_time: String,
    pub alertname: String,
    pub exp_alerts: Vec<serde_yaml_ng::Value>,
}

#[derive(Debug, Serialize)]
pub struct PromqlExprTest {
    pub expr: String,
    pub eval_time: String,
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Serialize)]
pub struct ExpSample {
    pub labels: String,
    pub value: f64,
}

/// One synthetic counter: increments per minute, as a fraction of the request rate, in
/// healthy and in outage minutes.
#[derive(Debug, Clone, PartialEq)]
struct Role {
    name: String,
    labels: BTreeMap<String, String>,
    healthy: f64,
    outage: f64,
}

/// Candidate strings that match a regex (anchored, as Prometheus anchors matchers).
fn regex_examples(pattern: &str) -> Vec<String> {
    fn gen(h: &Hir, cap: usize) -> Vec<String> {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => vec![String::new()],
            HirKind::Literal(l) => vec![String::from_utf8_lossy(&l.0).into_owned()],
            HirKind::Class(Class::Unicode(c)) => {
                let mut v: Vec<String> = Vec::new();
                for pref in ['0', 'a', 'x', '5', '2'] {
                    if c.ranges()
                        .iter()
                        .any(|r| r.start() <= pref && pref <= r.end())
                    {
                        v.push(pref.to_string());
                    }
                }
                if let Some(r) = c.ranges().first() {
                    v.push(r.start().to_string());
                }
                v.dedup();
                v.truncate(3);
                v
            }
            HirKind::Class(Class::Bytes(c)) => c
                .ranges()
                .first()
                .map(|r| vec![(r.start() as char).to_string()])
                .unwrap_or_default(),
            HirKind::Repetition(r) => {
                let inner = gen(&r.sub, cap);
                let mut out = Vec::new();
                for s in inner.iter().take(2) {
                    let n = r.min.max(if r.min == 0 { 0 } else { 1 }) as usize;
                    out.push(s.repeat(n));
                    if r.max.is_none_or(|m| m > r.min) {
                        out.push(s.repeat(n + 1));
                    }
                }
                out
            }
            HirKind::Capture(c) => gen(&c.sub, cap),
            HirKind::Concat(parts) => {
                let mut acc = vec![String::new()];
                for p in parts {
                    let next = gen(p, cap);
                    let mut merged = Vec::new();
                    for a in &acc {
                        for n in &next {
                            if merged.len() < cap {
                                merged.push(format!("{a}{n}"));
                            }
                        }
                    }
                    acc = merged;
                }
                acc
            }
            HirKind::Alternation(alts) => alts.iter().flat_map(|a| gen(a, cap)).take(cap).collect(),
        }
    }
    match regex_syntax::parse(pattern) {
        Ok(h) => gen(&h, 16),
        Err(_) => Vec::new(),
    }
}

fn candidates(matchers: &[&Matcher]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for m in matchers {
        match &m.op {
            MatchOp::Equal | MatchOp::NotEqual => v.push(m.value.clone()),
            MatchOp::Re(_) | MatchOp::NotRe(_) => v.extend(regex_examples(&m.value)),
        }
    }
    v.extend(VALUE_POOL.iter().map(|s| s.to_string()));
    v.push(String::new());
    v
}

/// Solves label values for `name` so that every `must` matcher holds and, when `violate`
/// is given, at least one of its matchers fails.
fn solve(must: &[&Matcher], violate: Option<&[&Matcher]>) -> Option<BTreeMap<String, String>> {
    let mut names: Vec<&str> = must
        .iter()
        .chain(violate.unwrap_or(&[]).iter())
        .map(|m| m.name.as_str())
        .collect();
    names.sort();
    names.dedup();
    names.retain(|n| *n != "__name__");
    let pick = |label: &str, extra_fail: Option<&[&Matcher]>| -> Option<String> {
        let req = on(must, label);
        let all: Vec<&Matcher> = req
            .iter()
            .copied()
            .chain(extra_fail.unwrap_or(&[]).iter().copied())
            .collect();
        let cands = candidates(&all);
        cands.into_iter().find(|c| {
            req.iter().all(|m| m.is_match(c))
                && extra_fail.is_none_or(|f| f.iter().any(|m| !m.is_match(c)))
        })
    };
    let mut base = BTreeMap::new();
    for n in &names {
        base.insert(n.to_string(), pick(n, None)?);
    }
    if let Some(v) = violate {
        let mut done = false;
        for n in &names {
            let fail = on(v, n);
            if fail.is_empty() {
                continue;
            }
            if let Some(val) = pick(n, Some(&fail)) {
                base.insert(n.to_string(), val);
                done = true;
                break;
            }
        }
        if !done {
            return None;
        }
    }
    base.retain(|_, v| !v.is_empty());
    Some(base)
}

fn on<'a>(ms: &[&'a Matcher], label: &str) -> Vec<&'a Matcher> {
    ms.iter().copied().filter(|m| m.name == label).collect()
}

fn plain_matchers(vs: &VectorSelector, region_label: &str) -> Option<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return None;
    }
    Some(
        vs.matchers
            .matchers
            .iter()
            .filter(|m| m.name != region_label)
            .cloned()
            .collect(),
    )
}

fn refs(v: &[Matcher]) -> Vec<&Matcher> {
    v.iter().collect()
}

type Terms = Vec<(f64, VectorSelector)>;

fn terms_of(template: &SliTemplate, region_label: &str) -> Result<Terms, String> {
    promql::linear_terms(template.source(), region_label).ok_or_else(|| {
        "only sums and differences of sum(rate(<selector>[{{.window}}])) are synthesised"
            .to_string()
    })
}

fn name_of(vs: &VectorSelector) -> Result<String, String> {
    metric_name(vs).ok_or_else(|| "a selector has no metric name".to_string())
}

/// Series roles for an SLI's (error, total) terms, or why none could be found.
fn synthesise(et: &Terms, tt: &Terms, region_label: &str, eps: f64) -> Result<Vec<Role>, String> {
    let [(ts, st)] = tt.as_slice() else {
        return Err("the total query must be a single sum(rate(<selector>[{{.window}}]))".into());
    };
    if *ts < 0.0 {
        return Err("the total query is negative".into());
    }
    let plain = |vs: &VectorSelector| {
        plain_matchers(vs, region_label).ok_or("`or` matchers are not solvable".to_string())
    };
    let mt = plain(st)?;
    let nt = name_of(st)?;
    match et.as_slice() {
        [(s, se)] if *s > 0.0 => {
            let ne = name_of(se)?;
            let me = plain(se)?;
            if ne == nt {
                let both: Vec<&Matcher> = me.iter().chain(mt.iter()).collect();
                let bad = solve(&both, None);
                let good = solve(&refs(&mt), Some(&refs(&me)));
                return match (bad, good) {
                    (Some(bad), Some(good)) => Ok(vec![
                        Role { name: nt, labels: good, healthy: 1.0 - eps, outage: 0.0 },
                        Role { name: ne, labels: bad, healthy: eps, outage: 1.0 },
                    ]),
                    _ => Err("no label values match the total selector without also matching the error selector".into()),
                };
            }
            let total =
                solve(&refs(&mt), None).ok_or("no label values satisfy the total selector")?;
            let errors =
                solve(&refs(&me), None).ok_or("no label values satisfy the error selector")?;
            Ok(vec![
                Role {
                    name: nt,
                    labels: total,
                    healthy: 1.0,
                    outage: 1.0,
                },
                Role {
                    name: ne,
                    labels: errors,
                    healthy: eps,
                    outage: 1.0,
                },
            ])
        }
        // all - good (e.g. `_count - _bucket{le="0.3"}`): the good series are a distinct family.
        [(s1, all), (s2, good)] if *s1 > 0.0 && *s2 < 0.0 => {
            let (na, ng) = (name_of(all)?, name_of(good)?);
            if na != nt {
                return Err("the first term of the error query must read the total metric".into());
            }
            let ma = plain(all)?;
            let mg = plain(good)?;
            let both: Vec<&Matcher> = ma.iter().chain(mt.iter()).collect();
            let all_labels =
                solve(&both, None).ok_or("no label values satisfy the total selector")?;
            let good_labels = if ng == nt {
                solve(&refs(&mg), Some(&refs(&mt)))
            } else {
                solve(&refs(&mg), None)
            }
            .ok_or("no label values satisfy the subtracted selector")?;
            Ok(vec![
                Role {
                    name: na,
                    labels: all_labels,
                    healthy: 1.0,
                    outage: 1.0,
                },
                Role {
                    name: ng,
                    labels: good_labels,
                    healthy: 1.0 - eps,
                    outage: 0.0,
                },
            ])
        }
        _ => Err(
            "the error query must be sum(rate(errors)) or sum(rate(all)) - sum(rate(good))".into(),
        ),
    }
}

/// Checks the roles against the SLI's own selectors: the healthy ratio must be `eps` and
/// the outage ratio 1, in the given region.
fn verify(
    et: &Terms,
    tt: &Terms,
    roles: &[Role],
    region_label: &str,
    region: &str,
    eps: f64,
) -> bool {
    let value = |terms: &[(f64, VectorSelector)], outage: bool| -> f64 {
        terms
            .iter()
            .map(|(sign, vs)| {
                sign * roles
                    .iter()
                    .filter(|r| {
                        let mut l = r.labels.clone();
                        l.insert(region_label.to_string(), region.to_string());
                        selector_matches(vs, &r.name, &l)
                    })
                    .map(|r| if outage { r.outage } else { r.healthy })
                    .sum::<f64>()
            })
            .sum()
    };
    let (eh, th, eo, to) = (
        value(et, false),
        value(tt, false),
        value(et, true),
        value(tt, true),
    );
    th > 0.0 && to > 0.0 && (eh / th - eps).abs() < 1e-9 && (eo / to - 1.0).abs() < 1e-9
}

fn region_pair(et: &Terms, tt: &Terms, region_label: &str) -> Option<(String, String)> {
    let region_matchers: Vec<Matcher> = et
        .iter()
        .chain(tt.iter())
        .flat_map(|(_, vs)| {
            vs.matchers
                .matchers
                .iter()
                .filter(|m| m.name == region_label)
                .cloned()
        })
        .collect();
    let mut pool: Vec<String> = REGION_POOL.iter().map(|s| s.to_string()).collect();
    for m in &region_matchers {
        match &m.op {
            MatchOp::Equal => pool.insert(0, m.value.clone()),
            MatchOp::Re(_) => {
                for (i, ex) in regex_examples(&m.value).into_iter().enumerate() {
                    pool.insert(i, ex);
                }
            }
            _ => {}
        }
    }
    let ok: Vec<String> = pool
        .into_iter()
        .filter(|r| !r.is_empty() && region_matchers.iter().all(|m| m.is_match(r)))
        .collect();
    let a = ok.first()?.clone();
    let b = ok.iter().find(|r| **r != a)?.clone();
    Some((a, b))
}

/// A promtool value string from runs of (increment per interval, number of intervals).
fn values(runs: &[(f64, u64)]) -> String {
    let mut out = vec!["0".to_string()];
    let mut cur = 0.0;
    for &(inc, n) in runs {
        if n == 0 {
            continue;
        }
        out.push(format!("{}+{}x{}", decimal(cur + inc), decimal(inc), n - 1));
        cur += inc * n as f64;
    }
    out.join(" ")
}

fn series_text(name: &str, labels: &BTreeMap<String, String>) -> String {
    let l: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    format!("{name}{{{}}}", l.join(", "))
}

fn minutes(m: u64) -> String {
    format!("{m}m")
}

/// The promtool test group of one SLO, or a warning naming why none could be made.
pub fn slo_test(service: &Service, slo: &Slo) -> Result<TestGroup, String> {
    let id = service.slo_id(slo);
    let warn = |why: String| {
        format!(
            "{}: {}: no promtool unit test generated: {why}",
            service.file.display(),
            slo.name
        )
    };
    if slo.alerting.name.is_empty() || slo.alerting.page.disable {
        return Err(warn("the page alert is disabled".into()));
    }
    let (tier, detect) = fastest_detection(slo, Severity::Page)
        .ok_or_else(|| warn("no page tier can fire even at 100% errors".into()))?;
    let eps = crate::slo::round_sig(slo.error_budget() * 0.1);
    let rl = &service.region_label;
    let RegionalSli::Events { error, total } = &slo.regional else {
        return Err(warn(
            "raw error-ratio SLIs have no event series to synthesise".into(),
        ));
    };
    let (et, tt) = (
        terms_of(error, rl).map_err(warn)?,
        terms_of(total, rl).map_err(warn)?,
    );
    let roles = synthesise(&et, &tt, rl, eps).map_err(warn)?;
    let (ra, rb) = region_pair(&et, &tt, rl)
        .ok_or_else(|| warn("no two region values satisfy the region matchers".into()))?;
    if !(verify(&et, &tt, &roles, rl, &ra, eps) && verify(&et, &tt, &roles, rl, &rb, eps)) {
        return Err(warn(
            "the synthesised series do not reproduce the SLI (selectors too complex)".into(),
        ));
    }

    let long_min = tier.long.secs().div_ceil(60);
    let t0 = long_min.max(60);
    let t_fire = t0 + (detect / 60.0).ceil() as u64 + INTERVAL_MIN;
    let t1 = t_fire + 5;
    let max_short = slo
        .tiers
        .iter()
        .filter(|t| t.severity == Severity::Page)
        .map(|t| t.short.secs().div_ceil(60))
        .max()
        .unwrap_or(5);
    let t_res = t1 + max_short + 2 * INTERVAL_MIN;
    // Enough events per minute that `min_events` holds over the detecting tier's long window.
    // Whole-number increments: promtool accumulates `a+bxn` in floating point, and a value
    // a hair below the previous one would read as a counter reset.
    let mut rate = 1000.0;
    while (rate * eps - (rate * eps).round()).abs() > 1e-9
        || (slo.min_events as f64) > rate * long_min.min(t0) as f64 / 2.0
    {
        rate *= 10.0;
    }

    let mut input_series = Vec::new();
    for (region, failing) in [(&ra, true), (&rb, false)] {
        for r in &roles {
            let mut labels = r.labels.clone();
            labels.insert(rl.clone(), region.clone());
            let (h, o) = (r.healthy * rate, r.outage * rate);
            let runs = if failing {
                vec![(h, t0), (o, t1 - t0), (h, t_res - t1)]
            } else {
                vec![(h, t_res)]
            };
            input_series.push(InputSeries {
                series: series_text(&r.name, &labels),
                values: values(&runs),
            });
        }
    }

    let mut alert_labels = slo.labels.clone();
    alert_labels.extend(id_labels(service, slo));
    alert_labels.insert(rl.clone(), ra.clone());
    alert_labels.extend(slo.alerting.labels.clone());
    alert_labels.extend(slo.alerting.page.labels.clone());
    alert_labels.insert("sloth_severity".into(), "page".into());
    alert_labels.insert("alertname".into(), slo.alerting.name.clone());
    alert_labels.insert("alertstate".into(), "firing".into());
    // One rule per tier: the detecting tier's alert, named by its windows.
    let tier_match = if super::per_tier_alerts(slo, Severity::Page) {
        alert_labels.insert("long".into(), tier.long.to_string());
        alert_labels.insert("short".into(), tier.short.to_string());
        format!(", long=\"{}\", short=\"{}\"", tier.long, tier.short)
    } else {
        String::new()
    };
    let page_query = format!(
        "ALERTS{{alertname={}, alertstate=\"firing\", sloth_id={}, sloth_severity=\"page\"{tier_match}}}",
        quote(&slo.alerting.name),
        quote(&id)
    );
    Ok(TestGroup {
        name: format!("{id}: page alert fires for {ra} only under a full outage (detection {}s by {}/{} at {}x), then resolves", decimal((detect * 10.0).round() / 10.0), tier.long, tier.short, decimal(tier.factor)),
        interval: minutes(INTERVAL_MIN),
        input_series,
        alert_rule_test: [t0 / 2, t0]
            .into_iter()
            .map(|t| AlertRuleTest { eval_time: minutes(t), alertname: slo.alerting.name.clone(), exp_alerts: Vec::new() })
            .collect(),
        promql_expr_test: vec![
            PromqlExprTest {
                expr: page_query.clone(),
                eval_time: minutes(t_fire),
                exp_samples: vec![ExpSample { labels: series_text("ALERTS", &alert_labels), value: 1.0 }],
            },
            PromqlExprTest { expr: page_query, eval_time: minutes(t_res), exp_samples: Vec::new() },
        ],
    })
}

/// The test file of a service (None when no SLO could be tested) and the warnings.
pub fn service_tests(service: &Service, rule_file: &str) -> (Option<TestFile>, Vec<String>) {
    let mut tests = Vec::new();
    let mut warnings = Vec::new();
    for slo in &service.slos {
        match slo_test(service, slo) {
            Ok(t) => tests.push(t),
            Err(w) => warnings.push(w),
        }
    }
    let file = (!tests.is_empty()).then(|| TestFile {
        rule_files: vec![rule_file.to_string()],
        evaluation_interval: minutes(INTERVAL_MIN),
        tests,
    });
    (file, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: &str, name: &str, value: &str) -> Matcher {
        let e = promql_parser::parser::parse(&format!("x{{{name}{op}\"{value}\"}}")).unwrap();
        promql::selectors(&e)[0]
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .clone()
    }

    #[test]
    fn regex_examples_match() {
        for p in ["5..", "(5..|429)", "2[0-9]{2}", "GET|POST", "5\\d\\d"] {
            let ex = regex_examples(p);
            let re = regex::Regex::new(&format!("^(?:{p})$")).unwrap();
            assert!(ex.iter().any(|e| re.is_match(e)), "{p}: {ex:?}");
        }
    }

    #[test]
    fn solves_good_and_bad_series() {
        let total = [m("=", "job", "api")];
        let error = [m("=", "job", "api"), m("=~", "code", "5..")];
        let all: Vec<&Matcher> = total.iter().chain(error.iter()).collect();
        let bad = solve(&all, None).unwrap();
        assert_eq!(bad.get("job").map(String::as_str), Some("api"));
        assert!(
            bad["code"].starts_with('5') && bad["code"].len() == 3,
            "{bad:?}"
        );
        let good = solve(&refs(&total), Some(&refs(&error))).unwrap();
        assert_eq!(good.get("job").map(String::as_str), Some("api"));
        assert!(
            !good.get("code").is_some_and(|c| c.starts_with('5')),
            "{good:?}"
        );
        let neg = [m("!~", "code", "2..|3..")];
        let bad = solve(&refs(&neg), None).unwrap();
        assert!(!bad
            .get("code")
            .is_some_and(|c| c.starts_with('2') || c.starts_with('3')));
    }

    #[test]
    fn unsolvable_when_error_equals_total() {
        let total = [m("=", "job", "api")];
        assert!(solve(&refs(&total), Some(&refs(&total))).is_none());
    }

    #[test]
    fn values_notation() {
        assert_eq!(values(&[(10.0, 3), (0.0, 2)]), "0 10+10x2 30+0x1");
    }
}
