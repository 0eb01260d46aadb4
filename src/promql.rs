//! promql-parser helpers: parse SLI query templates (with Sloth's `{{.window}}`
//! placeholder), pin every aggregation to the region label, render per window, and read
//! the selectors of simple `sum(rate(selector[window]))` shapes.
//!
//! A template is parsed once with a sentinel duration in place of the placeholder,
//! rewritten on the AST, rendered, and the rendered sentinel is turned back into the
//! placeholder; rendering a window is then a string substitution, which keeps `generate`
//! fast for thousands of SLOs.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::ast::{LabelModifier, VectorSelector};
use promql_parser::parser::token;
use promql_parser::parser::Expr;
use promql_parser::util::visitor::{walk_expr_mut, ExprVisitorMut};
use promql_parser::util::{walk_expr, ExprVisitor};

use crate::window::Window;

pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";
const SENTINEL_SECS: u64 = 1_234_567;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromqlError {
    #[error("query has no {WINDOW_PLACEHOLDER} placeholder: {query}")]
    MissingPlaceholder { query: String },
    #[error("invalid PromQL ({message}): {query}")]
    Parse { query: String, message: String },
    #[error("cannot be grouped by the region label `{label}`: {}", reasons.join("; "))]
    NotRegional { label: String, reasons: Vec<String> },
}

/// An SLI query pinned to the region label, ready to render for any window; it keeps the
/// user's query as parsed (before the rewrite) so later stages need not parse it again.
#[derive(Debug, Clone, PartialEq)]
pub struct SliTemplate {
    text: String,
    source: Expr,
}

impl SliTemplate {
    /// The query as written (window placeholder replaced by a sentinel), parsed.
    pub fn source(&self) -> &Expr {
        &self.source
    }

    pub fn render(&self, window: Window) -> String {
        self.text.replace(WINDOW_PLACEHOLDER, &window.to_string())
    }

    pub fn as_template(&self) -> &str {
        &self.text
    }
}

fn sentinel_source() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| format!("{SENTINEL_SECS}s"))
}

fn sentinel_rendered() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| promql_parser::util::display_duration(&Duration::from_secs(SENTINEL_SECS)))
}

/// Parses a query template with the window placeholder substituted.
pub fn parse_template(query: &str) -> Result<Expr, PromqlError> {
    if !query.contains(WINDOW_PLACEHOLDER) {
        return Err(PromqlError::MissingPlaceholder {
            query: query.trim().to_string(),
        });
    }
    let text = query.replace(WINDOW_PLACEHOLDER, sentinel_source());
    promql_parser::parser::parse(&text).map_err(|message| PromqlError::Parse {
        query: query.trim().to_string(),
        message: message.trim().to_string(),
    })
}

/// Parses a template and rewrites it so every aggregation groups by `region_label`.
pub fn regionalize(query: &str, region_label: &str) -> Result<SliTemplate, PromqlError> {
    let source = parse_template(query)?;
    let mut expr = source.clone();
    let mut pin = RegionPin {
        label: region_label,
        problems: Vec::new(),
    };
    // The visitor never returns an error itself; problems are collected so all are named.
    let _ = walk_expr_mut(&mut pin, &mut expr);
    if !pin.problems.is_empty() {
        return Err(PromqlError::NotRegional {
            label: region_label.to_string(),
            reasons: pin.problems,
        });
    }
    let rendered = expr.to_string();
    Ok(SliTemplate {
        text: rendered.replace(sentinel_rendered(), WINDOW_PLACEHOLDER),
        source,
    })
}

struct RegionPin<'a> {
    label: &'a str,
    problems: Vec<String>,
}

