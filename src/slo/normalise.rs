//! The parts of an SLO that are normalised while they are checked: the period (rolling
//! or calendar), the SLI (Sloth's `or on() vector(0)` dropped, `[5m]`-style windows
//! normalised), its regional form (every query pinned to the region label) and the tiers
//! (a `budget_percent` turned into a burn factor). Problems go to `err`.

use super::{
    compat, default_tiers, raw, round_sig, Calendar, LatencySli, RegionalSli, Severity, Sli, Tier,
    DEFAULT_PERIOD,
};
use crate::promql::{self, SliTemplate};
use crate::window::Window;

/// The period, its calendar (if one), and what a tier's `budget_percent` is a share of
/// (a calendar month counts as 30d).
pub(super) fn period(
    text: Option<&str>,
    err: &mut dyn FnMut(String),
) -> (Window, Option<Calendar>, Window) {
    let calendar = text.and_then(Calendar::parse);
    let period = match (calendar, text.map(Window::parse)) {
        (Some(c), _) => c.longest(),
        (None, None) => DEFAULT_PERIOD,
        (None, Some(Ok(w))) => w,
        (None, Some(Err(e))) => {
            let hint = if text.is_some_and(|p| p.trim().ends_with('M')) {
                " (a calendar month is exactly `1M`; calendar periods are one month, week or day)"
            } else {
                ""
            };
            err(format!("period: {e}{hint}"));
            DEFAULT_PERIOD
        }
    };
    let budget_period = calendar.map_or(period, Calendar::nominal);
    (period, calendar, budget_period)
}

