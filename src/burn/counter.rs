//! Cumulative counter samples to deltas, with Prometheus semantics: the first sample of a
//! series gives no delta, a drop is a reset (the delta is the new value), a series silent
//! for longer than the staleness period starts over, and NaN, ±Inf, negative values and
//! out-of-order samples are rejected. Fractional deltas carry over, so whole events are
//! never lost to rounding.

/// Why a sample gave no delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    NotFinite,
    Negative,
    OutOfOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// First sample (or first after staleness): no delta yet.
    First,
    Delta(u64),
    Rejected(Rejected),
}

/// The state of one counter series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CounterState {
    last: f64,
    last_ts: i64,
    carry: f64,
    seen: bool,
}

impl CounterState {
    pub fn observe(&mut self, ts: i64, value: f64, staleness: i64) -> Observation {
        if !value.is_finite() {
            return Observation::Rejected(Rejected::NotFinite);
        }
        if value < 0.0 {
            return Observation::Rejected(Rejected::Negative);
        }
        if !self.seen || ts - self.last_ts > staleness {
            *self = CounterState {
                last: value,
                last_ts: ts,
                carry: 0.0,
                seen: true,
            };
            return Observation::First;
        }
        if ts <= self.last_ts {
            return Observation::Rejected(Rejected::OutOfOrder);
        }
        let delta = if value < self.last {
            value
        } else {
            value - self.last
        };
        self.last = value;
        self.last_ts = ts;
        let d = delta + self.carry;
        let whole = d.floor();
        self.carry = d - whole;
        Observation::Delta(whole as u64)
    }

    /// Whether the series has been silent longer than `staleness` at `now`.
    pub fn is_stale(&self, now: i64, staleness: i64) -> bool {
        !self.seen || now - self.last_ts > staleness
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_counter_semantics() {
        let mut c = CounterState::default();
        assert_eq!(c.observe(0, 10.0, 300), Observation::First);
        assert_eq!(c.observe(30, 15.0, 300), Observation::Delta(5));
        assert_eq!(
            c.observe(60, 3.0, 300),
            Observation::Delta(3),
            "a drop is a reset"
        );
        assert_eq!(
            c.observe(60, 4.0, 300),
            Observation::Rejected(Rejected::OutOfOrder)
        );
        assert_eq!(
            c.observe(90, f64::NAN, 300),
            Observation::Rejected(Rejected::NotFinite)
        );
        assert_eq!(
            c.observe(90, f64::INFINITY, 300),
            Observation::Rejected(Rejected::NotFinite)
        );
        assert_eq!(
            c.observe(90, -1.0, 300),
            Observation::Rejected(Rejected::Negative)
        );
        assert_eq!(
            c.observe(1000, 50.0, 300),
            Observation::First,
            "stale series starts over"
        );
    }

    #[test]
    fn fractions_carry_over() {
        let mut c = CounterState::default();
        c.observe(0, 0.0, 300);
        let mut sum = 0;
        for i in 1..=10 {
            if let Observation::Delta(d) = c.observe(i, i as f64 * 0.5, 300) {
                sum += d;
            }
        }
        assert_eq!(sum, 5);
    }
}
