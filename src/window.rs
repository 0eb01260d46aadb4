//! Owns [`Window`], a whole-second duration written the Prometheus way (`5m`, `1h`, `30d`).
//!
//! Windows name recording rules (`slo:sli_error:ratio_rate30d`) and label values
//! (`sloth_window="30d"`), so their text form is part of the Sloth-compatible contract:
//! the largest of d/h/m/s units is used, never weeks or years (Sloth writes `28d`, not `4w`).

use std::fmt;

/// A duration in whole seconds, always positive once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window(u64);

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("invalid duration {text:?}: {reason}")]
    Invalid { text: String, reason: String },
    #[error("duration {text:?} must be a positive whole number of seconds")]
    NotWholeSeconds { text: String },
}

impl Window {
    pub const fn from_secs(secs: u64) -> Self {
        Window(secs)
    }

    pub const fn minutes(m: u64) -> Self {
        Window(m * 60)
    }

    pub const fn hours(h: u64) -> Self {
        Window(h * 3600)
    }

    pub const fn days(d: u64) -> Self {
        Window(d * 86_400)
    }

    pub const fn secs(self) -> u64 {
        self.0
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }

    /// Parses a Prometheus duration (`1h30m`, `30d`, `2w`).
    pub fn parse(text: &str) -> Result<Self, WindowError> {
        let d = promql_parser::util::parse_duration(text.trim()).map_err(|reason| {
            WindowError::Invalid {
                text: text.to_string(),
                reason,
            }
        })?;
        if d.subsec_nanos() != 0 || d.as_secs() == 0 {
            return Err(WindowError::NotWholeSeconds {
                text: text.to_string(),
            });
        }
        Ok(Window(d.as_secs()))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return write!(f, "0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// Formats a duration in seconds for humans (`51.8s`, `8.6m`, `1h59.6m`), as the SRE
/// Workbook tables do.
pub fn human_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "never".to_string();
    }
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{:.1}m", secs / 60.0)
    } else {
        let tenths = (secs / 6.0).round() as u64;
        format!("{}h{:.1}m", tenths / 600, (tenths % 600) as f64 / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_sloth() {
        assert_eq!(Window::days(30).to_string(), "30d");
        assert_eq!(Window::days(28).to_string(), "28d");
        assert_eq!(Window::minutes(90).to_string(), "1h30m");
        assert_eq!(Window::minutes(5).to_string(), "5m");
    }

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(Window::parse("4w").unwrap(), Window::days(28));
        assert_eq!(Window::parse("1h30m").unwrap(), Window::minutes(90));
        assert!(Window::parse("abc").is_err());
        assert!(Window::parse("500ms").is_err());
        assert!(Window::parse("0s").is_err());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(51.84), "51.8s");
        assert_eq!(human_secs(518.4), "8.6m");
        assert_eq!(human_secs(7176.0), "1h59.6m");
        assert_eq!(human_secs(7197.0), "2h0.0m");
        assert_eq!(human_secs(f64::INFINITY), "never");
    }
}