/// The SLI: exactly one of events, raw or latency (plugins are refused).
pub(super) fn sli(rs: &raw::RawSli, err: &mut dyn FnMut(String)) -> Option<Sli> {
    let kinds = [
        rs.events.is_some(),
        rs.raw.is_some(),
        rs.latency.is_some(),
        rs.plugin.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if let Some(plugin) = &rs.plugin {
        err(compat::sli_plugin_problem(plugin));
        None
    } else if kinds != 1 {
        err("sli: exactly one of events, raw or latency is required".to_string());
        None
    } else if let Some(e) = &rs.events {
        // Sloth users often end the error query with `or on() vector(0)` so that no
        // error series reads as 0 errors. sloguard does that already (every ratio is
        // `(errors or (0 * total)) / total`, per region), and `vector(0)` cannot be
        // pinned to a region, so the clause is dropped rather than refused.
        Some(Sli::Events {
            error_query: compat::strip_or_vector0(&compat::normalise_window(&e.error_query)),
            total_query: compat::normalise_window(&e.total_query),
        })
    } else if let Some(r) = &rs.raw {
        Some(Sli::Raw {
            error_ratio_query: compat::normalise_window(&r.error_ratio_query),
        })
    } else if let Some(l) = &rs.latency {
        latency_sli(l, err).map(Sli::Latency)
    } else {
        None
    }
}

/// A latency SLI: a positive threshold, a label selector, a metric name.
fn latency_sli(l: &raw::RawLatency, err: &mut dyn FnMut(String)) -> Option<LatencySli> {
    let mut ok = true;
    if !(l.threshold > 0.0 && l.threshold.is_finite()) {
        err(format!(
            "sli.latency.threshold: {} must be a positive number of seconds",
            l.threshold
        ));
        ok = false;
    }
    let selector = l.selector.clone().unwrap_or_default();
    let sel = selector.trim();
    if !(sel.is_empty() || sel.starts_with('{') && sel.ends_with('}')) {
        err(format!(
            "sli.latency.selector: {selector:?} must be a label selector such as '{{job=\"api\"}}'"
        ));
        ok = false;
    }
    if l.metric.is_empty() || promql_parser::parser::parse(&l.metric).is_err() {
        err(format!(
            "sli.latency.metric: {:?} is not a metric name",
            l.metric
        ));
        ok = false;
    }
    ok.then(|| LatencySli {
        metric: l.metric.clone(),
        selector,
        threshold: l.threshold,
    })
}

/// The SLI's queries pinned to the region label.
pub(super) fn regional_sli(
    sli: &Sli,
    region_label: &str,
    err: &mut dyn FnMut(String),
) -> Option<RegionalSli> {
    let mut pin = |field: &str, q: &str| -> Option<SliTemplate> {
        match promql::regionalize(q, region_label) {
            Ok(t) => Some(t),
            Err(e) => {
                err(format!("{field}: {e}"));
                None
            }
        }
    };
    match sli {
        Sli::Raw { error_ratio_query } => pin("sli.raw.error_ratio_query", error_ratio_query)
            .map(|t| RegionalSli::Ratio { error_ratio: t }),
        Sli::Events { .. } | Sli::Latency(_) => {
            let (e, t) = sli.event_queries()?;
            let prefix = if matches!(sli, Sli::Latency(_)) {
                "sli.latency"
            } else {
                "sli.events"
            };
            let error = pin(&format!("{prefix}.error_query"), &e);
            let total = pin(&format!("{prefix}.total_query"), &t);
            Some(RegionalSli::Events {
                error: error?,
                total: total?,
            })
        }
    }
}

/// The tiers (the defaults when none are given); each tier's windows must fit the
/// period and it needs exactly one of a burn factor or a budget share.
pub(super) fn tiers(
    list: Option<Vec<raw::RawTier>>,
    period: Window,
    budget_period: Window,
    err: &mut dyn FnMut(String),
) -> Vec<Tier> {
    let Some(list) = list else {
        return default_tiers();
    };
    if list.is_empty() {
        err("tiers: at least one tier is required".to_string());
    }
    list.into_iter()
        .enumerate()
        .filter_map(|(i, t)| tier(i, t, period, budget_period, err))
        .collect()
}

/// `tiers[i]`, or None when it has a problem.
fn tier(
    i: usize,
    t: raw::RawTier,
    period: Window,
    budget_period: Window,
    err: &mut dyn FnMut(String),
) -> Option<Tier> {
    let at = format!("tiers[{i}]");
    let severity = match t.severity.as_str() {
        "page" => Some(Severity::Page),
        "ticket" => Some(Severity::Ticket),
        other => {
            err(format!(
                "{at}.severity: {other:?} must be \"page\" or \"ticket\""
            ));
            None
        }
    };
    let long = Window::parse(&t.long_window)
        .map_err(|e| err(format!("{at}.long_window: {e}")))
        .ok();
    let short = Window::parse(&t.short_window)
        .map_err(|e| err(format!("{at}.short_window: {e}")))
        .ok();
    if let (Some(l), Some(s)) = (long, short) {
        if s >= l {
            err(format!(
                "{at}: short window {s} must be shorter than long window {l}"
            ));
        }
        if l > period {
            err(format!(
                "{at}: long window {l} is longer than the period {period}"
            ));
        }
    }
    let factor = match (t.burn_factor, t.budget_percent, long) {
        (Some(f), None, _) if f > 0.0 && f.is_finite() => Some(f),
        (Some(f), None, _) => {
            err(format!("{at}.burn_factor: {f} must be a positive number"));
            None
        }
        (None, Some(b), Some(l)) if b > 0.0 && b <= 100.0 => {
            Some(round_sig(b / 100.0 * budget_period.as_f64() / l.as_f64()))
        }
        (None, Some(b), _) => {
            if !(b > 0.0 && b <= 100.0) {
                err(format!("{at}.budget_percent: {b} must be in (0, 100]"));
            }
            None
        }
        _ => {
            err(format!(
                "{at}: exactly one of burn_factor or budget_percent is required"
            ));
            None
        }
    };
    let for_ = match t.for_.as_deref().map(Window::parse) {
        None => Some(None),
        Some(Ok(w)) => Some(Some(w)),
        Some(Err(e)) => {
            err(format!("{at}.for: {e}"));
            None
        }
    };
    Some(Tier {
        severity: severity?,
        long: long?,
        short: short?,
        factor: factor?,
        for_: for_?,
    })
}
