//! Table tests of every guard and transition, and property tests: no input sequence gives
//! two failovers inside the cooldown, a failover to a target without data or burning, or
//! an action on degraded data.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const A: &str = "us-east-1";
const B: &str = "eu-west-1";

fn healthy() -> RegionHealth {
    RegionHealth {
        burning: false,
        any_tier: false,
        has_data: true,
        complete: true,
        short_burn: 0.0,
        ..Default::default()
    }
}
fn burning() -> RegionHealth {
    RegionHealth {
        burning: true,
        any_tier: true,
        has_data: true,
        complete: true,
        short_burn: 0.0,
        ..Default::default()
    }
}

fn ev(a: RegionHealth, b: RegionHealth) -> Input {
    Input::Evaluation(Evaluation {
        regions: [(A.to_string(), a), (B.to_string(), b)].into(),
        preconditions: BTreeMap::new(),
    })
}

fn state() -> PolicyState {
    PolicyState::new("web", A, &[B.to_string()])
}

fn run(cfg: &PolicyConfig, inputs: Vec<(i64, Input)>) -> (PolicyState, Vec<Action>) {
    let mut s = state();
    let mut all = Vec::new();
    for (t, i) in inputs {
        let (n, a) = step(s, cfg, i, t);
        s = n;
        all.extend(a);
    }
    (s, all)
}

fn started(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| matches!(a, Action::StartFailover { .. }))
        .collect()
}

#[test]
fn fails_over_after_n_consecutive_burning_evaluations() {
    let cfg = PolicyConfig::default();
    let (s, a) = run(&cfg, vec![(0, ev(burning(), healthy()))]);
    assert!(started(&a).is_empty(), "one evaluation is not enough");
    assert!(matches!(s.phase, Phase::Suspect { count: 1, .. }));
    let (s, a) = step(s, &cfg, ev(burning(), healthy()), 30);
    assert!(
        matches!(&started(&a)[..], [Action::StartFailover { from, to, dry_run: false, .. }] if from == A && to == B),
        "{a:?}"
    );
    let (s, a) = step(
        s,
        &cfg,
        Input::RunbookFinished {
            incident: 1,
            ok: true,
            moved: false,
        },
        90,
    );
    assert_eq!(s.active, B);
    assert_eq!(s.standby, vec![A.to_string()]);
    assert!(matches!(s.phase, Phase::FailedOver { ok: true, .. }));
    assert!(a.iter().any(|x| matches!(x, Action::Notify { .. })));
}

#[test]
fn recovery_resets_the_count() {
    let cfg = PolicyConfig::default();
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(healthy(), healthy())),
            (60, ev(burning(), healthy())),
        ],
    );
    assert!(started(&a).is_empty());
    assert!(matches!(s.phase, Phase::Suspect { count: 1, .. }));
}

#[test]
fn degraded_data_holds_the_count_and_never_acts() {
    let cfg = PolicyConfig::default();
    let degraded = RegionHealth {
        complete: false,
        ..burning()
    };
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(degraded, healthy())),
            (60, ev(degraded, healthy())),
        ],
    );
    assert!(started(&a).is_empty());
    assert!(
        matches!(s.phase, Phase::Suspect { count: 1, .. }),
        "{:?}",
        s.phase
    );
    let (_, a) = step(s, &cfg, ev(burning(), healthy()), 90);
    assert_eq!(started(&a).len(), 1, "the count resumes on complete data");
}

#[test]
fn target_must_be_healthy_with_data() {
    let cfg = PolicyConfig::default();
    for target in [
        RegionHealth {
            has_data: false,
            ..healthy()
        },
        RegionHealth {
            complete: false,
            ..healthy()
        },
        RegionHealth {
            any_tier: true,
            ..healthy()
        },
    ] {
        let (_, a) = run(
            &cfg,
            vec![(0, ev(burning(), target)), (30, ev(burning(), target))],
        );
        assert!(started(&a).is_empty(), "{target:?}");
        assert!(
            a.iter().any(|x| matches!(x, Action::Blocked { .. })),
            "{a:?}"
        );
    }
}

#[test]
fn both_burning_is_a_global_incident() {
    let cfg = PolicyConfig::default();
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), burning())),
            (30, ev(burning(), burning())),
            (60, ev(burning(), burning())),
        ],
    );
    assert!(started(&a).is_empty());
    assert!(matches!(s.phase, Phase::GlobalIncident { .. }));
    assert_eq!(
        a.iter()
            .filter(
                |x| matches!(x, Action::Notify { message } if message.contains("global incident"))
            )
            .count(),
        1
    );
}

