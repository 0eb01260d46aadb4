//! Streams with their SLO's tiers: evaluate every tier of every stream and report alert
//! transitions (page/ticket fire and resolve), as the generated rules define them.

use super::layout::Layout;
use super::store::{Counts, Store, StreamId};
use crate::slo::Severity;

/// A tier resolved to store levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierModel {
    pub severity: Severity,
    pub long: usize,
    pub short: usize,
    /// Error-ratio threshold: factor × (1 − objective).
    pub threshold: f64,
}

/// What the core needs of an SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloModel {
    pub tiers: Vec<TierModel>,
    pub min_events: u64,
    /// Streams count good events (latency SLIs); bad = total − good.
    pub counts_good: bool,
    /// Error budget, 1 − objective.
    pub budget: f64,
}

/// A window's events, bad events already derived and clamped to the total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowEvents {
    pub bad: u64,
    pub total: u64,
}

impl WindowEvents {
    /// The error ratio, or None on no data (no events), which is not 0% errors.
    pub fn ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.bad as f64 / self.total as f64)
    }
}

/// An alert firing (`firing`) or resolving at an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub stream: StreamId,
    pub severity: Severity,
    pub firing: bool,
}

#[derive(Debug, Clone)]
pub struct Core {
    pub store: Store,
    slos: Vec<SloModel>,
    stream_slo: Vec<u32>,
    /// Bit t set: tier t of the stream's SLO holds.
    tier_bits: Vec<u32>,
    /// Bit 0 page firing, bit 1 ticket firing.
    alert_bits: Vec<u8>,
}

fn severity_bit(s: Severity) -> u8 {
    match s {
        Severity::Page => 1,
        Severity::Ticket => 2,
    }
}

impl Core {
    pub fn new(layout: Layout, lateness: i64) -> Self {
        Core {
            store: Store::new(layout, lateness),
            slos: Vec::new(),
            stream_slo: Vec::new(),
            tier_bits: Vec::new(),
            alert_bits: Vec::new(),
        }
    }

    pub fn add_slo(&mut self, model: SloModel) -> usize {
        assert!(model.tiers.len() <= 32, "at most 32 tiers per SLO");
        self.slos.push(model);
        self.slos.len() - 1
    }

    pub fn slo(&self, idx: usize) -> &SloModel {
        &self.slos[idx]
    }

    /// Reserves room for `additional` more streams exactly.
    pub fn reserve(&mut self, additional: usize) {
        self.store.reserve(additional);
        self.stream_slo.reserve_exact(additional);
        self.tier_bits.reserve_exact(additional);
        self.alert_bits.reserve_exact(additional);
    }

    pub fn add_stream(&mut self, slo: usize) -> StreamId {
        self.stream_slo.push(slo as u32);
        self.tier_bits.push(0);
        self.alert_bits.push(0);
        self.store.add_stream()
    }

    pub fn stream_slo(&self, id: StreamId) -> usize {
        self.stream_slo[id.0 as usize] as usize
    }

    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Heap bytes per stream: rings, sums and the tier/alert state.
    pub fn bytes_per_stream(&self) -> usize {
        self.store.bytes_per_stream() + 4 + 4 + 1
    }

    fn events(model: &SloModel, c: Counts) -> WindowEvents {
        let bad = if model.counts_good {
            c.total - c.first.min(c.total)
        } else {
            c.first.min(c.total)
        };
        WindowEvents {
            bad,
            total: c.total,
        }
    }

    /// Every window of a stream, finest first.
    pub fn windows(&self, id: StreamId) -> Vec<WindowEvents> {
        let levels = self.store.levels();
        let mut raw = vec![Counts::default(); levels];
        self.store.window_sums(id, &mut raw);
        let model = &self.slos[self.stream_slo(id)];
        raw.into_iter().map(|c| Self::events(model, c)).collect()
    }

    /// The stream's tier and alert state bits (for a warm restart).
    pub fn bits(&self, id: StreamId) -> (u32, u8) {
        (
            self.tier_bits[id.0 as usize],
            self.alert_bits[id.0 as usize],
        )
    }

    /// Restores a stream's tier and alert state bits.
    pub fn set_bits(&mut self, id: StreamId, tier: u32, alert: u8) {
        self.tier_bits[id.0 as usize] = tier;
        self.alert_bits[id.0 as usize] = alert;
    }

    /// Whether tier `t` of the stream's SLO holds (as of the last evaluation).
    pub fn tier_holds(&self, id: StreamId, t: usize) -> bool {
        self.tier_bits[id.0 as usize] & (1 << t) != 0
    }

    pub fn alert_firing(&self, id: StreamId, severity: Severity) -> bool {
        self.alert_bits[id.0 as usize] & severity_bit(severity) != 0
    }

