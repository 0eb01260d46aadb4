//! `kind: route53_records`: the control-plane failover. UPSERTs the weighted record set
//! of every region (the target gets weight 100, the others 0) and waits for Route 53 to
//! report the change INSYNC, so the step ends when resolvers can see it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::{BoxFut, WeightedRecord};
use crate::actuator::step::{shell_line, IamStatement, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Route53Records>("route53_records");

/// How often the change status is read while waiting for INSYNC.
const INSYNC_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Records {
    pub zone_id: String,
    /// The record name (`name` is the step's own name).
    pub record_name: String,
    #[serde(default = "default_rtype", rename = "type")]
    pub record_type: String,
    #[serde(default = "default_ttl")]
    pub ttl: i64,
    /// Region → record value; the target gets weight 100, the others 0.
    pub records: BTreeMap<String, String>,
}

fn default_rtype() -> String {
    "A".into()
}

fn default_ttl() -> i64 {
    60
}

impl Route53Records {
    /// The record sets as they must be once traffic goes to `to`, sorted by region.
    fn weighted(&self, to: &str) -> Vec<WeightedRecord> {
        self.records
            .iter()
            .map(|(region, value)| WeightedRecord {
                set_identifier: region.clone(),
                value: value.clone(),
                weight: if region == to { 100 } else { 0 },
            })
            .collect()
    }
}

impl Step for Route53Records {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn manual(&self, inc: &Incident, _ctx: &ManualContext) -> Manual {
        let changes: Vec<serde_json::Value> = self
            .weighted(&inc.to)
            .iter()
            .map(|r| {
                serde_json::json!({"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": self.record_name, "Type": self.record_type,
                    "SetIdentifier": r.set_identifier, "Weight": r.weight, "TTL": self.ttl,
                    "ResourceRecords": [{"Value": r.value}]}})
            })
            .collect();
        let batch = serde_json::json!({
            "Comment": format!("sloguard incident {}: {} to {}", inc.id, inc.domain, inc.to),
            "Changes": changes,
        });
        let change = [
            "aws",
            "route53",
            "change-resource-record-sets",
            "--hosted-zone-id",
            &self.zone_id,
            "--change-batch",
            &batch.to_string(),
            "--query",
            "ChangeInfo.Id",
            "--output",
            "text",
        ];
        let fqdn = format!("{}.", self.record_name.trim_end_matches('.'));
        let list = [
            "aws",
            "route53",
            "list-resource-record-sets",
            "--hosted-zone-id",
            &self.zone_id,
            "--query",
            &format!(
                "ResourceRecordSets[?Name=='{fqdn}' && Type=='{}'].[SetIdentifier,Weight]",
                self.record_type
            ),
            "--output",
            "text",
        ];
        Manual {
            commands: vec![
                format!("CHANGE_ID=$({})", shell_line(&change)),
                format!(
                    "{} \"$CHANGE_ID\"",
                    shell_line(&[
                        "aws",
                        "route53",
                        "wait",
                        "resource-record-sets-changed",
                        "--id"
                    ])
                ),
            ],
            verify: vec![shell_line(&list)],
            expect: format!(
                "{} weight 100, every other region 0; the wait returns once the change is INSYNC",
                inc.to
            ),
        }
    }

    fn validate(&self, at: &str, regions: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.zone_id.is_empty() {
            problems.push(format!("{at}.zone_id: missing hosted zone id"));
        } else if !self.zone_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            problems.push(format!(
                "{at}.zone_id: {:?} is not a hosted zone id",
                self.zone_id
            ));
        }
        // A DNS name: what Route 53 accepts, and nothing that changes the meaning of the
        // playbook's verify query.
        let dns = |c: char| c.is_ascii_alphanumeric() || "-._*".contains(c);
        if self.record_name.is_empty() || !self.record_name.chars().all(dns) {
            problems.push(format!(
                "{at}.record_name: {:?} is not a DNS name",
                self.record_name
            ));
        }
        for r in regions {
            if !self.records.contains_key(r) {
                problems.push(format!("{at}.records: no record value for region {r}"));
            }
        }
        problems
    }

    fn describe(&self, inc: &Incident) -> String {
        let weights: Vec<String> = self
            .weighted(&inc.to)
            .iter()
            .map(|r| format!("{}={}@{}", r.set_identifier, r.value, r.weight))
            .collect();
        format!(
            "route53:ChangeResourceRecordSets HostedZoneId={} UPSERT {} {} TTL={} weights [{}]; wait INSYNC",
            self.zone_id,
            self.record_name,
            self.record_type,
            self.ttl,
            weights.join(", ")
        )
    }

    fn verifiable(&self) -> bool {
        true
    }

    fn moves_traffic(&self) -> bool {
        true
    }

    fn is_done<'a>(
        &'a self,
        inc: &'a Incident,
        b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let mut current = api
                .weighted(&self.zone_id, &self.record_name, &self.record_type)
                .await?;
            current.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
            Ok(current == self.weighted(&inc.to))
        })
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let name = &self.record_name;
            let change = api
                .upsert_weighted(
                    &self.zone_id,
                    name,
                    &self.record_type,
                    self.ttl,
                    &self.weighted(&inc.to),
                )
                .await?;
            // The step's timeout bounds this wait.
            loop {
                if api.change_insync(&change).await? {
                    return Ok(format!(
                        "change {change} INSYNC: {name} weighted to {}",
                        inc.to
                    ));
                }
                tokio::time::sleep(INSYNC_POLL).await;
            }
        })
    }

    fn iam_statements(&self) -> Vec<IamStatement> {
        vec![
            IamStatement {
                sid_suffix: "",
                actions: vec![
                    "route53:ChangeResourceRecordSets",
                    "route53:ListResourceRecordSets",
                ],
                resources: vec![format!("arn:aws:route53:::hostedzone/{}", self.zone_id)],
            },
            // Change ids are not known in advance, so GetChange can't be narrowed.
            IamStatement {
                sid_suffix: "Change",
                actions: vec!["route53:GetChange"],
                resources: vec!["arn:aws:route53:::change/*".into()],
            },
        ]
    }

    fn needs_aws(&self) -> bool {
        true
    }
}
