//! Calendar periods: an SLO whose error budget resets at the start of each UTC month,
//! ISO week (Monday 00:00) or day, instead of sliding over a rolling window.
//!
//! Pure arithmetic on unix seconds (no clock, no time-zone database). Only UTC: the
//! generated rules find the boundary with PromQL time functions, which Prometheus
//! evaluates in UTC, and a fixed offset computed at generate time would be wrong on one
//! side of every daylight-saving change. The spec, the OpenSLO importers and the engine
//! therefore refuse any other time zone rather than reset the budget at the wrong hour.
//!
//! Syntax (`sloguard/v1` `period:`): `1M` or `calendar_month`, `calendar_week`,
//! `calendar_day`. `1w` and `1d` stay *rolling* windows, as in every existing spec.

use std::fmt;

use crate::window::Window;

/// The unit of a calendar period (always one of it: one month, one week, one day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Calendar {
    Month,
    Week,
    Day,
}

/// Time zones that are UTC under another name.
const UTC_NAMES: &[&str] = &["UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z", "Etc/Zulu", "Zulu"];

/// Why a time zone is refused.
pub fn time_zone_problem(tz: &str) -> Option<String> {
    (!UTC_NAMES.iter().any(|u| u.eq_ignore_ascii_case(tz.trim()))).then(|| {
        format!(
            "time zone {tz:?} is not supported: calendar periods are UTC only (Prometheus' time \
             functions are UTC, and a fixed offset would move the reset by an hour across \
             daylight-saving changes)"
        )
    })
}

impl Calendar {
    /// The calendar period a spec's `period:` names, if it names one.
    pub fn parse(text: &str) -> Option<Calendar> {
        match text.trim() {
            "1M" | "calendar_month" => Some(Calendar::Month),
            "calendar_week" => Some(Calendar::Week),
            "calendar_day" => Some(Calendar::Day),
            _ => None,
        }
    }

