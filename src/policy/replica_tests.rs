//! Table tests of one set of guards for every path (issue 20.2) and of one executor
//! per failover (issue 20.1): failback only undoes a failover, operator calls need the
//! quorum, the executor order, following, adopting the executor's result and takeover.

use std::collections::BTreeMap;

use super::*;

const A: &str = "us-east-1";
const B: &str = "eu-west-1";

fn health(burning: bool) -> RegionHealth {
    RegionHealth {
        burning,
        any_tier: burning,
        has_data: true,
        complete: true,
        ..Default::default()
    }
}

fn ev(a_burning: bool, b_burning: bool) -> Input {
    Input::Evaluation(Evaluation {
        regions: [
            (A.to_string(), health(a_burning)),
            (B.to_string(), health(b_burning)),
        ]
        .into(),
        preconditions: BTreeMap::new(),
    })
}

fn cfg(replica: &str, quorum: u32) -> PolicyConfig {
    PolicyConfig {
        quorum,
        replica: replica.into(),
        takeover_after: 20,
        ..Default::default()
    }
}

fn peer(replica: &str, region: Option<&str>, wants: Option<&str>) -> PeerDomain {
    PeerDomain {
        replica: replica.into(),
        region: region.map(str::to_string),
        active: A.into(),
        wants: wants.map(str::to_string),
        healthy: if wants.is_some() {
            vec![B.into()]
        } else {
            vec![A.into(), B.into()]
        },
        bad: if wants.is_some() {
            vec![A.into()]
        } else {
            Vec::new()
        },
        execution: None,
    }
}

fn feed(
    mut s: PolicyState,
    c: &PolicyConfig,
    inputs: Vec<(i64, Input)>,
) -> (PolicyState, Vec<Action>) {
    let mut all = Vec::new();
    for (t, i) in inputs {
        let (n, a) = step(s, c, i, t);
        s = n;
        all.extend(a);
    }
    (s, all)
}

fn blocked(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Blocked { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn state() -> PolicyState {
    PolicyState::new("web", A, &[B.to_string()])
}

/// A replica that failed over from A to B at t = 100 (runbook ok).
fn failed_over(c: &PolicyConfig) -> PolicyState {
    let (s, _) = feed(
        state(),
        c,
        vec![
            (0, ev(true, false)),
            (30, ev(true, false)),
            (
                100,
                Input::RunbookFinished {
                    incident: 1,
                    ok: true,
                    moved: true,
                },
            ),
        ],
    );
    assert!(
        matches!(s.phase, Phase::FailedOver { ok: true, .. }),
        "{:?}",
        s.phase
    );
    s
}

fn failback(target: &str, force: bool) -> Input {
    Input::Operator(Command::Failback {
        target: target.into(),
        reason: "region recovered".into(),
        force,
    })
}

#[test]
fn failback_from_armed_is_refused() {
    let c = cfg("r1", 1);
    let (s, a) = feed(
        state(),
        &c,
        vec![(0, ev(false, false)), (10, failback(B, false))],
    );
    assert!(matches!(s.phase, Phase::Armed));
    assert!(
        blocked(&a).contains("failback only undoes a failover"),
        "{a:?}"
    );
    // Forcing does not make a failback of a domain that never failed over.
    let (_, a) = step(s, &c, failback(B, true), 20);
    assert!(
        blocked(&a).contains("failback only undoes a failover"),
        "{a:?}"
    );
}

#[test]
fn failback_goes_only_back_and_through_cooldown_unless_forced() {
    let c = cfg("r1", 1);
    let s = failed_over(&c);
    let (s, a) = feed(
        s,
        &c,
        vec![(200, ev(false, false)), (210, failback(B, false))],
    );
    assert!(blocked(&a).contains("moves back to us-east-1"), "{a:?}");
    let (s, a) = step(s, &c, failback(A, false), 220);
    assert!(blocked(&a).contains("cooldown"), "{a:?}");
    let (s, a) = step(s, &c, failback(A, true), 230);
    assert!(
        a.iter().any(|x| matches!(x, Action::StartFailover { from, to, forced: true, .. } if from == B && to == A)),
        "{a:?}"
    );
    assert!(matches!(s.phase, Phase::FailingOver { .. }));
    // After the cooldown, a non-forced failback passes every guard.
    let s = failed_over(&c);
    let (_, a) = feed(
        s,
        &c,
        vec![(4000, ev(false, false)), (4010, failback(A, false))],
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::StartFailover { to, forced: false, .. } if to == A)),
        "{a:?}"
    );
}

