//! The AWS calls of the runbook, each behind a small trait (as vector does) so steps are
//! tested against moto (Route 53, SNS) or an in-process fake (Aurora switchover/failover,
//! which moto lacks). The SDK clients use rustls with ring, and honour
//! `AWS_ENDPOINT_URL` (moto in tests).

use std::future::Future;
use std::pin::Pin;

use aws_sdk_rds::types::FailoverStatus;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_sns::types::MessageAttributeValue;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Loads an SDK configuration for `region` with rustls+ring; endpoint and credentials
/// come from the standard environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, …).
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(http_client())
        .load()
        .await
}

/// The SDK's HTTP client: rustls with ring (no aws-lc C build).
pub fn http_client() -> aws_sdk_sns::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

pub trait SnsApi: Send + Sync {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
        attributes: &'a [(String, String)],
    ) -> BoxFut<'a, Result<String, String>>;
}

pub struct SdkSns(pub aws_sdk_sns::Client);

impl SnsApi for SdkSns {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
        attributes: &'a [(String, String)],
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let mut req = self
                .0
                .publish()
                .topic_arn(topic_arn)
                .subject(subject)
                .message(message);
            for (k, v) in attributes {
                let attr = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .map_err(|e| e.to_string())?;
                req = req.message_attributes(k, attr);
            }
            let out = req
                .send()
                .await
                .map_err(|e| format!("{}", aws_sdk_sns::error::DisplayErrorContext(e)))?;
            Ok(out.message_id().unwrap_or_default().to_string())
        })
    }
}

/// A weighted record set of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedRecord {
    pub set_identifier: String,
    pub value: String,
    pub weight: i64,
}

pub trait Route53Api: Send + Sync {
    /// Weighted records named `name` of `rtype` in the zone.
    fn weighted<'a>(
        &'a self,
        zone: &'a str,
        name: &'a str,
        rtype: &'a str,
    ) -> BoxFut<'a, Result<Vec<WeightedRecord>, String>>;
    /// UPSERTs the records; returns the change id.
    fn upsert_weighted<'a>(
        &'a self,
        zone: &'a str,
        name: &'a str,
        rtype: &'a str,
        ttl: i64,
        records: &'a [WeightedRecord],
    ) -> BoxFut<'a, Result<String, String>>;
    fn change_insync<'a>(&'a self, change_id: &'a str) -> BoxFut<'a, Result<bool, String>>;
    /// (inverted, version) of a health check.
    fn health_check<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<(bool, i64), String>>;
    fn set_inverted<'a>(
        &'a self,
        id: &'a str,
        inverted: bool,
        version: i64,
    ) -> BoxFut<'a, Result<(), String>>;
}

pub struct SdkRoute53(pub aws_sdk_route53::Client);

fn r53err<E: std::error::Error + 'static>(e: aws_sdk_route53::error::SdkError<E>) -> String {
    format!("{}", aws_sdk_route53::error::DisplayErrorContext(e))
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