    /// The canonical name: the `sloth_window` label, the period shown by the engine.
    pub fn name(self) -> &'static str {
        match self {
            Calendar::Month => "calendar_month",
            Calendar::Week => "calendar_week",
            Calendar::Day => "calendar_day",
        }
    }

    /// The longest the period can be (31d, 7d, 1d): the rolling window the engine keeps
    /// so a restart backfills the whole current period, and the bound on tier windows.
    pub fn longest(self) -> Window {
        match self {
            Calendar::Month => Window::days(31),
            Calendar::Week => Window::days(7),
            Calendar::Day => Window::days(1),
        }
    }

    /// The nominal length (30d for a month) that turns a tier's `budget_percent` into a
    /// burn factor, as the SRE Workbook counts a month.
    pub fn nominal(self) -> Window {
        match self {
            Calendar::Month => Window::days(30),
            other => other.longest(),
        }
    }

    /// The OpenSLO unit (`Month`, `Week`, `Day`).
    pub fn openslo_unit(self) -> &'static str {
        match self {
            Calendar::Month => "Month",
            Calendar::Week => "Week",
            Calendar::Day => "Day",
        }
    }

    /// The OpenSLO v1 duration shorthand (`1M`, `1w`, `1d`, with `isRolling: false`).
    pub fn openslo_duration(self) -> &'static str {
        match self {
            Calendar::Month => "1M",
            Calendar::Week => "1w",
            Calendar::Day => "1d",
        }
    }

    /// The OpenSLO `calendar.startTime` written on export: a boundary of the period.
    pub fn openslo_start(self) -> &'static str {
        match self {
            // 2024-01-01 is a Monday.
            Calendar::Month | Calendar::Week | Calendar::Day => "2024-01-01 00:00:00",
        }
    }

    /// The start (unix seconds) of the period holding `ts`.
    pub fn start(self, ts: i64) -> i64 {
        let day = ts.div_euclid(86_400);
        match self {
            Calendar::Day => day * 86_400,
            // 1970-01-05 (day 4) was a Monday.
            Calendar::Week => (day - (day - 4).rem_euclid(7)) * 86_400,
            Calendar::Month => {
                let (y, m, _) = civil(day);
                days_from_civil(y, m, 1) * 86_400
            }
        }
    }

    /// The start of the period after the one holding `ts`.
    pub fn next(self, ts: i64) -> i64 {
        let start = self.start(ts);
        match self {
            Calendar::Day => start + 86_400,
            Calendar::Week => start + 7 * 86_400,
            Calendar::Month => {
                let (y, m, _) = civil(start.div_euclid(86_400));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * 86_400
            }
        }
    }

    /// The PromQL index of the period holding `time() - 1` (a value whose 5m rate ends
    /// exactly at a boundary belongs to the period it closes), modulo 3: distinct for the
    /// up to three periods a [`Self::longest`] range can touch.
    pub fn promql_index(self) -> &'static str {
        match self {
            Calendar::Month => "((year(vector(time() - 1)) * 12 + month(vector(time() - 1))) % 3)",
            Calendar::Week => "(floor((vector(time() - 1) - 345600) / 604800) % 3)",
            Calendar::Day => "(floor((vector(time() - 1)) / 86400) % 3)",
        }
    }

    /// The resolution at which the rules sum a period: 1h for months and weeks, 5m for
    /// days (a period is a whole number of steps, aligned to UTC; a subquery of 31d at 1h
    /// is 744 steps, within promtool's 10,000-sample limit where 5m steps are not).
    pub fn step(self) -> Window {
        match self {
            Calendar::Month | Calendar::Week => Window::hours(1),
            Calendar::Day => Window::minutes(5),
        }
    }

    /// The PromQL length of the current period in days.
    pub fn promql_days(self) -> &'static str {
        match self {
            Calendar::Month => "days_in_month(vector(time() - 1))",
            Calendar::Week => "vector(7)",
            Calendar::Day => "vector(1)",
        }
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The problems of an OpenSLO calendar window of `calendar` (at `at`, e.g.
/// `spec.timeWindows[0]`): a time zone other than UTC, or a `startTime` that is not a
/// boundary of the UTC period (sloguard's periods start on the 1st, on Mondays, at
/// midnight).
pub fn openslo_problems(
    calendar: Calendar,
    start_time: Option<&str>,
    time_zone: Option<&str>,
    at: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = time_zone.and_then(time_zone_problem) {
        out.push(format!("{at}.calendar.timeZone: {p}"));
    }
    if let Some(s) = start_time {
        let t = s.trim().replacen(' ', "T", 1);
        let aligned = humantime::parse_rfc3339_weak(&t)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .map(|t| calendar.start(t) == t);
        match aligned {
            Some(true) => {}
            Some(false) => out.push(format!(
                "{at}.calendar.startTime: {s:?} is not the start of a UTC {}: sloguard's \
                 calendar periods start {}",
                calendar.openslo_unit().to_lowercase(),
                match calendar {
                    Calendar::Month => "on the 1st at 00:00",
                    Calendar::Week => "on Mondays at 00:00",
                    Calendar::Day => "at 00:00",
                }
            )),
            None => out.push(format!(
                "{at}.calendar.startTime: {s:?} is not a date and time (2024-01-01 00:00:00)"
            )),
        }
    }
    out
}

/// (year, month 1-12, day 1-31) of a day number since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number since 1970-01-01 of a date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The bad and total events since the start of the current calendar period of one
/// stream: reset when time (a sample's, or the evaluation's) enters a newer period.
/// Samples from before the current period's start are ignored (they belong to a period
/// whose budget is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodTally {
    pub calendar: Calendar,
    /// Start of the period counted (unix seconds); 0 before the first sample.
    pub start: i64,
    /// Events that count toward the numerator: errors, or good events for an SLI that
    /// counts good ones (the caller derives bad = total − good).
    pub first: u64,
    pub total: u64,
}

impl PeriodTally {
    pub fn new(calendar: Calendar) -> Self {
        PeriodTally {
            calendar,
            start: 0,
            first: 0,
            total: 0,
        }
    }

