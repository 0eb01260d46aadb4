//! Three replicas' real signal endpoints (each an engine HTTP server on a free loopback
//! port, its signal set by its own policy) plus the Route 53 model: traffic moves only
//! with a quorum; a replica that cannot read Thanos (degraded data) votes nothing; a
//! replica that is down counts as not requesting failover.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use sloguard::actuator::route53_model::{answer_for, Answer};
use sloguard::policy::{self, Action, Evaluation, Input, PolicyConfig, PolicyState, RegionHealth};
use sloguard::server::{router, AppState};

const A: &str = "us-east-1";
const B: &str = "eu-west-1";

async fn replica() -> (Arc<AppState>, String, tokio::task::JoinHandle<()>) {
    let state = Arc::new(AppState::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (state, url, h)
}

/// Runs a replica's policy over two evaluations it sees and applies its votes.
fn decide(state: &AppState, active: RegionHealth) {
    let cfg = PolicyConfig {
        quorum: 2,
        ..Default::default()
    };
    let mut s = PolicyState::new("web", A, &[B.to_string()]);
    let healthy = RegionHealth {
        burning: false,
        any_tier: false,
        has_data: true,
        complete: true,
        short_burn: 0.0,
        ..Default::default()
    };
    for t in [0, 30] {
        let ev = Evaluation {
            regions: [(A.to_string(), active), (B.to_string(), healthy)].into(),
            preconditions: Default::default(),
        };
        let (n, actions) = policy::step(s, &cfg, Input::Evaluation(ev), t);
        s = n;
        for a in actions {
            if let Action::Vote { target } = a {
                state
                    .signals
                    .set("web", B, target.as_deref() == Some(B))
                    .unwrap();
            }
        }
    }
}

async fn statuses(urls: &[String]) -> Vec<Option<u16>> {
    let c = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let mut out = Vec::new();
    for u in urls {
        out.push(
            c.get(format!("{u}/v1/signal/web/{B}"))
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16()),
        );
    }
    out
}

#[tokio::test]
async fn failover_only_with_a_quorum() {
    let burning = RegionHealth {
        burning: true,
        any_tier: true,
        has_data: true,
        complete: true,
        short_burn: 0.0,
        ..Default::default()
    };
    let degraded = RegionHealth {
        complete: false,
        ..burning
    };
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica().await);
    }
    let urls: Vec<String> = replicas.iter().map(|r| r.1.clone()).collect();
    assert_eq!(
        answer_for(&statuses(&urls).await, 2, true),
        Answer::Primary,
        "no votes"
    );

    decide(&replicas[0].0, burning);
    decide(&replicas[1].0, degraded);
    decide(
        &replicas[2].0,
        RegionHealth {
            burning: false,
            any_tier: false,
            has_data: true,
            complete: true,
            short_burn: 0.0,
            ..Default::default()
        },
    );
    let st = statuses(&urls).await;
    assert_eq!(
        st,
        vec![Some(200), Some(503), Some(503)],
        "the degraded replica votes nothing"
    );
    assert_eq!(
        answer_for(&st, 2, true),
        Answer::Primary,
        "one vote is not a quorum"
    );

    decide(&replicas[2].0, burning);
    let st = statuses(&urls).await;
    assert_eq!(
        answer_for(&st, 2, true),
        Answer::Secondary,
        "two of three: fail over ({st:?})"
    );
    assert_eq!(
        answer_for(&st, 2, false),
        Answer::Primary,
        "never to an unhealthy secondary"
    );

    // A replica that dies counts as not requesting failover.
    replicas[2].2.abort();
    let _ = (&mut replicas[2].2).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let st = statuses(&urls).await;
    assert_eq!(st[2], None);
    assert_eq!(answer_for(&st, 2, true), Answer::Primary);
}
