//! One query server per region (`source.regions`): every query goes to each region's
//! server, and each answers only for its own region. A series a regional server labels
//! with another region is dropped, one without the region label gets its server's region
//! (a plain Prometheus does not add its external labels to query results), and a server
//! that fails marks only its region unreachable, so losing the primary's Prometheus never
//! blinds the engine to the standby (fail-closed per region).

use std::collections::BTreeMap;

use super::{MetricsSource, QueryError, QueryResult};

/// A source per region behind one [`MetricsSource`].
pub struct PerRegion<S> {
    label: String,
    sources: Vec<(String, S)>,
}

impl<S: MetricsSource> PerRegion<S> {
    /// `label`: the region label of the specs; `sources`: region → its server.
    pub fn new(label: &str, sources: Vec<(String, S)>) -> Self {
        PerRegion {
            label: label.to_string(),
            sources,
        }
    }

    fn merge(&self, answers: Vec<Result<QueryResult, QueryError>>) -> QueryResult {
        let mut out = QueryResult::default();
        for ((region, _), answer) in self.sources.iter().zip(answers) {
            match answer {
                Ok(r) => {
                    out.degraded |= r.degraded;
                    out.warnings
                        .extend(r.warnings.into_iter().map(|w| format!("{region}: {w}")));
                    out.unreachable.extend(r.unreachable);
                    for mut s in r.series {
                        match s.labels.get(&self.label) {
                            Some(v) if v != region => continue,
                            Some(_) => {}
                            None => {
                                s.labels.insert(self.label.clone(), region.clone());
                            }
                        }
                        out.series.push(s);
                    }
                }
                Err(e) => {
                    out.unreachable.insert(region.clone(), e.to_string());
                }
            }
        }
        out
    }
}

impl<S: MetricsSource> MetricsSource for PerRegion<S> {
    fn batches(&self) -> bool {
        self.sources.iter().all(|(_, s)| s.batches())
    }

    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        let answers = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|(_, s)| s.instant(query, at, decision)),
        )
        .await;
        Ok(self.merge(answers))
    }

    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        let answers = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|(_, s)| s.range(query, start, end, step, decision)),
        )
        .await;
        Ok(self.merge(answers))
    }
}

/// The source a configuration names: one server, or one per region.
pub enum Configured<S> {
    One(S),
    PerRegion(PerRegion<S>),
}

impl<S: MetricsSource> MetricsSource for Configured<S> {
    fn batches(&self) -> bool {
        match self {
            Configured::One(s) => s.batches(),
            Configured::PerRegion(s) => s.batches(),
        }
    }

    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        match self {
            Configured::One(s) => s.instant(query, at, decision).await,
            Configured::PerRegion(s) => s.instant(query, at, decision).await,
        }
    }

    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        match self {
            Configured::One(s) => s.range(query, start, end, step, decision).await,
            Configured::PerRegion(s) => s.range(query, start, end, step, decision).await,
        }
    }
}

impl Configured<super::thanos::ThanosClient> {
    /// The Thanos/Prometheus clients of a configuration.
    pub fn from_config(cfg: &crate::config::Config) -> Result<Self, QueryError> {
        use super::thanos::ThanosClient;
        if cfg.region_sources.is_empty() {
            return Ok(Configured::One(ThanosClient::new(cfg.source.clone())?));
        }
        let sources = cfg
            .region_sources
            .iter()
            .map(|(r, s)| Ok((r.clone(), ThanosClient::new(s.clone())?)))
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Configured::PerRegion(PerRegion::new(
            &cfg.regions.label,
            sources,
        )))
    }

    /// Where the SLIs come from, for messages.
    pub fn describe(cfg: &crate::config::Config) -> String {
        if cfg.region_sources.is_empty() {
            cfg.source.url.clone()
        } else {
            cfg.region_sources
                .iter()
                .map(|(r, s)| format!("{r}: {}", s.url))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// Region → error, for a message.
pub fn describe_unreachable(u: &BTreeMap<String, String>) -> String {
    u.iter()
        .map(|(r, e)| format!("{r}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Series;

    struct Fixed(Result<QueryResult, QueryError>);

    impl MetricsSource for Fixed {
        async fn instant(&self, _: &str, _: i64, _: bool) -> Result<QueryResult, QueryError> {
            self.0.clone()
        }
        async fn range(
            &self,
            _: &str,
            _: i64,
            _: i64,
            _: i64,
            _: bool,
        ) -> Result<QueryResult, QueryError> {
            self.0.clone()
        }
    }

    fn series(labels: &[(&str, &str)], v: f64) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: vec![(100, v)],
        }
    }

    #[tokio::test]
    async fn each_server_answers_for_its_region_only_and_fails_alone() {
        let a = Fixed(Ok(QueryResult {
            series: vec![
                series(&[], 1.0),
                series(&[("region", "b")], 99.0),
                series(&[("region", "a")], 2.0),
            ],
            ..Default::default()
        }));
        let b = Fixed(Err(QueryError::Connect {
            url: "http://b".into(),
            message: "refused".into(),
        }));
        let src = PerRegion::new("region", vec![("a".into(), a), ("b".into(), b)]);
        let r = src.instant("q", 100, true).await.unwrap();
        let values: Vec<(String, f64)> = r
            .series
            .iter()
            .map(|s| (s.labels["region"].clone(), s.points[0].1))
            .collect();
        assert_eq!(values, vec![("a".into(), 1.0), ("a".into(), 2.0)]);
        assert!(!r.degraded);
        assert!(r.unreachable["b"].contains("refused"), "{r:?}");
    }
}