impl Route53Api for SdkRoute53 {
    fn weighted<'a>(
        &'a self,
        zone: &'a str,
        name: &'a str,
        rtype: &'a str,
    ) -> BoxFut<'a, Result<Vec<WeightedRecord>, String>> {
        Box::pin(async move {
            let out = self
                .0
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .start_record_name(name)
                .start_record_type(RrType::from(rtype))
                .send()
                .await
                .map_err(r53err)?;
            Ok(out
                .resource_record_sets()
                .iter()
                .filter(|r| {
                    fqdn(r.name()) == fqdn(name)
                        && r.r#type().as_str() == rtype
                        && r.weight().is_some()
                })
                .map(|r| WeightedRecord {
                    set_identifier: r.set_identifier().unwrap_or_default().to_string(),
                    value: r
                        .resource_records()
                        .first()
                        .map(|v| v.value().to_string())
                        .unwrap_or_default(),
                    weight: r.weight().unwrap_or(0),
                })
                .collect())
        })
    }

    fn upsert_weighted<'a>(
        &'a self,
        zone: &'a str,
        name: &'a str,
        rtype: &'a str,
        ttl: i64,
        records: &'a [WeightedRecord],
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let mut batch = ChangeBatch::builder().comment("sloguard failover");
            for r in records {
                let set = ResourceRecordSet::builder()
                    .name(name)
                    .r#type(RrType::from(rtype))
                    .set_identifier(&r.set_identifier)
                    .weight(r.weight)
                    .ttl(ttl)
                    .resource_records(
                        ResourceRecord::builder()
                            .value(&r.value)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .build()
                    .map_err(|e| e.to_string())?;
                batch = batch.changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .map_err(|e| e.to_string())?,
                );
            }
            let out = self
                .0
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch.build().map_err(|e| e.to_string())?)
                .send()
                .await
                .map_err(r53err)?;
            Ok(out
                .change_info()
                .map(|c| c.id().to_string())
                .unwrap_or_default())
        })
    }

    fn change_insync<'a>(&'a self, change_id: &'a str) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move {
            let out = self
                .0
                .get_change()
                .id(change_id)
                .send()
                .await
                .map_err(r53err)?;
            Ok(out
                .change_info()
                .is_some_and(|c| c.status().as_str() == "INSYNC"))
        })
    }

    fn health_check<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<(bool, i64), String>> {
        Box::pin(async move {
            let out = self
                .0
                .get_health_check()
                .health_check_id(id)
                .send()
                .await
                .map_err(r53err)?;
            let hc = out
                .health_check()
                .ok_or("no health check in the response")?;
            let inverted = hc
                .health_check_config()
                .and_then(|c| c.inverted())
                .unwrap_or(false);
            Ok((inverted, hc.health_check_version()))
        })
    }

    fn set_inverted<'a>(
        &'a self,
        id: &'a str,
        inverted: bool,
        version: i64,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .update_health_check()
                .health_check_id(id)
                .inverted(inverted)
                .health_check_version(version)
                .send()
                .await
                .map_err(r53err)?;
            Ok(())
        })
    }
}

/// A member of an Aurora global database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalMember {
    pub cluster_arn: String,
    pub is_writer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalCluster {
    pub status: String,
    /// pending, failing-over, cancelling while a switchover/failover runs.
    pub failover_state: Option<String>,
    pub members: Vec<GlobalMember>,
}

pub trait AuroraApi: Send + Sync {
    fn describe<'a>(&'a self, global: &'a str) -> BoxFut<'a, Result<GlobalCluster, String>>;
    fn switchover<'a>(
        &'a self,
        global: &'a str,
        target_arn: &'a str,
    ) -> BoxFut<'a, Result<(), String>>;
    fn failover<'a>(
        &'a self,
        global: &'a str,
        target_arn: &'a str,
        allow_data_loss: bool,
    ) -> BoxFut<'a, Result<(), String>>;
}

pub struct SdkAurora(pub aws_sdk_rds::Client);

fn rdserr<E: std::error::Error + 'static>(e: aws_sdk_rds::error::SdkError<E>) -> String {
    format!("{}", aws_sdk_rds::error::DisplayErrorContext(e))
}

impl AuroraApi for SdkAurora {
    fn describe<'a>(&'a self, global: &'a str) -> BoxFut<'a, Result<GlobalCluster, String>> {
        Box::pin(async move {
            let out = self
                .0
                .describe_global_clusters()
                .global_cluster_identifier(global)
                .send()
                .await
                .map_err(rdserr)?;
            let g = out
                .global_clusters()
                .first()
                .ok_or_else(|| format!("global cluster {global} not found"))?;
            Ok(GlobalCluster {
                status: g.status().unwrap_or_default().to_string(),
                failover_state: g
                    .failover_state()
                    .and_then(|f| f.status())
                    .map(|s: &FailoverStatus| s.as_str().to_string()),
                members: g
                    .global_cluster_members()
                    .iter()
                    .map(|m| GlobalMember {
                        cluster_arn: m.db_cluster_arn().unwrap_or_default().to_string(),
                        is_writer: m.is_writer().unwrap_or(false),
                    })
                    .collect(),
            })
        })
    }

