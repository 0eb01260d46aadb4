//! What the journal records for one policy step: a decision per action (a failover's
//! with the evaluation, the gating streams and every guard as checked) and the incident
//! it opens, written with the new state in one transaction.

use crate::journal::{NewDecision, NewIncident};
use crate::policy::{self, Action, Phase, PolicyState};

use super::FailoverDriver;

impl FailoverDriver {
    /// The journal's record of each action of one step (a failover's with the evaluation
    /// and the guards as checked), and the incident a failover (or following one) opens.
    pub(super) fn decisions(
        &self,
        di: usize,
        before: &PolicyState,
        state: &PolicyState,
        actions: &[Action],
        now: i64,
    ) -> (Vec<NewDecision>, Option<NewIncident>) {
        let name = self.domains[di].cfg.name.clone();
        let evaluation = serde_json::to_value(&state.last_evaluation).unwrap_or_default();
        let evidence = |to: &str, forced: bool| {
            serde_json::json!({
                "slos": self.domains[di].facts,
                "guards": self.guards_checked(before, state, to, forced, now),
            })
        };
        let mut decisions: Vec<NewDecision> = Vec::new();
        let mut incident = None;
        for a in actions {
            match a {
                Action::Notify { message } => {
                    decisions.push(("notify".into(), None, serde_json::json!({"message": message})))
                }
                Action::Blocked { reason } => decisions.push((
                    "blocked".into(),
                    None,
                    serde_json::json!({"reason": reason, "evaluation": evaluation}),
                )),
                Action::Vote { .. } => {}
                Action::RequestApproval { incident, from, to, reason } => decisions.push((
                    "approval_requested".into(),
                    Some(*incident),
                    serde_json::json!({"from": from, "to": to, "reason": reason, "evaluation": evaluation, "evidence": evidence(to, false)}),
                )),
                Action::ResumeRunbook { incident, from, to } => decisions.push((
                    "resume".into(),
                    Some(*incident),
                    serde_json::json!({"from": from, "to": to, "reason": "an operator finishes an incomplete failover"}),
                )),
                Action::RollBack { incident, from, to } => decisions.push((
                    "roll_back".into(),
                    Some(*incident),
                    serde_json::json!({"from": from, "to": to, "reason": "an operator rolls back an incomplete failover"}),
                )),
                Action::StartFailover { incident: id, from, to, reason, dry_run, forced } => {
                    decisions.push((
                        "failover".into(),
                        Some(*id),
                        serde_json::json!({"from": from, "to": to, "reason": reason, "dry_run": dry_run, "forced": forced, "executor": self.cfg.replica, "evaluation": evaluation, "evidence": evidence(to, *forced)}),
                    ));
                    incident = Some((*id, name.clone(), from.clone(), to.clone(), reason.clone(), *dry_run || self.dry_run_steps, "running"));
                }
                Action::FollowFailover { incident: id, from, to, reason, executor } => {
                    decisions.push((
                        "failover".into(),
                        Some(*id),
                        serde_json::json!({"from": from, "to": to, "reason": reason, "dry_run": false, "forced": false, "executor": executor, "follower": self.cfg.replica, "evaluation": evaluation, "evidence": evidence(to, false)}),
                    ));
                    incident = Some((*id, name.clone(), from.clone(), to.clone(), reason.clone(), false, "following"));
                }
                Action::PeerExecuted { incident, executor, ok } => decisions.push((
                    "executed_by_peer".into(),
                    Some(*incident),
                    serde_json::json!({"executor": executor, "ok": ok}),
                )),
            }
        }
        (decisions, incident)
    }

    /// Writes one step's decisions, the incident it opens and the new state in one
    /// journal transaction.
    pub(super) fn commit(
        &self,
        name: &str,
        decisions: &[NewDecision],
        incident: Option<&NewIncident>,
        state: &PolicyState,
        now: i64,
    ) -> Result<(), String> {
        let state_json = serde_json::to_value(state).unwrap_or_default();
        match self.journal.lock() {
            Ok(mut j) => j
                .commit_decisions(now, name, decisions, incident, &state_json, self.chaos)
                .map_err(|e| e.to_string()),
            Err(_) => Err("journal lock poisoned".to_string()),
        }
    }

    /// The guards as checked for a failover to `to` decided in this step: hysteresis and
    /// quorum from the policy's count and votes, the rest from [`policy::guard_checks`].
    fn guards_checked(
        &self,
        before: &PolicyState,
        after: &PolicyState,
        to: &str,
        forced: bool,
        now: i64,
    ) -> Vec<policy::GuardCheck> {
        let p = &self.cfg.policy;
        let mut out = Vec::new();
        let check = policy::GuardCheck::new;
        if forced {
            out.push(check(
                "forced",
                true,
                "an operator forced the failover: the guards were skipped".into(),
            ));
            return out;
        }
        match before.phase {
            Phase::Suspect { since, count } => out.push(check(
                "hysteresis",
                true,
                format!(
                    "{} consecutive bad evaluations over {}s (need {} over at least {}s)",
                    count + 1,
                    now - since,
                    p.consecutive,
                    p.min_span
                ),
            )),
            _ => out.push(check(
                "hysteresis",
                true,
                "an operator's call (or an approval) of a decision already counted".into(),
            )),
        }
        out.extend(policy::guard_checks(after, p, to, now));
        out.push(check(
            "quorum",
            true,
            format!(
                "{} of {} replica(s) needed vote for {to}",
                policy::votes_for(after, to),
                p.quorum
            ),
        ));
        out.push(check(
            "approval",
            true,
            match p.mode {
                policy::Mode::Approve => "approval required: requested from an operator".into(),
                policy::Mode::Auto => "not required (mode auto)".into(),
                policy::Mode::DryRun => "not required (mode dry-run: nothing real moves)".into(),
            },
        ));
        out
    }
}
