//! `sloguard route53 plan|apply`: the set-up of the data-plane failover for a domain — one
//! inverted HTTP(S) health check per engine replica on its signal endpoint, a calculated
//! health check that needs a quorum of them, and the PRIMARY/SECONDARY failover records
//! (PRIMARY guarded by the calculated check). `plan` prints the calls; `apply` makes
//! them, reusing health checks it created before (matched by caller reference).

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use serde::Deserialize;

use super::route53_model::health_threshold;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Setup {
    pub zone_id: String,
    pub record_name: String,
    #[serde(default = "default_type", rename = "type")]
    pub record_type: String,
    #[serde(default = "default_ttl")]
    pub ttl: i64,
    /// Base URLs of every engine replica (`https://sloguard-1.example.com`).
    pub replicas: Vec<String>,
    /// Region → record value.
    pub records: std::collections::BTreeMap<String, String>,
}

fn default_type() -> String {
    "CNAME".into()
}
fn default_ttl() -> i64 {
    60
}

/// One replica check to create.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaCheck {
    pub caller_reference: String,
    pub https: bool,
    pub host: String,
    pub port: i32,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub replicas: Vec<ReplicaCheck>,
    pub calculated_reference: String,
    pub threshold: usize,
    pub primary: (String, String),
    pub secondary: (String, String),
}

/// The plan for a domain (pure).
pub fn plan(
    domain: &str,
    active: &str,
    standby: &str,
    quorum: usize,
    setup: &Route53Setup,
) -> Result<Plan, String> {
    let mut replicas = Vec::new();
    for (i, base) in setup.replicas.iter().enumerate() {
        let url = reqwest::Url::parse(base)
            .map_err(|e| format!("route53.replicas[{i}]: {base:?}: {e}"))?;
        let https = url.scheme() == "https";
        let host = url
            .host_str()
            .ok_or_else(|| format!("route53.replicas[{i}]: {base:?} has no host"))?
            .to_string();
        let port = i32::from(
            url.port_or_known_default()
                .unwrap_or(if https { 443 } else { 80 }),
        );
        let prefix = url.path().trim_end_matches('/');
        replicas.push(ReplicaCheck {
            caller_reference: format!("sloguard-{domain}-replica-{i}-{host}"),
            https,
            host,
            port,
            path: format!("{prefix}/v1/signal/{domain}/{standby}"),
        });
    }
    if replicas.is_empty() {
        return Err("route53.replicas: at least one replica is needed".into());
    }
    let value = |r: &str| {
        setup
            .records
            .get(r)
            .cloned()
            .ok_or_else(|| format!("route53.records: no value for region {r}"))
    };
    Ok(Plan {
        calculated_reference: format!("sloguard-{domain}-quorum"),
        threshold: health_threshold(replicas.len(), quorum),
        replicas,
        primary: (active.to_string(), value(active)?),
        secondary: (standby.to_string(), value(standby)?),
    })
}

/// The calls of a plan, as text.
pub fn render(p: &Plan, setup: &Route53Setup) -> String {
    let mut out = String::new();
    for r in &p.replicas {
        out += &format!(
            "route53:CreateHealthCheck CallerReference={} Type={} FullyQualifiedDomainName={} Port={} ResourcePath={} Inverted=true RequestInterval=10 FailureThreshold=2\n",
            r.caller_reference,
            if r.https { "HTTPS" } else { "HTTP" },
            r.host,
            r.port,
            r.path
        );
    }
    out += &format!("route53:CreateHealthCheck CallerReference={} Type=CALCULATED ChildHealthChecks=<the {} above> HealthThreshold={}\n", p.calculated_reference, p.replicas.len(), p.threshold);
    out += &format!(
        "route53:ChangeResourceRecordSets HostedZoneId={} UPSERT {} {} TTL={} PRIMARY SetIdentifier={} Value={} HealthCheckId=<calculated>; SECONDARY SetIdentifier={} Value={}\n",
        setup.zone_id, setup.record_name, setup.record_type, setup.ttl, p.primary.0, p.primary.1, p.secondary.0, p.secondary.1
    );
    out
}

fn err<E: std::error::Error + 'static>(e: aws_sdk_route53::error::SdkError<E>) -> String {
    format!("{}", aws_sdk_route53::error::DisplayErrorContext(e))
}

/// Makes the calls of a plan; returns (replica check ids, calculated check id).
pub async fn apply(
    client: &aws_sdk_route53::Client,
    p: &Plan,
    setup: &Route53Setup,
) -> Result<(Vec<String>, String), String> {
    let existing = client.list_health_checks().send().await.map_err(err)?;
    let find = |reference: &str| {
        existing
            .health_checks()
            .iter()
            .find(|h| h.caller_reference() == reference)
            .map(|h| h.id().to_string())
    };
    let mut ids = Vec::new();
    for r in &p.replicas {
        if let Some(id) = find(&r.caller_reference) {
            ids.push(id);
            continue;
        }
        let cfg = HealthCheckConfig::builder()
            .r#type(if r.https {
                HealthCheckType::Https
            } else {
                HealthCheckType::Http
            })
            .fully_qualified_domain_name(&r.host)
            .port(r.port)
            .resource_path(&r.path)
            .inverted(true)
            .request_interval(10)
            .failure_threshold(2)
            .build()
            .map_err(|e| e.to_string())?;
        let out = client
            .create_health_check()
            .caller_reference(&r.caller_reference)
            .health_check_config(cfg)
            .send()
            .await
            .map_err(err)?;
        ids.push(
            out.health_check()
                .map(|h| h.id().to_string())
                .unwrap_or_default(),
        );
    }
    let calculated = match find(&p.calculated_reference) {
        Some(id) => id,
        None => {
            let cfg = HealthCheckConfig::builder()
                .r#type(HealthCheckType::Calculated)
                .set_child_health_checks(Some(ids.clone()))
                .health_threshold(p.threshold as i32)
                .build()
                .map_err(|e| e.to_string())?;
            let out = client
                .create_health_check()
                .caller_reference(&p.calculated_reference)
                .health_check_config(cfg)
                .send()
                .await
                .map_err(err)?;
            out.health_check()
                .map(|h| h.id().to_string())
                .unwrap_or_default()
        }
    };
    let record = |id: &str,
                  value: &str,
                  failover: ResourceRecordSetFailover,
                  hc: Option<&str>|
     -> Result<Change, String> {
        let set = ResourceRecordSet::builder()
            .name(&setup.record_name)
            .r#type(RrType::from(setup.record_type.as_str()))
            .set_identifier(id)
            .failover(failover)
            .ttl(setup.ttl)
            .set_health_check_id(hc.map(str::to_string))
            .resource_records(
                ResourceRecord::builder()
                    .value(value)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(set)
            .build()
            .map_err(|e| e.to_string())
    };
    let batch = ChangeBatch::builder()
        .comment("sloguard route53 apply")
        .changes(record(
            &p.primary.0,
            &p.primary.1,
            ResourceRecordSetFailover::Primary,
            Some(&calculated),
        )?)
        .changes(record(
            &p.secondary.0,
            &p.secondary.1,
            ResourceRecordSetFailover::Secondary,
            None,
        )?)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .change_resource_record_sets()
        .hosted_zone_id(&setup.zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(err)?;
    Ok((ids, calculated))
}
