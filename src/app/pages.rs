//! Webhook pages (Alertmanager): coalesced while they queue, recorded as one notice per
//! domain for each batch, then answered by one re-evaluation that never feeds the
//! policy an evaluation (pages cannot count toward N).

use tokio::sync::mpsc;

use super::{App, Decision, OperatorCall, TickOutcome, Trigger};
use crate::policy::Input;
use crate::query::MetricsSource;

/// The most distinct webhook pages kept for the next evaluation (each page becomes a
/// part of one notice; beyond this the rest are dropped, the notice says how many).
const MAX_PENDING_PAGES: usize = 1000;

impl<S: MetricsSource> App<S> {
    /// Webhook pages: every domain records one notice for the batch (bounded, however
    /// many pages it holds), then the engine re-evaluates once. Pages never feed the
    /// policy an evaluation: they cannot count toward N.
    pub async fn triggers(&mut self, pages: &[Trigger]) -> TickOutcome {
        self.triggers_serving(pages, None).await
    }

    /// [`Self::triggers`], answering operator calls from `ops` while queries run.
    pub async fn triggers_serving(
        &mut self,
        pages: &[Trigger],
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        let decisions = self.page_notices(pages);
        let mut out = self.evaluate_serving(false, ops).await;
        let mut all = decisions;
        all.append(&mut out.decisions);
        out.decisions = all;
        out
    }

    /// Every domain records one notice for a batch of webhook pages (bounded, however
    /// many pages it holds); nothing is evaluated here.
    pub fn page_notices(&mut self, pages: &[Trigger]) -> Vec<Decision> {
        let at = self.clock.now();
        let mut decisions = Vec::new();
        if let Some(first) = pages.first() {
            tracing::info!(pages = pages.len(), service = %first.service, slo = %first.slo, region = %first.region, "Alertmanager pages: re-evaluating from the source");
            let mut regions: Vec<&str> = pages.iter().map(|t| t.region.as_str()).collect();
            regions.sort();
            regions.dedup();
            let more = if pages.len() > 1 {
                format!(" (+{} more)", pages.len() - 1)
            } else {
                String::new()
            };
            let input = Input::AlertTrigger {
                region: regions.join(", "),
                slo: format!("{}/{}{more}", first.service, first.slo),
            };
            if let Some(f) = self.failover.as_mut() {
                for di in 0..f.domains().len() {
                    let domain = f.domain_name(di).to_string();
                    decisions.extend(f.input(di, input.clone(), at).into_iter().map(|action| {
                        Decision {
                            at,
                            domain: domain.clone(),
                            action,
                        }
                    }));
                }
            }
        }
        decisions
    }
}

/// Coalesce: `batch` and the pages queued meanwhile on `triggers` join `pages`, each
/// page once (beyond [`MAX_PENDING_PAGES`] the queued ones are dropped).
pub(super) fn coalesce(
    pages: &mut Vec<Trigger>,
    batch: Vec<Trigger>,
    triggers: &mut mpsc::Receiver<Vec<Trigger>>,
) {
    for t in batch {
        if !pages.contains(&t) {
            pages.push(t);
        }
    }
    while let Ok(more) = triggers.try_recv() {
        for t in more {
            if !pages.contains(&t) && pages.len() < MAX_PENDING_PAGES {
                pages.push(t);
            }
        }
    }
}
