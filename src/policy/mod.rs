//! PURE failover decision state machine: `step(state, input, now) -> (state, actions)`.
//! No clock, no I/O: evaluations, votes, operator commands and runbook results are
//! inputs; what to do is returned as [`Action`]s for the engine and actuator to carry out.
//!
//! Guards (DESIGN.md defaults): the active region must burn (a gating page tier holds) on
//! N consecutive scheduled evaluations spanning at least N−1 intervals, with complete data;
//! the target must be healthy (no tier holds, its short windows burn below
//! `target_max_burn`, data present and complete, probes passing where configured); every precondition must hold; no
//! cooldown may be running; a quorum of replicas must agree. An operator's non-forced
//! failover passes the same guards, including "the active region is burning". Both regions burning is a global incident: notify only.
//! After a failover the automation latches until an operator re-arms it; failback is manual.
//!
//! A region is *down* when its own SLIs have been silent for `regions.down_after` and
//! evidence from outside it (probes from a quorum of replicas, a `vantage: external` SLO)
//! confirms failure: the policy treats it like burning and every other guard still
//! applies. Silent without that confirmation is *monitoring lost*: one notice, no action.

pub mod replicas;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use replicas::{ExecState, Execution, PeerDomain};

/// How decisions are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Fail over as soon as every guard holds.
    Auto,
    /// A human approves each failover.
    Approve,
    /// Decide and record, but the runbook only prints what it would do.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyConfig {
    pub mode: Mode,
    /// Consecutive burning evaluations before acting (N).
    pub consecutive: u32,
    /// Seconds after a failover during which no other may start.
    pub cooldown: i64,
    /// Replicas (this one included) that must vote for the same target.
    pub quorum: u32,
    /// A healthy target's short windows burn below this (1.0: not spending budget).
    pub target_max_burn: f64,
    /// Seconds the N consecutive burning evaluations must span at least ((N−1) ×
    /// the evaluation interval), so a burst of evaluations can never stand for time.
    pub min_span: i64,
    /// This replica's name (`failover.replica`): the executor of a failover is named.
    pub replica: String,
    /// The region this replica runs in (`failover.region`): a failover's executor is a
    /// replica in the target region when one agrees.
    pub region: Option<String>,
    /// Seconds a follower waits for the executor to be seen running a failover before
    /// the next replica in order takes over (`failover.takeover_after`).
    pub takeover_after: i64,
    /// Seconds a replica that would execute an agreed failover shows its claim to its
    /// peers before it acts (0: no peers, act at once); of two claimants the one first
    /// in executor order acts, the other follows.
    pub claim_wait: i64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            mode: Mode::Auto,
            consecutive: 2,
            cooldown: 3600,
            quorum: 1,
            target_max_burn: 1.0,
            min_span: 0,
            replica: "replica-1".into(),
            region: None,
            takeover_after: 30,
            claim_wait: 0,
        }
    }
}

/// One region's health at an evaluation, over the domain's gating SLOs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegionHealth {
    /// A gating SLO's page tier holds.
    pub burning: bool,
    /// Any tier of a gating SLO holds (a healthy target has none).
    pub any_tier: bool,
    /// Every gating SLO returned data for the region.
    pub has_data: bool,
    /// No query was degraded (partial or failed).
    pub complete: bool,
    /// The highest burn rate over the gating SLOs' tier short windows (5m, 30m, 2h, 6h by
    /// default): a target spending budget fast is not healthy even before a tier holds.
    #[serde(default)]
    pub short_burn: f64,
    /// Down: its own SLIs silent for `regions.down_after` AND outside evidence (probes
    /// from a quorum of replicas, or a `vantage: external` SLO burning) confirms failure.
    #[serde(default)]
    pub down: bool,
    /// Its own SLIs silent for `down_after` with no outside confirmation: notify, never act.
    #[serde(default)]
    pub monitoring_lost: bool,
    /// Probes of the region: None when none are configured; Some(true) when this
    /// replica's latest probe passed; Some(false) when it failed or none answered yet.
    #[serde(default)]
    pub probes_passing: Option<bool>,
    /// The gating SLOs' windows are covered by data the engine has seen (the region's
    /// start-up backfill succeeded and every tier's long window is at least 90%
    /// covered): no decision rests on windows the engine has not seen.
    #[serde(default = "covered_by_default")]
    pub covered: bool,
}

/// Journals written before coverage existed decided on covered data.
fn covered_by_default() -> bool {
    true
}

impl Default for RegionHealth {
    /// Nothing known: no data (so neither healthy nor burning), coverage not in question.
    fn default() -> Self {
        RegionHealth {
            burning: false,
            any_tier: false,
            has_data: false,
            complete: false,
            short_burn: 0.0,
            down: false,
            monitoring_lost: false,
            probes_passing: None,
            covered: true,
        }
    }
}