impl ExprVisitorMut for RegionPin<'_> {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &mut Expr) -> Result<bool, Self::Error> {
        match expr {
            Expr::Aggregate(agg) => {
                let op = agg.op.to_string();
                match &mut agg.modifier {
                    None => agg.modifier = Some(LabelModifier::include(vec![self.label])),
                    Some(LabelModifier::Include(labels)) => {
                        if !labels.labels.iter().any(|l| l == self.label) {
                            labels.labels.push(self.label.to_string());
                        }
                    }
                    Some(LabelModifier::Exclude(labels)) => self.problems.push(format!(
                        "`{op} without ({})` keeps an open set of labels, so its output \
                         cannot be fixed to one series per region; write `{op} by (...)`",
                        labels.labels.join(", ")
                    )),
                }
            }
            Expr::Binary(bin) => {
                let both_vectors = !matches!(
                    bin.lhs.value_type(),
                    promql_parser::parser::value::ValueType::Scalar
                ) && !matches!(
                    bin.rhs.value_type(),
                    promql_parser::parser::value::ValueType::Scalar
                );
                if let Some(modifier) = &mut bin.modifier {
                    match &mut modifier.matching {
                        Some(LabelModifier::Include(labels))
                            if both_vectors && !labels.labels.iter().any(|l| l == self.label) =>
                        {
                            labels.labels.push(self.label.to_string());
                        }
                        Some(LabelModifier::Exclude(labels))
                            if labels.labels.iter().any(|l| l == self.label) =>
                        {
                            self.problems.push(format!(
                                "`ignoring ({})` matches series of different regions together",
                                labels.labels.join(", ")
                            ))
                        }
                        _ => {}
                    }
                }
            }
            Expr::Call(call) => match call.func.name {
                "vector" => self.problems.push(
                    "`vector(...)` has no region label, so it never matches a regional series \
                     (sloguard already reads a region without error series as 0 errors)"
                        .to_string(),
                ),
                "absent" | "absent_over_time" => self.problems.push(format!(
                    "`{}(...)` returns a series without the region label",
                    call.func.name
                )),
                "label_replace" | "label_join" => {
                    if let Some(Expr::StringLiteral(dst)) = call.args.args.get(1).map(|b| &**b) {
                        if dst.val == self.label {
                            self.problems
                                .push(format!("`{}` overwrites the region label", call.func.name));
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        Ok(true)
    }
}

/// Every vector selector in the expression (including those inside range selectors).
pub fn selectors(expr: &Expr) -> Vec<VectorSelector> {
    struct Collect(Vec<VectorSelector>);
    impl ExprVisitor for Collect {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            match expr {
                Expr::VectorSelector(vs) => self.0.push(vs.clone()),
                Expr::MatrixSelector(ms) => self.0.push(ms.vs.clone()),
                _ => {}
            }
            Ok(true)
        }
    }
    let mut c = Collect(Vec::new());
    let _ = walk_expr(&mut c, expr);
    c.0
}

fn strip_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// The selector of a query of Sloth's shape `sum [by (region)] (rate|increase(selector[w]))`,
/// whose value is the summed rate of every series the selector matches.
pub fn summed_rate_selector(expr: &Expr, region_label: &str) -> Option<VectorSelector> {
    let Expr::Aggregate(agg) = strip_parens(expr) else {
        return None;
    };
    if agg.op.id() != token::T_SUM || agg.param.is_some() {
        return None;
    }
    match &agg.modifier {
        None => {}
        Some(LabelModifier::Include(l)) if l.labels.iter().all(|x| x == region_label) => {}
        _ => return None,
    }
    let Expr::Call(call) = strip_parens(&agg.expr) else {
        return None;
    };
    if !matches!(call.func.name, "rate" | "increase") {
        return None;
    }
    match call.args.args.first().map(|a| strip_parens(a)) {
        Some(Expr::MatrixSelector(ms)) if ms.vs.offset.is_none() && ms.vs.at.is_none() => {
            Some(ms.vs.clone())
        }
        _ => None,
    }
}

/// How a template of Sloth's shape `sum [by (region)] (rate|increase(selector[w]))` can
/// share one query with others: its *shape* (everything but the values of its `label="v"`
/// matchers) and those values. None for any other shape.
pub fn batch_shape(expr: &Expr, region_label: &str) -> Option<(String, BTreeMap<String, String>)> {
    let vs = summed_rate_selector(expr, region_label)?;
    if !vs.matchers.or_matchers.is_empty() {
        return None;
    }
    let func = match strip_parens(expr) {
        Expr::Aggregate(agg) => match strip_parens(&agg.expr) {
            Expr::Call(call) => call.func.name,
            _ => return None,
        },
        _ => return None,
    };
    let mut parts = Vec::new();
    let mut values = BTreeMap::new();
    for m in &vs.matchers.matchers {
        if matches!(m.op, MatchOp::Equal) && m.name != "__name__" && m.name != region_label {
            if values.insert(m.name.clone(), m.value.clone()).is_some() {
                return None;
            }
            parts.push(format!("{}=", m.name));
        } else {
            parts.push(m.to_string());
        }
    }
    parts.sort();
    let name = vs.name.clone().unwrap_or_default();
    Some((
        format!("{func}|{name}|{}|{region_label}", parts.join(",")),
        values,
    ))
}

/// One query for a batch of templates of the same [`batch_shape`]: `source` (any member's
/// parsed template) with each `split` label's matcher replaced by a regex union of its
/// values, and the sum grouped by the region label and the split labels, so the answer
/// splits back per member. Returns the template with the window placeholder.
pub fn batch_query(
    source: &Expr,
    region_label: &str,
    split: &BTreeMap<String, Vec<String>>,
) -> Result<String, PromqlError> {
    struct Batch<'a> {
        region_label: &'a str,
        split: &'a BTreeMap<String, Vec<String>>,
        problems: Vec<String>,
    }
    impl ExprVisitorMut for Batch<'_> {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &mut Expr) -> Result<bool, Self::Error> {
            match expr {
                Expr::Aggregate(agg) => {
                    let mut labels = vec![self.region_label.to_string()];
                    labels.extend(self.split.keys().cloned());
                    agg.modifier = Some(LabelModifier::include(
                        labels.iter().map(String::as_str).collect(),
                    ));
                }
                Expr::VectorSelector(vs) => self.rewrite(vs),
                Expr::MatrixSelector(ms) => self.rewrite(&mut ms.vs),
                _ => {}
            }
            Ok(true)
        }
    }
    impl Batch<'_> {
        fn rewrite(&mut self, vs: &mut VectorSelector) {
            for m in &mut vs.matchers.matchers {
                if let Some(values) = self.split.get(&m.name) {
                    let union = values
                        .iter()
                        .map(|v| regex::escape(v))
                        .collect::<Vec<_>>()
                        .join("|");
                    match Matcher::new_matcher(token::T_EQL_REGEX, m.name.clone(), union) {
                        Ok(n) => *m = n,
                        Err(e) => self.problems.push(e),
                    }
                }
            }
        }
    }
    let mut expr = source.clone();
    let mut b = Batch {
        region_label,
        split,
        problems: Vec::new(),
    };
    let _ = walk_expr_mut(&mut b, &mut expr);
    if let Some(message) = b.problems.into_iter().next() {
        return Err(PromqlError::Parse {
            query: source.to_string(),
            message,
        });
    }
    Ok(expr
        .to_string()
        .replace(sentinel_rendered(), WINDOW_PLACEHOLDER))
}

