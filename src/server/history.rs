//! The dashboard's burn-rate history: every evaluation's burn rate per SLO, region and
//! window, bounded by memory rather than by a count alone.
//!
//! A point used to hold three owned strings per row (~150 bytes): at 10,000 SLOs × 3
//! regions × 8 windows that was ~36 MB per evaluation, kept for 2,000 evaluations, so a
//! large engine's memory grew without a useful bound. Now each series' key (SLO, region,
//! window) is stored once and a point holds only (key index, burn rate): 12 bytes a row.
//! The number of points kept is [`HISTORY_POINTS`] or as many as fit in
//! [`HISTORY_BYTES`] for the configured series, whichever is fewer; the dashboard is told
//! (`history_limit`) and says so on its charts. The JSON is the same as before: a list of
//! `{"at": t, "burn": [["service/slo", "region", "window", burn], …]}`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use crate::backtest::FinalRow;

/// Evaluations kept at most.
pub const HISTORY_POINTS: usize = 2_000;
/// Memory the kept points may use (their rows, 12 bytes each).
pub const HISTORY_BYTES: usize = 32 << 20;
/// Bytes of one kept row: a key index and a burn rate.
const ROW_BYTES: usize = 12;

/// How many evaluations fit for `rows` series (SLO × region × window): at least 2.
pub fn points_for(rows: usize) -> usize {
    (HISTORY_BYTES / (ROW_BYTES * rows.max(1))).clamp(2, HISTORY_POINTS)
}

/// One series: `service/slo`, region, window.
type Key = (String, String, String);

/// One evaluation: its time and the burn rate of every series that had one.
#[derive(Debug, Clone, Default)]
struct Point {
    at: i64,
    keys: Vec<u32>,
    burn: Vec<f64>,
}

/// The kept points, oldest first, and the key table they index.
#[derive(Debug, Clone)]
pub struct History {
    /// Each series' key once, shared by the table and its index (at 10,000 SLOs the
    /// 240,000 keys would otherwise be held twice).
    keys: Vec<Arc<Key>>,
    index: HashMap<Arc<Key>, u32>,
    points: VecDeque<Point>,
    limit: usize,
}

impl History {
    /// A history keeping at most `limit` points (see [`points_for`]).
    pub fn new(limit: usize) -> Self {
        History {
            keys: Vec::new(),
            index: HashMap::new(),
            points: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Points kept at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The newest point's time.
    pub fn last_at(&self) -> Option<i64> {
        self.points.back().map(|p| p.at)
    }

    /// Appends an evaluation's burn rates (a snapshot's final rows), dropping the oldest
    /// point beyond the limit.
    pub fn push(&mut self, at: i64, rows: &[FinalRow]) {
        let mut point = Point {
            at,
            ..Point::default()
        };
        // Rows come in the same order every evaluation: the previous point's key at the
        // same position is tried first, so a steady tick allocates no key at all.
        let previous = self
            .points
            .back()
            .map(|p| p.keys.clone())
            .unwrap_or_default();
        for r in rows {
            let Some(b) = r.burn_rate else { continue };
            let guess = previous.get(point.keys.len()).copied();
            let id = match guess.filter(|&k| self.is_key(k, r)) {
                Some(k) => k,
                None => self.key_of(r),
            };
            point.keys.push(id);
            point.burn.push(b);
        }
        while self.points.len() >= self.limit {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    /// Whether key `k` is the series of row `r`.
    fn is_key(&self, k: u32, r: &FinalRow) -> bool {
        self.keys.get(k as usize).is_some_and(|key| {
            let (slo, region, window) = &**key;
            *region == r.region
                && *window == r.window
                && slo.len() == r.service.len() + 1 + r.slo.len()
                && slo.starts_with(r.service.as_str())
                && slo.ends_with(r.slo.as_str())
                && slo.as_bytes()[r.service.len()] == b'/'
        })
    }

    /// The key of row `r`'s series, added to the table when new.
    fn key_of(&mut self, r: &FinalRow) -> u32 {
        let key = (
            format!("{}/{}", r.service, r.slo),
            r.region.clone(),
            r.window.clone(),
        );
        if let Some(&k) = self.index.get(&key) {
            return k;
        }
        let k = self.keys.len() as u32;
        let key = Arc::new(key);
        self.keys.push(key.clone());
        self.index.insert(key, k);
        k
    }

    /// The points after `since` (all with None) as the dashboard's JSON.
    pub fn to_json(&self, since: Option<i64>) -> Vec<u8> {
        let newer = PointsAfter {
            history: self,
            since: since.unwrap_or(i64::MIN),
        };
        serde_json::to_vec(&newer).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// Bytes the kept rows use (for tests and figures).
    pub fn row_bytes(&self) -> usize {
        self.points.iter().map(|p| p.keys.len() * ROW_BYTES).sum()
    }
}

/// The points of a history after a time, serialised one by one (never copied).
struct PointsAfter<'a> {
    history: &'a History,
    since: i64,
}

impl Serialize for PointsAfter<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let points = self.history.points.iter().filter(|p| p.at > self.since);
        let mut seq = s.serialize_seq(None)?;
        for p in points {
            seq.serialize_element(&PointJson {
                point: p,
                keys: &self.history.keys,
            })?;
        }
        seq.end()
    }
}

/// One point as `{"at": t, "burn": [[slo, region, window, burn], …]}`.
struct PointJson<'a> {
    point: &'a Point,
    keys: &'a [Arc<Key>],
}

impl Serialize for PointJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("HistoryPoint", 2)?;
        st.serialize_field("at", &self.point.at)?;
        st.serialize_field("burn", &Rows(self))?;
        st.end()
    }
}