impl RegionHealth {
    /// Healthy as a failover target: nothing burning, no tier, complete data, short
    /// windows burning below `max_burn`, and its probes passing where they are configured.
    pub fn healthy(&self, max_burn: f64) -> bool {
        !self.burning
            && !self.any_tier
            && !self.down
            && self.has_data
            && self.complete
            && self.short_burn < max_burn
            && self.probes_passing != Some(false)
            && self.covered
    }

    /// Bad enough to fail over from: burning, or down.
    pub fn bad(&self) -> bool {
        self.burning || self.down
    }
}

/// An evaluation of a failover domain.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub regions: BTreeMap<String, RegionHealth>,
    /// Precondition queries: Some(true) holds, Some(false) fails, None unknown (no data).
    pub preconditions: BTreeMap<String, Option<bool>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Failover {
        target: String,
        reason: String,
        force: bool,
    },
    Approve {
        incident: u64,
    },
    Rearm,
    /// Move back to the region the last failover left (only after a failover).
    Failback {
        target: String,
        reason: String,
        /// Skip the guards (cooldown, quorum, healthy target); needs a reason.
        force: bool,
    },
    /// Leave an incomplete failover (a runbook that stopped after moving traffic).
    Resolve {
        incident: u64,
        action: Resolution,
    },
}

/// How an operator leaves an incomplete failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Run the steps that did not take effect (each re-checked first).
    Finish,
    /// Undo what moved (traffic, records, the writer) and keep the old region active.
    RollBack,
    /// Keep the world as it is: the region traffic points at stays active.
    Accept,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    Evaluation(Evaluation),
    /// Votes of the other replicas: replica → target they want to fail over to.
    Votes(BTreeMap<String, Option<String>>),
    /// What each reachable peer says about this domain (`/v1/peer`), by peer URL.
    PeerViews(BTreeMap<String, PeerDomain>),
    Operator(Command),
    /// Alertmanager paged for a region; the engine confirms with its own evaluation.
    AlertTrigger {
        region: String,
        slo: String,
    },
    RunbookFinished {
        incident: u64,
        ok: bool,
        /// A step that points traffic (or the writer) at the target took effect, or the
        /// target's failover signal is raised: the world points at the target now.
        moved: bool,
    },
    /// A roll back of an incomplete failover ended (`ok`: everything moved back).
    RollbackFinished {
        incident: u64,
        ok: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Watching the active region.
    Armed,
    /// The active region burned on `count` consecutive evaluations.
    Suspect { since: i64, count: u32 },
    /// Both the active region and every standby burn: notify, never fail over.
    GlobalIncident { since: i64 },
    AwaitingApproval {
        incident: u64,
        from: String,
        to: String,
        since: i64,
    },
    FailingOver {
        incident: u64,
        from: String,
        to: String,
        since: i64,
        /// A dry run: its end changes nothing (no new active region, no latch).
        #[serde(default)]
        dry_run: bool,
        /// The peer replica that executes the runbook while this one follows (None:
        /// this replica executes).
        #[serde(default)]
        executor: Option<String>,
        /// This follower's place in the executor order (its takeover waits rank ×
        /// `takeover_after`).
        #[serde(default)]
        rank: u32,
    },
    /// A runbook stopped part-way after moving traffic to `to`: `to` is active (the
    /// world points there) but the failover is incomplete. Only an operator leaves this
    /// phase: finish, roll back, or accept.
    IncompleteFailover {
        incident: u64,
        from: String,
        to: String,
        at: i64,
    },
    /// An operator's roll back of an incomplete failover is running.
    RollingBack {
        incident: u64,
        from: String,
        to: String,
        since: i64,
    },
    /// Latched until an operator re-arms.
    FailedOver {
        incident: u64,
        from: String,
        to: String,
        at: i64,
        ok: bool,
    },
}

/// Everything the policy remembers; journaled with every decision that changes it and
/// restored at start, so a restart never lowers a signal, re-arms a latch or shortens a
/// cooldown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    pub domain: String,
    pub active: String,
    pub standby: Vec<String>,
    pub phase: Phase,
    pub last_failover: Option<i64>,
    /// When the last dry-run failover ended: dry runs repeat at most once per cooldown,
    /// and never hold back a real failover.
    #[serde(default)]
    pub last_dry_run: Option<i64>,
    pub next_incident: u64,
    /// This replica's current vote (served on its failover signal endpoint).
    pub vote: Option<String>,
    pub peer_votes: BTreeMap<String, Option<String>>,
    pub last_evaluation: Option<Evaluation>,
    /// The active region's monitoring is lost and operators were told (once).
    #[serde(default)]
    pub monitoring_lost: bool,
    /// What each reachable peer said about this domain at the last evaluation.
    #[serde(default)]
    pub peers: BTreeMap<String, PeerDomain>,
    /// When a follower last saw its executor running the failover.
    #[serde(default)]
    pub executor_seen: Option<i64>,
    /// The failover this replica executes or follows (the last one), for its peers.
    #[serde(default)]
    pub execution: Option<Execution>,
}

