//! The `evaluation:` section: how often the engine evaluates, the rate window of its
//! steady-state queries, the backfill step, the buckets per window and the lateness a
//! sample may have; with the query settings of `source:` it makes the evaluation model.

use super::raw::RawEvaluation;
use super::source::Sources;
use super::{window_or, Checked, Ctx, EvaluationConfig};

/// SLO-query points one backfill round holds at most: each is its regions' events, a
/// few hundred bytes with the answers they came from, so 400,000 keeps a round near
/// 250 MB; up to 1,000 SLOs the last 6 hours still come in one round at a 1 m step.
pub const DEFAULT_BACKFILL_POINTS: u64 = 400_000;

/// Validates `evaluation:`; `sources` lends it the query settings of `source:`.
pub(super) fn validate(
    ctx: &Ctx,
    raw: &RawEvaluation,
    sources: &Sources,
) -> Checked<EvaluationConfig> {
    let f = &ctx.f;
    let mut problems = Vec::new();
    let mut dur = |field: &str, v: &Option<String>, default: &str| {
        window_or(&mut problems, f, field, v.as_deref(), default)
    };
    let interval = dur("evaluation.interval", &raw.interval, "30s");
    let lookback = dur("evaluation.lookback", &raw.lookback, "2m");
    let fine_step = dur("evaluation.fine_step", &raw.fine_step, "1m");
    let lateness = dur("evaluation.lateness", &raw.lateness, "5m");
    if lookback < interval {
        problems.push(format!(
            "{f}: evaluation.lookback: {lookback} must be at least the interval {interval}"
        ));
    }
    let buckets = raw.buckets.unwrap_or(crate::burn::DEFAULT_K);
    if buckets < 2 {
        problems.push(format!(
            "{f}: evaluation.buckets: {buckets} must be at least 2"
        ));
    }
    let backfill_points = raw.backfill_points.unwrap_or(DEFAULT_BACKFILL_POINTS);
    if backfill_points == 0 {
        problems.push(format!(
            "{f}: evaluation.backfill_points: must be at least 1"
        ));
    }
    Checked::new(
        EvaluationConfig {
            interval,
            lookback,
            fine_step,
            buckets,
            lateness,
            backfill_points: backfill_points.max(1),
            max_concurrency: sources.max_concurrency,
            batch: sources.batch,
            records: sources.records,
            query_timeout: sources.query_timeout,
        },
        problems,
    )
}
