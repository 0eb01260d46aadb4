//! Drills: a GameDay scenario (or the demo) run through the same [`App`] and loop as
//! `serve`, on the simulated world, a simulated clock and dry-run step backends. This
//! file prepares the app from a [`Drill`], collects what the loop observes into a
//! [`Report`], and checks the scenario's expectations; the binary and the server only
//! choose how it is shown (JSON, terminal timeline, live dashboard).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::clock::SimClock;
use super::{
    AlertChange, App, AppError, Decision, Observer, Purpose, Schedule, StepCall, TickOutcome,
};
use crate::policy::Action;
use crate::sim::gameday::{secs, Drill, ExpectFailover, GamedayError, Scenario, SimSource};
use crate::slo::{Service, Severity};

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Scenario(#[from] GamedayError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Specs(#[from] crate::slo::SpecError),
    #[error("keeping the drill's journal: {0}")]
    Journal(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// The demo's scenario when none is given: the primary region fails 40 simulated
/// minutes in (40 s at the demo's 60x).
pub const BUILTIN_DEMO: &str = include_str!("demo.yaml");

/// Simulated start of every drill: a fixed day, so reports compare across runs.
pub const DRILL_START: i64 = 1_790_000_000 / 86_400 * 86_400;

/// A scenario, its drill and the services it runs on. `scenario`: a file, or None for
/// the built-in demo. `team_config`: rehearse this engine config file (`--config`).
/// Specs: the scenario's `specs:` (relative to it), else the team config's, else
/// `slo-specs/` here, else (outside a checkout, demo only) the built-in checkout spec.
pub fn prepare(
    scenario: Option<&std::path::Path>,
    team_config: Option<&std::path::Path>,
    start: i64,
) -> Result<(Scenario, Drill, Vec<Service>), DrillError> {
    use std::path::{Path, PathBuf};
    let (sc, file) = match scenario {
        Some(p) => (Scenario::load(p)?, p.to_path_buf()),
        None => (
            Scenario::parse("built-in demo scenario", BUILTIN_DEMO)?,
            PathBuf::from("demo.yaml"),
        ),
    };
    let config = sc.engine_config(&file, team_config)?;
    let scenario_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let specs = match (&sc.specs, team_config) {
        (Some(s), _) if s.is_absolute() => Some(s.clone()),
        (Some(s), _) => Some(scenario_dir.join(s)),
        (None, Some(_)) => Some(config.specs.clone()),
        (None, None) => {
            Some(PathBuf::from("slo-specs")).filter(|p| p.is_dir() || scenario.is_some())
        }
    };
    let services = match specs {
        Some(dir) => crate::slo::load_dir(&dir)?,
        None => crate::slo::parse_all(&[(
            PathBuf::from("checkout.yaml"),
            include_str!("../../slo-specs/checkout.yaml").to_string(),
        )])
        .map_err(|problems| crate::slo::SpecError::Invalid { problems })?,
    };
    crate::config::check_against_specs(&config, &services)?;
    let drill = Drill::new(&sc, config, &services, start)?;
    Ok((sc, drill, services))
}

#[derive(Debug, Clone, Serialize)]
pub struct FailoverRecord {
    pub at: i64,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub service: String,
    pub slo: String,
    pub region: String,
    /// Share of the period's error budget spent during the scenario.
    pub consumed: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub passed: bool,
    pub chaos: bool,
    pub failovers: Vec<FailoverRecord>,
    /// Alert transitions, at seconds from the start.
    pub alerts: Vec<AlertChange>,
    /// Every decision of the policy, at seconds from the start.
    pub actions: Vec<Decision>,
    /// Every runbook step in the exact form it would run (dry-run backends).
    pub calls: Vec<StepCall>,
    pub budget: Vec<Budget>,
    pub expectations: Vec<(String, bool, String)>,
    pub simulated_secs: i64,
    pub steps: u64,
    /// How the drill's configuration differs from the rehearsed one (quorum, peers) and
    /// the configuration's own warnings.
    pub notes: Vec<String>,
}

/// Checks the scenario's expectations against a finished report.
pub fn check(s: &Scenario, r: &mut Report) -> Result<(), GamedayError> {
    match &s.expect.failover {
        Some(ExpectFailover::None(word)) if word == "none" => {
            let ok = r.failovers.is_empty();
            r.expectations.push((
                "failover: none".into(),
                ok,
                format!("{} failover(s)", r.failovers.len()),
            ));
        }
        Some(ExpectFailover::None(other)) => {
            return Err(GamedayError::Scenario(format!(
                "expect.failover: {other:?} must be `none` or {{from, to, after, before}}"
            )))
        }
        Some(ExpectFailover::Some {
            from,
            to,
            after,
            before,
        }) => {
            let (a, b) = (
                secs("expect.failover.after", after)?,
                secs("expect.failover.before", before)?,
            );
            let hit = r.failovers.iter().find(|f| &f.from == from && &f.to == to);
            let ok = hit.is_some_and(|f| f.at >= a && f.at <= b);
            let detail = match hit {
                Some(f) => format!("{from} -> {to} at {}s (window {a}s..{b}s)", f.at),
                None => format!("no failover {from} -> {to}"),
            };
            r.expectations.push((
                format!("failover {from} -> {to} between {after} and {before}"),
                ok,
                detail,
            ));
        }
        None => {}
    }
    if let Some(max) = s.expect.max_failovers {
        let ok = r.failovers.len() <= max;
        r.expectations.push((
            format!("at most {max} failover(s)"),
            ok,
            format!("{} failover(s)", r.failovers.len()),
        ));
    }
    for n in &s.expect.notices {
        let seen = r
            .actions
            .iter()
            .filter(|d| matches!(&d.action, Action::Notify { message } if message.contains(&n.contains)))
            .count();
        r.expectations.push((
            format!("{} notice(s) containing {:?}", n.count, n.contains),
            seen == n.count,
            format!("{seen} notice(s)"),
        ));
    }
    r.passed = r.expectations.iter().all(|e| e.1);
    Ok(())
}

/// Collects what the loop observes into a report, with times relative to the start.
pub struct Collector {
    start: i64,
    report: Mutex<Report>,
}

impl Collector {
    pub fn new(drill: &Drill) -> Self {
        Collector {
            start: drill.start,
            report: Mutex::new(Report {
                scenario: drill.name.clone(),
                passed: true,
                chaos: true,
                failovers: vec![],
                alerts: vec![],
                actions: vec![],
                calls: vec![],
                budget: vec![],
                expectations: vec![],
                simulated_secs: drill.duration,
                steps: 0,
                notes: drill.config.warnings.clone(),
            }),
        }
    }
}

impl Collector {
    /// Failovers decided so far.
    pub fn failovers(&self) -> usize {
        self.report.lock().map_or(0, |r| r.failovers.len())
    }
}

impl Observer for Collector {
    fn observe(&self, out: &TickOutcome) {
        let Ok(mut r) = self.report.lock() else {
            return;
        };
        let rel = out.at - self.start;
        if out.scheduled {
            r.steps += 1;
        }
        r.alerts.extend(out.alerts.iter().map(|a| AlertChange {
            at: rel,
            ..a.clone()
        }));
        for d in &out.decisions {
            if let Action::StartFailover { from, to, .. } = &d.action {
                r.failovers.push(FailoverRecord {
                    at: rel,
                    from: from.clone(),
                    to: to.clone(),
                });
            }
            r.actions.push(Decision {
                at: rel,
                ..d.clone()
            });
        }
        r.calls.extend(out.steps.iter().map(|c| StepCall {
            at: rel,
            ..c.clone()
        }));
    }
}

/// The simulated clock and schedule of a drill; `pace`: real time per evaluation.
pub fn timing(drill: &Drill, pace: Option<Duration>) -> (std::sync::Arc<SimClock>, Schedule) {
    (
        SimClock::new(drill.start, pace),
        Schedule {
            interval: drill.step(),
            until: Some(drill.start + drill.duration),
        },
    )
}

/// The app of a drill: the configured engine and policy on the simulated world, with a
/// journal in memory and dry-run step backends.
pub async fn app(
    drill: &Drill,
    services: &[Service],
    clock: std::sync::Arc<SimClock>,
) -> Result<App<SimSource>, DrillError> {
    Ok(App::from_config(
        &drill.config,
        services,
        drill.source.clone(),
        clock,
        Purpose::Drill,
    )
    .await?
    .with_probes(std::sync::Arc::new(drill.probes.restarted())))
}

/// Runs a drill as fast as it computes (`gameday`), showing progress to `observer`.
pub async fn run(
    scenario: &Scenario,
    drill: &Drill,
    services: &[Service],
    observer: &dyn Observer,
) -> Result<Report, DrillError> {
    run_keeping_journal(scenario, drill, services, observer, None).await
}

/// [`run`], then (with `keep_journal`) a copy of the drill's journal written there, for
/// `sloguard report` on the drill's incidents (all tagged chaos).
pub async fn run_keeping_journal(
    scenario: &Scenario,
    drill: &Drill,
    services: &[Service],
    observer: &dyn Observer,
    keep_journal: Option<&std::path::Path>,
) -> Result<Report, DrillError> {
    let (clock, schedule) = timing(drill, None);
    let app = app(drill, services, clock.clone()).await?;
    let collector = Collector::new(drill);
    let (_outbox, inbox) = super::inbox();
    let both = super::Observers(vec![&collector, observer]);
    let app = super::run(
        app,
        clock.as_ref(),
        schedule,
        inbox,
        &both,
        std::future::pending(),
    )
    .await;
    if let Some(path) = keep_journal {
        if let Some(j) = app.journal() {
            let j = j
                .lock()
                .map_err(|_| DrillError::Journal("journal lock poisoned".into()))?;
            j.save_copy(path)
                .map_err(|e| DrillError::Journal(e.to_string()))?;
        }
    }
    finish(scenario, &app, services, collector)
}

/// Budget spent and expectations checked, once the loop has ended.
pub fn finish(
    scenario: &Scenario,
    app: &App<SimSource>,
    services: &[Service],
    collector: Collector,
) -> Result<Report, DrillError> {
    let mut report = collector
        .report
        .into_inner()
        .map_err(|_| GamedayError::Scenario("report lock poisoned".into()))?;
    let regions = scenario.regions()?;
    for s in services {
        for slo in &s.slos {
            for r in &regions {
                let errors = app.engine().streams().find_slo(&s.name, &slo.name, r);
                // Bad events over the period window against what the budget allows for
                // its events (the period window holds the backfilled baseline too).
                let consumed = errors.map_or(0.0, |ev| {
                    ev.bad as f64 / (slo.error_budget() * ev.total.max(1) as f64)
                });
                report.budget.push(Budget {
                    service: s.name.clone(),
                    slo: slo.name.clone(),
                    region: r.clone(),
                    consumed,
                });
            }
        }
    }
    check(scenario, &mut report)?;
    Ok(report)
}

/// The terminal timeline of a drill: each event once, in aligned columns, times relative
/// to the start.
pub struct Timeline {
    pub start: i64,
}

impl Timeline {
    fn hhmm(&self, at: i64) -> String {
        let rel = at - self.start;
        format!("{:>2}h{:02}m{:02}s", rel / 3600, rel % 3600 / 60, rel % 60)
    }
}

impl Observer for Timeline {
    fn observe(&self, out: &TickOutcome) {
        // Labels, reasons and step output come from outside: escaped, one line each.
        use crate::text::escape_control as esc;
        let t = self.hhmm(out.at);
        for a in out.alerts.iter().filter(|a| a.severity == Severity::Page) {
            println!(
                "{t}  page      {:<8}  {}/{} in {}",
                if a.firing { "FIRING" } else { "resolved" },
                esc(&a.service),
                esc(&a.slo),
                esc(&a.region)
            );
        }
        for d in &out.decisions {
            let domain = esc(&d.domain);
            match &d.action {
                Action::StartFailover { from, to, reason, .. } => println!(
                    "{t}  DECISION  {domain:<8}  fail over {} -> {}: {}",
                    esc(from),
                    esc(to),
                    esc(reason)
                ),
                Action::Blocked { reason } => {
                    println!("{t}  blocked   {domain:<8}  {}", esc(reason))
                }
                Action::Notify { message } => {
                    println!("{t}  notice    {domain:<8}  {}", esc(message))
                }
                Action::RequestApproval { to, incident, .. } => println!(
                    "{t}  approval  {domain:<8}  incident {incident}: awaiting approval to fail over to {}",
                    esc(to)
                ),
                Action::FollowFailover { incident, to, executor, .. } => println!(
                    "{t}  DECISION  {domain:<8}  incident {incident}: fail over to {} (executed by replica {})",
                    esc(to),
                    esc(executor)
                ),
                Action::PeerExecuted { incident, executor, ok } => println!(
                    "{t}  notice    {domain:<8}  incident {incident}: replica {} finished the runbook ({})",
                    esc(executor),
                    if *ok { "ok" } else { "failed" }
                ),
                Action::ResumeRunbook { incident, to, .. } => println!(
                    "{t}  DECISION  {domain:<8}  incident {incident}: finishing the failover to {}",
                    esc(to)
                ),
                Action::RollBack { incident, from, .. } => println!(
                    "{t}  DECISION  {domain:<8}  incident {incident}: rolling back to {}",
                    esc(from)
                ),
                Action::Vote { .. } => {}
            }
        }
        for c in &out.steps {
            println!(
                "{t}  step      {:<8}  {} [{}]: {}",
                esc(&c.domain),
                esc(&c.step),
                esc(&c.status),
                esc(&c.call)
            );
        }
        if out.scheduled && (out.at - self.start) % 600 == 0 {
            if let Some(snap) = &out.snapshot {
                let burn = |region: &str, window: &str| {
                    snap.final_rows
                        .iter()
                        .filter(|r| r.region == region && r.window == window)
                        .filter_map(|r| r.burn_rate)
                        .fold(0.0f64, f64::max)
                };
                let line: Vec<String> = snap
                    .regions
                    .iter()
                    .map(|r| {
                        format!(
                            "{} burn 5m x{:.1} 1h x{:.1}",
                            esc(&r.region),
                            burn(&r.region, "5m"),
                            burn(&r.region, "1h")
                        )
                    })
                    .collect();
                println!("{t}  burn                {}", line.join(" | "));
            }
        }
    }
}

/// An observer that shows nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn observe(&self, _: &TickOutcome) {}
}

/// Each expectation of a drill and whether it held, one line each.
pub fn render_expectations(report: &Report) -> String {
    let mut out = String::new();
    use crate::text::escape_control as esc;
    for n in &report.notes {
        out.push_str(&format!("note: {}\n", esc(n)));
    }
    for (name, ok, detail) in &report.expectations {
        let verdict = if *ok { "ok" } else { "FAILED" };
        out.push_str(&format!(
            "expect {}: {verdict} ({})\n",
            esc(name),
            esc(detail)
        ));
    }
    out
}

/// The closing lines of a drill in the terminal: each expectation, then the verdict.
pub fn render_verdict(report: &Report, wall_secs: f64) -> String {
    let mut out = render_expectations(report);
    out.push_str(&format!(
        "{} in {} evaluations, {wall_secs:.2}s wall\n",
        if report.passed { "PASSED" } else { "FAILED" },
        report.steps
    ));
    out
}
