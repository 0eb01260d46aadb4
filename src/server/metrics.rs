//! Routes: GET /metrics: the Prometheus text of the latest snapshot (burn rates, tiers,
//! alerts, data, regions and their evidence), the policy's active region per failover
//! domain, the journal's health, the webhook's counters and the long-lived telemetry,
//! one function per metric family.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{alertmanager, AppState, Telemetry, WebhookCounters};
use crate::snapshot::Snapshot;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WindowLabels {
    service: String,
    slo: String,
    region: String,
    window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    service: String,
    slo: String,
    region: String,
    severity: String,
    long_window: String,
    short_window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    service: String,
    slo: String,
    region: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    region: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DataLabels {
    service: String,
    slo: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OneRegion {
    region: String,
}

/// The outside evidence about each region (probes, silence, down / monitoring lost).
#[derive(Default)]
struct EvidenceGauges {
    probe_passing: Family<OneRegion, Gauge>,
    probe_failures: Family<OneRegion, Gauge>,
    failing_replicas: Family<OneRegion, Gauge>,
    silent_seconds: Family<OneRegion, Gauge>,
    down: Family<OneRegion, Gauge>,
    monitoring_lost: Family<OneRegion, Gauge>,
}

fn region_evidence(g: &mut EvidenceGauges, region: &str, e: &crate::snapshot::RegionEvidence) {
    let l = OneRegion {
        region: region.to_string(),
    };
    if e.probed {
        g.probe_passing
            .get_or_create(&l)
            .set(i64::from(e.probe_passing));
        g.probe_failures
            .get_or_create(&l)
            .set(i64::from(e.consecutive_failures));
        g.failing_replicas
            .get_or_create(&l)
            .set(i64::from(e.failing_replicas));
    }
    g.silent_seconds
        .get_or_create(&l)
        .set(e.silent_secs.unwrap_or(0));
    g.down.get_or_create(&l).set(i64::from(e.down));
    g.monitoring_lost
        .get_or_create(&l)
        .set(i64::from(e.monitoring_lost));
}

impl EvidenceGauges {
    fn register(self, reg: &mut Registry) {
        reg.register(
            "region_probe_passing",
            "1 while this replica's latest probe of the region passed",
            self.probe_passing,
        );
        reg.register(
            "region_probe_consecutive_failures",
            "Consecutive failed probes of the region seen by this replica",
            self.probe_failures,
        );
        reg.register(
            "region_probe_failing_replicas",
            "Replicas (this one included) whose last probes of the region all failed",
            self.failing_replicas,
        );
        reg.register(
            "region_silent_seconds",
            "Seconds the region's own SLIs have had no data or its source has been unreachable",
            self.silent_seconds,
        );
        reg.register(
            "region_down",
            "1 while the region is down: silent for regions.down_after and confirmed from outside",
            self.down,
        );
        reg.register(
            "region_monitoring_lost",
            "1 while the region's monitoring is lost: silent, with no outside confirmation (never acted on)",
            self.monitoring_lost,
        );
    }
}

/// A region's role in a failover domain (`active_region`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActiveLabels {
    domain: String,
    region: String,
    state: String,
}

/// The gauges of one snapshot and the policy, filled family by family, then registered
/// in the order the scrape lists them.
#[derive(Default)]
struct SnapshotGauges {
    error_ratio: Family<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    burn_rate: Family<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    events: Family<WindowLabels, Gauge>,
    tier: Family<TierLabels, Gauge>,
    alert: Family<StreamLabels, Gauge>,
    region: Family<RegionLabels, Gauge>,
    active: Family<ActiveLabels, Gauge>,
    data: Family<DataLabels, Gauge>,
    evidence: EvidenceGauges,
}

impl SnapshotGauges {
    /// The gauges of `snap` (none before the first evaluation) and of the policy's view
    /// of the active region per failover domain.
    fn of(snap: Option<&Snapshot>, policy: &[crate::policy::PolicyState]) -> Self {
        let mut g = SnapshotGauges::default();
        if let Some(s) = snap {
            g.windows(s);
            g.tiers(s);
            g.streams(s);
            // Without failover configured, the snapshot's roles are the active regions.
            g.regions(s, policy.is_empty());
        }
        g.policy(policy);
        g
    }

    /// `error_ratio`, `burn_rate` and `window_events` per SLO, region and window.
    fn windows(&self, s: &Snapshot) {
        for r in &s.final_rows {
            let l = WindowLabels {
                service: r.service.clone(),
                slo: r.slo.clone(),
                region: r.region.clone(),
                window: r.window.clone(),
            };
            if let Some(v) = r.error_ratio {
                self.error_ratio.get_or_create(&l).set(v);
            }
            if let Some(v) = r.burn_rate {
                self.burn_rate.get_or_create(&l).set(v);
            }
            self.events.get_or_create(&l).set(r.events as i64);
        }
    }

    /// `tier_holds` per SLO, region and tier.
    fn tiers(&self, s: &Snapshot) {
        for row in &s.tiers {
            self.tier
                .get_or_create(&TierLabels {
                    service: row.service.clone(),
                    slo: row.slo.clone(),
                    region: row.region.clone(),
                    severity: row.tier.severity.to_string(),
                    long_window: row.tier.long_window.clone(),
                    short_window: row.tier.short_window.clone(),
                })
                .set(i64::from(row.tier.holds));
        }
    }

    /// `alert_firing` (page and ticket) and `data_complete` per SLO stream.
    fn streams(&self, s: &Snapshot) {
        for st in &s.streams {
            for (sev, firing) in [("page", st.page_firing), ("ticket", st.ticket_firing)] {
                self.alert
                    .get_or_create(&StreamLabels {
                        service: st.service.clone(),
                        slo: st.slo.clone(),
                        region: st.region.clone(),
                        severity: sev.into(),
                    })
                    .set(i64::from(firing));
            }
            self.data
                .get_or_create(&DataLabels {
                    service: st.service.clone(),
                    slo: st.slo.clone(),
                    region: st.region.clone(),
                })
                .set(i64::from(st.data == crate::snapshot::DataStatus::Complete));
        }
    }

    /// `region_state` and the evidence per region; `active_region` with an empty domain
    /// from the snapshot's roles when `roles_are_active` (no policy).
    fn regions(&mut self, s: &Snapshot, roles_are_active: bool) {
        for r in &s.regions {
            if let Some(e) = &r.evidence {
                region_evidence(&mut self.evidence, &r.region, e);
            }
            for state in [
                "healthy",
                "burning",
                "degraded",
                "no_data",
                "down",
                "monitoring_lost",
            ] {
                self.region
                    .get_or_create(&RegionLabels {
                        region: r.region.clone(),
                        state: state.into(),
                    })
                    .set(i64::from(r.state == state));
            }
            if roles_are_active {
                self.active
                    .get_or_create(&ActiveLabels {
                        domain: String::new(),
                        region: r.region.clone(),
                        state: r.role.clone(),
                    })
                    .set(i64::from(r.role == "active"));
            }
        }
    }

    /// `active_region` per failover domain, as the policy holds it.
    fn policy(&self, policy: &[crate::policy::PolicyState]) {
        for p in policy {
            for (region, role) in std::iter::once((&p.active, "active"))
                .chain(p.standby.iter().map(|r| (r, "standby")))
            {
                self.active
                    .get_or_create(&ActiveLabels {
                        domain: p.domain.clone(),
                        region: region.clone(),
                        state: role.into(),
                    })
                    .set(i64::from(role == "active"));
            }
        }
    }

    fn register(self, reg: &mut Registry) {
        reg.register(
            "error_ratio",
            "Error ratio per SLO, region and window (absent on no data)",
            self.error_ratio,
        );
        reg.register(
            "burn_rate",
            "Burn rate (error ratio / error budget) per SLO, region and window",
            self.burn_rate,
        );
        reg.register(
            "window_events",
            "Events seen per SLO, region and window",
            self.events,
        );
        reg.register("tier_holds", "1 while a burn-rate tier holds", self.tier);
        reg.register(
            "alert_firing",
            "1 while the page or ticket alert of an SLO fires in a region",
            self.alert,
        );
        reg.register(
            "data_complete",
            "1 when the last query of an SLO returned complete data for the region",
            self.data,
        );
        reg.register(
            "region_state",
            "1 for the current state of each region",
            self.region,
        );
        self.evidence.register(reg);
        reg.register(
            "active_region",
            "1 for the active region of each failover domain, as the policy holds it",
            self.active,
        );
    }
}

/// `journal_ok`, only when failover (and so a journal) is configured.
fn register_journal(reg: &mut Registry, journal_ok: Option<bool>) {
    if let Some(ok) = journal_ok {
        let g = Gauge::<i64>::default();
        g.set(i64::from(ok));
        reg.register(
            "journal_ok",
            "1 while the failover journal is usable; 0 means automation is off",
            g,
        );
    }
}

/// The query and evaluation latencies and counts that live across scrapes.
fn register_telemetry(reg: &mut Registry, t: &Telemetry) {
    reg.register(
        "query_duration_seconds",
        "Latency of SLI queries",
        t.query_seconds.clone(),
    );
    reg.register(
        "evaluation_duration_seconds",
        "Latency of whole evaluations (queries included)",
        t.evaluation_seconds.clone(),
    );
    reg.register("evaluations", "Evaluations run", t.evaluations.clone());
    reg.register(
        "query_errors",
        "SLI queries that failed or returned partial data",
        t.query_errors.clone(),
    );
}

/// Renders the metrics of a snapshot, the policy's view of the active region per failover
/// domain (empty `domain` when failover is not configured), the journal's health and the
/// long-lived telemetry.
pub fn render_metrics(
    snap: Option<&Snapshot>,
    policy: &[crate::policy::PolicyState],
    journal_ok: Option<bool>,
    t: &Telemetry,
    w: &WebhookCounters,
) -> String {
    let gauges = SnapshotGauges::of(snap, policy);
    let mut reg = Registry::with_prefix("sloguard");
    register_journal(&mut reg, journal_ok);
    alertmanager::register_metrics(&mut reg, w);
    gauges.register(&mut reg);
    register_telemetry(&mut reg, t);
    let mut out = String::new();
    // Encoding into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}

pub(super) async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let snap = s.snapshot.read().ok().and_then(|g| g.clone());
    let policy = s.policy.read().map(|p| p.clone()).unwrap_or_default();
    let journal_ok = s
        .failover
        .load(Ordering::Acquire)
        .then(|| s.automation_off.read().is_ok_and(|a| a.is_none()));
    let mut body = render_metrics(snap.as_ref(), &policy, journal_ok, &s.telemetry, &s.webhook);
    if s.chaos.load(Ordering::Relaxed) {
        // Before the OpenMetrics terminator.
        let eof = body.rfind("# EOF").unwrap_or(body.len());
        body.insert_str(eof, "# HELP sloguard_chaos 1 while the engine runs a GameDay drill or the demo.\n# TYPE sloguard_chaos gauge\nsloguard_chaos 1\n");
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
