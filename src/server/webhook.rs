//! The Alertmanager webhook (payload version 4): parsing with errors that name the
//! problem, mapping alerts to (service, SLO, region, severity) through the Sloth labels,
//! and the idempotence of at-least-once delivery: the same (groupKey, fingerprint,
//! status, startsAt) is processed once, however many HA peers deliver it. Pure: the HTTP
//! handler in [`super`] only authenticates, calls these, and queues triggers.

use crate::slo::Severity;
use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    pub version: String,
    #[serde(rename = "groupKey")]
    pub group_key: String,
    #[serde(default)]
    pub status: String,
    pub alerts: Vec<Alert>,
    #[serde(default, rename = "truncatedAlerts")]
    pub truncated_alerts: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    pub starts_at: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Why a delivery was refused (HTTP 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("unsupported payload version {0:?}: expected \"4\" (Alertmanager 0.25+)")]
    Version(String),
}

pub fn parse(body: &[u8]) -> Result<Payload, WebhookError> {
    // Check the version first so an old payload says so rather than "missing field".
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Json(e.to_string()))?;
    match v.get("version").and_then(|x| x.as_str()) {
        Some("4") => {}
        Some(other) => return Err(WebhookError::Version(other.to_string())),
        None => return Err(WebhookError::Version(String::new())),
    }
    serde_json::from_value(v).map_err(|e| WebhookError::Json(e.to_string()))
}

/// An alert mapped to an SLO stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloAlert {
    pub service: String,
    pub slo: String,
    pub region: String,
    /// None for a severity sloguard does not generate (counted, never a trigger).
    pub severity: Option<Severity>,
    pub firing: bool,
}

/// Maps an alert through `sloth_service`, `sloth_slo`, `sloth_severity` and the region
/// label; None for alerts that are not sloguard's (counted and ignored).
pub fn map_alert(a: &Alert, region_label: &str) -> Option<SloAlert> {
    let get = |k: &str| a.labels.get(k).filter(|v| !v.is_empty()).cloned();
    Some(SloAlert {
        service: get("sloth_service")?,
        slo: get("sloth_slo")?,
        region: get(region_label)?,
        severity: match get("sloth_severity").as_deref() {
            None | Some("page") => Some(Severity::Page),
            Some("ticket") => Some(Severity::Ticket),
            Some(_) => None,
        },
        firing: a.status == "firing",
    })
}

/// A bounded memory of processed deliveries (oldest forgotten first).
#[derive(Debug)]
pub struct Dedup {
    seen: HashSet<(String, String, String, String)>,
    order: VecDeque<(String, String, String, String)>,
    capacity: usize,
}

impl Dedup {
    pub fn new(capacity: usize) -> Self {
        Dedup {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// True the first time a (groupKey, fingerprint, status, startsAt) is seen.
    pub fn first_time(&mut self, group_key: &str, a: &Alert) -> bool {
        let key = (
            group_key.to_string(),
            a.fingerprint.clone(),
            a.status.clone(),
            a.starts_at.clone(),
        );
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIRING: &str = include_str!("../../tests/data/alertmanager-firing.json");

    #[test]
    fn parses_the_real_sample_and_dedups() {
        let p = parse(FIRING.as_bytes()).unwrap();
        assert_eq!(p.alerts.len(), 1);
        let mut d = Dedup::new(10);
        assert!(d.first_time(&p.group_key, &p.alerts[0]));
        assert!(
            !d.first_time(&p.group_key, &p.alerts[0]),
            "HA peers deliver twice"
        );
        let mut resolved = p.alerts[0].clone();
        resolved.status = "resolved".into();
        assert!(d.first_time(&p.group_key, &resolved));
        // The sample is not a sloguard alert: no sloth labels.
        assert_eq!(map_alert(&p.alerts[0], "region"), None);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(parse(b"{"), Err(WebhookError::Json(_))));
        assert_eq!(
            parse(br#"{"version":"3","groupKey":"x","alerts":[]}"#).unwrap_err(),
            WebhookError::Version("3".into())
        );
        assert!(parse(br#"{"version":"4","alerts":[]}"#)
            .unwrap_err()
            .to_string()
            .contains("groupKey"));
    }

    #[test]
    fn bounded_memory() {
        let mut d = Dedup::new(2);
        let a = |f: &str| Alert {
            status: "firing".into(),
            labels: BTreeMap::new(),
            starts_at: "t".into(),
            fingerprint: f.into(),
        };
        assert!(d.first_time("g", &a("1")));
        assert!(d.first_time("g", &a("2")));
        assert!(d.first_time("g", &a("3")));
        assert!(d.first_time("g", &a("1")), "the oldest was forgotten");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn arbitrary_json_never_panics(s in "\\{\"version\":\"4\",\"groupKey\":\"[a-z]{0,4}\",\"alerts\":\\[(\\{\"status\":\"(firing|resolved)\",\"labels\":\\{\\}\\})?\\][a-z,:\"]{0,8}\\}") {
            let _ = parse(s.as_bytes());
        }
    }
}
