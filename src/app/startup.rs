//! Start-up and catching up: resume unfinished runbooks, restore or backfill every
//! window up to now, and fetch coverage gaps between scheduled evaluations, answering
//! operator calls meanwhile. These passes publish a fresh snapshot but never decide.

use tokio::sync::mpsc;

use super::operator::with_operator;
use super::{App, OperatorCall, TickOutcome};
use crate::query::MetricsSource;

impl<S: MetricsSource> App<S> {
    /// Start-up: resume runbooks the journal shows unfinished, backfill every window up
    /// to now and evaluate once (no decision: the policy needs scheduled evaluations).
    pub async fn start(&mut self, progress: impl FnMut(usize, usize)) -> TickOutcome {
        self.start_serving(progress, None).await
    }

    /// [`Self::start`], answering operator calls from `ops` while the backfill runs.
    pub async fn start_serving(
        &mut self,
        mut progress: impl FnMut(usize, usize),
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        if let Some(f) = self.failover.as_mut() {
            f.resume();
        }
        let at = self.clock.now();
        self.restore_windows(at);
        let mut interleaved = Vec::new();
        {
            let Self {
                engine,
                failover,
                clock,
                ..
            } = self;
            with_operator(
                engine.backfill(at, &mut progress),
                failover,
                clock,
                ops,
                &mut interleaved,
            )
            .await;
        }
        self.engine.evaluate_now();
        let mut out = self.outcome(at, false);
        out.decisions = interleaved;
        out.snapshot = Some(self.snapshot());
        out
    }

    /// Fetches the coverage gaps due now (a failed start-up backfill, a span a region
    /// missed) between scheduled evaluations, answering operator calls meanwhile; the
    /// outcome carries a fresh snapshot but no decision.
    pub async fn fill_gaps_serving(
        &mut self,
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        let at = self.clock.now();
        let mut interleaved = Vec::new();
        {
            let Self {
                engine,
                failover,
                clock,
                ..
            } = self;
            with_operator(engine.fill_gaps(at), failover, clock, ops, &mut interleaved).await;
        }
        self.engine.evaluate_now();
        let mut out = self.outcome(at, false);
        out.decisions = interleaved;
        out.snapshot = Some(self.snapshot());
        out
    }
}
