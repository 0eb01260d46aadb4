//! The [`App`] itself and its one bootstrap from a configuration: the engine over a
//! source, and (when the purpose decides) the failover driver with its journal, step
//! backends and probes; plus the accessors the HTTP side and reports read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::actuator::{Backends, SignalBoard};
use crate::clock::Clock;
use crate::config::{Config, FailoverConfig};
use crate::engine::{Engine, EngineError};
use crate::failover::FailoverDriver;
use crate::journal::{Journal, JournalError};
use crate::policy::PolicyState;
use crate::probe::{ProbeFeed, ProbeTracker};
use crate::query::MetricsSource;
use crate::slo::Service;
use crate::snapshot::RegionEvidence;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What an app is built for.
#[derive(Clone)]
pub enum Purpose {
    /// `serve`: decide and act, journal in the configured file.
    Serve(StepBackends),
    /// A GameDay or the demo: decide on dry-run backends, journal in memory, tagged chaos.
    Drill,
    /// `eval`: evaluate only; no journal is opened and nothing is decided.
    Evaluate,
}

/// Where runbook steps act.
#[derive(Clone)]
pub enum StepBackends {
    /// Real clients from the configuration (AWS clients only when a step needs them).
    Configured,
    /// Record the exact call each step would make, act on nothing (GameDays, demo).
    DryRun,
    /// Given clients (tests: moto, fakes).
    Given(Backends),
}

/// The engine and the failover driver, stepped together.
pub struct App<S> {
    pub(super) engine: Engine<S>,
    pub(super) failover: Option<FailoverDriver>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) signals: Arc<SignalBoard>,
    pub(super) regions: Vec<String>,
    /// Where probe results come from (HTTP probes in `serve`, the simulated world in a
    /// drill); None when no region is probed.
    pub(super) probe_feed: Option<Arc<dyn ProbeFeed>>,
    pub(super) tracker: ProbeTracker,
    pub(super) evidence: BTreeMap<String, RegionEvidence>,
    /// Whole scheduled ticks (queries, core, decisions), µs.
    pub(super) tick_hist: hdrhistogram::Histogram<u64>,
    /// Where the core's windows persist for a warm restart (`<journal>.windows`; None:
    /// no journal configured, every start is cold).
    pub(super) windows_file: Option<std::path::PathBuf>,
    /// Scheduled evaluations since the windows were last saved.
    pub(super) unsaved: u32,
}

impl<S: MetricsSource> App<S> {
    /// The one bootstrap from a configuration: the engine over `source`, and (when the
    /// config has a failover section and the purpose decides) the driver with its
    /// journal and step backends.
    pub async fn from_config(
        cfg: &Config,
        services: &[Service],
        source: S,
        clock: Arc<dyn Clock>,
        purpose: Purpose,
    ) -> Result<Self, AppError> {
        let purpose_probes = matches!(purpose, Purpose::Serve(_));
        let windows_file = match (&purpose, &cfg.failover) {
            (Purpose::Serve(_), Some(fo)) => {
                let mut name = fo.journal.as_os_str().to_owned();
                name.push(".windows");
                Some(std::path::PathBuf::from(name))
            }
            _ => None,
        };
        let (steps, drill) = match purpose {
            Purpose::Serve(steps) => (Some(steps), false),
            Purpose::Drill => (Some(StepBackends::DryRun), true),
            Purpose::Evaluate => (None, false),
        };
        let engine = Engine::new(
            source,
            services,
            cfg.evaluation.clone(),
            cfg.regions.clone(),
            clock.clone(),
        )?;
        let signals: Arc<SignalBoard> = Arc::default();
        let record_only = drill || matches!(steps, Some(StepBackends::DryRun));
        let failover = match (&cfg.failover, steps) {
            (Some(fo), Some(steps)) => {
                let (journal, automation_off) = open_journal(fo, drill)?;
                let backends = step_backends(steps, fo, signals.clone()).await;
                let mut driver = FailoverDriver::new(
                    fo.clone(),
                    &cfg.regions,
                    journal,
                    backends,
                    clock.clone(),
                    drill,
                )?;
                driver.dry_run_steps = record_only;
                driver.automation_off = automation_off;
                Some(driver)
            }
            _ => None,
        };
        let probe_feed: Option<Arc<dyn ProbeFeed>> =
            match (&purpose_probes, cfg.regions.probes.is_empty()) {
                (true, false) => Some(Arc::new(crate::query::probe::HttpProber::start(
                    &cfg.regions.probes,
                    clock.clone(),
                ))),
                _ => None,
            };
        Ok(App {
            engine,
            failover,
            clock,
            signals,
            regions: cfg.regions.all(),
            probe_feed,
            tracker: ProbeTracker::new(
                cfg.regions.probes.keys().cloned(),
                cfg.regions.probe_failures,
            ),
            evidence: BTreeMap::new(),
            tick_hist: crate::engine::hist(),
            windows_file,
            unsaved: 0,
        })
    }

