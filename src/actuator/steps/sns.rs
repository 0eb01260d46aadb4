//! `kind: sns`: publishes the incident to an SNS topic (paging, chat bridges). The topic
//! also receives the "runbook aborted" notice when a later step fails for good.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{shell_quote, IamStatement, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Sns>("sns");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sns {
    pub topic_arn: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
}

impl Sns {
    fn subject(&self, inc: &Incident) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| format!("sloguard failover {}", inc.domain))
    }
}

/// The message body: one line a human reads on a pager.
fn message(inc: &Incident) -> String {
    format!(
        "sloguard incident {}: failing over {} from {} to {}: {}{}",
        inc.id,
        inc.domain,
        inc.from,
        inc.to,
        inc.reason,
        if inc.chaos { " [GameDay drill]" } else { "" }
    )
}

impl Step for Sns {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        let arn = &self.topic_arn;
        if arn.starts_with("arn:") {
            vec![]
        } else {
            vec![format!("{at}.topic_arn: {arn:?} is not an ARN")]
        }
    }

    fn describe(&self, inc: &Incident) -> String {
        let attributes: Vec<String> = inc
            .attributes()
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        format!(
            "sns:Publish TopicArn={} Subject={} Message={} MessageAttributes {}",
            self.topic_arn,
            shell_quote(&self.subject(inc)),
            shell_quote(&message(inc)),
            attributes.join(" ")
        )
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let api = b.sns.as_ref().ok_or("no SNS client configured")?;
            let topic = &self.topic_arn;
            let id = api
                .publish(topic, &self.subject(inc), &message(inc), &inc.attributes())
                .await?;
            Ok(format!("published message {id} to {topic}"))
        })
    }

    fn iam_statements(&self) -> Vec<IamStatement> {
        vec![IamStatement {
            sid_suffix: "",
            actions: vec!["sns:Publish"],
            resources: vec![self.topic_arn.clone()],
        }]
    }

    fn needs_aws(&self) -> bool {
        true
    }

    fn sns_topic(&self) -> Option<&str> {
        Some(&self.topic_arn)
    }
}