#[test]
fn preconditions_must_hold() {
    let cfg = PolicyConfig::default();
    for pre in [Some(false), None] {
        let e = |a, b| {
            Input::Evaluation(Evaluation {
                regions: [(A.to_string(), a), (B.to_string(), b)].into(),
                preconditions: [("aurora_lag_within_rpo".to_string(), pre)].into(),
            })
        };
        let (_, a) = run(
            &cfg,
            vec![(0, e(burning(), healthy())), (30, e(burning(), healthy()))],
        );
        assert!(started(&a).is_empty());
        assert!(a.iter().any(|x| matches!(x, Action::Blocked { reason } if reason.contains("aurora_lag_within_rpo"))), "{a:?}");
    }
}

#[test]
fn cooldown_blocks_a_second_failover() {
    let cfg = PolicyConfig {
        cooldown: 3600,
        ..Default::default()
    };
    let (s, _) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
            (
                60,
                Input::RunbookFinished {
                    incident: 1,
                    ok: true,
                    moved: false,
                },
            ),
        ],
    );
    let (s, _) = step(s, &cfg, Input::Operator(Command::Rearm), 100);
    // Now B is active and burning, A healthy: within the cooldown nothing starts.
    let eb = |a: RegionHealth, b: RegionHealth| ev(b, a);
    let (s, a1) = step(s, &cfg, eb(burning(), healthy()), 200);
    let (s, a2) = step(s, &cfg, eb(burning(), healthy()), 230);
    assert!(started(&a1).is_empty() && started(&a2).is_empty());
    assert!(
        a2.iter()
            .any(|x| matches!(x, Action::Blocked { reason } if reason.contains("cooldown"))),
        "{a2:?}"
    );
    let (_, a3) = step(s, &cfg, eb(burning(), healthy()), 3700);
    assert_eq!(started(&a3).len(), 1);
}

#[test]
fn latched_until_rearmed() {
    let cfg = PolicyConfig {
        cooldown: 0,
        ..Default::default()
    };
    let (s, _) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
            (
                60,
                Input::RunbookFinished {
                    incident: 1,
                    ok: true,
                    moved: false,
                },
            ),
        ],
    );
    let (s, a) = step(s, &cfg, ev(healthy(), burning()), 90);
    let (s, b) = step(s, &cfg, ev(healthy(), burning()), 120);
    assert!(started(&a).is_empty() && started(&b).is_empty(), "latched");
    assert!(matches!(s.phase, Phase::FailedOver { .. }));
}

#[test]
fn quorum_needs_peer_votes() {
    let cfg = PolicyConfig {
        quorum: 2,
        ..Default::default()
    };
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
        ],
    );
    assert!(started(&a).is_empty());
    assert!(a.contains(&Action::Vote {
        target: Some(B.to_string())
    }));
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::Blocked { reason } if reason.contains("quorum: 1 of 2"))));
    let (s, _) = step(
        s,
        &cfg,
        Input::Votes([("replica-2".to_string(), Some(B.to_string()))].into()),
        40,
    );
    let (_, a) = step(s, &cfg, ev(burning(), healthy()), 60);
    assert_eq!(started(&a).len(), 1);
}

#[test]
fn approve_mode_waits_for_a_human() {
    let cfg = PolicyConfig {
        mode: Mode::Approve,
        ..Default::default()
    };
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
        ],
    );
    assert!(started(&a).is_empty());
    assert!(matches!(
        a.last(),
        Some(Action::RequestApproval { incident: 1, .. })
    ));
    let (s, a) = step(
        s,
        &cfg,
        Input::Operator(Command::Approve { incident: 7 }),
        40,
    );
    assert!(started(&a).is_empty());
    let (_, a) = step(
        s,
        &cfg,
        Input::Operator(Command::Approve { incident: 1 }),
        50,
    );
    assert_eq!(started(&a).len(), 1);
}

#[test]
fn dry_run_marks_the_failover() {
    let cfg = PolicyConfig {
        mode: Mode::DryRun,
        ..Default::default()
    };
    let (_, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
        ],
    );
    assert!(matches!(
        &started(&a)[..],
        [Action::StartFailover { dry_run: true, .. }]
    ));
}

