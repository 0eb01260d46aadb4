//! `kind: route53_health_check`: flips a health check's `Inverted` flag, the quick way to
//! make Route 53 treat a healthy primary as failed (or to undo that).

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{shell_line, IamStatement, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Route53HealthCheck>("route53_health_check");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route53HealthCheck {
    pub health_check_id: String,
    pub inverted: bool,
}

impl Step for Route53HealthCheck {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn manual(&self, _inc: &Incident, _ctx: &ManualContext) -> Manual {
        let id = &self.health_check_id;
        let version = [
            "aws",
            "route53",
            "get-health-check",
            "--health-check-id",
            id,
            "--query",
            "HealthCheck.HealthCheckVersion",
            "--output",
            "text",
        ];
        let flag = if self.inverted {
            "--inverted"
        } else {
            "--no-inverted"
        };
        let update = [
            "aws",
            "route53",
            "update-health-check",
            "--health-check-id",
            id,
            flag,
        ];
        let read = [
            "aws",
            "route53",
            "get-health-check",
            "--health-check-id",
            id,
            "--query",
            "HealthCheck.HealthCheckConfig.Inverted",
            "--output",
            "text",
        ];
        Manual {
            commands: vec![
                format!("VERSION=$({})", shell_line(&version)),
                format!(
                    "{} --health-check-version \"$VERSION\"",
                    shell_line(&update)
                ),
            ],
            verify: vec![shell_line(&read)],
            expect: format!(
                "{} (Route 53 refuses the update if someone changed the check meanwhile)",
                if self.inverted { "True" } else { "False" }
            ),
        }
    }

    fn describe(&self, _inc: &Incident) -> String {
        format!(
            "route53:UpdateHealthCheck HealthCheckId={} Inverted={} HealthCheckVersion=<current>",
            self.health_check_id, self.inverted
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
        _inc: &'a Incident,
        b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            Ok(api.health_check(&self.health_check_id).await?.0 == self.inverted)
        })
    }

    fn run<'a>(
        &'a self,
        _inc: &'a Incident,
        b: &'a Backends,
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let (id, inverted) = (&self.health_check_id, self.inverted);
            // The current version makes the update fail rather than overwrite a
            // concurrent change.
            let (_, version) = api.health_check(id).await?;
            api.set_inverted(id, inverted, version).await?;
            Ok(format!(
                "health check {id} Inverted={inverted} (version {version})"
            ))
        })
    }

    fn iam_statements(&self) -> Vec<IamStatement> {
        vec![IamStatement {
            sid_suffix: "",
            actions: vec!["route53:GetHealthCheck", "route53:UpdateHealthCheck"],
            resources: vec![format!(
                "arn:aws:route53:::healthcheck/{}",
                self.health_check_id
            )],
        }]
    }

    fn needs_aws(&self) -> bool {
        true
    }
}
