//! `kind: aurora_global`: makes the target region's cluster the writer of an Aurora
//! global database — a switchover (no data loss, needs a healthy primary) or a failover
//! (allows data loss, so it needs an operator approval unless the config waives it) —
//! then polls until AWS reports the target as the writer with no failover in progress.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{
    arn_like, arn_region, shell_line, IamStatement, Manual, ManualContext, Step,
};
use crate::actuator::{Backends, Incident};
use crate::window::Window;

pub const KIND: Kind = Kind::of::<AuroraGlobal>("aurora_global");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuroraMode {
    #[default]
    Switchover,
    Failover,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraGlobal {
    pub global_cluster: String,
    /// Region → DB cluster ARN of that region's member.
    pub clusters: BTreeMap<String, String>,
    #[serde(default)]
    pub mode: AuroraMode,
    #[serde(default)]
    pub region: Option<String>,
    /// A failover with data loss needs a human approval unless this is set.
    #[serde(default)]
    pub allow_data_loss_without_approval: bool,
    #[serde(default = "default_poll")]
    pub poll_interval: String,
}

fn default_poll() -> String {
    "5s".into()
}

impl AuroraGlobal {
    fn target(&self, inc: &Incident) -> Result<&String, String> {
        self.clusters
            .get(&inc.to)
            .ok_or_else(|| format!("no cluster for {}", inc.to))
    }

    fn action(&self) -> &'static str {
        match self.mode {
            AuroraMode::Switchover => "rds:SwitchoverGlobalCluster",
            AuroraMode::Failover => "rds:FailoverGlobalCluster",
        }
    }
}

impl Step for AuroraGlobal {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn manual(&self, inc: &Incident, ctx: &ManualContext) -> Manual {
        let target = self
            .target(inc)
            .cloned()
            .unwrap_or_else(|e| format!("<{e}>"));
        let region = self
            .region
            .clone()
            .or_else(|| arn_region(&target))
            .unwrap_or_else(|| ctx.aws_region.clone());
        let mut act = vec![
            "aws".to_string(),
            "rds".into(),
            match self.mode {
                AuroraMode::Switchover => "switchover-global-cluster",
                AuroraMode::Failover => "failover-global-cluster",
            }
            .into(),
            "--region".into(),
            region.clone(),
            "--global-cluster-identifier".into(),
            self.global_cluster.clone(),
            "--target-db-cluster-identifier".into(),
            target.clone(),
        ];
        if self.mode == AuroraMode::Failover {
            act.push("--allow-data-loss".into());
        }
        let writer = [
            "aws",
            "rds",
            "describe-global-clusters",
            "--region",
            &region,
            "--global-cluster-identifier",
            &self.global_cluster,
            "--query",
            "GlobalClusters[0].[Status,GlobalClusterMembers[?IsWriter].DBClusterArn|[0]]",
            "--output",
            "text",
        ];
        Manual {
            commands: vec![shell_line(&act)],
            verify: vec![shell_line(&writer)],
            expect: format!("available and {target} (the writer); repeat until both hold"),
        }
    }

    fn validate(&self, at: &str, regions: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        for r in regions {
            match self.clusters.get(r) {
                Some(arn) if arn_like(arn) => {}
                Some(arn) => problems.push(format!(
                    "{at}.clusters.{r}: {arn:?} is not a DB cluster ARN"
                )),
                None => problems.push(format!("{at}.clusters: no cluster ARN for region {r}")),
            }
        }
        let poll = &self.poll_interval;
        if Window::parse(poll).is_err() {
            problems.push(format!("{at}.poll_interval: invalid duration {poll:?}"));
        }
        problems
    }

    fn describe(&self, inc: &Incident) -> String {
        let target = self
            .target(inc)
            .cloned()
            .unwrap_or_else(|e| format!("<{e}>"));
        format!(
            "{} GlobalClusterIdentifier={} TargetDbClusterIdentifier={target}{}; poll DescribeGlobalClusters until it is the writer",
            self.action(),
            self.global_cluster,
            if self.mode == AuroraMode::Failover { " AllowDataLoss=true" } else { "" }
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
            let api = b.aurora.as_ref().ok_or("no RDS client configured")?;
            let target = self.target(inc)?;
            let g = api.describe(&self.global_cluster).await?;
            Ok(g.failover_state.is_none()
                && g.members
                    .iter()
                    .any(|m| &m.cluster_arn == target && m.is_writer))
        })
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let api = b.aurora.as_ref().ok_or("no RDS client configured")?;
            let global = &self.global_cluster;
            let target = self.target(inc)?;
            // AWS rejects a second switchover/failover while one is in progress; saying
            // so here gives the journal a clearer reason than the API error.
            let g = api.describe(global).await?;
            if let Some(state) = &g.failover_state {
                return Err(format!(
                    "global cluster {global} is {} (failover state {state}): not available",
                    g.status
                ));
            }
            if g.status != "available" {
                return Err(format!(
                    "global cluster {global} is {}: not available",
                    g.status
                ));
            }
            if !g.members.iter().any(|m| &m.cluster_arn == target) {
                return Err(format!("{target} is not a member of {global}"));
            }
            match self.mode {
                AuroraMode::Switchover => api.switchover(global, target).await?,
                AuroraMode::Failover => {
                    if !(inc.approved || self.allow_data_loss_without_approval) {
                        return Err("a failover with data loss needs an operator approval".into());
                    }
                    api.failover(global, target, true).await?
                }
            }
            // Validation rejected a bad interval; the fallback only guards a config
            // built without `parse_steps`.
            let poll = Window::parse(&self.poll_interval)
                .map(|w| Duration::from_secs(w.secs()))
                .unwrap_or(Duration::from_secs(5));
            // The step's timeout bounds this wait.
            loop {
                let g = api.describe(global).await?;
                if g.failover_state.is_none()
                    && g.members
                        .iter()
                        .any(|m| &m.cluster_arn == target && m.is_writer)
                {
                    return Ok(format!("{target} is the writer of {global}"));
                }
                tokio::time::sleep(poll).await;
            }
        })
    }

    fn iam_statements(&self) -> Vec<IamStatement> {
        // Global cluster ARNs have no region; the account comes from a member's ARN.
        let account = self
            .clusters
            .values()
            .find_map(|arn| arn.split(':').nth(4).map(str::to_string))
            .unwrap_or_else(|| "*".into());
        let global = format!(
            "arn:aws:rds::{account}:global-cluster:{}",
            self.global_cluster
        );
        let mut resources = vec![global.clone()];
        resources.extend(self.clusters.values().cloned());
        vec![
            IamStatement {
                sid_suffix: "Describe",
                actions: vec!["rds:DescribeGlobalClusters"],
                resources: vec![global],
            },
            IamStatement {
                sid_suffix: "",
                actions: vec![self.action()],
                resources,
            },
        ]
    }

    fn needs_aws(&self) -> bool {
        true
    }
}