#[test]
fn operator_failover_respects_guards_unless_forced() {
    let cfg = PolicyConfig::default();
    let (s, _) = run(&cfg, vec![(0, ev(healthy(), burning()))]);
    let cmd = |force: bool, reason: &str| {
        Input::Operator(Command::Failover {
            target: B.into(),
            reason: reason.into(),
            force,
        })
    };
    let (s, a) = step(s, &cfg, cmd(false, "drill"), 10);
    assert!(
        started(&a).is_empty() && matches!(a[0], Action::Blocked { .. }),
        "target burning"
    );
    let (s, a) = step(s, &cfg, cmd(true, ""), 11);
    assert!(started(&a).is_empty(), "force needs a reason");
    let (_, a) = step(s, &cfg, cmd(true, "database maintenance"), 12);
    assert!(matches!(
        &started(&a)[..],
        [Action::StartFailover { forced: true, .. }]
    ));
}

#[test]
fn failed_runbook_latches_without_switching_active() {
    let cfg = PolicyConfig::default();
    let (s, _) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
            (
                60,
                Input::RunbookFinished {
                    incident: 1,
                    ok: false,
                    moved: false,
                },
            ),
        ],
    );
    assert_eq!(s.active, A);
    assert!(matches!(s.phase, Phase::FailedOver { ok: false, .. }));
}

fn region() -> impl Strategy<Value = RegionHealth> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.85),
        prop_oneof![Just(0.0), 0.0f64..3.0],
    )
        .prop_map(
            |(burning, tier, has_data, complete, short_burn)| RegionHealth {
                burning,
                any_tier: burning || tier,
                has_data,
                complete,
                short_burn,
                ..Default::default()
            },
        )
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        8 => (region(), region()).prop_map(|(a, b)| ev(a, b)),
        1 => Just(Input::Operator(Command::Rearm)),
        1 => any::<bool>().prop_map(|ok| Input::RunbookFinished { incident: 0, ok, moved: false }),
        1 => prop::option::of(Just(B.to_string())).prop_map(|v| Input::Votes([("r2".to_string(), v)].into())),
        1 => Just(Input::Operator(Command::Failover { target: B.into(), reason: "op".into(), force: false })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn guards_hold_for_any_input_sequence(inputs in prop::collection::vec((1i64..900, input()), 1..120), cooldown in 0i64..7200) {
        let cfg = PolicyConfig { cooldown, ..Default::default() };
        let mut s = state();
        let mut now = 0;
        let mut failovers: Vec<i64> = Vec::new();
        for (dt, mut i) in inputs {
            now += dt;
            // Runbook results refer to the incident in progress.
            if let Input::RunbookFinished { ok, .. } = i {
                if let Phase::FailingOver { incident, .. } = s.phase { i = Input::RunbookFinished { incident, ok, moved: false } } else { continue }
            }
            let latest = if let Input::Evaluation(e) = &i { Some(e.clone()) } else { s.last_evaluation.clone() };
            let (n, actions) = step(s, &cfg, i.clone(), now);
            for a in &actions {
                if let Action::StartFailover { from, to, forced: false, .. } = a {
                    let e = latest.as_ref().expect("a failover needs an evaluation");
                    let t = e.regions.get(to).copied().unwrap_or_default();
                    prop_assert!(t.healthy(cfg.target_max_burn), "failover to {} which is {:?}", to, t);
                    let f = e.regions.get(from).copied().unwrap_or_default();
                    prop_assert!(f.complete, "failover on degraded data of {}", from);
                    if let Some(last) = failovers.last() {
                        prop_assert!(now - last >= cfg.cooldown, "two failovers {}s apart, cooldown {}", now - last, cfg.cooldown);
                    }
                    failovers.push(now);
                }
            }
            s = n;
        }
    }
}

#[test]
fn a_target_spending_budget_is_not_healthy_before_a_tier_holds() {
    let cfg = PolicyConfig::default();
    // The standby's 5m window burns at 50x (5% errors at 99.9%) but no tier holds yet.
    let spending = RegionHealth {
        short_burn: 50.0,
        ..healthy()
    };
    let (s, a) = run(
        &cfg,
        vec![(0, ev(burning(), spending)), (30, ev(burning(), spending))],
    );
    assert!(started(&a).is_empty(), "{a:?}");
    assert!(
        a.iter().any(|x| matches!(x, Action::Blocked { reason } if reason.contains("short windows burn at 50.00x"))),
        "{a:?}"
    );
    // Below the limit the same target is healthy.
    let (_, a) = step(
        s,
        &cfg,
        ev(
            burning(),
            RegionHealth {
                short_burn: 0.9,
                ..healthy()
            },
        ),
        60,
    );
    assert_eq!(started(&a).len(), 1, "{a:?}");
}

