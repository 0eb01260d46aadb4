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
