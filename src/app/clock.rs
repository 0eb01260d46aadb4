//! The two clocks the app runs on, and the only code below the binary allowed to read the
//! system clock (`clippy.toml` bans it everywhere else): [`WallClock`] for `serve` and
//! `eval`, [`SimClock`] for GameDays and the demo, where simulated time jumps from one
//! evaluation to the next (optionally paced in real time so a person can watch).
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// How the app's loop waits for the next scheduled evaluation.
pub trait Timer: Clock {
    /// Returns once the clock reads at least `t` (unix seconds).
    fn wait_until(&self, t: i64) -> impl std::future::Future<Output = ()> + Send;
    /// Simulated time stands still while work runs: a runbook started at `t` finishes
    /// at `t`, so the loop waits for it before moving time on.
    fn simulated(&self) -> bool;
}

/// The system clock.
#[derive(Debug)]
pub struct WallClock {
    origin: Instant,
}

impl WallClock {
    pub fn new() -> Arc<Self> {
        Arc::new(WallClock {
            origin: Instant::now(),
        })
    }
}

impl Clock for WallClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

impl Timer for WallClock {
    async fn wait_until(&self, t: i64) {
        let wait = t - self.now();
        if wait > 0 {
            tokio::time::sleep(Duration::from_secs(wait as u64)).await;
        }
    }
    fn simulated(&self) -> bool {
        false
    }
}

/// Simulated time: it moves only when the loop waits, straight to the awaited time,
/// after `pace` of real time (none: as fast as the work allows).
#[derive(Debug)]
pub struct SimClock {
    now: AtomicI64,
    pace: Option<Duration>,
    origin: Instant,
    /// The simulated time being waited for and the real instant it arrives: a wait
    /// dropped and started again for the same time (the loop serving a webhook or an
    /// operator call meanwhile) keeps its deadline instead of starting `pace` over.
    waiting: std::sync::Mutex<Option<(i64, tokio::time::Instant)>>,
}

impl SimClock {
    pub fn new(start: i64, pace: Option<Duration>) -> Arc<Self> {
        Arc::new(SimClock {
            now: AtomicI64::new(start),
            pace,
            origin: Instant::now(),
            waiting: std::sync::Mutex::new(None),
        })
    }
}

impl Clock for SimClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::Acquire)
    }
    /// Real elapsed time: latency figures of a drill are the real cost of its work.
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

impl Timer for SimClock {
    async fn wait_until(&self, t: i64) {
        if let Some(p) = self.pace {
            let deadline = match self.waiting.lock() {
                Ok(mut w) => match *w {
                    Some((wt, d)) if wt == t => d,
                    _ => {
                        let d = tokio::time::Instant::now() + p;
                        *w = Some((t, d));
                        d
                    }
                },
                Err(_) => tokio::time::Instant::now() + p,
            };
            tokio::time::sleep_until(deadline).await;
        } else {
            // Let the HTTP server and other tasks run between simulated evaluations.
            tokio::task::yield_now().await;
        }
        self.now.fetch_max(t, Ordering::AcqRel);
    }
    fn simulated(&self) -> bool {
        true
    }
}

/// The wall clock's unix seconds, for the binary's defaults (`eval` without `--at`).
pub fn wall_now() -> i64 {
    WallClock::new().now()
}
