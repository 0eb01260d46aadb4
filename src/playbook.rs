//! PURE incident playbooks (`sloguard playbook`): one Markdown document per failover
//! domain, written from the engine config, the SLO specs and the GameDay scenarios, so
//! what an on-call engineer reads at 3 a.m. is what the engine will do. It says what
//! triggers the failover (SLOs, tiers, thresholds, detection times), the guards, every
//! runbook step with the API call it makes, the equivalent manual command and how to
//! verify it, how to fail back, who is paged and which scenarios rehearse it.
//!
//! Every shell line sits alone in a ```sh block, so a test (and an operator) can run the
//! blocks as they are; the `aws` lines are built from the same values the step's own
//! call uses.

use std::fmt::Write;

use crate::actuator::step::{shell_line, Manual, ManualContext};
use crate::actuator::{Incident, StepSpec};
use crate::config::{Config, DomainConfig, FailoverConfig};
use crate::policy::Mode;
use crate::rulegen::explain::{fastest_detection, tier_facts};
use crate::sim::gameday::{ExpectFailover, Fault, Scenario};
use crate::slo::{decimal, Service, Severity, Slo};
use crate::window::{human_secs, Window};

/// A GameDay scenario with the path an operator passes to `sloguard gameday --scenario`.
pub struct ScenarioFile {
    pub path: String,
    pub scenario: Scenario,
}

/// What the playbook is written from.
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    /// The config path as the operator passes it to `--config`.
    pub config_arg: &'a str,
    pub services: &'a [Service],
    pub scenarios: &'a [ScenarioFile],
}

/// The reason a hand-run failover carries in the playbook's commands.
const MANUAL_REASON: &str = "manual failover (playbook)";

/// The playbook of one domain, as Markdown.
pub fn render(inputs: &Inputs, fo: &FailoverConfig, domain: &DomainConfig) -> String {
    let cfg = inputs.cfg;
    let active = cfg.regions.active.clone().unwrap_or_default();
    let standby = &cfg.regions.standby;
    // A wildcard listen address is reached on loopback from the engine's own host.
    let listen = cfg
        .listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "127.0.0.1:");
    let engine_url = format!("http://{listen}");
    let ctx = ManualContext {
        engine_url: engine_url.clone(),
        aws_region: fo.aws_region.clone(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "# Failover playbook: domain `{}`\n", domain.name);
    let _ = writeln!(
        out,
        "Written by `{}` from the engine config, the SLO specs in `{}` and the GameDay \
         scenarios; write it again after changing any of them.\n",
        md(&shell_line(&[
            "sloguard",
            "playbook",
            "--config",
            inputs.config_arg
        ])),
        md(&cfg.specs.display().to_string())
    );
    let _ = writeln!(
        out,
        "- Active region: **{active}**; standby: **{}**\n- Mode: **{}**{}\n- Replica `{}`{}\n- Journal: `{}`\n- Engine: {engine_url}\n",
        standby.join(", "),
        mode_name(fo.policy.mode),
        match fo.policy.mode {
            Mode::Auto => " (fails over by itself once every guard holds)",
            Mode::Approve => " (decides, then waits for `sloguard approve`)",
            Mode::DryRun => " (decides and records; the runbook only prints its calls)",
        },
        fo.replica,
        if fo.peers.is_empty() {
            String::new()
        } else {
            format!(" with peers {}", fo.peers.join(", "))
        },
        fo.journal.display()
    );
    triggers(&mut out, inputs, fo, domain);
    guards(&mut out, cfg, fo, domain);
    let _ = writeln!(out, "## 3. During the incident\n");
    let _ = writeln!(
        out,
        "See what the engine sees and did, and get the post-incident report:\n"
    );
    sh(
        &mut out,
        &[
            shell_line(&["sloguard", "status", "--url", &engine_url]),
            shell_line(&["sloguard", "incidents", "--config", inputs.config_arg]),
            shell_line(&["sloguard", "report", "1", "--config", inputs.config_arg]),
        ],
    );
    let _ = writeln!(
        out,
        "In `approve` mode, or to override a refusal (`--force` skips the guards and needs a reason):\n"
    );
    for to in standby {
        sh(
            &mut out,
            &[
                shell_line(&[
                    "sloguard",
                    "approve",
                    "--url",
                    &engine_url,
                    "1",
                    "--reason",
                    "approved by on-call",
                ]),
                shell_line(&[
                    "sloguard",
                    "failover",
                    "--url",
                    &engine_url,
                    "--domain",
                    &domain.name,
                    "--target",
                    to,
                    "--reason",
                    MANUAL_REASON,
                ]),
            ],
        );
    }
    let _ = writeln!(
        out,
        "Operator calls read the API token from the file named by `SLOGUARD_API_TOKEN_FILE` (or `--token-file`).\n"
    );
    let _ = writeln!(out, "## 4. Runbook\n");
    for to in standby {
        let inc = incident(&domain.name, &active, to);
        let _ = writeln!(
            out,
            "Failing over **{active} → {to}**: the steps run in order; each first reads the \
             current state and skips what is already done, so a resumed or repeated run is \
             safe. By hand, run the same commands in the same order.\n"
        );
        for (i, spec) in domain.runbook.iter().enumerate() {
            step_section(&mut out, i, spec, &inc, &ctx);
        }
    }
    failback(&mut out, &active, standby, domain, &ctx, inputs.config_arg);
    paged(&mut out, inputs, domain);
    rehearse(&mut out, inputs, &active);
    out
}