/// A query that is a sum or difference of `sum(rate(<selector>[w]))` terms, as
/// (sign, selector) pairs: the shapes whose value is a linear function of series rates,
/// which test synthesis and offline evaluation understand.
pub fn linear_terms(expr: &Expr, region_label: &str) -> Option<Vec<(f64, VectorSelector)>> {
    if let Some(vs) = summed_rate_selector(expr, region_label) {
        return Some(vec![(1.0, vs)]);
    }
    match expr {
        Expr::Paren(p) => linear_terms(&p.expr, region_label),
        Expr::Binary(b)
            if b.modifier.is_none() && matches!(b.op.id(), token::T_ADD | token::T_SUB) =>
        {
            let sign = if b.op.id() == token::T_SUB { -1.0 } else { 1.0 };
            let mut l = linear_terms(&b.lhs, region_label)?;
            l.extend(
                linear_terms(&b.rhs, region_label)?
                    .into_iter()
                    .map(|(s, v)| (s * sign, v)),
            );
            Some(l)
        }
        _ => None,
    }
}

/// The metric name a selector asks for, from its name or an `__name__="..."` matcher.
pub fn metric_name(vs: &VectorSelector) -> Option<String> {
    vs.name.clone().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    })
}

/// Whether a series (metric name + labels) is selected, with Prometheus semantics: a
/// missing label matches as the empty string.
pub fn selector_matches(
    vs: &VectorSelector,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector_matches_with(vs, name, |k| labels.get(k).map(String::as_str))
}