impl PolicyState {
    pub fn new(domain: &str, active: &str, standby: &[String]) -> Self {
        PolicyState {
            domain: domain.to_string(),
            active: active.to_string(),
            standby: standby.to_vec(),
            phase: Phase::Armed,
            last_failover: None,
            last_dry_run: None,
            next_incident: 1,
            vote: None,
            peer_votes: BTreeMap::new(),
            last_evaluation: None,
            monitoring_lost: false,
            peers: BTreeMap::new(),
            executor_seen: None,
            execution: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Notify {
        message: String,
    },
    /// A guard stopped a failover; recorded so operators see why.
    Blocked {
        reason: String,
    },
    /// Publish this replica's vote.
    Vote {
        target: Option<String>,
    },
    RequestApproval {
        incident: u64,
        from: String,
        to: String,
        reason: String,
    },
    StartFailover {
        incident: u64,
        from: String,
        to: String,
        reason: String,
        dry_run: bool,
        forced: bool,
    },
    /// The replicas agreed on a failover that a peer executes: this replica raises its
    /// own signal (its vote) and follows; it runs no control-plane step.
    FollowFailover {
        incident: u64,
        from: String,
        to: String,
        reason: String,
        executor: String,
    },
    /// The executor reported the followed failover finished.
    PeerExecuted {
        incident: u64,
        executor: String,
        ok: bool,
    },
    /// Run an incident's runbook again from the first step not in place (finish).
    ResumeRunbook {
        incident: u64,
        from: String,
        to: String,
    },
    /// Undo what an incident's runbook moved (roll back).
    RollBack {
        incident: u64,
        from: String,
        to: String,
    },
}

/// One guard as checked for a failover to a target: what it is, whether it held, and
/// the facts (the refusal's own words when it did not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardCheck {
    pub guard: String,
    pub passed: bool,
    pub detail: String,
}

impl GuardCheck {
    pub fn new(guard: &str, passed: bool, detail: String) -> Self {
        GuardCheck {
            guard: guard.into(),
            passed,
            detail,
        }
    }
}

fn check(guard: &str, passed: bool, detail: String) -> GuardCheck {
    GuardCheck::new(guard, passed, detail)
}

/// Every guard on a failover to `target` now, in the order they are applied. The list
/// stops at a failure that leaves the rest undefined (not a standby, no evaluation).
pub fn guard_checks(
    state: &PolicyState,
    cfg: &PolicyConfig,
    target: &str,
    now: i64,
) -> Vec<GuardCheck> {
    let mut out = Vec::new();
    if target == state.active {
        out.push(check(
            "target",
            false,
            format!("{target} is already the active region"),
        ));
        return out;
    }
    if !state.standby.iter().any(|s| s == target) {
        out.push(check(
            "target",
            false,
            format!(
                "{target} is not a standby region of domain {}",
                state.domain
            ),
        ));
        return out;
    }
    let Some(ev) = &state.last_evaluation else {
        out.push(check("evaluation", false, "no evaluation yet".into()));
        return out;
    };
    let health = match ev.regions.get(target) {
        Some(h) if h.healthy(cfg.target_max_burn) => Ok(format!(
            "target {target} healthy: no tier holds, data complete, short windows burn at {:.2}x (below {}x){}",
            h.short_burn,
            cfg.target_max_burn,
            if h.probes_passing == Some(true) { ", probes pass" } else { "" }
        )),
        Some(h) if h.down => Err(format!("target {target} is down")),
        Some(h) if !h.has_data => Err(format!("target {target} has no data")),
        Some(h) if !h.complete => Err(format!("target {target} data is incomplete")),
        Some(h) if !h.covered => Err(format!(
            "target {target} data does not cover its windows yet (backfill pending or a gap being filled)"
        )),
        Some(h) if h.burning || h.any_tier => {
            Err(format!("target {target} is not healthy (a tier holds there)"))
        }
        Some(h) if h.probes_passing == Some(false) => {
            Err(format!("target {target} is not healthy (its probes fail)"))
        }
        Some(h) => Err(format!(
            "target {target} is not healthy (short windows burn at {:.2}x, above {}x)",
            h.short_burn, cfg.target_max_burn
        )),
        None => Err(format!("target {target} has no data")),
    };
    out.push(match health {
        Ok(d) => check("healthy target", true, d),
        Err(d) => check("healthy target", false, d),
    });
    match ev.regions.get(&state.active) {
        Some(h) if !h.complete => out.push(check(
            "complete data",
            false,
            format!("active {} data is incomplete", state.active),
        )),
        _ => out.push(check(
            "complete data",
            true,
            format!(
                "every query for {} and {target} answered in full",
                state.active
            ),
        )),
    }
    if ev.preconditions.is_empty() {
        out.push(check("preconditions", true, "none configured".into()));
    }
    for (name, ok) in &ev.preconditions {
        out.push(match ok {
            Some(true) => check("preconditions", true, format!("precondition {name} holds")),
            Some(false) => check(
                "preconditions",
                false,
                format!("precondition {name} does not hold"),
            ),
            None => check(
                "preconditions",
                false,
                format!("precondition {name} has no data"),
            ),
        });
    }
    if cfg.mode == Mode::DryRun {
        if let Some(last) = state.last_dry_run {
            if now - last < cfg.cooldown {
                out.push(check(
                    "cooldown",
                    false,
                    format!(
                        "cooldown: last dry run {}s ago, cooldown {}s",
                        now - last,
                        cfg.cooldown
                    ),
                ));
            }
        }
    }
    out.push(match state.last_failover {
        Some(last) if now - last < cfg.cooldown => check(
            "cooldown",
            false,
            format!(
                "cooldown: last failover {}s ago, cooldown {}s",
                now - last,
                cfg.cooldown
            ),
        ),
        Some(last) => check(
            "cooldown",
            true,
            format!(
                "last failover {}s ago, cooldown {}s",
                now - last,
                cfg.cooldown
            ),
        ),
        None => check(
            "cooldown",
            true,
            format!("no earlier failover (cooldown {}s)", cfg.cooldown),
        ),
    });
    out
}

/// Why no failover to `target` may start now, if any guard fails.
fn guard(state: &PolicyState, cfg: &PolicyConfig, target: &str, now: i64) -> Result<(), String> {
    match guard_checks(state, cfg, target, now)
        .into_iter()
        .find(|c| !c.passed)
    {
        Some(c) => Err(c.detail),
        None => Ok(()),
    }
}

/// Votes for `target` from this replica and its peers (the quorum guard counts them).
/// A peer votes through its failover signal (what Route 53 reads) or, when it does not
/// publish one (approve mode) or answered only `/v1/peer`, through what its evaluation
/// wants there; each peer counts once.
pub fn votes_for(state: &PolicyState, target: &str) -> u32 {
    let own = u32::from(state.vote.as_deref() == Some(target));
    let mut peers: std::collections::BTreeSet<&String> = state
        .peer_votes
        .iter()
        .filter(|(_, v)| v.as_deref() == Some(target))
        .map(|(url, _)| url)
        .collect();
    peers.extend(
        state
            .peers
            .iter()
            .filter(|(_, p)| p.wants.as_deref() == Some(target))
            .map(|(url, _)| url),
    );
    own + peers.len() as u32
}

fn start(
    state: &mut PolicyState,
    cfg: &PolicyConfig,
    to: String,
    reason: String,
    now: i64,
    forced: bool,
) -> Vec<Action> {
    let incident = state.next_incident;
    state.next_incident += 1;
    let from = state.active.clone();
    if cfg.mode == Mode::Approve && !forced {
        state.phase = Phase::AwaitingApproval {
            incident,
            from: from.clone(),
            to: to.clone(),
            since: now,
        };
        return vec![Action::RequestApproval {
            incident,
            from,
            to,
            reason,
        }];
    }
    let dry_run = cfg.mode == Mode::DryRun;
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since: now,
        dry_run,
        executor: None,
        rank: 0,
    };
    if !dry_run {
        state.execution = Some(Execution::running(&from, &to, &cfg.replica, now, true));
    }
    vec![Action::StartFailover {
        incident,
        from,
        to,
        reason,
        dry_run,
        forced,
    }]
}