#[test]
fn consecutive_evaluations_must_span_time() {
    let cfg = PolicyConfig {
        consecutive: 3,
        min_span: 60,
        ..Default::default()
    };
    // Three burning evaluations within one second are not three intervals of burning.
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (1, ev(burning(), healthy())),
            (1, ev(burning(), healthy())),
        ],
    );
    assert!(started(&a).is_empty(), "{a:?}");
    let (_, a) = step(s, &cfg, ev(burning(), healthy()), 60);
    assert_eq!(started(&a).len(), 1, "{a:?}");
}

#[test]
fn an_operator_cannot_fail_over_a_healthy_region_without_force() {
    let cfg = PolicyConfig::default();
    let (s, _) = run(&cfg, vec![(0, ev(healthy(), healthy()))]);
    let failover = |reason: &str, force| {
        Input::Operator(Command::Failover {
            target: B.into(),
            reason: reason.into(),
            force,
        })
    };
    let (s, a) = step(s, &cfg, failover("looks slow", false), 10);
    assert!(started(&a).is_empty(), "{a:?}");
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Blocked { reason } if reason.contains("is not burning"))),
        "{a:?}"
    );
    let (s, a) = step(s, &cfg, failover("  ", true), 10);
    assert!(started(&a).is_empty(), "an empty reason is refused: {a:?}");
    let (_, a) = step(s, &cfg, failover("planned maintenance", true), 10);
    assert_eq!(started(&a).len(), 1, "forced with a reason: {a:?}");
}

fn votes(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Vote { .. }))
        .collect()
}

#[test]
fn a_dry_run_moves_nothing_real() {
    let cfg = PolicyConfig {
        mode: Mode::DryRun,
        ..Default::default()
    };
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
        ],
    );
    assert!(
        votes(&a).is_empty(),
        "a dry run publishes no vote (no signal): {a:?}"
    );
    assert!(matches!(
        &started(&a)[..],
        [Action::StartFailover { dry_run: true, .. }]
    ));
    let (s, _) = step(
        s,
        &cfg,
        Input::RunbookFinished {
            incident: 1,
            ok: true,
            moved: false,
        },
        40,
    );
    assert_eq!(s.active, A, "a dry run never changes the active region");
    assert_eq!(s.phase, Phase::Armed, "nor latches");
    assert_eq!(s.last_failover, None, "nor starts a real cooldown");
    // The outage goes on: the next dry run waits for the cooldown.
    let (s, a) = run_from(
        s,
        &cfg,
        vec![
            (60, ev(burning(), healthy())),
            (90, ev(burning(), healthy())),
        ],
    );
    assert!(started(&a).is_empty(), "{a:?}");
    let (_, a) = run_from(
        s,
        &cfg,
        vec![
            (3700, ev(burning(), healthy())),
            (3730, ev(burning(), healthy())),
        ],
    );
    assert_eq!(started(&a).len(), 1, "{a:?}");
}

#[test]
fn approve_mode_publishes_the_vote_only_with_the_approval() {
    let cfg = PolicyConfig {
        mode: Mode::Approve,
        ..Default::default()
    };
    let (s, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), healthy())),
            (30, ev(burning(), healthy())),
        ],
    );
    assert!(
        votes(&a).is_empty(),
        "no signal before a human approves: {a:?}"
    );
    assert!(matches!(
        s.phase,
        Phase::AwaitingApproval { incident: 1, .. }
    ));
    let (_, a) = step(
        s,
        &cfg,
        Input::Operator(Command::Approve { incident: 1 }),
        40,
    );
    assert!(
        matches!(&votes(&a)[..], [Action::Vote { target: Some(t) }] if t == B),
        "{a:?}"
    );
    assert_eq!(started(&a).len(), 1);
}

