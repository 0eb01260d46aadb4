//! What span of time the engine's data covers, per (SLO query, region) stream, and the
//! spans it has not seen yet (gaps) that must be fetched from the source before the
//! windows over them count. PURE bookkeeping: times are arguments, no I/O.
//!
//! Why: a window holds only what the engine ingested. After a failed backfill (the source
//! was down at start) every window of a stream, 30d included, may hold seconds of data
//! and still read as "complete": a tier deciding on it fires on any blip. So each stream
//! carries the start of the contiguous span its data covers, ending at the last
//! evaluation, and open gaps cut that span. A tier decides a failover only when its long
//! window is covered to [`COVERED_SHARE`]; a region whose start-up backfill is still open
//! is never a healthy target, and the engine is not ready until every start-up gap closed.
//!
//! Where gaps come from: the start-up backfill of an SLO failed (all regions), a region
//! was unreachable or sent non-finite samples during it (that region), a region came
//! back after being unreachable (the span it missed), or the whole source was silent for
//! longer than one steady query fills (the span before the fill). Each is retried with
//! exponential backoff capped at [`MAX_RETRY_SECS`].

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

/// Share of a tier's long window that must be covered before the tier may decide.
pub const COVERED_SHARE: f64 = 0.9;

/// The longest wait between two attempts to fill a gap.
pub const MAX_RETRY_SECS: i64 = 30;

/// A span the engine has not seen for some streams of one SLO query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub id: u64,
    /// Index of the SLO query (the engine's order).
    #[serde(skip)]
    pub query: usize,
    /// The regions the span is missing for (None: every region).
    pub regions: Option<BTreeSet<String>>,
    /// The span `(from, to]`, unix seconds.
    pub from: i64,
    pub to: i64,
    /// Part of the start-up backfill: the engine is not ready while it is open.
    pub initial: bool,
    pub attempts: u32,
    pub next_try: i64,
    pub last_error: Option<String>,
}

impl Gap {
    /// Whether the gap is missing data of `region`.
    pub fn covers_region(&self, region: &str) -> bool {
        self.regions.as_ref().is_none_or(|r| r.contains(region))
    }
}

/// Coverage of every stream and the open gaps.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Start of the span each (query, region) stream's data covers.
    from: HashMap<(usize, String), i64>,
    /// When each (query, region) stream last answered in full (data, or a valid no data).
    region_ok: HashMap<(usize, String), i64>,
    gaps: Vec<Gap>,
    next_id: u64,
}

/// Seconds to wait after `attempts` failed attempts.
fn backoff(attempts: u32) -> i64 {
    (1i64 << attempts.saturating_sub(1).min(5)).min(MAX_RETRY_SECS)
}

impl Coverage {
    /// The start-up backfill of `query` over `(from, to]` ended: every region in
    /// `regions` starts covered from `from`; `missing` (None: the whole query failed)
    /// names the regions whose span is a gap to fetch again.
    pub fn backfilled(
        &mut self,
        query: usize,
        regions: &[String],
        (from, to): (i64, i64),
        missing: Option<BTreeSet<String>>,
        error: Option<String>,
    ) {
        for r in regions {
            self.from.insert((query, r.clone()), from);
            self.region_ok.insert((query, r.clone()), to);
        }
        if missing.as_ref().is_some_and(BTreeSet::is_empty) {
            return;
        }
        self.push(query, missing, (from, to), true, to, error);
    }

    fn push(
        &mut self,
        query: usize,
        regions: Option<BTreeSet<String>>,
        (from, to): (i64, i64),
        initial: bool,
        now: i64,
        error: Option<String>,
    ) {
        if to <= from {
            return;
        }
        self.next_id += 1;
        self.gaps.push(Gap {
            id: self.next_id,
            query,
            regions,
            from,
            to,
            initial,
            attempts: u32::from(error.is_some()),
            next_try: now + if error.is_some() { backoff(1) } else { 0 },
            last_error: error,
        });
    }

    /// A start-up gap of `query` over `(from, to]` (None: every region), fetched again
    /// with backoff; `error` says why it is missing.
    pub fn start_gap(
        &mut self,
        query: usize,
        regions: Option<BTreeSet<String>>,
        (from, to): (i64, i64),
        error: String,
    ) {
        self.push(query, regions, (from, to), true, to, Some(error));
    }

