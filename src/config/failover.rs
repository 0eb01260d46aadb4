//! The `failover:` section: the journal, this replica and its peers, the policy (mode,
//! consecutive, cooldown, quorum, target burn, takeover), the domains with their gating
//! SLOs, preconditions and runbooks, and how long a stop waits for a running step.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawDomain, RawFailover};
use super::{window_or, Checked, Ctx, DomainConfig, FailoverConfig, RegionsConfig};
use crate::window::Window;

/// Validates `failover:` against the validated regions, `server.listen` (a peer must not
/// be this replica) and the evaluation interval (claim and takeover times).
pub(super) fn validate(
    ctx: &Ctx,
    fo: RawFailover,
    regions: &RegionsConfig,
    listen: &str,
    interval: Window,
) -> Checked<FailoverConfig> {
    let f = &ctx.f;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let cooldown = window_or(
        &mut problems,
        f,
        "failover.policy.cooldown",
        fo.policy.cooldown.as_deref(),
        "1h",
    );
    let peer_problems = peer_problems(f, &fo, listen);
    if let Some(q) = fo.policy.quorum {
        if !fo.peers.is_empty() && u64::from(q) * 2 <= fo.peers.len() as u64 + 1 {
            warnings.push(format!("{f}: failover.policy.quorum: {q} of {} replicas is not a majority: two sides of a partition could each reach it", fo.peers.len() + 1));
        }
    }
    let takeover_after = fo
        .takeover_after
        .as_deref()
        .map(|g| window_or(&mut problems, f, "failover.takeover_after", Some(g), "30s"));
    let shutdown_grace = fo
        .shutdown_grace
        .as_deref()
        .map(|g| window_or(&mut problems, f, "failover.shutdown_grace", Some(g), "30s"));
    if regions.active.is_none() {
        problems.push(format!(
            "{f}: regions.active: failover needs the active region"
        ));
    }
    if regions.standby.is_empty() {
        problems.push(format!(
            "{f}: regions.standby: failover needs at least one standby region"
        ));
    }
    if fo.domains.is_empty() {
        problems.push(format!(
            "{f}: failover.domains: at least one failover domain is required"
        ));
    }
    let policy = policy(ctx, &fo, cooldown, takeover_after, interval, &mut problems);
    let domains = domains(ctx, fo.domains, regions, &mut problems);
    let shutdown_grace = shutdown_grace.map_or_else(
        || default_shutdown_grace(&domains),
        |g| Duration::from_secs(g.secs()),
    );
    warnings.extend(short_grace_warning(f, shutdown_grace, &domains));
    problems.extend(peer_problems);
    let failover = FailoverConfig {
        journal: ctx.resolve(
            &fo.journal
                .unwrap_or_else(|| PathBuf::from("sloguard-journal.db")),
        ),
        replica: policy.replica.clone(),
        peers: fo.peers,
        policy,
        aws_region: fo.aws_region.unwrap_or_else(|| "us-east-1".into()),
        shutdown_grace,
        domains,
    };
    Checked {
        value: failover,
        problems,
        warnings,
    }
}

/// Peers need this replica named, each peer once, never this replica's own address.
fn peer_problems(f: &str, fo: &RawFailover, listen: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !fo.peers.is_empty() && fo.replica.is_none() {
        problems.push(format!("{f}: failover.replica: replicas with peers need a name of their own (the executor of a failover is named; two replicas with the default name would both act)"));
    }
    // Each peer once, never this replica's own address: a duplicate (or this
    // replica listed as its peer) would count one vote twice toward the quorum.
    let norm = |u: &str| {
        u.trim_end_matches('/')
            .to_ascii_lowercase()
            .replace("://localhost", "://127.0.0.1")
    };
    let own = norm(&format!("http://{listen}"));
    for (i, p) in fo.peers.iter().enumerate() {
        if fo.peers[..i].iter().any(|q| norm(q) == norm(p)) {
            problems.push(format!(
                "{f}: failover.peers[{i}]: {p:?} is listed twice (a peer's vote counts once)"
            ));
        }
        if norm(p) == own {
            problems.push(format!("{f}: failover.peers[{i}]: {p:?} is this replica's own address (its vote would count twice)"));
        }
    }
    problems
}