#[test]
fn operator_failover_and_failback_need_the_quorum() {
    let c = cfg("r1", 2);
    let disagreeing = BTreeMap::from([("http://d".to_string(), peer("r2", None, None))]);
    let (s, a) = feed(
        state(),
        &c,
        vec![
            (0, Input::PeerViews(disagreeing.clone())),
            (0, ev(true, false)),
            (
                10,
                Input::Operator(Command::Failover {
                    target: B.into(),
                    reason: "A is burning".into(),
                    force: false,
                }),
            ),
        ],
    );
    assert!(blocked(&a).contains("quorum: 1 of 2"), "{a:?}");
    assert!(!matches!(s.phase, Phase::FailingOver { .. }));
    // The peer agrees: the same call passes.
    let agreeing = BTreeMap::from([("http://d".to_string(), peer("r2", None, Some(B)))]);
    let (_, a) = feed(
        s.clone(),
        &c,
        vec![
            (20, Input::PeerViews(agreeing)),
            (
                20,
                Input::Operator(Command::Failover {
                    target: B.into(),
                    reason: "A is burning".into(),
                    force: false,
                }),
            ),
        ],
    );
    assert!(
        a.iter().any(|x| matches!(x, Action::StartFailover { .. })),
        "{a:?}"
    );
    // Forced: no quorum needed.
    let (_, a) = step(
        s,
        &c,
        Input::Operator(Command::Failover {
            target: B.into(),
            reason: "drill".into(),
            force: true,
        }),
        30,
    );
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::StartFailover { forced: true, .. })));
}

#[test]
fn the_executor_is_the_target_regions_replica_then_by_name() {
    let mut s = state();
    s.peers = BTreeMap::from([
        ("http://a".to_string(), peer("alpha", Some(A), Some(B))),
        ("http://c".to_string(), peer("charlie", Some(B), Some(B))),
        ("http://z".to_string(), peer("zulu", None, None)),
    ]);
    let c = cfg("bravo", 2);
    assert_eq!(
        replicas::executor_order(&s, &c, B),
        vec!["charlie", "alpha", "bravo"],
        "the target region's replica, then by name; zulu does not agree"
    );
}