    fn switchover<'a>(
        &'a self,
        global: &'a str,
        target_arn: &'a str,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .switchover_global_cluster()
                .global_cluster_identifier(global)
                .target_db_cluster_identifier(target_arn)
                .send()
                .await
                .map_err(rdserr)?;
            Ok(())
        })
    }

    fn failover<'a>(
        &'a self,
        global: &'a str,
        target_arn: &'a str,
        allow_data_loss: bool,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .failover_global_cluster()
                .global_cluster_identifier(global)
                .target_db_cluster_identifier(target_arn)
                .allow_data_loss(allow_data_loss)
                .send()
                .await
                .map_err(rdserr)?;
            Ok(())
        })
    }
}

/// An in-process Aurora global database that follows AWS's documented transitions:
/// a switchover or failover sets `FailoverState` to pending, then failing-over, then the
/// writer flips and the state clears, one step per describe call.
#[derive(Default)]
pub struct FakeAurora {
    pub state: std::sync::Mutex<FakeAuroraState>,
}

#[derive(Debug, Default, Clone)]
pub struct FakeAuroraState {
    pub cluster: Option<GlobalCluster>,
    pub target: Option<String>,
    pub calls: Vec<String>,
}

impl FakeAurora {
    pub fn new(writer: &str, readers: &[&str]) -> Self {
        let mut members = vec![GlobalMember {
            cluster_arn: writer.to_string(),
            is_writer: true,
        }];
        members.extend(readers.iter().map(|r| GlobalMember {
            cluster_arn: r.to_string(),
            is_writer: false,
        }));
        FakeAurora {
            state: std::sync::Mutex::new(FakeAuroraState {
                cluster: Some(GlobalCluster {
                    status: "available".into(),
                    failover_state: None,
                    members,
                }),
                target: None,
                calls: Vec::new(),
            }),
        }
    }

    fn begin(&self, kind: &str, target: &str) -> Result<(), String> {
        let mut s = self.state.lock().map_err(|_| "poisoned".to_string())?;
        s.calls.push(format!("{kind} {target}"));
        let c = s.cluster.as_mut().ok_or("no global cluster")?;
        if c.failover_state.is_some() {
            return Err(
                "InvalidGlobalClusterStateFault: a switchover or failover is already in progress"
                    .into(),
            );
        }
        if !c.members.iter().any(|m| m.cluster_arn == target) {
            return Err(format!("DBClusterNotFoundFault: {target} is not a member"));
        }
        if c.members
            .iter()
            .any(|m| m.cluster_arn == target && m.is_writer)
        {
            return Err(format!(
                "InvalidDBClusterStateFault: {target} is already the writer"
            ));
        }
        c.failover_state = Some("pending".into());
        c.status = "failing-over".into();
        s.target = Some(target.to_string());
        Ok(())
    }
}

impl AuroraApi for FakeAurora {
    fn describe<'a>(&'a self, _global: &'a str) -> BoxFut<'a, Result<GlobalCluster, String>> {
        Box::pin(async move {
            let mut s = self.state.lock().map_err(|_| "poisoned".to_string())?;
            let target = s.target.clone();
            let c = s.cluster.as_mut().ok_or("no global cluster")?;
            let snapshot = c.clone();
            match c.failover_state.as_deref() {
                Some("pending") => c.failover_state = Some("failing-over".into()),
                Some("failing-over") => {
                    for m in &mut c.members {
                        m.is_writer = Some(&m.cluster_arn) == target.as_ref();
                    }
                    c.failover_state = None;
                    c.status = "available".into();
                }
                _ => {}
            }
            Ok(snapshot)
        })
    }

    fn switchover<'a>(
        &'a self,
        _global: &'a str,
        target_arn: &'a str,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move { self.begin("switchover", target_arn) })
    }

    fn failover<'a>(
        &'a self,
        _global: &'a str,
        target_arn: &'a str,
        allow_data_loss: bool,
    ) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            if !allow_data_loss {
                return Err("InvalidParameterCombination: failover of a healthy global cluster needs a switchover".into());
            }
            self.begin("failover", target_arn)
        })
    }
}
