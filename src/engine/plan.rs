//! Which queries fetch which SLOs: the recorded event rates where the rules are loaded,
//! batches of same-shape templates otherwise (see [`batch`]), and the plan's counts.

use std::collections::BTreeMap;

use crate::promql::WINDOW_PLACEHOLDER;
use crate::query::MetricsSource;
use crate::snapshot::QueryPlan;

use super::queries::SliQueries;
use super::{batch, Engine};

impl<S: MetricsSource> Engine<S> {
    /// How the SLOs' templates are fetched: batched with others, or on their own.
    pub(super) fn compute_plan_stats(&self) -> QueryPlan {
        let (by_record, direct): (Vec<usize>, Vec<usize>) =
            (0..self.queries.len()).partition(|q| self.reads_record(*q));
        let records = self.records_plan(&by_record);
        let plans = self.plan(&direct);
        let mut out = QueryPlan {
            queries: plans.len() + records.len(),
            records_templates: 2 * by_record.len(),
            records_missing: self
                .records_missing
                .iter()
                .map(|q| format!("{}/{}", self.queries[*q].service, self.queries[*q].name))
                .collect(),
            ..QueryPlan::default()
        };
        for (_, p) in &plans {
            if p.members.len() > 1 {
                out.batched_templates += p.members.len();
            } else {
                out.single_templates += p.members.len();
            }
        }
        out
    }

    /// The batched queries that fetch SLO queries `qs` (see [`batch`]).
    pub(super) fn plan(&self, qs: &[usize]) -> Vec<(String, batch::Planned)> {
        let mut by_label: BTreeMap<&str, Vec<batch::Item<'_>>> = BTreeMap::new();
        for &q in qs {
            let sq = &self.queries[q];
            let items = by_label.entry(sq.region_label.as_str()).or_default();
            let batching = self.eval.batch && self.source.batches();
            for (side, template, shape) in sq.templates() {
                items.push(batch::Item {
                    query: q,
                    side,
                    template,
                    shape: shape.filter(|_| batching),
                });
            }
        }
        by_label
            .into_iter()
            .flat_map(|(label, items)| {
                batch::plan(&items, label)
                    .into_iter()
                    .map(move |p| (label.to_string(), p))
            })
            .collect()
    }

    /// Whether SLO query `q` reads its rates from the recording rule.
    pub(super) fn reads_record(&self, q: usize) -> bool {
        self.eval.records
            && self.source.batches()
            && matches!(self.queries[q].sli, SliQueries::Events { .. })
            && !self.records_missing.contains(&q)
    }

    /// One query per region label for the recorded event rates of `qs`, split back by
    /// `sloth_id` and `kind`.
    pub(super) fn records_plan(&self, qs: &[usize]) -> Vec<(String, batch::Planned)> {
        let mut by_label: BTreeMap<String, batch::Planned> = BTreeMap::new();
        for &q in qs {
            let sq = &self.queries[q];
            let id = format!("{}-{}", sq.service, sq.name);
            let p = by_label
                .entry(sq.region_label.clone())
                .or_insert_with(|| batch::Planned {
                    template: format!(
                        "avg_over_time({}[{WINDOW_PLACEHOLDER}])",
                        crate::rulegen::EVENTS_RECORD
                    ),
                    split: vec!["kind".into(), "sloth_id".into()],
                    members: Vec::new(),
                });
            p.members
                .push((q, batch::Side::Error, vec!["error".into(), id.clone()]));
            p.members
                .push((q, batch::Side::Total, vec!["total".into(), id]));
        }
        by_label.into_iter().collect()
    }
}