    /// Evaluates every tier of every stream at the store's clock and appends the alert
    /// transitions. A tier holds when both windows' error ratios exceed its threshold and
    /// the long window saw at least `min_events`; when either window has no data the tier
    /// keeps its previous state (no data never fires and never clears).
    pub fn evaluate(&mut self, out: &mut Vec<Transition>) {
        let Core {
            store,
            slos,
            stream_slo,
            tier_bits,
            alert_bits,
        } = self;
        store.scan(|s, raw| {
            let model = &slos[stream_slo[s] as usize];
            let mut bits = tier_bits[s];
            let mut alerts = 0u8;
            for (t, tier) in model.tiers.iter().enumerate() {
                let long = Self::events(model, raw[tier.long]);
                let short = Self::events(model, raw[tier.short]);
                if long.total > 0 && short.total > 0 {
                    let holds = long.total >= model.min_events
                        && long.bad as f64 > tier.threshold * long.total as f64
                        && short.bad as f64 > tier.threshold * short.total as f64;
                    if holds {
                        bits |= 1 << t;
                    } else {
                        bits &= !(1 << t);
                    }
                }
                if bits & (1 << t) != 0 {
                    alerts |= severity_bit(tier.severity);
                }
            }
            tier_bits[s] = bits;
            let before = alert_bits[s];
            if before != alerts {
                for sev in [Severity::Page, Severity::Ticket] {
                    let b = severity_bit(sev);
                    if before & b != alerts & b {
                        out.push(Transition {
                            stream: StreamId(s as u32),
                            severity: sev,
                            firing: alerts & b != 0,
                        });
                    }
                }
                alert_bits[s] = alerts;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Window;

    fn core() -> (Core, StreamId) {
        let w: Vec<Window> = ["5m", "1h"]
            .iter()
            .map(|x| Window::parse(x).unwrap())
            .collect();
        let mut c = Core::new(Layout::new(&w, 30).unwrap(), 300);
        let slo = c.add_slo(SloModel {
            tiers: vec![TierModel {
                severity: Severity::Page,
                long: 1,
                short: 0,
                threshold: 0.0144,
            }],
            min_events: 10,
            counts_good: false,
            budget: 0.001,
        });
        let id = c.add_stream(slo);
        (c, id)
    }

    #[test]
    fn fires_and_resolves() {
        let (mut c, id) = core();
        let mut out = Vec::new();
        let t0 = 1_000_000;
        for i in 0..120 {
            c.store.add(id, t0 + i * 30, 0, 100);
        }
        c.evaluate(&mut out);
        assert!(out.is_empty());
        let t1 = t0 + 120 * 30;
        c.store.add(id, t1, 100, 100);
        c.store.add(id, t1 + 30, 100, 100);
        c.evaluate(&mut out);
        assert_eq!(
            out,
            vec![Transition {
                stream: id,
                severity: Severity::Page,
                firing: true
            }]
        );
        out.clear();
        for i in 2..30 {
            c.store.add(id, t1 + i * 30, 0, 100);
        }
        c.evaluate(&mut out);
        assert_eq!(
            out,
            vec![Transition {
                stream: id,
                severity: Severity::Page,
                firing: false
            }]
        );
    }

    #[test]
    fn no_data_neither_fires_nor_clears() {
        let (mut c, id) = core();
        let mut out = Vec::new();
        let t0 = 1_000_000;
        c.store.add(id, t0, 50, 50);
        c.evaluate(&mut out);
        assert_eq!(out.len(), 1, "burning with enough events fires");
        out.clear();
        // The 5m window empties (no data): the page stays firing.
        c.store.advance(t0 + 400);
        c.evaluate(&mut out);
        assert!(out.is_empty() && c.alert_firing(id, Severity::Page));
    }

    #[test]
    fn min_events_gate() {
        let (mut c, id) = core();
        let mut out = Vec::new();
        c.store.add(id, 1_000_000, 5, 5);
        c.evaluate(&mut out);
        assert!(out.is_empty(), "5 events < min_events 10");
    }

    #[test]
    fn good_counting_streams() {
        let w = [Window::minutes(5)];
        let mut c = Core::new(Layout::new(&w, 30).unwrap(), 300);
        let slo = c.add_slo(SloModel {
            tiers: vec![],
            min_events: 0,
            counts_good: true,
            budget: 0.01,
        });
        let id = c.add_stream(slo);
        c.store.add(id, 100, 90, 100);
        assert_eq!(
            c.windows(id)[0],
            WindowEvents {
                bad: 10,
                total: 100
            }
        );
        c.store.add(id, 101, 20, 0);
        assert_eq!(
            c.windows(id)[0],
            WindowEvents { bad: 0, total: 100 },
            "good clamped to total"
        );
    }
}
