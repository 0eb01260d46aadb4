//! `kind: slack`: posts the incident to a Slack incoming webhook: who fails over, from
//! where to where, why, and a link to the incident. The webhook URL is a secret (its path
//! is the credential), so it is read from a file at call time and never appears in the
//! config, the journal, a description or an error.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{shell_line, shell_quote, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Slack>("slack");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// A file holding the incoming-webhook URL (`https://hooks.slack.com/services/...`).
    pub webhook_url_file: PathBuf,
    /// Base URL of this engine as people reach it; the message links the incident's
    /// report at `<link_base>/api/v1/incidents/<id>/report` (no link when absent).
    #[serde(default)]
    pub link_base: Option<String>,
}

impl Slack {
    /// The message in Slack's incoming-webhook format: `text` (notifications and
    /// clients without blocks) and `blocks` (a header and the facts as fields).
    pub fn payload(&self, inc: &Incident) -> serde_json::Value {
        let drill = if inc.chaos { " [GameDay drill]" } else { "" };
        let dry = if inc.dry_run { " (dry run)" } else { "" };
        let text = format!(
            "sloguard incident {}: failing over {} from {} to {}{dry}{drill}: {}",
            inc.id, inc.domain, inc.from, inc.to, inc.reason
        );
        let mut fields = vec![
            serde_json::json!({"type": "mrkdwn", "text": format!("*Incident*\n{}", inc.id)}),
            serde_json::json!({"type": "mrkdwn", "text": format!("*Domain*\n{}", inc.domain)}),
            serde_json::json!({"type": "mrkdwn", "text": format!("*From → to*\n{} → {}", inc.from, inc.to)}),
            serde_json::json!({"type": "mrkdwn", "text": format!("*Reason*\n{}", inc.reason)}),
        ];
        if let Some(base) = &self.link_base {
            fields.push(serde_json::json!({"type": "mrkdwn", "text": format!(
                "*Report*\n<{}/api/v1/incidents/{}/report|incident {}>",
                base.trim_end_matches('/'),
                inc.id,
                inc.id
            )}));
        }
        serde_json::json!({
            "text": text,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": format!("Failover {} → {}{dry}{drill}", inc.from, inc.to)}},
                {"type": "section", "fields": fields},
            ],
        })
    }
}

impl Step for Slack {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn manual(&self, inc: &Incident, _ctx: &ManualContext) -> Manual {
        let post = [
            "curl",
            "-sS",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            &self.payload(inc).to_string(),
        ];
        let file = shell_quote(&self.webhook_url_file.display().to_string());
        Manual {
            commands: vec![format!("{} \"$(cat {file})\"", shell_line(&post))],
            verify: Vec::new(),
            expect: "Slack answers `ok` and the message shows in the channel".into(),
        }
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        match &self.link_base {
            Some(b) if reqwest::Url::parse(b).is_err() => {
                vec![format!("{at}.link_base: {b:?} is not a URL")]
            }
            _ => Vec::new(),
        }
    }

    fn describe(&self, inc: &Incident) -> String {
        format!(
            "slack POST <incoming webhook from {}> text {:?}",
            self.webhook_url_file.display(),
            self.payload(inc)["text"].as_str().unwrap_or_default()
        )
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let url = std::fs::read_to_string(&self.webhook_url_file)
                .map_err(|e| format!("reading {}: {e}", self.webhook_url_file.display()))?;
            let resp = b
                .http
                .post(url.trim())
                .header("content-type", "application/json")
                .body(self.payload(inc).to_string())
                .send()
                .await
                // The error would name the URL, which is the secret.
                .map_err(|e| format!("posting to the Slack webhook failed: {}", e.without_url()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("the Slack webhook answered HTTP {status}"));
            }
            Ok(format!("posted to Slack (HTTP {status})"))
        })
    }
}