/// A configured duration as written in configs (`30s`, `1h`, `2m30s`).
fn span(secs: u64) -> String {
    Window::from_secs(secs).to_string()
}

/// Text from files (scenario names, queries, paths) safe inside a table cell or an
/// inline code span: one line, no pipes or backticks.
fn md(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '|' => '¦',
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Auto => "auto",
        Mode::Approve => "approve",
        Mode::DryRun => "dry-run",
    }
}

/// The incident a hand-run failover stands for (its number is the journal's).
fn incident(domain: &str, from: &str, to: &str) -> Incident {
    Incident {
        id: 0,
        domain: domain.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        reason: MANUAL_REASON.to_string(),
        dry_run: false,
        chaos: false,
        approved: true,
    }
}

fn sh(out: &mut String, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    out.push_str("```sh\n");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str("```\n\n");
}

/// The gating SLOs of a domain: those it names, or all of them.
fn gating<'a>(services: &'a [Service], domain: &DomainConfig) -> Vec<(&'a Service, &'a Slo)> {
    services
        .iter()
        .flat_map(|s| s.slos.iter().map(move |slo| (s, slo)))
        .filter(|(s, slo)| {
            domain.slos.is_empty()
                || domain
                    .slos
                    .iter()
                    .any(|id| *id == format!("{}/{}", s.name, slo.name))
        })
        .collect()
}

