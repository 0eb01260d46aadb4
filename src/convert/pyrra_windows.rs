//! Pyrra's multi-window burn-rate alerts, as Pyrra computes them from an SLO's window.
//!
//! Pyrra scales four tiers, defined for a 28-day window, to the SLO's window `W`:
//!
//! | severity | factor | long     | short        | for          | (at 28d)        |
//! |----------|--------|----------|--------------|--------------|-----------------|
//! | critical | 14     | W / 672  | W / 8064     | W / 20160    | 1h, 5m, 2m      |
//! | critical | 7      | W / 112  | W / 1344     | W / 2688     | 6h, 30m, 15m    |
//! | warning  | 2      | W / 28   | W / 336      | W / 672      | 1d, 2h, 1h      |
//! | warning  | 1      | W / 7    | W / 112      | W / 224      | 4d, 6h, 3h      |
//!
//! Each division is Go's integer division of nanoseconds, then rounded to the nearest
//! minute with halves away from zero (Go's `Duration.Round`), so a 2w SLO pages at 14×
//! over 30m and 3m (150 s rounds up). Pyrra's `critical` is sloguard's page, `warning`
//! its ticket. A duration that rounds to zero is no `for:` (fires at once), and no
//! window at all: the SLO's window is too short for Pyrra's alerts.

use crate::slo::Severity;
use crate::window::Window;

/// One of Pyrra's alerts for a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyrraTier {
    pub severity: Severity,
    pub factor: f64,
    pub long: Window,
    pub short: Window,
    pub for_: Option<Window>,
}

/// Why Pyrra's tiers cannot be computed for a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("window {window} is too short for Pyrra's burn-rate alerts (a window rounds to 0 minutes)")]
pub struct TooShort {
    pub window: Window,
}

/// `window / divisor` rounded to whole minutes as Pyrra rounds it.
fn scaled_minutes(window: Window, divisor: u128) -> u64 {
    const MINUTE_NS: u128 = 60_000_000_000;
    let ns = u128::from(window.secs()) * 1_000_000_000 / divisor;
    let minutes = ns / MINUTE_NS + u128::from(ns % MINUTE_NS >= MINUTE_NS / 2);
    u64::try_from(minutes).unwrap_or(u64::MAX / 60)
}

/// Pyrra's four tiers for an SLO window, fastest first.
pub fn pyrra_tiers(window: Window) -> Result<Vec<PyrraTier>, TooShort> {
    // (severity, factor, long, short, for) divisors of the window.
    const TABLE: [(Severity, f64, u128, u128, u128); 4] = [
        (Severity::Page, 14.0, 28 * 24, 28 * 24 * 12, 28 * 24 * 30),
        (Severity::Page, 7.0, 28 * 4, 28 * 24 * 2, 28 * 24 * 4),
        (Severity::Ticket, 2.0, 28, 28 * 12, 28 * 24),
        (Severity::Ticket, 1.0, 7, 28 * 4, 28 * 8),
    ];
    TABLE
        .iter()
        .map(|&(severity, factor, long, short, for_)| {
            let m = |d| scaled_minutes(window, d);
            let (long, short, for_) = (m(long), m(short), m(for_));
            if long == 0 || short == 0 {
                return Err(TooShort { window });
            }
            Ok(PyrraTier {
                severity,
                factor,
                long: Window::minutes(long),
                short: Window::minutes(short),
                for_: (for_ > 0).then(|| Window::minutes(for_)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(w: Window) -> Vec<(String, String, String, f64)> {
        pyrra_tiers(w)
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t.long.to_string(),
                    t.short.to_string(),
                    t.for_.map(|f| f.to_string()).unwrap_or_default(),
                    t.factor,
                )
            })
            .collect()
    }

    #[test]
    fn pyrra_reference_windows() {
        let t =
            |l: &str, s: &str, f: &str, x: f64| (l.to_string(), s.to_string(), f.to_string(), x);
        // Pyrra's own comments: 1h/5m/2m, 6h/30m/15m, 1d/2h/1h, 4d/6h/3h at 28d.
        assert_eq!(
            text(Window::days(28)),
            vec![
                t("1h", "5m", "2m", 14.0),
                t("6h", "30m", "15m", 7.0),
                t("1d", "2h", "1h", 2.0),
                t("4d", "6h", "3h", 1.0)
            ]
        );
        // 2w: 150 s rounds half up to 3m.
        assert_eq!(text(Window::days(14))[0], t("30m", "3m", "1m", 14.0));
        // 1w: 30 s rounds half up to 1m, 75 s down to 1m; 1w / 112 = 1h30m.
        assert_eq!(text(Window::days(7))[0], t("15m", "1m", "1m", 14.0));
        assert_eq!(text(Window::days(7))[3], t("1d", "1h30m", "45m", 1.0));
        assert!(pyrra_tiers(Window::hours(1)).is_err());
    }
}