#[test]
fn followers_run_nothing_adopt_the_result_and_take_over_when_the_executor_is_silent() {
    let c = cfg("bravo", 2);
    let views = BTreeMap::from([("http://a".to_string(), peer("alpha", None, Some(B)))]);
    let (s, a) = feed(
        state(),
        &c,
        vec![
            (0, Input::PeerViews(views.clone())),
            (0, ev(true, false)),
            (10, ev(true, false)),
        ],
    );
    assert!(
        !a.iter().any(|x| matches!(x, Action::StartFailover { .. })),
        "bravo is not the executor: {a:?}"
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::FollowFailover { executor, .. } if executor == "alpha")),
        "{a:?}"
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Vote { target: Some(t) } if t == B)),
        "a follower still raises its own data-plane signal: {a:?}"
    );
    // The executor reports it running: keep following, whatever the time.
    let mut running = views.clone();
    running.get_mut("http://a").unwrap().execution = Some(Execution {
        from: A.into(),
        to: B.into(),
        executor: "alpha".into(),
        since: 10,
        state: ExecState::Running,
        ok: false,
        moved: false,
        acting: true,
    });
    let (s2, a) = feed(
        s.clone(),
        &c,
        vec![
            (25, Input::PeerViews(running.clone())),
            (25, ev(true, false)),
        ],
    );
    assert!(a.is_empty(), "{a:?}");
    // It reports the result: the follower takes it as its own, latched on B.
    let mut done = running;
    if let Some(e) = done.get_mut("http://a").unwrap().execution.as_mut() {
        e.state = ExecState::Done;
        e.ok = true;
        e.moved = true;
    }
    let (s3, a) = feed(
        s2,
        &c,
        vec![(40, Input::PeerViews(done)), (40, ev(false, false))],
    );
    assert_eq!(s3.active, B);
    assert!(
        matches!(s3.phase, Phase::FailedOver { ok: true, .. }),
        "{:?}",
        s3.phase
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::PeerExecuted { ok: true, .. })),
        "{a:?}"
    );
    // The executor vanishes before it is ever seen running: the follower (rank 1) waits
    // takeover_after, then runs the runbook itself.
    let (s4, a) = feed(
        s,
        &c,
        vec![
            (25, Input::PeerViews(BTreeMap::new())),
            (25, ev(true, false)),
        ],
    );
    assert!(a.is_empty(), "too early to take over: {a:?}");
    let (s5, a) = step(s4, &c, ev(true, false), 31);
    assert!(
        !a.iter().any(|x| matches!(x, Action::ResumeRunbook { .. })),
        "a takeover is a claim the quorum must confirm first: {a:?}"
    );
    assert_eq!(
        s5.execution.as_ref().map(|e| e.executor.as_str()),
        Some("bravo")
    );
    // charlie, the third replica, cannot see alpha either and confirms bravo.
    let mut confirm = BTreeMap::from([("http://c".to_string(), peer("charlie", None, Some(B)))]);
    confirm.get_mut("http://c").unwrap().execution = Some(Execution {
        acting: false,
        ..s5.execution.clone().unwrap()
    });
    let (s6, a) = feed(
        s5,
        &c,
        vec![(32, Input::PeerViews(confirm)), (32, ev(true, false))],
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::ResumeRunbook { to, .. } if to == B)),
        "{a:?}"
    );
    assert!(matches!(
        s6.phase,
        Phase::FailingOver { executor: None, .. }
    ));
}

#[test]
fn a_replica_that_sees_a_peer_executing_follows_it_even_when_it_would_lead() {
    // "alpha" would come first by name, but "charlie" already runs the failover.
    let c = cfg("alpha", 2);
    let mut views = BTreeMap::from([("http://c".to_string(), peer("charlie", None, Some(B)))]);
    views.get_mut("http://c").unwrap().execution = Some(Execution {
        from: A.into(),
        to: B.into(),
        executor: "charlie".into(),
        since: 5,
        state: ExecState::Running,
        ok: false,
        moved: false,
        acting: true,
    });
    let (_, a) = feed(
        state(),
        &c,
        vec![
            (0, Input::PeerViews(views.clone())),
            (0, ev(true, false)),
            (10, Input::PeerViews(views)),
            (10, ev(true, false)),
        ],
    );
    assert!(
        !a.iter().any(|x| matches!(x, Action::StartFailover { .. })),
        "{a:?}"
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::FollowFailover { executor, .. } if executor == "charlie")),
        "{a:?}"
    );
}