    /// Probe results from `feed` instead of HTTP probes (a drill's simulated world).
    pub fn with_probes(mut self, feed: Arc<dyn ProbeFeed>) -> Self {
        self.probe_feed = Some(feed);
        self
    }

    /// The failover signals this replica serves (its votes), for the HTTP side.
    pub fn signals(&self) -> Arc<SignalBoard> {
        self.signals.clone()
    }

    /// The journal, when failover is configured.
    pub fn journal(&self) -> Option<Arc<Mutex<Journal>>> {
        self.failover.as_ref().map(FailoverDriver::journal)
    }

    pub fn policy(&self) -> Vec<PolicyState> {
        self.failover
            .as_ref()
            .map(FailoverDriver::states)
            .unwrap_or_default()
    }

    pub fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine<S> {
        &mut self.engine
    }

    /// Why automation is off, if it is.
    pub fn automation_off(&self) -> Option<String> {
        self.failover
            .as_ref()
            .and_then(|f| f.automation_off.clone())
    }
}

/// The journal a failover driver writes, and why automation is off when it cannot be
/// opened (None: automation may act). A drill journals in memory.
fn open_journal(
    fo: &FailoverConfig,
    drill: bool,
) -> Result<(Journal, Option<String>), JournalError> {
    if drill {
        return Ok((Journal::in_memory()?, None));
    }
    // No journal, no automatic action: a journal that cannot be opened,
    // checked or written turns automation off (the server still starts,
    // evaluates, notifies and says why on /readyz and /metrics).
    match Journal::open(&fo.journal) {
        Ok(j) => Ok((j, None)),
        Err(e) => {
            tracing::error!(journal = %fo.journal.display(), error = %e, "the journal is unusable: automation is OFF until it is fixed and sloguard restarted");
            // What keeps a failover in place must survive even this: a
            // journal that can still be read restores the policy state
            // and the raised signals into the in-memory stand-in.
            let mut stand_in = Journal::in_memory()?;
            match Journal::open_read_only(&fo.journal).and_then(|ro| stand_in.import_state(&ro)) {
                Ok(()) => {
                    tracing::warn!(journal = %fo.journal.display(), "policy state and signals restored read-only")
                }
                Err(re) => {
                    tracing::error!(journal = %fo.journal.display(), error = %re, "cannot even read the journal: starting from the configuration")
                }
            }
            Ok((
                stand_in,
                Some(format!("journal {}: {e}", fo.journal.display())),
            ))
        }
    }
}

/// The backends runbook steps act on, all sharing this app's signal board.
async fn step_backends(
    steps: StepBackends,
    fo: &FailoverConfig,
    signals: Arc<SignalBoard>,
) -> Backends {
    match steps {
        StepBackends::Configured => configured_backends(fo, signals).await,
        StepBackends::DryRun => Backends {
            signals,
            ..Default::default()
        },
        StepBackends::Given(mut b) => {
            b.signals = signals;
            b
        }
    }
}

/// The AWS clients the configured runbooks need (none are created when no step uses AWS).
async fn configured_backends(fo: &FailoverConfig, signals: Arc<SignalBoard>) -> Backends {
    use crate::actuator::aws;
    let mut b = Backends {
        signals,
        ..Default::default()
    };
    if fo
        .domains
        .iter()
        .flat_map(|d| d.runbook.iter())
        .any(|s| s.needs_aws())
    {
        let conf = aws::sdk_config(&fo.aws_region).await;
        b.sns = Some(Arc::new(aws::SdkSns(aws_sdk_sns::Client::new(&conf))));
        b.route53 = Some(Arc::new(aws::SdkRoute53(aws_sdk_route53::Client::new(
            &conf,
        ))));
        b.aurora = Some(Arc::new(aws::SdkAurora(aws_sdk_rds::Client::new(&conf))));
    }
    b
}
