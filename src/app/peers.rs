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

/// The body of `/v1/probes`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProbesBody {
    pub regions: Vec<crate::probe::ProbeView>,
}