fn triggers(out: &mut String, inputs: &Inputs, fo: &FailoverConfig, domain: &DomainConfig) {
    let cfg = inputs.cfg;
    let interval = cfg.evaluation.interval.secs() as f64;
    let n = fo.policy.consecutive;
    let extra = (n.saturating_sub(1) as f64 + 1.0) * interval;
    let _ = writeln!(out, "## 1. What triggers the failover\n");
    let _ = writeln!(
        out,
        "The engine evaluates every {} and fails the active region over when it is \
         **burning** (a page tier of a gating SLO holds there) or **down** on {n} \
         consecutive scheduled evaluations, and every guard (section 2) holds. Alertmanager \
         pages make it re-evaluate at once but never count toward the {n}.\n",
        cfg.evaluation.interval
    );
    let _ = writeln!(
        out,
        "| SLO | objective | period | tier | windows | factor | error-ratio threshold | budget spent when it fires | full outage detected in | decision within |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let slos = gating(inputs.services, domain);
    for (s, slo) in &slos {
        for tier in &slo.tiers {
            let f = tier_facts(slo, tier);
            let gates = tier.severity == Severity::Page;
            let _ = writeln!(
                out,
                "| {}/{} | {}% | {} | {}{} | {}/{} | {}× | {} | {}% | {} | {} |",
                s.name,
                slo.name,
                decimal(slo.objective),
                slo.period,
                tier.severity.as_str(),
                if gates {
                    ""
                } else {
                    " (never gates; the target must be free of it)"
                },
                tier.long,
                tier.short,
                decimal(tier.factor),
                decimal(f.threshold),
                decimal(f.budget_consumed * 100.0),
                f.detect_full
                    .map(human_secs)
                    .unwrap_or_else(|| "never".into()),
                match (gates, f.detect_full) {
                    (true, Some(d)) => human_secs(d + extra),
                    _ => "-".into(),
                }
            );
        }
    }
    if slos.is_empty() {
        let _ = writeln!(
            out,
            "| (no SLO in the specs matches the domain's `slos`) |||||||||| "
        );
    }
    let fastest = slos
        .iter()
        .filter_map(|(_, slo)| fastest_detection(slo, Severity::Page))
        .map(|(_, d)| d)
        .min_by(f64::total_cmp);
    if let Some(d) = fastest {
        let _ = writeln!(
            out,
            "\nA full outage of the active region is decided within **{}** (fastest page \
             tier {} + ({n} − 1) × {} + one evaluation).\n",
            human_secs(d + extra),
            human_secs(d),
            cfg.evaluation.interval
        );
    } else {
        out.push('\n');
    }
    let r = &cfg.regions;
    let _ = writeln!(
        out,
        "**Down** (region loss): its own SLIs silent, or its regional source unreachable, for \
         {} (`regions.down_after`), confirmed from outside it{}. Silent without outside \
         confirmation is *monitoring lost*: one notice, never a failover.\n",
        span(r.down_after.max(0) as u64),
        if r.probes.is_empty() {
            " by a `vantage: external` SLO paging for the region (no probes are configured)"
                .to_string()
        } else {
            format!(
                ": {} replica(s) each saw {} consecutive failed probes ({}), or a `vantage: external` SLO pages for it",
                fo.policy.quorum,
                r.probe_failures,
                r.probes
                    .iter()
                    .map(|(region, p)| format!("{region} `{}` every {}", p.url, p.interval))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
}

fn guards(out: &mut String, cfg: &Config, fo: &FailoverConfig, domain: &DomainConfig) {
    let p = &fo.policy;
    let _ = writeln!(out, "## 2. Guards\n");
    let _ = writeln!(
        out,
        "A failover starts only when every one of these holds; the first that fails is \
         journaled as the reason it did not (`sloguard incidents`, the report).\n"
    );
    let interval = cfg.evaluation.interval.secs();
    let lines = [
        format!(
            "**Hysteresis**: burning or down on {} consecutive scheduled evaluations spanning at least {}.",
            p.consecutive,
            span(p.consecutive.saturating_sub(1) as u64 * interval)
        ),
        "**Complete data**: a query that failed or answered partially marks the SLO degraded; degraded data neither starts nor stops the count, and no decision rests on it.".into(),
        format!(
            "**Healthy target**: no tier holds there, every tier short window burns below {}× (`target_max_burn`), its data is present and complete, and its probes pass where configured.",
            decimal(p.target_max_burn)
        ),
        if domain.preconditions.is_empty() {
            "**Preconditions**: none configured.".to_string()
        } else {
            format!(
                "**Preconditions**: each returns a non-zero sample (no data = no failover): {}.",
                domain
                    .preconditions
                    .iter()
                    .map(|(n, q)| format!("`{}` = `{}`", md(n), md(q)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
        format!(
            "**Cooldown**: no failover within {} of the last one.",
            span(p.cooldown.max(0) as u64)
        ),
        format!(
            "**Quorum**: {} replica(s), this one included, vote for the same target{}.",
            p.quorum,
            if fo.peers.is_empty() {
                String::new()
            } else {
                format!(" (peers: {})", fo.peers.join(", "))
            }
        ),
        match p.mode {
            Mode::Approve => "**Approval**: a human approves each failover (`sloguard approve`).".to_string(),
            Mode::Auto => "**Approval**: not required (mode `auto`); data-loss database failovers still need one unless allowed in the step.".to_string(),
            Mode::DryRun => "**Approval**: not required; mode `dry-run` moves nothing.".to_string(),
        },
        "**Global incident**: when the active region and every standby are burning or down, notify only.".into(),
        "**Latch**: after a failover the automation stays off until an operator re-arms it (`sloguard rearm`); failback is manual.".into(),
        "**Journal**: a decision is journaled before it is acted on; a journal that cannot be written turns automation off (readyz 503).".into(),
    ];
    for l in lines {
        let _ = writeln!(out, "- {l}");
    }
    out.push('\n');
}

fn step_section(out: &mut String, i: usize, spec: &StepSpec, inc: &Incident, ctx: &ManualContext) {
    let _ = writeln!(
        out,
        "### Step {}: `{}` ({})\n\ntimeout {}, retries {}, on failure: {}\n",
        i + 1,
        spec.name,
        spec.kind(),
        span(spec.timeout.as_secs()),
        spec.retries,
        match spec.on_failure {
            crate::actuator::OnFailure::Abort =>
                "abort the runbook (announced on every SNS step's topic)",
            crate::actuator::OnFailure::Continue => "continue with the next step",
        }
    );
    let _ = writeln!(out, "- API call: `{}`", md(&spec.step.describe(inc)));
    let Manual {
        commands,
        verify,
        expect,
    } = spec.step.manual(inc, ctx);
    out.push_str("- By hand:\n\n");
    if commands.is_empty() {
        out.push_str("  (nothing to run by hand)\n\n");
    }
    sh(out, &commands);
    if !verify.is_empty() {
        out.push_str("- Verify:\n\n");
        sh(out, &verify);
    }
    let _ = writeln!(out, "- Expect: {expect}\n");
}

fn failback(
    out: &mut String,
    active: &str,
    standby: &[String],
    domain: &DomainConfig,
    ctx: &ManualContext,
    config_arg: &str,
) {
    let _ = writeln!(out, "## 5. Failing back\n");
    let _ = writeln!(
        out,
        "Failback is never automatic. Once {active} is healthy again (`sloguard status` shows \
         it healthy with complete data, and the cause is understood), fail back through the \
         engine: it checks that {active} is a healthy target (the cooldown does not apply), \
         runs the same runbook toward {active} and journals it as an incident. Then re-arm \
         the automation.\n"
    );
    for from in standby {
        sh(
            out,
            &[
                shell_line(&["sloguard", "status", "--url", &ctx.engine_url]),
                shell_line(&[
                    "sloguard",
                    "failback",
                    "--url",
                    &ctx.engine_url,
                    "--domain",
                    &domain.name,
                    "--target",
                    active,
                    "--reason",
                    "primary recovered",
                ]),
                shell_line(&["sloguard", "incidents", "--config", config_arg]),
                shell_line(&[
                    "sloguard",
                    "rearm",
                    "--url",
                    &ctx.engine_url,
                    "--domain",
                    &domain.name,
                    "--reason",
                    "failback done",
                ]),
            ],
        );
        let _ = writeln!(
            out,
            "By hand ({from} → {active}), the runbook's commands in the other direction:\n"
        );
        let back = incident(&domain.name, from, active);
        let lines: Vec<String> = domain
            .runbook
            .iter()
            .flat_map(|s| s.step.manual(&back, ctx).commands)
            .collect();
        sh(out, &lines);
    }
}

fn paged(out: &mut String, inputs: &Inputs, domain: &DomainConfig) {
    let _ = writeln!(out, "## 6. Who is paged\n");
    let mut any = false;
    for spec in &domain.runbook {
        if let Some(topic) = spec.step.sns_topic() {
            any = true;
            let _ = writeln!(
                out,
                "- SNS topic `{topic}` (step `{}`): the failover, and any runbook abort.",
                spec.name
            );
        }
        if spec.kind() == crate::actuator::steps::slack::KIND.name {
            any = true;
            let _ = writeln!(
                out,
                "- Slack (step `{}`): incident, from → to, reason and a link to the report.",
                spec.name
            );
        }
    }
    if !any {
        let _ = writeln!(
            out,
            "- No runbook step pages anyone: add an `sns` or `slack` step."
        );
    }
    let alerts: Vec<String> = gating(inputs.services, domain)
        .iter()
        .map(|(s, slo)| format!("`{}` ({}/{})", slo.alerting.name, s.name, slo.name))
        .collect();
    let _ = writeln!(
        out,
        "- Alertmanager: the generated page alerts ({}) with `severity=page` per region \
         (`rules/alertmanager/sloguard.yaml` routes them), whether or not a failover follows.\n",
        alerts.join(", ")
    );
}

fn rehearse(out: &mut String, inputs: &Inputs, active: &str) {
    let _ = writeln!(out, "## 7. Rehearse it\n");
    let fitting: Vec<&ScenarioFile> = inputs
        .scenarios
        .iter()
        .filter(|f| {
            f.scenario
                .traffic
                .keys()
                .any(|k| k.as_str() == Some(active))
        })
        .collect();
    if fitting.is_empty() {
        let _ = writeln!(
            out,
            "No GameDay scenario with traffic in {active} was found; write one (README, GameDay).\n"
        );
        return;
    }
    let _ = writeln!(
        out,
        "Each scenario runs this config's regions, policy and runbook through the real \
         engine in simulated time, on dry-run step backends (nothing real moves), and exits 1 \
         when an expectation fails.\n\n| scenario | injects | expects |\n|---|---|---|"
    );
    for f in &fitting {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            md(&f.scenario.name),
            md(&if f.scenario.faults.is_empty() {
                "nothing".to_string()
            } else {
                f.scenario
                    .faults
                    .iter()
                    .map(Fault::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            md(&expects(&f.scenario))
        );
    }
    out.push('\n');
    let lines: Vec<String> = fitting
        .iter()
        .map(|f| {
            shell_line(&[
                "sloguard",
                "gameday",
                "--scenario",
                &f.path,
                "--config",
                inputs.config_arg,
            ])
        })
        .collect();
    sh(out, &lines);
}

fn expects(s: &Scenario) -> String {
    let mut parts = Vec::new();
    match &s.expect.failover {
        Some(ExpectFailover::Some {
            from,
            to,
            after,
            before,
        }) => parts.push(format!(
            "failover {from} → {to} between {after} and {before}"
        )),
        Some(ExpectFailover::None(_)) => parts.push("no failover".into()),
        None => {}
    }
    if let Some(m) = s.expect.max_failovers {
        parts.push(format!("at most {m} failover(s)"));
    }
    for n in &s.expect.notices {
        parts.push(format!("{} notice(s) \"{}\"", n.count, n.contains));
    }
    if parts.is_empty() {
        "runs to the end".into()
    } else {
        parts.join("; ")
    }
}
