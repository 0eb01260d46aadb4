//! GameDays: a scenario of simulated multi-region traffic and faults drives the real
//! engine (backfill, steady-state steps, streaming core), the real policy and the real
//! actuator (dry-run steps, journal tagged chaos) in simulated time, then checks the
//! scenario's expectations. [`SimSource`] answers the engine's queries from the scenario
//! and injects monitoring faults (source down, partial data, no data).
//!
//! Where things are:
//! - `scenario`: the scenario file's model and parsing ([`Scenario`], [`Fault`],
//!   [`Expect`]) and the duration syntax ([`secs`]).
//! - `engine_config`: [`Scenario::engine_config`], the drill's engine configuration
//!   (defaults, team config, the scenario's own), with `yaml_paths` to edit it.
//! - `timeline`: the faults as checked windows in seconds from the start.
//! - `source`: [`SimSource`], the simulated metrics the engine queries.
//! - `probes`: [`SimProbes`], the simulated region probes.
//! - `drill`: [`Drill`], a scenario checked and its simulated world built.

mod drill;
mod engine_config;
mod probes;
mod scenario;
mod source;
mod timeline;
mod yaml_paths;

pub use drill::Drill;
pub use engine_config::precondition_query;
pub use probes::SimProbes;
pub use scenario::{
    secs, Expect, ExpectFailover, ExpectNotices, Fault, GamedayError, Scenario, Traffic,
};
pub use source::SimSource;
