//! Post-incident reports (`sloguard report INCIDENT`): what the journal recorded about one
//! incident, as Markdown (or HTML made from it). The timeline (first burn, page,
//! decision, each step with its duration, the end), the burn rates and data state of the
//! gating SLOs that drove the decision, the error budget consumed per SLO and region,
//! and the guards checked (and any refusals before the decision).
//!
//! [`gather`] is the only read (of the journal, read-only); [`render`] is pure over what
//! it gathered and the specs, so a report is the same whenever it is written.

use std::fmt::Write;

use serde_json::Value;

use crate::backtest::format_time;
use crate::journal::{IncidentRow, Journal, JournalError};
use crate::policy::GuardCheck;
use crate::slo::{decimal, Service};
use crate::snapshot::{DataStatus, StreamFacts};
use crate::window::human_secs;

/// How far before the incident the timeline looks for its first burn when the journal
/// holds no earlier incident of the domain.
const LOOKBACK_SECS: i64 = 7 * 86_400;

/// Decisions read for one report at most (alerts, notices, refusals, the decision).
const MAX_DECISIONS: u32 = 20_000;

/// What the report needs of an SLO's spec: its objective (percent) and period window.
#[derive(Debug, Clone, PartialEq)]
pub struct SloMeta {
    pub service: String,
    pub slo: String,
    pub objective: f64,
    pub period: String,
}

/// The metadata of every SLO of `services`.
pub fn slo_meta(services: &[Service]) -> Vec<SloMeta> {
    services
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(|slo| SloMeta {
                service: s.name.clone(),
                slo: slo.name.clone(),
                objective: slo.objective,
                period: slo.period_name(),
            })
        })
        .collect()
}

/// Characters of one journaled text (a reason, a step's output) shown in a report.
const MAX_TEXT: usize = 2_000;

/// One journaled decision, its detail decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionFact {
    pub at: i64,
    pub kind: String,
    pub incident: Option<u64>,
    pub detail: Value,
}

/// Everything the journal holds about one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFacts {
    pub incident: IncidentRow,
    /// The domain's decisions from the end of its previous incident (or a week before
    /// this one) to this one's end, oldest first: the newest [`MAX_DECISIONS`] of them.
    pub decisions: Vec<DecisionFact>,
    /// How many decisions that range holds in all (more than read: older ones left out).
    pub decisions_total: u64,
}

/// Reads incident `id` and the decisions around it; None when there is no such incident.
pub fn gather(j: &Journal, id: u64) -> Result<Option<ReportFacts>, JournalError> {
    let Some(incident) = j.incident(id)? else {
        return Ok(None);
    };
    let since = match j.previous_incident(&incident.domain, id)? {
        Some((opened, closed)) => closed.unwrap_or(opened),
        None => incident.opened_at - LOOKBACK_SECS,
    };
    let until = incident.closed_at.unwrap_or(i64::MAX);
    let (mut rows, decisions_total) =
        j.decisions_of(&incident.domain, since, until, MAX_DECISIONS)?;
    // The incident's own decisions are always there, however many came before them.
    for own in j.decisions_of_incident(id)? {
        if !rows.contains(&own) {
            rows.push(own);
        }
    }
    rows.sort_by_key(|r| r.0);
    let decisions = rows
        .into_iter()
        .map(|(at, _, incident, kind, detail)| DecisionFact {
            at,
            kind,
            incident,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        })
        .collect();
    Ok(Some(ReportFacts {
        incident,
        decisions,
        decisions_total,
    }))
}

/// One line of the timeline.
struct Event {
    at: i64,
    what: String,
}

fn clock(at: i64) -> String {
    format_time(at)
}

/// The decision that opened the incident (a failover, or an approval request).
fn opening(f: &ReportFacts) -> Option<&DecisionFact> {
    let id = f.incident.id;
    f.decisions
        .iter()
        .find(|d| d.incident == Some(id) && d.kind == "failover")
        .or_else(|| {
            f.decisions
                .iter()
                .find(|d| d.incident == Some(id) && d.kind == "approval_requested")
        })
}