/// [`selector_matches`] over any label lookup.
pub fn selector_matches_with<'a>(
    vs: &VectorSelector,
    name: &str,
    label: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    if let Some(n) = &vs.name {
        if n != name {
            return false;
        }
    }
    let value_of = |m: &Matcher| -> &str {
        if m.name == "__name__" {
            name
        } else {
            label(&m.name).unwrap_or("")
        }
    };
    let all = |ms: &[Matcher]| ms.iter().all(|m| m.is_match(value_of(m)));
    if vs.matchers.or_matchers.is_empty() {
        all(&vs.matchers.matchers)
    } else {
        vs.matchers.or_matchers.iter().any(|g| all(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(q: &str) -> Result<String, PromqlError> {
        regionalize(q, "region").map(|t| t.render(Window::minutes(5)))
    }

    #[test]
    fn adds_region_grouping() {
        assert_eq!(
            pin(r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#).unwrap(),
            r#"sum by (region) (rate(http_requests_total{code=~"5..",job="api"}[5m]))"#
        );
        assert_eq!(
            pin("sum by (code) (rate(x[{{.window}}])) / ignoring(code) group_left sum(rate(x[{{.window}}]))")
                .unwrap(),
            "sum by (code, region) (rate(x[5m])) / ignoring (code) group_left () sum by (region) (rate(x[5m]))"
        );
        assert_eq!(
            pin("sum(rate(a[{{.window}}])) / on(job) sum by (job) (rate(b[{{.window}}]))").unwrap(),
            "sum by (region) (rate(a[5m])) / on (job, region) sum by (job, region) (rate(b[5m]))"
        );
    }

    #[test]
    fn keeps_region_grouping_once() {
        assert_eq!(
            pin("sum by (region) (rate(x[{{.window}}]))").unwrap(),
            "sum by (region) (rate(x[5m]))"
        );
    }

    #[test]
    fn rejects_unsafe_shapes_with_reason() {
        let err = pin("sum without (instance) (rate(x[{{.window}}]))").unwrap_err();
        assert!(err.to_string().contains("without (instance)"), "{err}");
        let err = pin("sum(rate(x[{{.window}}])) / ignoring(region) sum(rate(y[{{.window}}]))")
            .unwrap_err();
        assert!(err.to_string().contains("ignoring (region)"), "{err}");
        let err = pin("sum(rate(x[{{.window}}])) or vector(0)").unwrap_err();
        assert!(err.to_string().contains("vector(...)"), "{err}");
    }

    #[test]
    fn placeholder_and_syntax_errors() {
        assert!(matches!(
            pin("sum(rate(x[5m]))"),
            Err(PromqlError::MissingPlaceholder { .. })
        ));
        assert!(matches!(
            pin("sum(rate(x[{{.window}}])"),
            Err(PromqlError::Parse { .. })
        ));
    }

    #[test]
    fn finds_sloth_shape_selector() {
        let e =
            parse_template(r#"sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))"#).unwrap();
        let vs = summed_rate_selector(&e, "region").unwrap();
        assert_eq!(metric_name(&vs).as_deref(), Some("http_requests_total"));
        let mut labels = BTreeMap::new();
        labels.insert("code".to_string(), "503".to_string());
        assert!(selector_matches(&vs, "http_requests_total", &labels));
        labels.insert("code".to_string(), "200".to_string());
        assert!(!selector_matches(&vs, "http_requests_total", &labels));
        let e = parse_template("sum(rate(a[{{.window}}])) - sum(rate(b[{{.window}}]))").unwrap();
        assert!(summed_rate_selector(&e, "region").is_none());
    }
}
