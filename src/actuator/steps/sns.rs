//! `kind: sns`: publishes the incident to an SNS topic (paging, chat bridges). The topic
//! also receives the "runbook aborted" notice when a later step fails for good.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{
    arn_like, arn_region, shell_line, shell_quote, IamStatement, Manual, ManualContext, Step,
};
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

    fn manual(&self, inc: &Incident, ctx: &ManualContext) -> Manual {
        let region = self
            .region
            .clone()
            .or_else(|| arn_region(&self.topic_arn))
            .unwrap_or_else(|| ctx.aws_region.clone());
        let attributes: serde_json::Map<String, serde_json::Value> = inc
            .attributes()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    serde_json::json!({"DataType": "String", "StringValue": v}),
                )
            })
            .collect();
        let publish = [
            "aws",
            "sns",
            "publish",
            "--region",
            &region,
            "--topic-arn",
            &self.topic_arn,
            "--subject",
            &self.subject(inc),
            "--message",
            &message(inc),
            "--message-attributes",
            &serde_json::Value::Object(attributes).to_string(),
        ];
        let subscribers = [
            "aws",
            "sns",
            "list-subscriptions-by-topic",
            "--region",
            &region,
            "--topic-arn",
            &self.topic_arn,
            "--query",
            "Subscriptions[].[Protocol,Endpoint]",
            "--output",
            "text",
        ];
        Manual {
            commands: vec![shell_line(&publish)],
            verify: vec![shell_line(&subscribers)],
            expect: "publish prints a MessageId; the on-call endpoints are listed as \
                     subscribers, and the page reaches them"
                .into(),
        }
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        let arn = &self.topic_arn;
        if arn_like(arn) {
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