#[test]
fn of_two_claimants_the_first_in_order_acts_and_the_other_follows() {
    let claim_cfg = |name: &str| PolicyConfig {
        claim_wait: 2,
        ..cfg(name, 2)
    };
    let views =
        |other: &str| BTreeMap::from([("http://x".to_string(), peer(other, None, Some(B)))]);
    // Both decide at t = 10 (neither sees the other's claim yet): both claim.
    let decide = |me: &str, other: &str| {
        let c = claim_cfg(me);
        let (s, a) = feed(
            state(),
            &c,
            vec![
                (0, Input::PeerViews(views(other))),
                (0, ev(true, false)),
                (10, ev(true, false)),
            ],
        );
        assert!(
            !a.iter().any(|x| matches!(
                x,
                Action::StartFailover { .. } | Action::ResumeRunbook { .. }
            )),
            "a claim acts on nothing yet: {a:?}"
        );
        (s, c)
    };
    // r2 thinks it leads only because it did not see r1 agree yet.
    let (s1, c1) = decide("r1", "zz-unseen");
    let (s2, c2) = decide("r2", "zz-unseen");
    let claim_of = |s: &PolicyState| s.execution.clone().unwrap();
    assert!(!claim_of(&s1).acting && !claim_of(&s2).acting);
    let mut seen_by_1 = views("r2");
    seen_by_1.get_mut("http://x").unwrap().execution = Some(claim_of(&s2));
    let mut seen_by_2 = views("r1");
    seen_by_2.get_mut("http://x").unwrap().execution = Some(claim_of(&s1));
    let (s1, a1) = feed(
        s1,
        &c1,
        vec![(12, Input::PeerViews(seen_by_1)), (12, ev(true, false))],
    );
    let (s2, a2) = feed(
        s2,
        &c2,
        vec![(12, Input::PeerViews(seen_by_2)), (12, ev(true, false))],
    );
    assert!(
        !a1.iter().any(|x| matches!(x, Action::ResumeRunbook { .. })),
        "r1 waits for a quorum to confirm it: {a1:?}"
    );
    assert!(
        !a2.iter().any(|x| matches!(x, Action::ResumeRunbook { .. })),
        "r2 yields: {a2:?}"
    );
    assert!(
        matches!(&s2.phase, Phase::FailingOver { executor: Some(e), .. } if e == "r1"),
        "{:?}",
        s2.phase
    );
    // r2 now publishes that it follows r1: the quorum (2) agrees on r1, which acts.
    assert_eq!(
        s2.execution.as_ref().map(|e| e.executor.as_str()),
        Some("r1")
    );
    let mut confirmed = views("r2");
    confirmed.get_mut("http://x").unwrap().execution = s2.execution.clone();
    let (s1, a1) = feed(
        s1,
        &c1,
        vec![(14, Input::PeerViews(confirmed)), (14, ev(true, false))],
    );
    assert!(
        a1.iter().any(|x| matches!(x, Action::ResumeRunbook { .. })),
        "r1 acts: {a1:?}"
    );
    assert!(s1.execution.unwrap().acting);
}

#[test]
fn in_approve_mode_a_replica_follows_the_peer_where_the_failover_was_approved() {
    let c = PolicyConfig {
        mode: Mode::Approve,
        ..cfg("r2", 2)
    };
    let views = BTreeMap::from([("http://a".to_string(), peer("r1", None, Some(B)))]);
    let (s, a) = feed(
        state(),
        &c,
        vec![
            (0, Input::PeerViews(views.clone())),
            (0, ev(true, false)),
            (10, ev(true, false)),
        ],
    );
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::RequestApproval { .. })),
        "{a:?}"
    );
    // Approved on r1, which reports running it.
    let mut running = views;
    running.get_mut("http://a").unwrap().execution = Some(Execution {
        from: A.into(),
        to: B.into(),
        executor: "r1".into(),
        since: 20,
        state: ExecState::Running,
        ok: false,
        moved: false,
        acting: true,
    });
    let (s, _) = feed(
        s,
        &c,
        vec![
            (25, Input::PeerViews(running.clone())),
            (25, ev(true, false)),
        ],
    );
    assert!(
        matches!(&s.phase, Phase::FailingOver { executor: Some(e), .. } if e == "r1"),
        "{:?}",
        s.phase
    );
    if let Some(e) = running.get_mut("http://a").unwrap().execution.as_mut() {
        e.state = ExecState::Done;
        e.ok = true;
        e.moved = true;
    }
    let (s, _) = feed(
        s,
        &c,
        vec![(40, Input::PeerViews(running)), (40, ev(false, false))],
    );
    assert_eq!(s.active, B);
    assert!(matches!(s.phase, Phase::FailedOver { ok: true, .. }));
}
