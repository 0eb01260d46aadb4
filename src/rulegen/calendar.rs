//! The rules of a calendar-period SLO ([`crate::calendar`]): the budget resets at each
//! UTC month, week or day boundary, while the burn-rate alerts keep their rolling windows.
//!
//! PromQL ranges are constant, so "since the 1st" cannot be a range. Instead two
//! event-rate records over the period's step S (1h for a month or week, 5m for a day:
//! `slo:sli_error:rate1h`, `slo:sli_total:rate1h`) are summed by a subquery over the
//! longest the period can be (31d, 7d, 1d) at resolution S, keeping only the steps whose
//! period index (`(year*12 + month) % 3`, or the week or day number `% 3`, taken at
//! `time() - 1`, so the step that ends exactly at a boundary counts for the period it
//! closes) equals the current one. A range that long touches at most three periods, so
//! the index modulo 3 tells them apart; one term per residue is written and only the term
//! of the current residue is kept. Steps are aligned to UTC multiples of S and each rate
//! covers the S before its step, so the steps tile the period: their sum is the period's
//! events divided by S, which cancels in the ratio. A raw-ratio SLI averages its ratios
//! over S the same way (Sloth's averaging of a period ratio).
//!
//! Edges: until the first step of a new period (the first hour of a month) the ratio has
//! no sample, so the budget series is absent rather than stale; a record evaluated a few
//! seconds before its step holds those seconds of the previous step. Cost: three
//! subqueries of at most 744 steps per event record and evaluation. UTC only: Prometheus'
//! time functions are UTC.

use super::{ratio_record, Rule};
use crate::calendar::Calendar;
use crate::slo::{LabelMap, RegionalSli, Slo};
use crate::window::Window;

/// The record of the error rate over a window.
pub fn error_rate(w: Window) -> String {
    format!("slo:sli_error:rate{w}")
}

/// The record of the event rate over a window.
pub fn total_rate(w: Window) -> String {
    format!("slo:sli_total:rate{w}")
}

/// The error ratio since the start of the current calendar period.
pub const PERIOD_RATIO: &str = "slo:sli_error:ratio_period";

/// The event-rate records over the period's step a calendar SLO with an events SLI sums
/// (none for a raw one: it averages its ratio records).
pub fn rate_records(slo: &Slo, calendar: Calendar, labels: &LabelMap) -> Vec<Rule> {
    let RegionalSli::Events { error, total } = &slo.regional else {
        return Vec::new();
    };
    let w = calendar.step();
    let (e, t) = (error.render(w), total.render(w));
    let mut l = labels.clone();
    l.insert("sloth_window".into(), w.to_string());
    vec![
        Rule::record(error_rate(w), format!("({e}) or (0 * ({t}))\n"), l.clone()),
        Rule::record(total_rate(w), format!("{t}\n"), l),
    ]
}

/// The expression of the error ratio since the start of the current period.
pub fn period_ratio_expr(slo: &Slo, calendar: Calendar, sel: &str) -> String {
    let idx = calendar.promql_index();
    let step = calendar.step();
    let range = format!("[{}:{step}]", calendar.longest());
    let masked = |series: &str, k: u8| format!("({series}{sel} and on() ({idx} == {k})){range}");
    let terms: Vec<String> = (0..3u8)
        .map(|k| {
            let ratio = match &slo.regional {
                RegionalSli::Events { .. } => format!(
                    "sum_over_time({})\n  /\n  sum_over_time({})",
                    masked(&error_rate(step), k),
                    masked(&total_rate(step), k)
                ),
                RegionalSli::Ratio { .. } => {
                    format!("avg_over_time({})", masked(&ratio_record(step), k))
                }
            };
            format!("(\n  {ratio}\n  and on() ({idx} == {k})\n)")
        })
        .collect();
    terms.join("\nor\n") + "\n"
}

/// The record of the period's error ratio, labelled with the period's name.
pub fn period_ratio_record(slo: &Slo, calendar: Calendar, sel: &str, labels: &LabelMap) -> Rule {
    let mut l = labels.clone();
    l.insert("sloth_window".into(), calendar.name().into());
    Rule::record(PERIOD_RATIO, period_ratio_expr(slo, calendar, sel), l)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::slo::parse_all;

    fn service(period: &str, sli: &str) -> crate::slo::Service {
        let text = format!(
            "version: sloguard/v1\nservice: shop\nslos:\n  - name: a\n    objective: 99\n    period: {period}\n    sli:\n{sli}\n    alerting: {{name: ShopBurn}}\n"
        );
        parse_all(&[(PathBuf::from("shop.yaml"), text)])
            .unwrap()
            .remove(0)
    }

    const EVENTS: &str = "      events:\n        error_query: sum(rate(shop_total{code=\"500\"}[{{.window}}]))\n        total_query: sum(rate(shop_total[{{.window}}]))";
    const RAW: &str =
        "      raw:\n        error_ratio_query: sum(rate(shop_errors[{{.window}}])) / sum(rate(shop_total[{{.window}}]))";

    #[test]
    fn a_calendar_month_sums_its_hours_one_term_per_residue() {
        let s = service("1M", EVENTS);
        let slo = &s.slos[0];
        assert_eq!(slo.calendar, Some(Calendar::Month));
        let expr = period_ratio_expr(slo, Calendar::Month, "{sloth_slo=\"a\"}");
        assert_eq!(expr.matches("sum_over_time(").count(), 6, "{expr}");
        assert_eq!(expr.matches("[31d:1h]").count(), 6, "{expr}");
        for k in 0..3 {
            assert!(expr.contains(&format!("% 3) == {k})")), "{expr}");
        }
        promql_parser::parser::parse(&expr).unwrap_or_else(|e| panic!("{e}: {expr}"));
        let group = super::super::slo_group(&s, slo);
        let names: Vec<&str> = group
            .rules
            .iter()
            .filter_map(|r| r.record.as_deref())
            .collect();
        assert!(names.contains(&"slo:sli_error:rate1h") && names.contains(&PERIOD_RATIO));
        assert!(!names.contains(&"slo:sli_error:ratio_rate31d"), "{names:?}");
        for r in &group.rules {
            promql_parser::parser::parse(&r.expr).unwrap_or_else(|e| panic!("{e}: {}", r.expr));
        }
    }

    #[test]
    fn a_raw_calendar_day_averages_its_five_minute_ratios() {
        let s = service("calendar_day", RAW);
        let slo = &s.slos[0];
        assert!(rate_records(slo, Calendar::Day, &LabelMap::new()).is_empty());
        let expr = period_ratio_expr(slo, Calendar::Day, "");
        assert_eq!(
            expr.matches("avg_over_time((slo:sli_error:ratio_rate5m")
                .count(),
            3
        );
        assert!(expr.contains("[1d:5m]"), "{expr}");
        promql_parser::parser::parse(&expr).unwrap_or_else(|e| panic!("{e}: {expr}"));
    }

    #[test]
    fn rolling_periods_are_unchanged() {
        let s = service("1w", EVENTS);
        let slo = &s.slos[0];
        assert_eq!(slo.calendar, None);
        let group = super::super::slo_group(&s, slo);
        assert!(group
            .rules
            .iter()
            .any(|r| r.record.as_deref() == Some("slo:sli_error:ratio_rate7d")));
        assert!(!group
            .rules
            .iter()
            .any(|r| r.labels.contains_key("sloguard_period")));
    }
}
