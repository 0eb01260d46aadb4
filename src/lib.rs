//! sloguard: SLO specs kept in Git become Prometheus rules (Sloth-compatible, per region),
//! proven by promtool, and the same SLOs are evaluated by a streaming burn-rate core.
//!
//! Module map (data flows one way, top to bottom):
//! - [`spec`]: the SLO spec model, loading from `slo-specs/*.yaml` and validation.
//! - [`promql`]: promql-parser helpers: parse SLI templates, pin them to the region label,
//!   render them per window, extract selectors.
//! - [`rulegen`]: pure generation of rule groups, promtool unit tests, PrometheusRule
//!   objects and the `explain` table.
//! - [`window`]: the Prometheus duration type shared by spec, rulegen and burn.
//! - [`files`]: the thin I/O shell for atomic writes and `--check` comparisons.
//! - [`burn`]: the pure streaming burn-rate core (windows, counters, tiers).
//! - [`openmetrics`]: the OpenMetrics text reader used by `backtest`.
//! - [`backtest`]: replays OpenMetrics counters through the core.

pub mod actuator;
pub mod backtest;
pub mod burn;
pub mod cli;
pub mod config;
pub mod engine;
pub mod failover;
pub mod files;
pub mod journal;
pub mod openmetrics;
pub mod policy;
pub mod promql;
pub mod query;
pub mod rulegen;
pub mod server;
pub mod sim;
pub mod slo;
pub mod window;
