//! The Alertmanager webhook (payload version 4): parsing with errors that name the
//! problem, mapping alerts to (service, SLO, region, severity) through the Sloth labels,
//! and the idempotence of at-least-once delivery: the same (groupKey, fingerprint,
//! status, startsAt) is processed once, however many HA peers deliver it. Pure: the HTTP
//! handler in [`super::alertmanager`] only authenticates, calls these, and queues triggers.
//!
//! Memory is bounded in bytes, not only in entries: a delivery is at most the body limit
//! and [`check_limits`] caps alerts, `groupKey` and label sizes; the dedup memory keeps a
//! fixed 32-byte digest per delivery key, whatever the size of the `groupKey` an attacker
//! sends.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::slo::Severity;

/// Alerts in one delivery (Alertmanager's `max_alerts` is usually far lower).
pub const MAX_ALERTS: usize = 10_000;
/// Bytes of a `groupKey` (real ones are the route's matchers and group labels).
pub const MAX_GROUP_KEY: usize = 4_096;
/// Labels per alert.
pub const MAX_LABELS: usize = 128;
/// Bytes of one label name or value, and of a fingerprint, status or startsAt.
pub const MAX_FIELD: usize = 4_096;
/// Characters of a delivery value written to a log line.
pub const MAX_LOGGED: usize = 200;

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
    /// HTTP 413.
    #[error("{count} alerts in one delivery: the limit is {MAX_ALERTS}")]
    TooManyAlerts { count: usize },
    /// HTTP 400.
    #[error("{what} is {size} bytes: the limit is {limit}")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },
}

impl WebhookError {
    /// 413 for a delivery too large as a whole, 400 for everything else.
    pub fn too_large(&self) -> bool {
        matches!(self, WebhookError::TooManyAlerts { .. })
    }
}

/// The size limits of a parsed delivery, each error naming the field and the limit.
pub fn check_limits(p: &Payload) -> Result<(), WebhookError> {
    if p.alerts.len() > MAX_ALERTS {
        return Err(WebhookError::TooManyAlerts {
            count: p.alerts.len(),
        });
    }
    let field = |what: String, size: usize, limit: usize| {
        if size > limit {
            Err(WebhookError::TooLarge { what, size, limit })
        } else {
            Ok(())
        }
    };
    field("groupKey".into(), p.group_key.len(), MAX_GROUP_KEY)?;
    for (i, a) in p.alerts.iter().enumerate() {
        field(
            format!("alerts[{i}].labels (count)"),
            a.labels.len(),
            MAX_LABELS,
        )?;
        for (k, v) in &a.labels {
            field(format!("alerts[{i}].labels name"), k.len(), MAX_FIELD)?;
            field(
                format!("alerts[{i}].labels.{}", truncate(k, 64)),
                v.len(),
                MAX_FIELD,
            )?;
        }
        field(
            format!("alerts[{i}].fingerprint"),
            a.fingerprint.len(),
            MAX_FIELD,
        )?;
        field(format!("alerts[{i}].status"), a.status.len(), MAX_FIELD)?;
        field(
            format!("alerts[{i}].startsAt"),
            a.starts_at.len(),
            MAX_FIELD,
        )?;
    }
    Ok(())
}

/// At most `max` characters of `s`, with an ellipsis and the full length when cut: log
/// lines carry a bounded part of what a client sent.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
    }
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

/// A bounded memory of processed deliveries (oldest forgotten first): a fixed-size
/// digest per (groupKey, fingerprint, status, startsAt), so its memory is bounded in
/// bytes (`capacity` × a few dozen bytes) whatever the clients send.
#[derive(Debug)]
pub struct Dedup {
    seen: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
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

    fn key(group_key: &str, a: &Alert) -> [u8; 32] {
        let mut h = Sha256::new();
        // Length-prefixed, so no two different tuples hash the same input.
        for part in [group_key, &a.fingerprint, &a.status, &a.starts_at] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// True the first time a (groupKey, fingerprint, status, startsAt) is seen.
    pub fn first_time(&mut self, group_key: &str, a: &Alert) -> bool {
        let key = Self::key(group_key, a);
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key);
        self.order.push_back(key);
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
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

    #[test]
    fn limits_name_the_field() {
        let mut p = parse(FIRING.as_bytes()).unwrap();
        assert_eq!(check_limits(&p), Ok(()));
        p.group_key = "k".repeat(MAX_GROUP_KEY + 1);
        let e = check_limits(&p).unwrap_err();
        assert!(e.to_string().contains("groupKey") && !e.too_large(), "{e}");
        p.group_key = "g".into();
        p.alerts[0]
            .labels
            .insert("big".into(), "v".repeat(MAX_FIELD + 1));
        assert!(check_limits(&p)
            .unwrap_err()
            .to_string()
            .contains("labels.big"));
        p.alerts[0].labels.clear();
        p.alerts = vec![p.alerts[0].clone(); MAX_ALERTS + 1];
        assert!(check_limits(&p).unwrap_err().too_large());
        assert_eq!(truncate("abcdef", 3), "abc… (6 bytes)");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn dedup_memory_does_not_grow_with_group_key_size() {
        let mut d = Dedup::new(3);
        let a = Alert {
            status: "firing".into(),
            labels: BTreeMap::new(),
            starts_at: "t".into(),
            fingerprint: "f".into(),
        };
        let huge = "x".repeat(100_000);
        for i in 0..10 {
            assert!(d.first_time(&format!("{huge}{i}"), &a));
        }
        assert_eq!(d.len(), 3, "bounded in entries, each a 32-byte digest");
        assert!(!d.first_time(&format!("{huge}9"), &a), "still deduplicated");
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
