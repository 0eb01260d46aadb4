//! What the engine asks the source for each SLO: its SLI templates by side, their batch
//! shapes, and where its answers go in the core.

use crate::promql::SliTemplate;
use crate::slo::{RegionalSli, Service, Slo};

use super::batch;

#[derive(Debug, Clone)]
pub(super) enum SliQueries {
    Events {
        error: SliTemplate,
        total: SliTemplate,
    },
    Ratio {
        error_ratio: SliTemplate,
    },
}

#[derive(Debug, Clone)]
pub(super) struct SloQueries {
    /// How each of its templates joins a batch (None: it is asked on its own).
    pub(super) shapes: Vec<Option<batch::Batchable>>,
    pub(super) slo: usize,
    pub(super) service: String,
    pub(super) name: String,
    pub(super) region_label: String,
    pub(super) sli: SliQueries,
    /// `vantage: external`: measured from outside the region, so it is not one of the
    /// region's own SLIs (whose silence may mean the region is gone).
    pub(super) external: bool,
}

impl SloQueries {
    /// The queries of `slo` (of `service`), whose streams are SLO `idx` of the core.
    pub(super) fn new(service: &Service, slo: &Slo, idx: usize) -> Self {
        let sli = match &slo.regional {
            RegionalSli::Events { error, total } => SliQueries::Events {
                error: error.clone(),
                total: total.clone(),
            },
            RegionalSli::Ratio { error_ratio } => SliQueries::Ratio {
                error_ratio: error_ratio.clone(),
            },
        };
        let mut sq = SloQueries {
            shapes: Vec::new(),
            slo: idx,
            service: service.name.clone(),
            name: slo.name.clone(),
            region_label: service.region_label.clone(),
            sli,
            external: slo.vantage == crate::slo::Vantage::External,
        };
        sq.shapes = sq
            .sides()
            .iter()
            .map(|(_, t)| batch::Batchable::of(t, &sq.region_label))
            .collect();
        sq
    }

    /// Its templates, by side.
    pub(super) fn sides(&self) -> Vec<(batch::Side, &SliTemplate)> {
        match &self.sli {
            SliQueries::Events { error, total } => {
                vec![(batch::Side::Error, error), (batch::Side::Total, total)]
            }
            SliQueries::Ratio { error_ratio } => vec![(batch::Side::Ratio, error_ratio)],
        }
    }

    /// Its templates with their batch shapes.
    pub(super) fn templates(&self) -> Vec<(batch::Side, &SliTemplate, Option<&batch::Batchable>)> {
        self.sides()
            .into_iter()
            .zip(&self.shapes)
            .map(|((side, t), shape)| (side, t, shape.as_ref()))
            .collect()
    }
}
