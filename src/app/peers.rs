//! The other replicas' votes, read from their failover signal endpoints (the same ones
//! Route 53 health checks poll), so a quorum needs no extra protocol.

use std::collections::BTreeMap;
use std::time::Duration;

/// For each domain, peer → the region its signal requests. An unreachable peer votes
/// nothing.
pub async fn votes(
    peers: &[String],
    domains: &[String],
    regions: &[String],
) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    let mut out: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for d in domains {
        for p in peers {
            let mut vote = None;
            for r in regions {
                let url = format!("{}/v1/signal/{d}/{r}", p.trim_end_matches('/'));
                if client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|resp| resp.status() == reqwest::StatusCode::OK)
                {
                    vote = Some(r.clone());
                }
            }
            out.entry(d.clone()).or_default().insert(p.clone(), vote);
        }
    }
    out
}

/// Each peer's probe view (`/v1/probes`): None when the peer did not answer, so it
/// confirms nothing about any region.
pub async fn probe_views(
    peers: &[String],
) -> BTreeMap<String, Option<Vec<crate::probe::ProbeView>>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for p in peers {
        let url = format!("{}/v1/probes", p.trim_end_matches('/'));
        let view = match client.get(&url).send().await {
            Ok(resp) if resp.status() == reqwest::StatusCode::OK => resp
                .bytes()
                .await
                .ok()
                .filter(|b| b.len() <= 1 << 20)
                .and_then(|b| serde_json::from_slice::<ProbesBody>(&b).ok())
                .map(|b| b.regions),
            _ => None,
        };
        out.insert(p.clone(), view);
    }
    out
}

/// The body of `/v1/peer`: this replica's view of each failover domain.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PeerBody {
    pub domains: BTreeMap<String, crate::policy::PeerDomain>,
}

/// For each domain, peer URL → what that peer says about it (`/v1/peer`); a peer that
/// does not answer is left out (it agrees with nothing and reports no execution).
pub async fn views(
    peers: &[String],
) -> BTreeMap<String, BTreeMap<String, crate::policy::PeerDomain>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    let mut out: BTreeMap<String, BTreeMap<String, crate::policy::PeerDomain>> = BTreeMap::new();
    let answers = futures_util::future::join_all(peers.iter().map(|p| {
        let client = client.clone();
        async move {
            let url = format!("{}/v1/peer", p.trim_end_matches('/'));
            let body = match client.get(&url).send().await {
                Ok(resp) if resp.status() == reqwest::StatusCode::OK => resp
                    .bytes()
                    .await
                    .ok()
                    .filter(|b| b.len() <= 1 << 20)
                    .and_then(|b| serde_json::from_slice::<PeerBody>(&b).ok()),
                _ => None,
            };
            (p.clone(), body)
        }
    }))
    .await;
    for (p, body) in answers {
        for (domain, view) in body.map(|b| b.domains).unwrap_or_default() {
            out.entry(domain).or_default().insert(p.clone(), view);
        }
    }
    out
}

/// The body of `/v1/probes`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProbesBody {
    pub regions: Vec<crate::probe::ProbeView>,
}
