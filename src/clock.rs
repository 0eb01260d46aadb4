//! The clock seam. Everything below the app layer takes time as an argument or reads it
//! through a [`Clock`] it was given, never from the system: a GameDay runs the same code
//! as `serve` in simulated time, and tests drive time by hand. The only implementations
//! that read the system clock live in `app::clock` (enforced by `clippy.toml`).

use std::time::Duration;

/// A source of time.
pub trait Clock: Send + Sync {
    /// Unix seconds: the time decisions, journal rows and queries are stamped with.
    fn now(&self) -> i64;
    /// Time since an arbitrary fixed origin, for measuring how long work took (query and
    /// evaluation latency). It never goes backwards.
    fn monotonic(&self) -> Duration;
}

/// A clock that stands still at a given time: for one-off work (`eval --at`, backtests)
/// and tests. Latencies measured with it read zero.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }
}