/// The report as Markdown.
pub fn render(f: &ReportFacts, slos: &[SloMeta]) -> String {
    let inc = &f.incident;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Incident {}: {} failover {} → {}\n",
        inc.id, inc.domain, inc.from, inc.to
    );
    if inc.chaos {
        out.push_str("> **GameDay drill (chaos)**: not a real incident; nothing real moved.\n\n");
    }
    let outcome = match (inc.status.as_str(), inc.dry_run) {
        (_, true) => format!(
            "{} (dry run: the runbook only recorded its calls)",
            inc.status
        ),
        ("done", _) => "done: every step completed".to_string(),
        ("failed", _) => "failed: a step failed for good (see Steps)".to_string(),
        ("running", _) => "still running (or the engine stopped mid-run)".to_string(),
        (s, _) => s.to_string(),
    };
    let _ = writeln!(out, "- Outcome: **{outcome}**");
    let _ = writeln!(out, "- Reason: {}", plain(&inc.reason));
    let _ = writeln!(out, "- Opened: {}", clock(inc.opened_at));
    match inc.closed_at {
        Some(c) => {
            let _ = writeln!(
                out,
                "- Closed: {} (runbook took {})",
                clock(c),
                human_secs((c - inc.opened_at) as f64)
            );
        }
        None => out.push_str("- Closed: not yet\n"),
    }
    let decision = opening(f);
    let (events, first_burn, earlier) = timeline(f, decision);
    let decided = decision.map(|d| d.at).unwrap_or(inc.opened_at);
    let first = first_burn.unwrap_or(decided);
    let _ = writeln!(
        out,
        "- Time to decision: {} from the first burn; time to mitigation: {}\n",
        human_secs((decided - first).max(0) as f64),
        inc.closed_at
            .map(|c| human_secs((c - first).max(0) as f64))
            .unwrap_or_else(|| "not yet".into())
    );

    out.push_str("## Timeline\n\n");
    if first_burn.is_none() {
        out.push_str("No burn was journaled before the decision (an operator's call, or a journal of an older sloguard): times count from the decision.\n\n");
    }
    if earlier > 0 {
        let _ = writeln!(
            out,
            "{earlier} earlier decision(s) since the previous incident (a burn that ended, refusals, notices) are not shown.\n"
        );
    }
    if f.decisions_total > f.decisions.len() as u64 {
        let _ = writeln!(
            out,
            "The journal holds {} decisions in this range; the newest {} were read.\n",
            f.decisions_total,
            f.decisions.len()
        );
    }
    out.push_str("| time (UTC) | since first burn | event |\n|---|---|---|\n");
    for e in &events {
        let _ = writeln!(
            out,
            "| {} | {}{} | {} |",
            clock(e.at),
            if e.at < first { "−" } else { "+" },
            human_secs((e.at - first).abs() as f64),
            cell(&e.what)
        );
    }
    out.push('\n');

    let facts: Vec<StreamFacts> = decision
        .and_then(|d| d.detail.pointer("/evidence/slos"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    drove(&mut out, &facts, decision);
    budget(&mut out, &facts, slos);
    guards(&mut out, f, decision);
    steps(&mut out, inc);
    out
}

/// Journaled free text as Markdown that means only itself: no emphasis, code, links or
/// HTML (a reason typed into the operator API must not become a link or markup), on one
/// line.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_TEXT + 8));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_TEXT {
            out.push('…');
            break;
        }
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Markdown table cells: no pipes or line breaks from free text.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Where the burn that led to the decision began: the index of the alert change after
/// which some gating tier fired without a break until the decision (the last time none
/// fired ends any earlier episode); else the policy's latest first count ("is burning
/// (1/N)", "is down") before it. None when neither is journaled.
fn episode_start(f: &ReportFacts, decided: i64) -> Option<usize> {
    let mut firing: std::collections::BTreeSet<(String, String, String)> = Default::default();
    let mut start = None;
    for (i, d) in f.decisions.iter().enumerate() {
        if d.at > decided || d.kind != "alert" {
            continue;
        }
        let key = |k: &str| {
            d.detail
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let id = (key("slo"), key("region"), key("severity"));
        if d.detail.get("firing").and_then(Value::as_bool) == Some(true) {
            if firing.is_empty() {
                start = Some(i);
            }
            firing.insert(id);
        } else {
            firing.remove(&id);
            if firing.is_empty() {
                start = None;
            }
        }
    }
    start.or_else(|| {
        f.decisions.iter().rposition(|d| {
            let message = d
                .detail
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            d.at <= decided
                && d.kind == "notify"
                && (message.contains(" is burning its error budget (1/")
                    || message.contains(" is down ("))
        })
    })
}

/// The timeline from the first burn of the episode that led to the decision (earlier
/// decisions since the previous incident are only counted), and that first burn's time.
fn timeline(f: &ReportFacts, decision: Option<&DecisionFact>) -> (Vec<Event>, Option<i64>, usize) {
    let inc = &f.incident;
    let decided = decision.map(|d| d.at).unwrap_or(inc.opened_at);
    let start = episode_start(f, decided);
    let first_at = start.map(|i| f.decisions[i].at);
    let mut events = Vec::new();
    let mut first_page = false;
    let mut earlier = 0;
    for (i, d) in f.decisions.iter().enumerate() {
        if start.is_some_and(|s| i < s) || (start.is_none() && d.at < decided) {
            earlier += 1;
            continue;
        }
        let first = start == Some(i);
        let text = |k: &str| plain(d.detail.get(k).and_then(Value::as_str).unwrap_or_default());
        match d.kind.as_str() {
            "alert" => {
                let firing = d
                    .detail
                    .get("firing")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let severity = text("severity");
                let what = format!(
                    "{} tier of {} {} in {}",
                    severity,
                    text("slo"),
                    if firing { "fires" } else { "resolves" },
                    text("region")
                );
                let page = firing && severity == "page" && !first_page && d.at <= decided;
                first_page |= page;
                let label = match (first, page) {
                    (true, true) => "**first burn and page**: ",
                    (true, false) => "**first burn**: ",
                    (false, true) => "**page**: ",
                    (false, false) => "",
                };
                events.push(Event {
                    at: d.at,
                    what: format!("{label}{what}"),
                });
            }
            "notify" => {
                let message = text("message");
                let page =
                    message.starts_with("Alertmanager paged") && !first_page && d.at <= decided;
                first_page |= page;
                let label = if first {
                    "**first burn** (as the engine first saw it): "
                } else if page {
                    "**page**: "
                } else {
                    "notice: "
                };
                events.push(Event {
                    at: d.at,
                    what: format!("{label}{message}"),
                });
            }
            "blocked" => events.push(Event {
                at: d.at,
                what: format!("refused: {}", text("reason")),
            }),
            "approval_requested" if d.incident == Some(inc.id) => events.push(Event {
                at: d.at,
                what: format!(
                    "**decision**: approval requested for {} → {}: {}",
                    text("from"),
                    text("to"),
                    text("reason")
                ),
            }),
            "failover" if d.incident == Some(inc.id) => events.push(Event {
                at: d.at,
                what: format!(
                    "**decision**: fail over {} → {}{}: {}",
                    text("from"),
                    text("to"),
                    if d.detail.get("forced").and_then(Value::as_bool) == Some(true) {
                        " (forced)"
                    } else {
                        ""
                    },
                    text("reason")
                ),
            }),
            "operator" => events.push(Event {
                at: d.at,
                what: format!(
                    "operator: {} ({})",
                    d.detail
                        .pointer("/command/command")
                        .and_then(Value::as_str)
                        .unwrap_or("call"),
                    text("reason")
                ),
            }),
            _ => {}
        }
    }
    let mut previous = inc.opened_at;
    for s in &inc.steps {
        events.push(Event {
            at: s.at,
            what: format!(
                "step {} `{}` ({}) {} after {}{}",
                s.index + 1,
                s.name,
                s.kind,
                s.status,
                human_secs((s.at - previous).max(0) as f64),
                if s.attempt > 1 {
                    format!(", attempt {}", s.attempt)
                } else {
                    String::new()
                }
            ),
        });
        previous = s.at;
    }
    if let Some(c) = inc.closed_at {
        events.push(Event {
            at: c,
            what: format!("**runbook ended**: {}", inc.status),
        });
    }
    // Stable: the journal's order within one second.
    events.sort_by_key(|e| e.at);
    (events, first_at, earlier)
}

fn data_text(d: &DataStatus) -> String {
    match d {
        DataStatus::Complete => "complete".into(),
        DataStatus::NoData => "no data".into(),
        DataStatus::Degraded(why) => format!("degraded ({why})"),
        DataStatus::Unreachable(why) => format!("unreachable ({why})"),
    }
}

fn drove(out: &mut String, facts: &[StreamFacts], decision: Option<&DecisionFact>) {
    out.push_str("## What drove the decision\n\n");
    let Some(d) = decision else {
        out.push_str("The journal holds no decision for this incident.\n\n");
        return;
    };
    if facts.is_empty() {
        out.push_str(
            "The decision was journaled without the SLO evidence (an operator call, or a journal written by an older sloguard).\n\n",
        );
    } else {
        let windows: Vec<String> = {
            let mut w: Vec<(u64, String)> = facts
                .iter()
                .flat_map(|f| f.windows.iter().map(|(w, _, _)| w.clone()))
                .map(|w| {
                    (
                        crate::window::Window::parse(&w)
                            .map(|x| x.secs())
                            .unwrap_or(0),
                        w,
                    )
                })
                .collect();
            w.sort();
            w.dedup();
            w.into_iter().map(|(_, w)| w).collect()
        };
        let _ = writeln!(
            out,
            "Burn rates at {} (1× spends the budget exactly over the period):\n",
            clock(d.at)
        );
        let _ = writeln!(
            out,
            "| SLO | region | data | tiers holding | {} |\n|---|---|---|---|{}",
            windows.join(" | "),
            "---|".repeat(windows.len())
        );
        for f in facts {
            let holding: Vec<&str> = f.holding.iter().map(|s| s.as_str()).collect();
            let burns: Vec<String> = windows
                .iter()
                .map(|w| {
                    f.windows
                        .iter()
                        .find(|(x, _, _)| x == w)
                        .and_then(|(_, b, _)| *b)
                        .map(|b| format!("{b:.2}×"))
                        .unwrap_or_else(|| "-".into())
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.slo_id(),
                f.region,
                cell(&plain(&data_text(&f.data))),
                if holding.is_empty() {
                    "none".into()
                } else {
                    holding.join(", ")
                },
                burns.join(" | ")
            );
        }
        out.push('\n');
    }
    if let Some(regions) = d
        .detail
        .pointer("/evaluation/regions")
        .and_then(Value::as_object)
    {
        out.push_str("Per region, as the policy saw it:\n\n| region | burning | down | monitoring lost | data present | data complete | probes | short-window burn |\n|---|---|---|---|---|---|---|---|\n");
        for (r, h) in regions {
            let b = |k: &str| match h.get(k).and_then(Value::as_bool) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            let probes = match h.get("probes_passing").and_then(Value::as_bool) {
                Some(true) => "passing",
                Some(false) => "failing",
                None => "not probed",
            };
            let _ = writeln!(
                out,
                "| {r} | {} | {} | {} | {} | {} | {probes} | {:.2}× |",
                b("burning"),
                b("down"),
                b("monitoring_lost"),
                b("has_data"),
                b("complete"),
                h.get("short_burn").and_then(Value::as_f64).unwrap_or(0.0)
            );
        }
        out.push('\n');
    }
}

fn budget(out: &mut String, facts: &[StreamFacts], slos: &[SloMeta]) {
    out.push_str("## Error budget consumed\n\n");
    if facts.is_empty() {
        out.push_str("No SLO evidence was journaled with the decision.\n\n");
        return;
    }
    out.push_str("Over each SLO's period, at the decision (the period window's burn rate is the share of the budget spent):\n\n| SLO | region | objective | period | availability | budget consumed | budget remaining |\n|---|---|---|---|---|---|---|\n");
    for f in facts {
        let slo = slos
            .iter()
            .find(|s| s.service == f.service && s.slo == f.slo);
        let period = slo.map(|s| s.period.clone());
        // The period window, else the longest window journaled.
        let row = period
            .as_ref()
            .and_then(|p| f.windows.iter().find(|(w, _, _)| w == p))
            .or_else(|| f.windows.last());
        let (burn, ratio) = row.map(|(_, b, r)| (*b, *r)).unwrap_or((None, None));
        let pct = |x: f64| format!("{}%", decimal((x * 10_000.0).round() / 100.0));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            f.slo_id(),
            f.region,
            slo.map(|s| format!("{}%", decimal(s.objective)))
                .unwrap_or_else(|| "(not in the specs)".into()),
            period
                .or_else(|| row.map(|(w, _, _)| w.clone()))
                .unwrap_or_default(),
            ratio
                .map(|r| pct(1.0 - r))
                .unwrap_or_else(|| "no data".into()),
            burn.map(pct).unwrap_or_else(|| "no data".into()),
            burn.map(|b| pct((1.0 - b).max(0.0)))
                .unwrap_or_else(|| "-".into()),
        );
    }
    out.push('\n');
}

fn guards(out: &mut String, f: &ReportFacts, decision: Option<&DecisionFact>) {
    out.push_str("## Guards checked\n\n");
    let checks: Vec<GuardCheck> = decision
        .and_then(|d| d.detail.pointer("/evidence/guards"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    if checks.is_empty() {
        out.push_str("The decision was journaled without its guard checks.\n\n");
    } else {
        out.push_str("| guard | held | facts |\n|---|---|---|\n");
        for c in &checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                c.guard,
                if c.passed { "yes" } else { "**no**" },
                cell(&plain(&c.detail))
            );
        }
        out.push('\n');
    }
    let decided = decision.map(|d| d.at).unwrap_or(f.incident.opened_at);
    let refusals: Vec<&DecisionFact> = f
        .decisions
        .iter()
        .filter(|d| d.kind == "blocked" && d.at <= decided)
        .collect();
    if !refusals.is_empty() {
        let _ = writeln!(
            out,
            "Before the decision the guards refused {} time(s); the last:\n",
            refusals.len()
        );
        for d in refusals.iter().rev().take(5).rev() {
            let _ = writeln!(
                out,
                "- {}: {}",
                clock(d.at),
                plain(
                    d.detail
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )
            );
        }
        out.push('\n');
    }
}

fn steps(out: &mut String, inc: &IncidentRow) {
    out.push_str("## Steps\n\n");
    if inc.steps.is_empty() {
        out.push_str("No step ran.\n");
        return;
    }
    out.push_str("| # | step | kind | attempt | status | ended (UTC) | took | what it did |\n|---|---|---|---|---|---|---|---|\n");
    let mut previous = inc.opened_at;
    for s in &inc.steps {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.index + 1,
            s.name,
            s.kind,
            s.attempt,
            s.status,
            clock(s.at),
            human_secs((s.at - previous).max(0) as f64),
            cell(&plain(&s.detail))
        );
        previous = s.at;
    }
}