#[test]
fn operator_refusals_say_what_is_known() {
    let cfg = PolicyConfig::default();
    let failover = |target: &str| {
        Input::Operator(Command::Failover {
            target: target.into(),
            reason: "x".into(),
            force: false,
        })
    };
    let (_, a) = step(state(), &cfg, failover(B), 0);
    assert!(
        format!("{a:?}").contains("no evaluation of the active region"),
        "{a:?}"
    );
    let (_, a) = step(state(), &cfg, failover(A), 0);
    assert!(
        format!("{a:?}").contains("already the active region"),
        "{a:?}"
    );
    assert!(!has_words("\u{0}\u{7} \t"));
    assert!(has_words(" planned "));
}

fn run_from(
    mut s: PolicyState,
    cfg: &PolicyConfig,
    inputs: Vec<(i64, Input)>,
) -> (PolicyState, Vec<Action>) {
    let mut all = Vec::new();
    for (t, i) in inputs {
        let (n, a) = step(s, cfg, i, t);
        s = n;
        all.extend(a);
    }
    (s, all)
}

fn down() -> RegionHealth {
    RegionHealth {
        has_data: false,
        complete: true,
        down: true,
        ..Default::default()
    }
}

fn monitoring_lost() -> RegionHealth {
    RegionHealth {
        has_data: false,
        complete: true,
        monitoring_lost: true,
        ..Default::default()
    }
}

#[test]
fn a_down_active_region_fails_over_after_n_evaluations() {
    let cfg = PolicyConfig::default();
    let (s, a) = run(&cfg, vec![(0, ev(down(), healthy()))]);
    assert!(started(&a).is_empty());
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Notify { message } if message.contains("is down"))),
        "{a:?}"
    );
    let (_, a) = step(s, &cfg, ev(down(), healthy()), 30);
    assert!(
        matches!(&started(&a)[..], [Action::StartFailover { to, reason, .. }] if to == B && reason.contains("down")),
        "{a:?}"
    );
}

#[test]
fn monitoring_lost_notifies_once_and_never_acts() {
    let cfg = PolicyConfig::default();
    let inputs: Vec<(i64, Input)> = (0..20)
        .map(|i| (i * 30, ev(monitoring_lost(), healthy())))
        .collect();
    let (s, a) = run(&cfg, inputs);
    assert!(started(&a).is_empty(), "{a:?}");
    let notices = a
        .iter()
        .filter(|x| matches!(x, Action::Notify { message } if message.contains("monitoring lost")))
        .count();
    assert_eq!(notices, 1, "{a:?}");
    assert!(s.monitoring_lost);
    // Data back, then lost again: operators hear it again, once.
    let (s, _) = step(s, &cfg, ev(healthy(), healthy()), 700);
    assert!(!s.monitoring_lost);
    let (_, a) = step(s, &cfg, ev(monitoring_lost(), healthy()), 730);
    assert_eq!(a.len(), 1, "{a:?}");
}

#[test]
fn a_target_whose_probes_fail_or_that_is_down_is_not_healthy() {
    let cfg = PolicyConfig::default();
    let probes_failing = RegionHealth {
        probes_passing: Some(false),
        ..healthy()
    };
    let (_, a) = run(
        &cfg,
        vec![
            (0, ev(burning(), probes_failing)),
            (30, ev(burning(), probes_failing)),
        ],
    );
    assert!(started(&a).is_empty(), "{a:?}");
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::Blocked { reason } if reason.contains("probes fail"))));
    // Probes configured and passing: healthy.
    let passing = RegionHealth {
        probes_passing: Some(true),
        ..healthy()
    };
    let (_, a) = run(
        &cfg,
        vec![(0, ev(burning(), passing)), (30, ev(burning(), passing))],
    );
    assert_eq!(started(&a).len(), 1);
    // Active down and the standby down too: a global incident, no failover.
    let (s, a) = run(
        &cfg,
        vec![(0, ev(down(), down())), (30, ev(down(), down()))],
    );
    assert!(started(&a).is_empty());
    assert!(
        matches!(s.phase, Phase::GlobalIncident { .. }),
        "{:?}",
        s.phase
    );
}

#[test]
fn an_operator_may_fail_over_a_down_region_without_force() {
    let cfg = PolicyConfig::default();
    let (s, _) = run(&cfg, vec![(0, ev(down(), healthy()))]);
    let (_, a) = step(
        s,
        &cfg,
        Input::Operator(Command::Failover {
            target: B.into(),
            reason: "us-east-1 is gone".into(),
            force: false,
        }),
        10,
    );
    assert_eq!(started(&a).len(), 1, "{a:?}");
}