/// The policy: defaults applied, consecutive, target burn and quorum checked.
fn policy(
    ctx: &Ctx,
    fo: &RawFailover,
    cooldown: Window,
    takeover_after: Option<Window>,
    interval: Window,
    problems: &mut Vec<String>,
) -> crate::policy::PolicyConfig {
    let f = &ctx.f;
    let quorum = fo.policy.quorum.unwrap_or(1);
    let consecutive = fo.policy.consecutive.unwrap_or(2);
    if consecutive == 0 {
        problems.push(format!("{f}: failover.policy.consecutive: 0 must be at least 1 (the evaluations in a row a page tier must hold)"));
    }
    let consecutive = consecutive.max(1);
    let target_max_burn = fo.policy.target_max_burn.unwrap_or(1.0);
    if !(target_max_burn.is_finite() && target_max_burn > 0.0) {
        problems.push(format!(
            "{f}: failover.policy.target_max_burn: {target_max_burn} must be a positive number"
        ));
    }
    if quorum == 0 || quorum as usize > fo.peers.len() + 1 {
        problems.push(format!(
            "{f}: failover.policy.quorum: {quorum} must be between 1 and the number of replicas ({})",
            fo.peers.len() + 1
        ));
    }
    let interval = interval.secs() as i64;
    crate::policy::PolicyConfig {
        replica: fo.replica.clone().unwrap_or_else(|| "replica-1".into()),
        region: fo.region.clone(),
        claim_wait: if fo.peers.is_empty() {
            0
        } else {
            interval.max(2)
        },
        takeover_after: takeover_after.map_or((3 * interval).max(10), |t| t.secs() as i64),
        mode: fo.policy.mode.unwrap_or(crate::policy::Mode::Auto),
        consecutive,
        cooldown: cooldown.secs() as i64,
        quorum,
        target_max_burn,
        min_span: i64::from(consecutive - 1) * interval,
    }
}

/// The domains: unique, URL-safe names and runbooks whose steps parse.
fn domains(
    ctx: &Ctx,
    raw: Vec<RawDomain>,
    regions: &RegionsConfig,
    problems: &mut Vec<String>,
) -> Vec<DomainConfig> {
    let f = &ctx.f;
    let all_regions = regions.all();
    // The name keys the domain's signal, policy state and journal rows: two domains
    // with one name would share them.
    for (i, d) in raw.iter().enumerate() {
        if raw[..i].iter().any(|o| o.name == d.name) {
            problems.push(format!(
                "{f}: failover.domains[{i}].name: duplicate domain name {:?}",
                d.name
            ));
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, d)| {
            let runbook = crate::actuator::parse_steps(&d.runbook, &all_regions)
                .unwrap_or_else(|errs| {
                    problems.extend(
                        errs.into_iter()
                            .map(|e| format!("{f}: failover.domains[{i}].{e}")),
                    );
                    Vec::new()
                });
            if d.runbook.is_empty() {
                problems.push(format!("{f}: failover.domains[{i}].runbook: no steps"));
            }
            // The name is a URL path segment (/v1/signal/<domain>/…) and a file name
            // (`playbook --out`): letters, digits, '.', '_' and '-'.
            let url_safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
            if d.name.is_empty() || !d.name.chars().all(url_safe) || d.name.starts_with('.') {
                problems.push(format!("{f}: failover.domains[{i}].name: {:?} must be letters, digits, '.', '_' and '-' (not starting with '.')", d.name));
            }
            DomainConfig {
                name: d.name,
                slos: d.slos,
                preconditions: d
                    .preconditions
                    .into_iter()
                    .map(|p| (p.name, p.query))
                    .collect(),
                runbook,
                route53: d.route53,
                on_abort: d.on_abort,
            }
        })
        .collect()
}

/// The longest step timeout plus 5 s, at least 30 s.
fn default_shutdown_grace(domains: &[DomainConfig]) -> Duration {
    let longest = domains
        .iter()
        .flat_map(|d| d.runbook.iter())
        .map(|s| s.timeout + Duration::from_secs(5))
        .max()
        .unwrap_or_default();
    longest.max(Duration::from_secs(30))
}

/// A warning when a stop could cut the longest step.
fn short_grace_warning(f: &str, grace: Duration, domains: &[DomainConfig]) -> Option<String> {
    let longest = domains
        .iter()
        .flat_map(|d| d.runbook.iter())
        .map(|s| s.timeout)
        .max()
        .unwrap_or_default();
    (grace < longest).then(|| format!(
        "{f}: failover.shutdown_grace: {}s is shorter than the longest step timeout ({}s): a stop may cut that step, which then runs again from the start after the restart",
        grace.as_secs(),
        longest.as_secs()
    ))
}
