//! A scenario's faults as windows in seconds from the start, checked once: what the
//! simulated source and probes consult to know what is injected when.

use super::{secs, Fault, GamedayError};

/// An error fault: (region or all, SLO or all, start, end, error ratio).
type ErrorFault = (Option<String>, Option<String>, i64, i64, f64);

/// Fault windows in seconds from the start.
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    pub(super) errors: Vec<ErrorFault>,
    pub(super) down: Vec<(i64, i64)>,
    pub(super) partial: Vec<(i64, i64)>,
    pub(super) no_data: Vec<(String, i64, i64)>,
    pub(super) region_down: Vec<(String, i64, i64)>,
    pub(super) preconditions: Vec<(String, i64, i64, bool)>,
}

impl Timeline {
    /// The scenario's faults in its order, each window checked (`faults[i].start`,
    /// `faults[i].duration`, `faults[i].error_ratio` name the field at fault).
    pub(super) fn from_faults(faults: &[Fault]) -> Result<Timeline, GamedayError> {
        let mut tl = Timeline {
            errors: vec![],
            down: vec![],
            partial: vec![],
            no_data: vec![],
            region_down: vec![],
            preconditions: vec![],
        };
        for (i, f) in faults.iter().enumerate() {
            let w = |s: &str, d: &str| -> Result<(i64, i64), GamedayError> {
                let s = secs(&format!("faults[{i}].start"), s)?;
                Ok((s, s + secs(&format!("faults[{i}].duration"), d)?))
            };
            match f {
                Fault::Errors {
                    region,
                    slo,
                    start,
                    duration,
                    error_ratio,
                } => {
                    let (s, e) = w(start, duration)?;
                    let r = ratio(format!("faults[{i}].error_ratio"), *error_ratio)?;
                    tl.errors.push((region.clone(), slo.clone(), s, e, r));
                }
                Fault::SourceDown { start, duration } => tl.down.push(w(start, duration)?),
                Fault::PartialData { start, duration } => tl.partial.push(w(start, duration)?),
                Fault::NoData {
                    region,
                    start,
                    duration,
                } => {
                    let (s, e) = w(start, duration)?;
                    tl.no_data.push((region.clone(), s, e));
                }
                Fault::RegionDown {
                    region,
                    start,
                    duration,
                } => {
                    let (s, e) = w(start, duration)?;
                    tl.region_down.push((region.clone(), s, e));
                }
                Fault::Precondition {
                    name,
                    start,
                    duration,
                    value,
                } => {
                    let (s, e) = w(start, duration)?;
                    tl.preconditions.push((name.clone(), s, e, *value));
                }
            }
        }
        Ok(tl)
    }

    /// Whether `region` is down at `rel` seconds from the start.
    pub(super) fn down_at(&self, region: &str, rel: i64) -> bool {
        self.region_down
            .iter()
            .any(|(r, s, e)| r == region && rel >= *s && rel < *e)
    }
}

/// Whether any of `windows` holds at `t`.
pub(super) fn active(windows: &[(i64, i64)], t: i64) -> bool {
    windows.iter().any(|(s, e)| t >= *s && t < *e)
}

/// `r` when it is a ratio (0 to 1), else an error naming `field`.
pub(super) fn ratio(field: String, r: f64) -> Result<f64, GamedayError> {
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(GamedayError::Scenario(format!(
            "{field}: {r} must be between 0 and 1"
        )))
    }
}