    /// A steady query of `query` covering `(since, at]` answered in full for `region`.
    /// A region that missed earlier evaluations (unreachable, non-finite samples) gets
    /// the span it missed as a gap; a region seen for the first time is covered from
    /// `since`.
    pub fn region_answered(&mut self, query: usize, region: &str, since: i64, at: i64) {
        let key = (query, region.to_string());
        if let Some(&last) = self.region_ok.get(&key) {
            if last < since {
                self.push(
                    query,
                    Some(BTreeSet::from([region.to_string()])),
                    (last, since),
                    false,
                    at,
                    None,
                );
            }
        }
        self.region_ok.insert(key.clone(), at);
        self.from.entry(key).or_insert(since);
    }

    /// The source's data of `(query, region)` only starts at `t` (a Prometheus that lost
    /// its history, a region that joined late): nothing before `t` is covered, however
    /// far back the engine asked.
    pub fn data_from(&mut self, query: usize, region: &str, t: i64) {
        if let Some(from) = self.from.get_mut(&(query, region.to_string())) {
            *from = (*from).max(t);
        }
    }

    /// The source was silent for longer than one steady query fills: `(from, to]` is
    /// missing for every region of `query`.
    pub fn long_gap(&mut self, query: usize, from: i64, to: i64, now: i64) {
        self.push(query, None, (from, to), false, now, None);
    }

    /// Start of the contiguous span `(query, region)`'s data covers up to now (None:
    /// never covered). Open gaps of the stream cut it at their end.
    pub fn covered_since(&self, query: usize, region: &str) -> Option<i64> {
        let from = *self.from.get(&(query, region.to_string()))?;
        Some(
            self.gaps
                .iter()
                .filter(|g| g.query == query && g.covers_region(region))
                .map(|g| g.to)
                .fold(from, i64::max),
        )
    }

    /// Seconds of `(query, region)`'s history covered at `at`.
    pub fn covered_secs(&self, query: usize, region: &str, at: i64) -> Option<i64> {
        self.covered_since(query, region)
            .map(|from| (at - from).max(0))
    }

    /// Whether a window of `window_secs` ending at `at` is covered enough to decide.
    pub fn window_covered(&self, query: usize, region: &str, at: i64, window_secs: i64) -> bool {
        self.covered_secs(query, region, at)
            .is_some_and(|c| c as f64 >= COVERED_SHARE * window_secs as f64)
    }

    /// A stream's coverage as saved for a warm restart: (region, covered from, last
    /// answered) and the gaps of the query.
    pub fn export(&self, query: usize) -> (Vec<(String, i64, i64)>, Vec<Gap>) {
        let regions = self
            .from
            .iter()
            .filter(|((q, _), _)| *q == query)
            .map(|((_, r), from)| {
                let ok = self
                    .region_ok
                    .get(&(query, r.clone()))
                    .copied()
                    .unwrap_or(*from);
                (r.clone(), *from, ok)
            })
            .collect();
        let gaps = self
            .gaps
            .iter()
            .filter(|g| g.query == query)
            .cloned()
            .collect();
        (regions, gaps)
    }

    /// Puts a saved stream's coverage back (a warm restart); the span since `saved_at`
    /// is a start-up gap to fetch before the engine is ready.
    pub fn restore(
        &mut self,
        query: usize,
        regions: &[(String, i64, i64)],
        gaps: &[Gap],
        saved_at: i64,
        now: i64,
    ) {
        for (r, from, ok) in regions {
            self.from.insert((query, r.clone()), *from);
            self.region_ok.insert((query, r.clone()), (*ok).max(now));
        }
        for g in gaps {
            self.push(
                query,
                g.regions.clone(),
                (g.from, g.to),
                g.initial,
                now,
                None,
            );
        }
        self.push(query, None, (saved_at, now), true, now, None);
    }

    /// Every start-up gap is closed: each source has been backfilled once.
    pub fn ready(&self) -> bool {
        !self.gaps.iter().any(|g| g.initial)
    }

    /// No start-up gap of any query is open for `region`.
    pub fn region_ready(&self, region: &str) -> bool {
        !self
            .gaps
            .iter()
            .any(|g| g.initial && g.covers_region(region))
    }

    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// Gaps whose next attempt is due at `now`.
    pub fn due(&self, now: i64) -> Vec<Gap> {
        self.gaps
            .iter()
            .filter(|g| g.next_try <= now)
            .cloned()
            .collect()
    }

