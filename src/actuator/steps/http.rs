//! `kind: http`: calls a webhook (chat, status page, ticketing) with a JSON body templated
//! from the incident. The bearer token is read from a file at call time so it never sits
//! in the config, the journal or a dry-run description.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::Step;
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
}

fn default_method() -> String {
    "POST".into()
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

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        let url = &self.url;
        let mut problems = Vec::new();
        if reqwest::Url::parse(url).is_err() {
            problems.push(format!("{at}.url: {url:?} is not a URL"));
        }
        problems
    }

    /// Header names only: their values may be credentials.
    fn describe(&self, inc: &Incident) -> String {
        let mut d = format!("http {} {}", self.method, template(&self.url, inc, false));
        if !self.headers.is_empty() {
            let names: Vec<&str> = self.headers.keys().map(String::as_str).collect();
            d.push_str(&format!(" headers {}", names.join(", ")));
        }
        if self.bearer_token_file.is_some() {
            d.push_str(" + bearer token (from file)");
        }
        if let Some(body) = &self.body {
            d.push_str(&format!(" body {}", template(body, inc, true)));
        }
        d
    }

    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(self.method.as_bytes())
                .map_err(|e| format!("method {}: {e}", self.method))?;
            let mut req = b.http.request(method, template(&self.url, inc, false));
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
            let resp = req.send().await.map_err(|e| format!("{e}"))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            Ok(format!("HTTP {status}"))
        })
    }
}