/// A reason worth journaling: at least one visible character (not only white space or
/// control characters).
pub fn has_words(reason: &str) -> bool {
    reason
        .chars()
        .any(|c| !c.is_whitespace() && !c.is_control())
}

/// Whether this replica publishes its vote (the failover signal Route 53 polls) as soon
/// as it wants a failover: not in dry-run (a dry run moves nothing real) and not in
/// approve mode (the signal would move traffic before anyone approved; the vote is
/// published with the approval).
fn publishes_votes(cfg: &PolicyConfig) -> bool {
    cfg.mode == Mode::Auto
}

fn on_evaluation(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    ev: Evaluation,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let mut actions = Vec::new();
    let active = ev.regions.get(&state.active).copied().unwrap_or_default();
    let standby_burning = !state.standby.is_empty()
        && state
            .standby
            .iter()
            .all(|s| ev.regions.get(s).is_some_and(RegionHealth::bad));
    state.last_evaluation = Some(ev);
    if matches!(
        state.phase,
        Phase::FailingOver {
            executor: Some(_),
            ..
        }
    ) {
        return replicas::follow(state, cfg, now);
    }
    if let Phase::AwaitingApproval {
        incident,
        ref from,
        ref to,
        since,
    } = state.phase
    {
        // Approved on another replica, which runs (or ran) it: follow it.
        let executing = replicas::own_report(&state, from, to, since, |e| {
            e.acting || e.state != ExecState::Running
        });
        if let Some(e) = executing {
            state.phase = Phase::FailingOver {
                incident,
                from: from.clone(),
                to: to.clone(),
                since,
                dry_run: false,
                executor: Some(e.executor.clone()),
                rank: 1,
            };
            let message = format!(
                "incident {incident}: approved on replica {}, which executes it; following",
                e.executor
            );
            let (s, mut more) = replicas::follow(state, cfg, now);
            more.insert(0, Action::Notify { message });
            return (s, more);
        }
    }
    if let Phase::IncompleteFailover {
        incident,
        ref from,
        ref to,
        at,
    } = state.phase
    {
        // Another replica finished this failover (an operator resolved it there).
        let done = replicas::own_report(&state, from, to, at, |e| e.state == ExecState::Done);
        if let Some(e) = done {
            let message = format!(
                "incident {incident}: replica {} finished the incomplete failover {} -> {}; latched",
                e.executor, e.from, e.to
            );
            state.phase = Phase::FailedOver {
                incident,
                from: e.from.clone(),
                to: e.to.clone(),
                at: now,
                ok: true,
            };
            state.execution = Some(e);
            return (state, vec![Action::Notify { message }]);
        }
    }
    let watching = matches!(
        state.phase,
        Phase::Armed | Phase::Suspect { .. } | Phase::GlobalIncident { .. }
    );
    if !watching {
        return (state, actions);
    }
    if active.has_data && !active.monitoring_lost {
        state.monitoring_lost = false;
    }
    if !active.down && (!active.complete || !active.has_data || !active.covered) {
        // Degraded, missing or uncovered data is neither good nor bad: hold the count,
        // decide nothing.
        // Missing for `down_after` with no outside confirmation is monitoring lost:
        // operators hear it once; the region may well be serving.
        if active.monitoring_lost && !state.monitoring_lost {
            state.monitoring_lost = true;
            actions.push(Action::Notify {
                message: format!(
                    "monitoring lost for {}: its own SLIs are gone but nothing outside it confirms a failure; not failing over",
                    state.active
                ),
            });
        }
        if state.vote.take().is_some() && publishes_votes(cfg) {
            actions.push(Action::Vote { target: None });
        }
        return (state, actions);
    }
    if !active.bad() {
        if !matches!(state.phase, Phase::Armed) {
            actions.push(Action::Notify {
                message: format!(
                    "{} recovered; failover domain {} armed",
                    state.active, state.domain
                ),
            });
        }
        state.phase = Phase::Armed;
        if state.vote.take().is_some() && publishes_votes(cfg) {
            actions.push(Action::Vote { target: None });
        }
        return (state, actions);
    }
    if standby_burning {
        if !matches!(state.phase, Phase::GlobalIncident { .. }) {
            actions.push(Action::Notify {
                message: format!(
                    "global incident: {} and every standby are burning or down; not failing over",
                    state.active
                ),
            });
            state.phase = Phase::GlobalIncident { since: now };
        }
        if state.vote.take().is_some() && publishes_votes(cfg) {
            actions.push(Action::Vote { target: None });
        }
        return (state, actions);
    }
    let (since, count) = match state.phase {
        Phase::Suspect { since, count } => (since, count + 1),
        _ => (now, 1),
    };
    state.phase = Phase::Suspect { since, count };
    if count < cfg.consecutive || now - since < cfg.min_span {
        if count == 1 {
            let what = if active.down {
                "is down (its own SLIs are gone and outside evidence confirms it)"
            } else {
                "is burning its error budget"
            };
            actions.push(Action::Notify {
                message: format!("{} {what} (1/{})", state.active, cfg.consecutive),
            });
        }
        return (state, actions);
    }
    let target = state
        .standby
        .iter()
        .find(|s| guard(&state, cfg, s, now).is_ok())
        .cloned();
    let Some(target) = target else {
        let reasons: Vec<String> = state
            .standby
            .iter()
            .filter_map(|s| guard(&state, cfg, s, now).err())
            .collect();
        actions.push(Action::Blocked {
            reason: format!(
                "{} {} but no failover: {}",
                state.active,
                if active.down { "down" } else { "burning" },
                reasons.join("; ")
            ),
        });
        if state.vote.take().is_some() && publishes_votes(cfg) {
            actions.push(Action::Vote { target: None });
        }
        return (state, actions);
    };
    if state.vote.as_deref() != Some(target.as_str()) {
        state.vote = Some(target.clone());
        if publishes_votes(cfg) {
            actions.push(Action::Vote {
                target: Some(target.clone()),
            });
        }
    }
    let votes = votes_for(&state, &target);
    if votes < cfg.quorum {
        actions.push(Action::Blocked {
            reason: format!(
                "quorum: {votes} of {} replicas vote for {target}",
                cfg.quorum
            ),
        });
        return (state, actions);
    }
    let reason = if active.down {
        format!(
            "{} down (own SLIs gone, confirmed from outside) on {count} consecutive evaluations; {target} healthy",
            state.active
        )
    } else {
        format!(
            "{} burned on {count} consecutive evaluations; {target} healthy",
            state.active
        )
    };
    // One executor: a peer already running this failover, else the first replica in
    // the executor order; every other agreeing replica follows.
    if let Some(reason) = replicas::name_clash(&state, cfg) {
        actions.push(Action::Blocked { reason });
        return (state, actions);
    }
    if cfg.mode == Mode::Auto {
        let order = replicas::executor_order(&state, cfg, &target);
        let running = replicas::peer_executing(&state, &state.active, &target, now);
        let lead = running
            .map(|e| e.executor)
            .or_else(|| order.first().cloned())
            .filter(|n| n != &cfg.replica);
        if let Some(executor) = lead {
            let rank = order
                .iter()
                .position(|n| n == &cfg.replica)
                .unwrap_or(order.len()) as u32;
            actions.extend(follow_peer(&mut state, target, reason, executor, rank, now));
            return (state, actions);
        }
        if cfg.claim_wait > 0 {
            // First in order: claim the failover where the peers see it, act after
            // `claim_wait` unless a peer first in order claims it too.
            let from = state.active.clone();
            actions.extend(follow_peer(
                &mut state,
                target.clone(),
                reason,
                cfg.replica.clone(),
                0,
                now,
            ));
            state.execution = Some(Execution {
                from,
                to: target,
                executor: cfg.replica.clone(),
                since: now,
                state: ExecState::Running,
                ok: false,
                moved: false,
                acting: false,
            });
            return (state, actions);
        }
    }
    actions.extend(start(&mut state, cfg, target, reason, now, false));
    (state, actions)
}