/// A standalone HTML page of a Markdown report (no external resources).
pub fn html(markdown: &str, title: &str) -> String {
    use pulldown_cmark::{html::push_html, Event, Options, Parser};
    // Journaled text (reasons from the operator API, step output) is never markup: raw
    // HTML in the Markdown is shown as text.
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        e => e,
    });
    let mut body = String::new();
    push_html(&mut body, events);
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
body{{font:14px system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#1d2530}}\
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #cfd6de;padding:3px 8px;text-align:left}}\
th{{background:#eef2f6}}blockquote{{background:#fff4d6;border-left:4px solid #e0a800;margin:0;padding:6px 12px}}\
code{{background:#f2f4f7;padding:0 3px}}</style></head>\n<body>\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journaled_text_never_becomes_markup_in_the_html() {
        let hostile = "<script>alert(1)</script> [x](javascript:alert(1)) **b** `c`\n# h";
        let md = format!(
            "- Reason: {}\n\n| a |\n|---|\n| {} |\n",
            plain(hostile),
            cell(&plain(hostile))
        );
        let page = html(&md, "t<i>");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("href="), "{page}");
        assert!(
            !page.contains("<strong>") && !page.contains("<code>") && !page.contains("<h1>"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("<title>t&lt;i&gt;</title>"), "{page}");
        // Raw HTML written into the Markdown itself is text too.
        assert!(!html("<img src=x onerror=alert(1)>", "t").contains("<img"));
    }
}
