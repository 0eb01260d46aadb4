//! `kind: http`: calls a webhook (chat, status page, ticketing) with a JSON body templated
//! from the incident. The bearer token is read from a file at call time so it never sits
//! in the config, the journal or a dry-run description.
//!
//! What the step shows (its description, journaled and served by the API; its errors) is
//! redacted: header values are never shown, only names; the URL loses its userinfo and
//! its query values (`https://***@host/x?token=***`), also inside HTTP client errors; the
//! body passes through the built-in secret list. An optional `redact: [regex, …]` masks
//! more (each match becomes `***`), e.g. a webhook whose path is its secret.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::redact::{redact_url, Redactor};
use crate::actuator::step::{shell_line, shell_quote, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Http>("http");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// JSON template; {{incident}} {{domain}} {{from}} {{to}} {{reason}} are replaced.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Extra patterns masked in the description and errors, on top of the built-in list.
    #[serde(default)]
    pub redact: Vec<String>,
}

fn default_method() -> String {
    "POST".into()
}

/// `e` and its causes, one line: reqwest's own text names only the kind of failure, the
/// cause (refused, TLS, DNS) is in its sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let t = cause.to_string();
        // Some layers repeat their cause in their own text.
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = cause.source();
    }
    text
}

/// Fills the `{{…}}` placeholders of `s`; with `json`, values are escaped as JSON string
/// contents, since the body template puts them inside quotes.
fn template(s: &str, inc: &Incident, json: bool) -> String {
    let esc = |v: &str| {
        if json {
            serde_json::to_string(v)
                .map(|q| q[1..q.len() - 1].to_string())
                .unwrap_or_default()
        } else {
            v.to_string()
        }
    };
    s.replace("{{incident}}", &inc.id.to_string())
        .replace("{{domain}}", &esc(&inc.domain))
        .replace("{{from}}", &esc(&inc.from))
        .replace("{{to}}", &esc(&inc.to))
        .replace("{{reason}}", &esc(&inc.reason))
}

impl Step for Http {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    /// The URL and body as `describe` shows them (redacted); header values stay in the
    /// config, the token in its file.
    fn manual(&self, inc: &Incident, _ctx: &ManualContext) -> Manual {
        let Ok(r) = Redactor::new(&self.redact) else {
            return Manual {
                expect: "withheld: invalid redact pattern".into(),
                ..Manual::default()
            };
        };
        let mut argv = vec![
            "curl".to_string(),
            "-sS".into(),
            "-f".into(),
            "-X".into(),
            self.method.clone(),
        ];
        for name in self.headers.keys() {
            argv.push("-H".into());
            argv.push(format!("{name}: <value from the config>"));
        }
        if let Some(body) = &self.body {
            argv.extend([
                "-H".into(),
                "Content-Type: application/json".into(),
                "--data".into(),
            ]);
            argv.push(r.redact(&template(body, inc, true)));
        }
        argv.push(r.redact(&redact_url(&template(&self.url, inc, false))));
        let mut line = shell_line(&argv);
        if let Some(file) = &self.bearer_token_file {
            let file = shell_quote(&file.display().to_string());
            line.push_str(&format!(" -H \"Authorization: Bearer $(cat {file})\""));
        }
        Manual {
            commands: vec![line],
            verify: Vec::new(),
            expect: "curl exits 0 (-f fails on an HTTP error); the service shows the call".into(),
        }
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        let url = &self.url;
        let mut problems = Vec::new();
        if reqwest::Url::parse(url).is_err() {
            problems.push(format!("{at}.url: {:?} is not a URL", redact_url(url)));
        }
        problems.extend(Redactor::validate(at, &self.redact));
        problems
    }

    /// Header names only: their values may be credentials. The URL and body are redacted.
    fn describe(&self, inc: &Incident) -> String {
        let Ok(r) = Redactor::new(&self.redact) else {
            // Unreachable after `validate`; still, never show what could not be redacted.
            return format!(
                "http {} (description withheld: invalid redact pattern)",
                self.method
            );
        };
        let url = r.redact(&redact_url(&template(&self.url, inc, false)));
        let mut d = format!("http {} {url}", self.method);
        if !self.headers.is_empty() {
            let names: Vec<&str> = self.headers.keys().map(String::as_str).collect();
            d.push_str(&format!(" headers {}", names.join(", ")));
        }
        if self.bearer_token_file.is_some() {
            d.push_str(" + bearer token (from file)");
        }
        if let Some(body) = &self.body {
            d.push_str(&format!(" body {}", r.redact(&template(body, inc, true))));
        }
        d
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let r = Redactor::new(&self.redact).map_err(|e| e.to_string())?;
            let method = reqwest::Method::from_bytes(self.method.as_bytes())
                .map_err(|e| format!("method {}: {e}", self.method))?;
            let url = template(&self.url, inc, false);
            let mut req = b.http.request(method, &url);
            for (k, v) in &self.headers {
                req = req.header(k, template(v, inc, false));
            }
            if let Some(f) = &self.bearer_token_file {
                let token = std::fs::read_to_string(f)
                    .map_err(|e| format!("reading token file {}: {e}", f.display()))?;
                req = req.bearer_auth(token.trim());
            }
            if let Some(body) = &self.body {
                req = req
                    .header("content-type", "application/json")
                    .body(template(body, inc, true));
            }
            // reqwest's error text embeds the full URL: it is dropped and the redacted one
            // shown instead, and the whole message still passes the redaction list.
            let resp = req.send().await.map_err(|e| {
                let cause = error_chain(&e.without_url());
                r.redact(&format!(
                    "{} {} failed: {cause}",
                    self.method,
                    redact_url(&url)
                ))
            })?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            Ok(format!("HTTP {status}"))
        })
    }
}
