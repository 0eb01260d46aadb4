//! sloguard: SLO specs kept in Git become Prometheus rules (Sloth-compatible, per region),
//! proven by promtool; the same SLOs are evaluated by a streaming burn-rate core fed by
//! Thanos, and a failover controller acts on them behind guards.
//!
//! Module map (data flows one way; a module imports only modules listed after it):
//! - [`app`]: the ONE per-interval tick (query → core → snapshot → decide → act →
//!   publish) and its loop, shared by `serve`, `gameday`, `demo` and `eval`; the clocks;
//!   drills (GameDays, demo) and peer votes. The only place below the binary that reads
//!   the system clock.
//! - [`server`]: the axum router (webhook, operator API, `/metrics`, dashboard, failover
//!   signal) in front of an app; it calls into [`app`], never the reverse.
//! - [`cli`]: clap definitions of every subcommand (the binary parses them).
//! - [`playbook`]: PURE incident playbooks (Markdown) from the config, specs and scenarios.
//! - [`report`]: post-incident reports from the journal (Markdown, HTML).
//! - [`sim`]: the simulated multi-region world (counter scenarios, GameDay scenarios and
//!   the [`sim::gameday::SimSource`] that answers queries from them).
//! - [`failover`]: drives the pure policy per domain, journals decisions, starts runbooks.
//! - [`actuator`]: the runbook executor; one file per step kind; AWS behind traits.
//! - [`journal`]: the durable SQLite record of decisions, incidents and step attempts.
//! - [`engine`]: the async driver over the core: backfill, step, replay, snapshot; its
//!   PURE parts: `batch` (SLOs of one shape share a query), `coverage` (the span each
//!   stream's data covers, the gaps to fetch), `persist` (the warm-restart file format).
//! - [`query`]: the [`query::MetricsSource`] trait, the Thanos/Prometheus client, the
//!   per-region fan-out and the HTTP region prober.
//! - [`probe`]: PURE region probes: per-replica probe history, peers' views, and the
//!   evidence that a region is down (or only its monitoring).
//! - [`snapshot`]: what the engine knows at one evaluation, as typed rows.
//! - [`backtest`]: replays OpenMetrics counters through the core.
//! - [`openmetrics`]: the OpenMetrics text reader used by `backtest`.
//! - [`policy`]: PURE failover state machine, `step(state, input, now)`; `replicas`:
//!   peers' views, the executor of a failover, follow, claim and takeover.
//! - [`calendar`]: PURE calendar periods (month, week, day; UTC) and their boundaries.
//! - [`burn`]: PURE streaming burn-rate core (windows, counters, tiers).
//! - [`rulegen`]: PURE generation of rule groups, promtool unit tests, PrometheusRule
//!   objects, Grafana dashboards and the `explain` table.
//! - [`files`]: the thin I/O shell for atomic writes and the `generate` plan.
//! - [`config`]: the engine configuration file, validated with every problem at once.
//! - [`slo`]: the SLO model: loading Sloth/sloguard specs, validation, normalisation.
//! - [`promql`]: promql-parser helpers: parse SLI templates, pin them to the region label.
//! - [`window`]: the Prometheus duration type shared by slo, rulegen and burn.
//! - [`text`]: escaping of outside text (labels, reasons, step output) for terminals.
//! - [`clock`]: the [`clock::Clock`] seam: time is an argument below [`app`].

pub mod actuator;
pub mod app;
pub mod backtest;
pub mod burn;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod convert;
pub mod engine;
pub mod failover;
pub mod files;
pub mod journal;
pub mod openmetrics;
pub mod playbook;
pub mod policy;
pub mod probe;
pub mod promql;
pub mod query;
pub mod report;
pub mod rulegen;
pub mod server;
pub mod sim;
pub mod slo;
pub mod snapshot;
pub mod text;
pub mod window;