/// The agreed failover runs on `executor`: this replica follows it (see
/// [`replicas::follow`]).
fn follow_peer(
    state: &mut PolicyState,
    to: String,
    reason: String,
    executor: String,
    rank: u32,
    now: i64,
) -> Vec<Action> {
    let incident = state.next_incident;
    state.next_incident += 1;
    let from = state.active.clone();
    state.executor_seen = None;
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since: now,
        dry_run: false,
        executor: Some(executor.clone()),
        rank,
    };
    // Published on /v1/peer: whom this replica follows (the executor's confirmation).
    state.execution = Some(Execution::running(&from, &to, &executor, now, false));
    vec![Action::FollowFailover {
        incident,
        from,
        to,
        reason,
        executor,
    }]
}

/// Advances the state machine by one input at time `now` (unix seconds).
pub fn step(
    state: PolicyState,
    cfg: &PolicyConfig,
    input: Input,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let mut state = state;
    match input {
        Input::Evaluation(ev) => on_evaluation(state, cfg, ev, now),
        Input::Votes(votes) => {
            state.peer_votes = votes;
            (state, Vec::new())
        }
        Input::PeerViews(views) => {
            state.peers = views;
            (state, Vec::new())
        }
        Input::AlertTrigger { region, slo } => {
            let msg = format!("Alertmanager paged for {slo} in {region}; confirming with the engine's own evaluation");
            (state, vec![Action::Notify { message: msg }])
        }
        Input::Operator(Command::Failover {
            target,
            reason,
            force,
        }) => {
            if matches!(
                state.phase,
                Phase::FailingOver { .. } | Phase::AwaitingApproval { .. }
            ) {
                return (
                    state,
                    vec![Action::Blocked {
                        reason: "a failover is already in progress".into(),
                    }],
                );
            }
            if force {
                if !has_words(&reason) {
                    return (
                        state,
                        vec![Action::Blocked {
                            reason: "a forced failover needs a reason".into(),
                        }],
                    );
                }
                if target == state.active || !state.standby.contains(&target) {
                    return (
                        state,
                        vec![Action::Blocked {
                            reason: format!("{target} is not a standby region"),
                        }],
                    );
                }
                let a = start(
                    &mut state,
                    cfg,
                    target,
                    format!("forced by operator: {reason}"),
                    now,
                    true,
                );
                return (state, a);
            }
            if !has_words(&reason) {
                return (
                    state,
                    vec![Action::Blocked {
                        reason: "a failover needs a reason".into(),
                    }],
                );
            }
            if target == state.active {
                return (
                    state.clone(),
                    vec![Action::Blocked {
                        reason: format!("{target} is already the active region"),
                    }],
                );
            }
            let active = state
                .last_evaluation
                .as_ref()
                .and_then(|ev| ev.regions.get(&state.active));
            let refusal = match active {
                None => Some(format!(
                    "no evaluation of the active region {} yet: its state is unknown; a failover now needs force",
                    state.active
                )),
                Some(h) if !h.bad() => Some(format!(
                    "the active region {} is not burning (nor down): a failover of a healthy region needs force",
                    state.active
                )),
                Some(_) => None,
            };
            if let Some(reason) = refusal {
                return (state.clone(), vec![Action::Blocked { reason }]);
            }
            if let Err(reason) = guard(&state, cfg, &target, now)
                .and_then(|()| operator_quorum(&state, cfg, &target, false))
            {
                return (state, vec![Action::Blocked { reason }]);
            }
            // An operator's request is its own approval.
            let a = start(
                &mut state,
                &PolicyConfig {
                    mode: if cfg.mode == Mode::Approve {
                        Mode::Auto
                    } else {
                        cfg.mode
                    },
                    ..cfg.clone()
                },
                target,
                format!("operator: {reason}"),
                now,
                false,
            );
            (state, a)
        }
        Input::Operator(Command::Approve { incident }) => match state.phase.clone() {
            Phase::AwaitingApproval {
                incident: i, to, ..
            } if i == incident => match guard(&state, cfg, &to, now)
                .and_then(|()| operator_quorum(&state, cfg, &to, false))
            {
                Ok(()) => {
                    let from = state.active.clone();
                    state.phase = Phase::FailingOver {
                        incident,
                        from: from.clone(),
                        to: to.clone(),
                        since: now,
                        dry_run: false,
                        executor: None,
                        rank: 0,
                    };
                    state.execution = Some(Execution::running(&from, &to, &cfg.replica, now, true));
                    let reason = format!("approved by operator (incident {incident})");
                    state.vote = Some(to.clone());
                    (
                        state,
                        vec![
                            Action::Vote {
                                target: Some(to.clone()),
                            },
                            Action::StartFailover {
                                incident,
                                from,
                                to,
                                reason,
                                dry_run: false,
                                forced: false,
                            },
                        ],
                    )
                }
                Err(e) => {
                    state.phase = Phase::Armed;
                    (
                        state,
                        vec![Action::Blocked {
                            reason: format!("approval of incident {incident} refused: {e}"),
                        }],
                    )
                }
            },
            _ => (
                state,
                vec![Action::Blocked {
                    reason: format!("incident {incident} is not awaiting approval"),
                }],
            ),
        },
        Input::Operator(Command::Rearm) => match state.phase.clone() {
            Phase::FailedOver { .. } | Phase::AwaitingApproval { .. } => {
                state.phase = Phase::Armed;
                state.vote = None;
                let message = format!(
                    "failover domain {} re-armed; active {}",
                    state.domain, state.active
                );
                (state, vec![Action::Notify { message }])
            }
            _ => (
                state,
                vec![Action::Blocked {
                    reason: "nothing to re-arm".into(),
                }],
            ),
        },
        Input::Operator(Command::Failback {
            target,
            reason,
            force,
        }) => failback(state, cfg, target, reason, force, now),
        Input::RunbookFinished {
            incident,
            ok,
            moved,
        } => match state.phase.clone() {
            Phase::FailingOver {
                incident: i,
                dry_run: true,
                ..
            } if i == incident => {
                // A dry run changed nothing: same active region, no latch, no cooldown
                // for real failovers; dry runs themselves repeat at most once per cooldown.
                state.last_dry_run = Some(now);
                state.vote = None;
                state.phase = Phase::Armed;
                (
                    state,
                    vec![Action::Notify {
                        message: format!(
                            "incident {incident}: dry run finished; nothing changed, automation still armed"
                        ),
                    }],
                )
            }
            Phase::FailingOver {
                incident: i,
                from,
                to,
                ..
            } if i == incident => {
                state.last_failover = Some(now);
                state.vote = None;
                if let Some(e) = state
                    .execution
                    .as_mut()
                    .filter(|e| e.executor == cfg.replica && e.to == to)
                {
                    e.state = match (ok, moved) {
                        (true, _) => ExecState::Done,
                        (false, true) => ExecState::Incomplete,
                        (false, false) => ExecState::Failed,
                    };
                    e.ok = ok;
                    e.moved = moved || ok;
                }
                if ok || moved {
                    make_active(&mut state, &from, &to);
                }
                if !ok && moved {
                    // The world points at the target although the runbook did not finish:
                    // say so, guard the region traffic is in, and wait for an operator.
                    state.phase = Phase::IncompleteFailover {
                        incident,
                        from: from.clone(),
                        to: to.clone(),
                        at: now,
                    };
                    let message = format!(
                        "incident {incident}: runbook stopped part-way AFTER moving traffic to {to}; {to} is now the active region and the failover is INCOMPLETE: finish, roll back or accept it"
                    );
                    return (state, vec![Action::Notify { message }]);
                }
                state.phase = Phase::FailedOver {
                    incident,
                    from,
                    to,
                    at: now,
                    ok,
                };
                let msg = if ok {
                    "runbook finished; automation latched until re-armed"
                } else {
                    "runbook FAILED before moving traffic; automation latched until re-armed"
                };
                (
                    state,
                    vec![Action::Notify {
                        message: format!("incident {incident}: {msg}"),
                    }],
                )
            }
            _ => (state, Vec::new()),
        },
        Input::RollbackFinished { incident, ok } => match state.phase.clone() {
            Phase::RollingBack {
                incident: i,
                from,
                to,
                ..
            } if i == incident => {
                if ok {
                    make_active(&mut state, &to, &from);
                    state.phase = Phase::FailedOver {
                        incident,
                        from: from.clone(),
                        to,
                        at: now,
                        ok: false,
                    };
                    let message = format!(
                        "incident {incident}: rolled back; {from} is active again; automation latched until re-armed"
                    );
                    (state, vec![Action::Notify { message }])
                } else {
                    state.phase = Phase::IncompleteFailover {
                        incident,
                        from,
                        to: to.clone(),
                        at: now,
                    };
                    let message = format!(
                        "incident {incident}: roll back FAILED; traffic still points at {to}; the failover stays incomplete"
                    );
                    (state, vec![Action::Notify { message }])
                }
            }
            _ => (state, Vec::new()),
        },
        Input::Operator(Command::Resolve { incident, action }) => {
            resolve(state, &cfg.replica, incident, action, now)
        }
    }
}

