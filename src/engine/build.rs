//! Building an engine from the services' SLOs (and the built-in probe SLI), and its
//! read-only accessors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::burn::streams::Streams;
use crate::clock::Clock;
use crate::config::{EvaluationConfig, RegionsConfig};
use crate::query::MetricsSource;
use crate::slo::Service;
use crate::snapshot::QueryPlan;

use super::queries::SloQueries;
use super::{coverage, hist, Engine, EngineError};

impl<S: MetricsSource> Engine<S> {
    pub fn new(
        source: S,
        services: &[Service],
        eval: EvaluationConfig,
        regions: RegionsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        if 6 * 3600 % eval.fine_step.secs() != 0 {
            return Err(EngineError::FineStep {
                step: eval.fine_step,
            });
        }
        let mut streams = Streams::new();
        let queries = add_slos(&mut streams, services, &eval)?;
        let probe_slo = if regions.probes.is_empty() {
            None
        } else {
            add_probe_slo(&mut streams, &regions.label, &eval)?
        };
        let query_of_slo = queries
            .iter()
            .enumerate()
            .map(|(i, q)| (q.slo, i))
            .collect();
        let mut engine = Engine {
            query_of_slo,
            source,
            clock,
            eval,
            regions,
            streams,
            queries,
            status: BTreeMap::new(),
            last_at: None,
            last_ok: Vec::new(),
            query_hist: hist(),
            eval_hist: hist(),
            probe_slo,
            silent_since: BTreeMap::new(),
            coverage: coverage::Coverage::default(),
            plan_stats: QueryPlan::default(),
            records_missing: BTreeSet::new(),
            restored: BTreeSet::new(),
            last_query_secs: Vec::new(),
            last_eval_secs: 0.0,
        };
        engine.plan_stats = engine.compute_plan_stats();
        Ok(engine)
    }

    /// Queries one steady evaluation sends per region source (batches included).
    pub fn queries_per_evaluation(&self) -> usize {
        self.plan_stats.queries
    }

    pub fn regions(&self) -> &RegionsConfig {
        &self.regions
    }

    pub fn streams(&self) -> &Streams {
        &self.streams
    }
}

/// Adds every SLO of `services` to the core; returns each one's queries.
fn add_slos(
    streams: &mut Streams,
    services: &[Service],
    eval: &EvaluationConfig,
) -> Result<Vec<SloQueries>, EngineError> {
    let mut queries = Vec::new();
    for service in services {
        for slo in &service.slos {
            let idx = streams.add_slo(
                service,
                slo,
                false,
                eval.buckets,
                eval.lateness.secs() as i64,
            )?;
            queries.push(SloQueries::new(service, slo, idx));
        }
    }
    Ok(queries)
}

/// Adds the built-in probe SLI (regions labelled `label`) to the core; returns its index.
fn add_probe_slo(
    streams: &mut Streams,
    label: &str,
    eval: &EvaluationConfig,
) -> Result<Option<usize>, EngineError> {
    let spec = crate::probe::probe_spec(label);
    let probe_services =
        crate::slo::parse_all(&[(std::path::PathBuf::from("built-in probes"), spec)])
            .map_err(|p| EngineError::ProbeSpec(format!("{p:?}")))?;
    let mut idx = None;
    for ps in &probe_services {
        for slo in &ps.slos {
            idx =
                Some(streams.add_slo(ps, slo, false, eval.buckets, eval.lateness.secs() as i64)?);
        }
    }
    Ok(idx)
}