    /// When the next gap attempt is due.
    pub fn next_try(&self) -> Option<i64> {
        self.gaps.iter().map(|g| g.next_try).min()
    }

    /// Gap `id` was fetched; `still_missing` names regions the fetch still lacked.
    pub fn filled(&mut self, id: u64, still_missing: BTreeSet<String>, now: i64) {
        if still_missing.is_empty() {
            self.gaps.retain(|g| g.id != id);
            return;
        }
        if let Some(g) = self.gaps.iter_mut().find(|g| g.id == id) {
            g.regions = Some(still_missing);
            g.attempts += 1;
            g.next_try = now + backoff(g.attempts);
            g.last_error = Some("some regions did not answer in full".into());
        }
    }

    /// An attempt to fill gap `id` failed.
    pub fn failed(&mut self, id: u64, now: i64, error: String) {
        if let Some(g) = self.gaps.iter_mut().find(|g| g.id == id) {
            g.attempts += 1;
            g.next_try = now + backoff(g.attempts);
            g.last_error = Some(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn a_whole_backfill_covers_every_region_from_its_start() {
        let mut c = Coverage::default();
        c.backfilled(0, &regions(), (1000, 5000), Some(BTreeSet::new()), None);
        assert!(c.ready());
        assert_eq!(c.covered_since(0, "a"), Some(1000));
        assert_eq!(c.covered_secs(0, "b", 5000), Some(4000));
        assert!(c.window_covered(0, "a", 5000, 4000));
        assert!(!c.window_covered(0, "a", 5000, 4500));
    }

    #[test]
    fn a_failed_backfill_covers_only_what_comes_after_and_retries_with_capped_backoff() {
        let mut c = Coverage::default();
        c.backfilled(0, &regions(), (1000, 5000), None, Some("down".into()));
        assert!(!c.ready());
        assert!(!c.region_ready("a"));
        assert_eq!(c.covered_since(0, "a"), Some(5000));
        assert_eq!(c.next_try(), Some(5001));
        c.region_answered(0, "a", 5000, 5010);
        assert_eq!(c.covered_secs(0, "a", 5010), Some(10));
        assert!(!c.window_covered(0, "a", 5010, 3600));
        let id = c.gaps()[0].id;
        let mut waits = Vec::new();
        let mut now = 5001;
        for _ in 0..8 {
            c.failed(id, now, "down".into());
            let next = c.next_try().unwrap_or_default();
            waits.push(next - now);
            now = next;
        }
        assert_eq!(waits, vec![2, 4, 8, 16, 30, 30, 30, 30]);
        c.filled(id, BTreeSet::new(), now);
        assert!(c.ready());
        assert_eq!(c.covered_since(0, "a"), Some(1000));
    }

    #[test]
    fn an_unreachable_region_gets_its_own_gap_and_the_span_it_missed_later() {
        let mut c = Coverage::default();
        let missing = BTreeSet::from(["b".to_string()]);
        c.backfilled(
            0,
            &regions(),
            (1000, 5000),
            Some(missing),
            Some("b down".into()),
        );
        assert!(c.region_ready("a"));
        assert!(!c.region_ready("b"));
        assert_eq!(c.covered_since(0, "a"), Some(1000));
        assert_eq!(c.covered_since(0, "b"), Some(5000));
        // a answers every evaluation; b stays away until 5300.
        for at in [5010, 5020, 5030] {
            c.region_answered(0, "a", at - 10, at);
        }
        c.region_answered(0, "b", 5290, 5300);
        let later: Vec<&Gap> = c.gaps().iter().filter(|g| !g.initial).collect();
        assert_eq!(later.len(), 1);
        assert_eq!((later[0].from, later[0].to), (5000, 5290));
        assert_eq!(c.covered_since(0, "b"), Some(5290));
        assert_eq!(c.covered_since(0, "a"), Some(1000));
    }

    #[test]
    fn a_long_silence_cuts_every_region() {
        let mut c = Coverage::default();
        c.backfilled(0, &regions(), (0, 1000), Some(BTreeSet::new()), None);
        c.long_gap(0, 1000, 30_000, 51_600);
        assert_eq!(c.covered_since(0, "a"), Some(30_000));
        assert!(c.ready(), "a later gap does not make the engine unready");
        assert_eq!(c.due(51_600).len(), 1);
    }
}