/// Whether enough replicas agree with an operator's call on `to` (this one included):
/// the same quorum automation needs.
fn operator_quorum(
    state: &PolicyState,
    cfg: &PolicyConfig,
    to: &str,
    failback: bool,
) -> Result<(), String> {
    let n = replicas::agreeing(state, to, failback);
    if n >= cfg.quorum {
        Ok(())
    } else {
        Err(format!(
            "quorum: {n} of {} replicas agree ({}; peers that did not answer count as disagreeing); without the quorum the call needs force",
            cfg.quorum,
            if failback {
                format!("judge {to} healthy")
            } else {
                format!("judge {} bad and {to} healthy", state.active)
            }
        ))
    }
}

/// Failback: only after a failover that moved traffic, only back to the region it
/// left, through every guard automation passes (cooldown and quorum included) unless
/// forced.
fn failback(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    force: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let refuse = |state: PolicyState, why: String| {
        (
            state,
            vec![Action::Blocked {
                reason: format!("failback refused: {why}"),
            }],
        )
    };
    let Phase::FailedOver { from, to, ok, .. } = state.phase.clone() else {
        return refuse(
            state,
            "failback only undoes a failover: this domain has not failed over (re-arm or fail over instead)".into(),
        );
    };
    if !ok || state.active != to {
        return refuse(
            state,
            format!("the last failover ({from} -> {to}) did not move traffic: there is nothing to fail back"),
        );
    }
    if target != from {
        return refuse(
            state,
            format!(
                "failback moves back to {from}, the region the last failover left, not {target}"
            ),
        );
    }
    if !has_words(&reason) {
        return refuse(state, "a failback needs a reason".into());
    }
    if !force {
        if let Err(e) = guard(&state, cfg, &target, now)
            .and_then(|()| operator_quorum(&state, cfg, &target, true))
        {
            return refuse(state, e);
        }
    }
    let a = start(
        &mut state,
        &PolicyConfig {
            mode: Mode::Auto,
            ..cfg.clone()
        },
        target,
        format!(
            "failback by operator{}: {reason}",
            if force { " (forced)" } else { "" }
        ),
        now,
        force,
    );
    (state, a)
}

