//! sloguard: SLO specs kept in Git become Prometheus rules (Sloth-compatible, per region),
//! proven by promtool; the same SLOs are evaluated by a streaming burn-rate core fed by
//! Thanos, and a failover controller acts on them behind guards.
//!
//! Module map (data flows one way; a module imports only modules listed after it). The
//! binary (`src/main.rs`) parses, sets up logging and dispatches to `src/commands/`, one
//! file per command family (specs, replay, serve, drills, incidents, playbook, aws,
//! operator; shared loading, output and progress bars in `commands/common.rs`).
//! - [`app`]: the ONE per-interval tick (query → core → snapshot → decide → act →
//!   publish) and its loop, shared by `serve`, `gameday`, `demo` and `eval`; the clocks;
//!   drills (GameDays, demo) and peer votes. The only place below the binary that reads
//!   the system clock. `bootstrap`, `tick`, `startup`, `serving`, `pages`, `operator`,
//!   `runbooks`, `warm_restart`, `one_shot`.
//! - [`server`]: the axum router in front of an app, by route family: `router()` is the
//!   table of contents; `status`, `metrics`, `alertmanager` (webhook), `operator`,
//!   `dashboard`, `signal`, with `state` (what handlers read) and `auth`; it calls into
//!   [`app`], never the reverse.
//! - [`cli`]: clap definitions of every subcommand and its `*Args` (the binary parses them).
//! - [`playbook`]: PURE incident playbooks (Markdown) from the config, specs and scenarios.
//! - [`report`]: post-incident reports from the journal (Markdown, HTML).
//! - [`sim`]: the simulated multi-region world (counter scenarios; `sim::gameday`: the
//!   scenario files, the engine config they make, and the [`sim::gameday::SimSource`]
//!   that answers queries from them).
//! - [`failover`]: drives the pure policy per domain, journals decisions, starts runbooks.
//! - [`actuator`]: the runbook executor; one file per step kind; AWS behind traits.
//! - [`journal`]: the durable SQLite record of decisions, incidents and step attempts.
//! - [`engine`]: the async driver over the core: build, plan, fetch, backfill, gaps,
//!   step, status, health, snapshot, replay, warm restart; its PURE parts: `batch` (SLOs of
//!   one shape share a query), `coverage` (the span each stream's data covers, the gaps to
//!   fetch), `persist` (the warm-restart file format), `answers`, `segments`.
//! - [`query`]: the [`query::MetricsSource`] trait, the Thanos/Prometheus client, the
//!   per-region fan-out and the HTTP region prober.
//! - [`probe`]: PURE region probes: per-replica probe history, peers' views, and the
//!   evidence that a region is down (or only its monitoring).
//! - [`snapshot`]: what the engine knows at one evaluation, as typed rows.
//! - [`backtest`]: replays OpenMetrics counters through the core.
//! - [`openmetrics`]: the OpenMetrics text reader used by `backtest`.
//! - [`policy`]: PURE failover state machine, `step(state, input, now)` (one match whose
//!   arms call `evaluation`, `operator`, `failback`, `outcome`; the guards in `guards`);
//!   `replicas`: peers' views, the executor of a failover, follow, claim and takeover.
//! - [`convert`]: `import` of OpenSLO v1 and Pyrra files, `export` to OpenSLO.
//! - [`calendar`]: PURE calendar periods (month, week, day; UTC) and their boundaries.
//! - [`burn`]: PURE streaming burn-rate core (windows, counters, tiers).
//! - [`rulegen`]: PURE generation of rule groups, promtool unit tests, PrometheusRule
//!   objects, Grafana dashboards and the `explain` table.
//! - [`files`]: the thin I/O shell for atomic writes and the `generate` plan.
//! - [`config`]: the engine configuration file in two stages: `raw` (serde) → one
//!   validating function per section (`source`, `evaluation`, `regions`, `server`,
//!   `failover`) → `model`; every problem at once.
//! - [`slo`]: the SLO specs: `load` (directories, merge), `document` (formats, unknown
//!   keys), `validate` and `normalise` (one SLO), `model` (the types).
//! - [`promql`]: promql-parser helpers: parse SLI templates, pin them to the region label.
//! - [`window`]: the Prometheus duration type shared by slo, rulegen and burn.
//! - [`text`]: escaping of outside text (labels, reasons, step output) for terminals.
//! - [`clock`]: the [`clock::Clock`] seam: time is an argument below [`app`].
//!
//! Where to add:
//! - **a subcommand**: its flags in `src/cli.rs` (a `Command` variant and its `*Args`),
//!   its work in a file of `src/commands/` (one arm in `commands/mod.rs`'s `run`).
//! - **an endpoint**: a handler in its route family's file under `src/server/` (or a new
//!   one), one line in `server/mod.rs`'s `router()`.
//! - **a config key**: its raw field in `src/config/raw.rs`, its validated field in
//!   `src/config/model.rs`, its check in the section's file (`src/config/<section>.rs`),
//!   and its line in `sloguard.example.yaml`.
//! - **an SLO spec format** (read from `slo-specs/`): a reader into `raw::RawSpec` beside
//!   `src/slo/openslo.rs`, dispatched in `src/slo/document.rs`'s `read_format`; a format
//!   only imported (`sloguard import`): a file in `src/convert/` beside `pyrra.rs`.
//! - **a runbook step kind**: a file in `src/actuator/steps/`.
//! - **a metric**: its family function in `src/server/metrics.rs`.
//!
//! Room sizes (issue 24): `python3 scripts/rooms.py` fails when a source file passes 800
//! lines or a function 150; `scripts/test.sh` runs it.

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