struct Rows<'a>(&'a PointJson<'a>);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0.point;
        let mut seq = s.serialize_seq(Some(p.keys.len()))?;
        for (k, b) in p.keys.iter().zip(&p.burn) {
            if let Some(key) = self.0.keys.get(*k as usize) {
                let (slo, region, window) = &**key;
                seq.serialize_element(&(slo, region, window, b))?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(slos: usize, burn: f64) -> Vec<FinalRow> {
        let mut s = Vec::new();
        for i in 0..slos {
            for (region, window) in [("a", "5m"), ("a", "1h"), ("b", "5m")] {
                s.push(FinalRow {
                    service: "svc".into(),
                    slo: format!("s{i}"),
                    region: region.into(),
                    window: window.into(),
                    error_ratio: None,
                    burn_rate: Some(burn),
                    events: 0,
                    period_start: None,
                });
            }
        }
        s
    }

    #[test]
    fn json_is_the_list_of_points_with_their_rows() {
        let mut h = History::new(10);
        h.push(100, &rows(1, 1.5));
        h.push(110, &rows(1, 0.25));
        let all: serde_json::Value = serde_json::from_slice(&h.to_json(None)).unwrap();
        assert_eq!(
            all,
            serde_json::json!([
                {"at": 100, "burn": [["svc/s0", "a", "5m", 1.5], ["svc/s0", "a", "1h", 1.5], ["svc/s0", "b", "5m", 1.5]]},
                {"at": 110, "burn": [["svc/s0", "a", "5m", 0.25], ["svc/s0", "a", "1h", 0.25], ["svc/s0", "b", "5m", 0.25]]}
            ])
        );
        let newer: serde_json::Value = serde_json::from_slice(&h.to_json(Some(100))).unwrap();
        assert_eq!(newer.as_array().unwrap().len(), 1);
        assert_eq!(newer[0]["at"], 110);
        assert_eq!(h.to_json(Some(110)), b"[]");
    }

    #[test]
    fn rows_without_a_burn_rate_are_left_out() {
        let mut r = rows(1, 2.0);
        r[1].burn_rate = None;
        let mut h = History::new(3);
        h.push(5, &r);
        let v: serde_json::Value = serde_json::from_slice(&h.to_json(None)).unwrap();
        assert_eq!(v[0]["burn"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn rows_that_shift_between_evaluations_keep_their_series() {
        let mut h = History::new(5);
        h.push(1, &rows(2, 1.0));
        let mut shifted = rows(2, 2.0);
        shifted[0].burn_rate = None;
        shifted.swap(3, 5);
        h.push(2, &shifted);
        let v: serde_json::Value = serde_json::from_slice(&h.to_json(Some(1))).unwrap();
        let got: Vec<String> = v[0]["burn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r[0].as_str().unwrap(),
                    r[1].as_str().unwrap(),
                    r[2].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "svc/s0 a 1h",
                "svc/s0 b 5m",
                "svc/s1 b 5m",
                "svc/s1 a 1h",
                "svc/s1 a 5m"
            ]
        );
    }

    #[test]
    fn oldest_points_fall_off_at_the_limit() {
        let mut h = History::new(3);
        for t in 0..5 {
            h.push(t, &rows(2, 1.0));
        }
        assert_eq!(h.len(), 3);
        let v: serde_json::Value = serde_json::from_slice(&h.to_json(None)).unwrap();
        let ats: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["at"].as_i64().unwrap())
            .collect();
        assert_eq!(ats, vec![2, 3, 4]);
    }

    #[test]
    fn the_limit_keeps_the_rows_within_the_memory_budget() {
        // A demo's few series keep the full count; 10,000 SLOs × 3 regions × 8 windows
        // keep what fits in the budget, at least two.
        assert_eq!(points_for(40), HISTORY_POINTS);
        let series = 10_000 * 3 * 8;
        let n = points_for(series);
        assert!(n >= 2 && n * series * ROW_BYTES <= HISTORY_BYTES, "{n}");
        assert_eq!(points_for(HISTORY_BYTES), 2);
        let many = rows(50_000, 1.0);
        let mut h = History::new(points_for(many.len()));
        for t in 0..(h.limit() as i64 + 5) {
            h.push(t, &many);
        }
        assert!(h.row_bytes() <= HISTORY_BYTES, "{}", h.row_bytes());
        assert_eq!(h.len(), h.limit());
    }
}
