//! PURE model of how Route 53 answers for failover records fed by this engine's failover
//! signals (data plane: no control-plane call is needed to fail over).
//!
//! Each replica's signal endpoint (`GET /v1/signal/<domain>/<standby>`, 200 = failover
//! requested) is polled by an HTTPS health check that is *inverted*: a 2xx/3xx answer makes
//! it unhealthy, anything else (503, timeout, the engine down) healthy, so an engine outage
//! never fails anything over. A calculated health check over the replicas' checks is healthy
//! while at least `replicas − quorum + 1` of them are, i.e. it turns unhealthy exactly when
//! a quorum requests failover. It guards the PRIMARY record.

/// Which record set Route 53 answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Primary,
    Secondary,
}

/// Route 53's failover rule (API reference, ResourceRecordSet → Failover): the primary
/// while healthy; the secondary when the primary is unhealthy and the secondary healthy;
/// the primary again when both are unhealthy.
pub fn failover_answer(primary_healthy: bool, secondary_healthy: bool) -> Answer {
    if primary_healthy || !secondary_healthy {
        Answer::Primary
    } else {
        Answer::Secondary
    }
}

/// The inverted HTTPS check of one replica, from its signal endpoint's status (None: no
/// answer).
pub fn replica_check_healthy(status: Option<u16>) -> bool {
    !matches!(status, Some(s) if (200..400).contains(&s))
}

/// The calculated check's `HealthThreshold` for a quorum.
pub fn health_threshold(replicas: usize, quorum: usize) -> usize {
    replicas.saturating_sub(quorum) + 1
}

/// A calculated health check: healthy while at least `threshold` children are.
pub fn calculated_healthy(children: &[bool], threshold: usize) -> bool {
    children.iter().filter(|h| **h).count() >= threshold
}

/// The answer for replicas whose signal endpoints answered `statuses`, with the secondary's
/// own health.
pub fn answer_for(statuses: &[Option<u16>], quorum: usize, secondary_healthy: bool) -> Answer {
    let children: Vec<bool> = statuses.iter().map(|s| replica_check_healthy(*s)).collect();
    failover_answer(
        calculated_healthy(&children, health_threshold(statuses.len(), quorum)),
        secondary_healthy,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route53_failover_rules() {
        assert_eq!(failover_answer(true, true), Answer::Primary);
        assert_eq!(failover_answer(true, false), Answer::Primary);
        assert_eq!(failover_answer(false, true), Answer::Secondary);
        assert_eq!(
            failover_answer(false, false),
            Answer::Primary,
            "secondary unhealthy -> primary"
        );
    }

    #[test]
    fn inverted_checks_never_fail_over_on_an_engine_outage() {
        assert!(!replica_check_healthy(Some(200)));
        assert!(replica_check_healthy(Some(503)));
        assert!(replica_check_healthy(None));
        assert_eq!(answer_for(&[None, None, None], 2, true), Answer::Primary);
    }

    #[test]
    fn quorum_of_three() {
        assert_eq!(health_threshold(3, 2), 2);
        assert_eq!(
            answer_for(&[Some(200), Some(503), Some(503)], 2, true),
            Answer::Primary
        );
        assert_eq!(
            answer_for(&[Some(200), Some(200), Some(503)], 2, true),
            Answer::Secondary
        );
        assert_eq!(
            answer_for(&[Some(200), Some(200), None], 2, true),
            Answer::Secondary
        );
        assert_eq!(
            answer_for(&[Some(200), Some(200), Some(200)], 2, false),
            Answer::Primary
        );
        assert_eq!(answer_for(&[Some(200)], 1, true), Answer::Secondary);
    }
}
