//! The simulated world's answers to region probes, from the scenario's `region_down`
//! faults, for the app's probe tracker in place of HTTP probes.

use std::collections::BTreeMap;

use super::timeline::Timeline;
use crate::config::Config;

/// The simulated world's answers to region probes: each probed region every probe
/// interval, failing while a `region_down` fault holds (never for `no_data`: the region
/// is fine, only its telemetry is lost).
pub struct SimProbes {
    start: i64,
    /// Region → probe interval (seconds).
    regions: BTreeMap<String, i64>,
    timeline: Timeline,
    taken_until: std::sync::Mutex<i64>,
}

impl SimProbes {
    /// The same probes from the drill's start (each app run takes them afresh).
    pub fn restarted(&self) -> SimProbes {
        SimProbes {
            start: self.start,
            regions: self.regions.clone(),
            timeline: self.timeline.clone(),
            taken_until: std::sync::Mutex::new(self.start),
        }
    }

    /// Probes of every region named under `regions.probes`, from `start`.
    pub(super) fn new(start: i64, config: &Config, timeline: Timeline) -> SimProbes {
        SimProbes {
            start,
            regions: config
                .regions
                .probes
                .iter()
                .map(|(r, p)| (r.clone(), p.interval.secs().max(1) as i64))
                .collect(),
            timeline,
            taken_until: std::sync::Mutex::new(start),
        }
    }
}

impl crate::probe::ProbeFeed for SimProbes {
    fn take(&self, until: i64) -> Vec<crate::probe::ProbeResult> {
        let Ok(mut from) = self.taken_until.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (region, every) in &self.regions {
            // Probes fire at start + k × interval; those in (from, until].
            let mut k = (*from - self.start).div_euclid(*every) + 1;
            loop {
                let t = self.start + k * every;
                if t > until {
                    break;
                }
                let down = self.timeline.down_at(region, t - self.start);
                out.push(crate::probe::ProbeResult {
                    region: region.clone(),
                    at: t,
                    ok: !down,
                    detail: if down {
                        "connection refused (GameDay: region down)".into()
                    } else {
                        String::new()
                    },
                });
                k += 1;
            }
        }
        *from = (*from).max(until);
        out
    }
}