/// `to` becomes the active region; `from` the first standby.
fn make_active(state: &mut PolicyState, from: &str, to: &str) {
    state.standby.retain(|s| s != to && s != from);
    state.standby.insert(0, from.to_string());
    state.active = to.to_string();
}

/// An operator leaves an incomplete failover: finish it, roll it back, or accept it.
fn resolve(
    mut state: PolicyState,
    cfg_replica: &str,
    incident: u64,
    action: Resolution,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let Phase::IncompleteFailover {
        incident: i,
        from,
        to,
        ..
    } = state.phase.clone()
    else {
        return (
            state,
            vec![Action::Blocked {
                reason: format!("incident {incident} is not an incomplete failover"),
            }],
        );
    };
    if i != incident {
        return (
            state,
            vec![Action::Blocked {
                reason: format!(
                    "incident {incident} is not an incomplete failover (incident {i} is)"
                ),
            }],
        );
    }
    match action {
        Resolution::Accept => {
            state.phase = Phase::FailedOver {
                incident,
                from,
                to: to.clone(),
                at: now,
                ok: true,
            };
            let message = format!(
                "incident {incident}: accepted as it is; {to} stays active; automation latched until re-armed"
            );
            (state, vec![Action::Notify { message }])
        }
        Resolution::Finish | Resolution::RollBack
            if state.peers.values().any(|p| {
                p.execution.as_ref().is_some_and(|e| {
                    e.executor == p.replica
                        && e.acting
                        && e.state == ExecState::Running
                        && e.from == from
                        && e.to == to
                })
            }) =>
        {
            let reason = format!(
                "incident {incident}: another replica is already running this failover's steps: resolve it there"
            );
            (state, vec![Action::Blocked { reason }])
        }
        Resolution::Finish => {
            state.execution = Some(Execution::running(&from, &to, cfg_replica, now, true));
            state.phase = Phase::FailingOver {
                incident,
                from: from.clone(),
                to: to.clone(),
                since: now,
                dry_run: false,
                executor: None,
                rank: 0,
            };
            (state, vec![Action::ResumeRunbook { incident, from, to }])
        }
        Resolution::RollBack => {
            state.phase = Phase::RollingBack {
                incident,
                from: from.clone(),
                to: to.clone(),
                since: now,
            };
            (state, vec![Action::RollBack { incident, from, to }])
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod replica_tests;
