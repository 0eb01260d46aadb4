//! The app layer: the ONE per-interval tick (query → core → snapshot → decide → act →
//! publish) and the loop that runs it. `serve`, `gameday`, `demo` and `eval` all run this
//! code; they differ only in the [`MetricsSource`] (Thanos client or simulated world), the
//! clock (wall or simulated, see [`clock`]) and the step backends (real AWS clients, or
//! dry-run backends that record the exact call each step would make).
//!
//! Below this layer nothing reads the system clock, imports the server or this module.
//! Above it, the server and the binary call in: they build an [`App`] with
//! [`App::from_config`], hand [`run`] an [`Observer`] (the HTTP state, a GameDay report,
//! the demo's terminal timeline) and an [`Inbox`] of webhook triggers and operator calls.
//!
//! Where things are:
//! - `bootstrap`: the [`App`] and its one bootstrap (engine, journal, step backends,
//!   probes) from a configuration, and its accessors.
//! - `tick`: the one tick ([`App::evaluate`]): probes, queries, core, evidence, decisions.
//! - `startup`: start-up (resume, warm restart or backfill) and coverage-gap fetches.
//! - `warm_restart`: the core's windows saved beside the journal and restored.
//! - `operator`: operator calls, answered between passes or while queries run.
//! - `pages`: webhook pages: coalesced, noticed, answered by one re-evaluation.
//! - `runbooks`: finished runbooks fed back (live, settled in simulated time, drained).
//! - `serving`: the loop ([`run`]) on a [`Schedule`] until shutdown.
//! - `one_shot`: `eval` and `backtest --config`, the app run once without the loop.
//! - `inbox` and `outcome`: what the HTTP side sends in, what every pass publishes.
//! - [`drill`], [`peers`], [`clock`], [`signals`], [`logging`], [`operator_client`],
//!   [`route53`]: drills, other replicas, timers, and the binary's helpers.
//!
//! [`MetricsSource`]: crate::query::MetricsSource

pub mod clock;
pub mod drill;
pub mod logging;
pub mod operator_client;
pub mod peers;
pub mod route53;
pub mod signals;

mod bootstrap;
mod inbox;
mod one_shot;
mod operator;
mod outcome;
mod pages;
mod runbooks;
mod serving;
mod startup;
mod tick;
mod warm_restart;

pub use bootstrap::{App, AppError, Purpose, StepBackends};
pub use inbox::{inbox, Inbox, OperatorCall, Outbox, Trigger};
pub use one_shot::{evaluate_once, replay};
pub use outcome::{AlertChange, Decision, Observer, Observers, StepCall, TickOutcome};
pub use serving::{run, Schedule};
