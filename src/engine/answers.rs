//! PURE: splitting query answers back to their SLOs: which regions answered whole, and
//! each SLO's (error, total) events per time and region.

use std::collections::BTreeMap;

use crate::query::QueryResult;

use super::batch;
use super::fetch::Fetched;
use super::queries::{SliQueries, SloQueries};
use super::StepEvents;

/// Whether a partial-data warning names the store of `region` (by its region label, as
/// Thanos prints a store's label sets: `region="eu-west-1"`).
fn names_region(warning: &str, label: &str, region: &str) -> bool {
    warning.contains(&format!("{label}=\"{region}\""))
        || warning.contains(&format!("{label}={region}"))
}

/// A time's summed value per region: a few regions, so a small vector rather than a map
/// (a backfill holds one per SLO side and point: at 10,000 SLOs a `BTreeMap` node each
/// was gigabytes).
type RegionValues = Vec<(String, f64)>;

/// Adds `v` to `region`'s value.
fn add_to(values: &mut RegionValues, region: &str, v: f64) {
    match values.iter_mut().find(|(r, _)| r == region) {
        Some((_, sum)) => *sum += v,
        None => values.push((region.to_string(), v)),
    }
}

/// Answers of one fetch, gathered per (SLO query, side) before they are assembled.
#[derive(Default)]
pub(super) struct Accumulated {
    /// (query, side) → time → region → summed value.
    pub(super) values: BTreeMap<(usize, batch::Side), BTreeMap<i64, RegionValues>>,
    pub(super) nonfinite: BTreeMap<usize, BTreeMap<String, String>>,
    pub(super) unreachable: BTreeMap<usize, BTreeMap<String, String>>,
    pub(super) failed: BTreeMap<usize, String>,
}

impl Accumulated {
    /// Splits one batch's answer back to its members.
    pub(super) fn add(&mut self, p: &batch::Planned, region_label: &str, r: &QueryResult) {
        for s in &r.series {
            let Some(region) = s.labels.get(region_label).filter(|r| !r.is_empty()) else {
                continue;
            };
            for (q, side) in p.members_of(&s.labels) {
                for (t, v) in &s.points {
                    if v.is_finite() {
                        let at = self.values.entry((q, side)).or_default();
                        add_to(at.entry(*t).or_default(), region, *v);
                    } else {
                        // A non-finite sample is never read as a count (NaN errors are
                        // not zero errors): the region's stream is degraded.
                        let what = match side {
                            batch::Side::Error => "error",
                            batch::Side::Total => "total",
                            batch::Side::Ratio => "error ratio",
                        };
                        self.nonfinite
                            .entry(q)
                            .or_default()
                            .entry(region.clone())
                            .or_insert_with(|| {
                                format!(
                                    "non-finite sample ({v}) in the {what} series at {}",
                                    crate::backtest::format_time(*t)
                                )
                            });
                    }
                }
            }
        }
    }

    /// One SLO's (error, total) events per time and region, as its own queries would
    /// have given them.
    pub(super) fn assemble(
        &mut self,
        q: usize,
        sq: &SloQueries,
        scale: f64,
    ) -> Result<Fetched, String> {
        if let Some(e) = self.failed.remove(&q) {
            return Err(e);
        }
        let nonfinite = self.nonfinite.remove(&q).unwrap_or_default();
        let mut out: BTreeMap<i64, StepEvents> = BTreeMap::new();
        match &sq.sli {
            SliQueries::Events { .. } => {
                let errors = self
                    .values
                    .remove(&(q, batch::Side::Error))
                    .unwrap_or_default();
                for (t, regions) in self
                    .values
                    .remove(&(q, batch::Side::Total))
                    .unwrap_or_default()
                {
                    for (region, total) in regions {
                        let err = errors
                            .get(&t)
                            .and_then(|m| m.iter().find(|(r, _)| *r == region))
                            .map(|(_, e)| e * scale);
                        out.entry(t)
                            .or_default()
                            .insert(region, (err, total * scale));
                    }
                }
            }
            SliQueries::Ratio { .. } => {
                for (t, regions) in self
                    .values
                    .remove(&(q, batch::Side::Ratio))
                    .unwrap_or_default()
                {
                    for (region, v) in regions {
                        // A ratio carries no counts: weight each step by its length.
                        out.entry(t)
                            .or_default()
                            .insert(region, (Some(v.clamp(0.0, 1.0) * scale), scale));
                    }
                }
            }
        }
        for m in out.values_mut() {
            m.retain(|region, _| !nonfinite.contains_key(region));
        }
        out.retain(|_, m| !m.is_empty());
        Ok(Fetched {
            points: out,
            unreachable: self.unreachable.remove(&q).unwrap_or_default(),
            nonfinite,
        })
    }
}

/// A query's answer with the regions whose own store did not answer: partial data whose
/// every warning names the store of a known region (`region="eu-west-1"`) makes that
/// region unreachable and the others whole; any other warning is partial data, on which
/// no decision rests (an error).
pub(super) fn whole_regions(
    r: QueryResult,
    known: &[String],
    region_label: &str,
) -> Result<(QueryResult, BTreeMap<String, String>), String> {
    let mut unreachable = r.unreachable.clone();
    if !r.degraded {
        return Ok((r, unreachable));
    }
    let named: Option<Vec<Vec<&String>>> = r
        .warnings
        .iter()
        .map(|w| {
            let hits: Vec<&String> = known
                .iter()
                .filter(|reg| names_region(w, region_label, reg))
                .collect();
            (!hits.is_empty()).then_some(hits)
        })
        .collect();
    match named {
        Some(lists) if !r.warnings.is_empty() => {
            for (w, regs) in r.warnings.iter().zip(lists) {
                for reg in regs {
                    unreachable.insert(reg.clone(), format!("store down: {w}"));
                }
            }
            let mut whole = r;
            whole.series.retain(|s| {
                !s.labels
                    .get(region_label)
                    .is_some_and(|v| unreachable.contains_key(v))
            });
            Ok((whole, unreachable))
        }
        _ => Err(format!("partial data: {}", r.warnings.join("; "))),
    }
}
