//! A scenario ready to run: [`Drill`] checks the scenario's numbers and builds the
//! simulated world (source and probes) for the engine configuration and specs.

use super::probes::SimProbes;
use super::source::SimSource;
use super::timeline::Timeline;
use super::{secs, GamedayError, Scenario};
use crate::config::Config;
use crate::slo::Service;

/// The longest scenario a drill accepts: longer would take minutes of wall time and
/// simulate past every window the engine keeps.
const MAX_DURATION: i64 = 400 * 86_400;

/// A scenario ready to run: its engine configuration and the simulated world that
/// answers the engine's queries.
pub struct Drill {
    pub name: String,
    /// Simulated unix seconds at the start.
    pub start: i64,
    pub duration: i64,
    pub config: Config,
    pub source: SimSource,
    /// Answers the probes of every region named under `regions.probes`.
    pub probes: std::sync::Arc<SimProbes>,
    /// Traffic regions in the file's order.
    pub regions: Vec<String>,
}

impl Drill {
    /// Checks the scenario's numbers and builds the simulated world for `services`.
    pub fn new(
        scenario: &Scenario,
        config: Config,
        services: &[Service],
        start: i64,
    ) -> Result<Drill, GamedayError> {
        let duration = checked_duration(scenario, &config)?;
        let tl = Timeline::from_faults(&scenario.faults)?;
        let regions = scenario.regions()?;
        let source = SimSource::build(scenario, &config, services, start, tl.clone())?;
        let probes = SimProbes::new(start, &config, tl);
        Ok(Drill {
            name: scenario.name.clone(),
            start,
            duration,
            source,
            probes: std::sync::Arc::new(probes),
            config,
            regions,
        })
    }

    /// Seconds between evaluations.
    pub fn step(&self) -> i64 {
        self.config.evaluation.interval.secs() as i64
    }
}

/// The scenario's duration in seconds, checked against the limit and the step (the
/// configured evaluation interval).
fn checked_duration(scenario: &Scenario, config: &Config) -> Result<i64, GamedayError> {
    let duration = secs("duration", &scenario.duration)?;
    let step = config.evaluation.interval.secs() as i64;
    if duration <= 0 || duration > MAX_DURATION {
        return Err(GamedayError::Scenario(format!(
            "duration: {} must be more than 0 and at most 400d",
            scenario.duration
        )));
    }
    if step <= 0 || step > duration {
        return Err(GamedayError::Scenario(format!(
            "step: {step}s must be more than 0 and at most the duration"
        )));
    }
    Ok(duration)
}