    /// Moves to the period holding `now` (resetting the counts) if it is newer.
    pub fn advance(&mut self, now: i64) {
        let start = self.calendar.start(now);
        if start > self.start {
            *self = PeriodTally {
                start,
                ..PeriodTally::new(self.calendar)
            };
        }
    }

    /// Adds a sample's events at `ts`.
    pub fn add(&mut self, ts: i64, first: u64, total: u64) {
        self.advance(ts);
        if ts >= self.start {
            self.first = self.first.saturating_add(first);
            self.total = self.total.saturating_add(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        humantime::parse_rfc3339(s)
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn month_boundaries_follow_the_calendar() {
        let m = Calendar::Month;
        assert_eq!(
            m.start(ts("2024-02-29T23:59:59Z")),
            ts("2024-02-01T00:00:00Z")
        );
        assert_eq!(
            m.next(ts("2024-02-29T23:59:59Z")),
            ts("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            m.start(ts("2024-03-01T00:00:00Z")),
            ts("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            m.next(ts("2023-12-31T12:00:00Z")),
            ts("2024-01-01T00:00:00Z")
        );
        assert_eq!(m.start(ts("1970-01-15T00:00:00Z")), 0);
        assert_eq!(
            m.next(ts("2100-02-10T00:00:00Z")),
            ts("2100-03-01T00:00:00Z")
        );
    }

    #[test]
    fn weeks_start_on_monday_and_days_at_midnight() {
        // 2024-01-01 was a Monday.
        let w = Calendar::Week;
        assert_eq!(
            w.start(ts("2024-01-07T23:00:00Z")),
            ts("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            w.start(ts("2024-01-08T00:00:00Z")),
            ts("2024-01-08T00:00:00Z")
        );
        assert_eq!(
            w.next(ts("2024-01-03T00:00:00Z")),
            ts("2024-01-08T00:00:00Z")
        );
        let d = Calendar::Day;
        assert_eq!(
            d.start(ts("2024-01-03T13:14:15Z")),
            ts("2024-01-03T00:00:00Z")
        );
        assert_eq!(
            d.next(ts("2024-01-03T13:14:15Z")),
            ts("2024-01-04T00:00:00Z")
        );
    }

    #[test]
    fn the_tally_resets_at_the_boundary_and_ignores_the_closed_period() {
        let mut t = PeriodTally::new(Calendar::Month);
        t.add(ts("2024-01-31T23:00:00Z"), 5, 100);
        assert_eq!((t.first, t.total), (5, 100));
        t.advance(ts("2024-02-01T00:00:00Z"));
        assert_eq!((t.first, t.total), (0, 0));
        t.add(ts("2024-01-31T23:59:00Z"), 7, 7);
        assert_eq!((t.first, t.total), (0, 0));
        t.add(ts("2024-02-01T00:01:00Z"), 1, 10);
        assert_eq!((t.first, t.total), (1, 10));
    }

    #[test]
    fn only_utc_is_accepted() {
        assert!(time_zone_problem("UTC").is_none());
        assert!(time_zone_problem("Etc/UTC").is_none());
        assert!(time_zone_problem("Europe/Berlin")
            .unwrap()
            .contains("UTC only"));
        assert_eq!(Calendar::parse("1M"), Some(Calendar::Month));
        assert_eq!(Calendar::parse("1w"), None);
    }

    #[test]
    fn openslo_start_times_must_be_boundaries() {
        let at = "spec.timeWindows[0]";
        assert!(openslo_problems(
            Calendar::Month,
            Some("2022-01-01 00:00:00"),
            Some("UTC"),
            at
        )
        .is_empty());
        assert!(openslo_problems(Calendar::Week, Some("2024-01-01 00:00:00"), None, at).is_empty());
        let p = openslo_problems(
            Calendar::Month,
            Some("2022-01-15 12:30:00"),
            Some("America/New_York"),
            at,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("America/New_York") && p[1].contains("on the 1st"),
            "{p:?}"
        );
        assert!(
            openslo_problems(Calendar::Day, Some("yesterday"), None, at)[0].contains("not a date")
        );
    }
}
