//! The contract between the runbook executor and a step kind: the [`Step`] trait. The
//! executor (`runbook.rs`) only knows this trait; everything a kind means — its config,
//! its validation, the call it describes, how it reads live state and acts — lives in
//! its own file under `steps/`, so a new kind touches that file and one registry line.
//!
//! The async methods return boxed futures (the pattern of `aws.rs`) rather than `async fn`,
//! so the trait stays object-safe and steps are held as `Arc<dyn Step>`.

use std::fmt::Debug;

use super::aws::BoxFut;
use super::{Backends, Incident};

/// One runbook step kind, built from its `runbook:` entry by the registry in `steps/`.
pub trait Step: Config + Debug + Send + Sync {
    /// The `kind:` string of the config (`sns`, `exec`, …); also journalled per step.
    fn kind(&self) -> &'static str;

    /// Problems with the config given the domain's regions, each as
    /// `{at}.field: message` where `at` is `runbook[i]`. Serde already checked the shape;
    /// this checks meaning (ARNs, URLs, one value per region).
    fn validate(&self, _at: &str, _regions: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// The exact call the step makes for `inc`, for dry runs and the journal. Readable by
    /// an operator (no `Debug` dumps) and free of secrets (header values, tokens).
    fn describe(&self, inc: &Incident) -> String;

    /// Whether the step's effect is already in place, read from live state; the executor
    /// then skips it. Kinds with no readable state (notifications, hooks) keep the
    /// default: they run once per incident, which the journal guarantees.
    fn is_done<'a>(
        &'a self,
        _inc: &'a Incident,
        _b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async { Ok(false) })
    }

    /// Whether [`Step::is_done`] reads the effect back from the world (Route 53, Aurora,
    /// the signal board). For such steps a resumed run checks the world, not only the
    /// journal: a step the journal records as done but whose effect is missing runs again.
    fn verifiable(&self) -> bool {
        false
    }

    /// Whether the step points traffic (DNS, health checks, the failover signal) or the
    /// writable database at the target. After an abort, such a step having taken effect
    /// means the world points at the target; a roll back runs these steps the other way.
    fn moves_traffic(&self) -> bool {
        false
    }

    /// One attempt of the step; returns what it did. Retries, timeouts and journalling
    /// are the executor's.
    fn run<'a>(&'a self, inc: &'a Incident, b: &'a Backends) -> BoxFut<'a, Result<String, String>>;

    /// The least-privilege IAM statements the step needs (none for non-AWS kinds).
    fn iam_statements(&self) -> Vec<IamStatement> {
        Vec::new()
    }

    /// Whether the step calls AWS, so the process builds SDK clients only when needed.
    fn needs_aws(&self) -> bool {
        false
    }

    /// The SNS topic this step publishes to: an aborted runbook is announced on every
    /// such topic (the on-call people already listen there).
    fn sns_topic(&self) -> Option<&str> {
        None
    }

    /// How an operator does the step by hand and checks it (`sloguard playbook`): the
    /// shell commands equivalent to [`Step::run`] for `inc`, and the commands that show
    /// its effect. Every kind overrides it; the default says there is none.
    fn manual(&self, _inc: &Incident, _ctx: &ManualContext) -> Manual {
        Manual {
            expect: "this step has no manual equivalent".into(),
            ..Manual::default()
        }
    }
}

/// What a step's manual equivalent may need beyond its own config.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualContext {
    /// The engine's base URL (its `server.listen`), for the operator API and signals.
    pub engine_url: String,
    /// The AWS region of the API clients (`failover.aws_region`).
    pub aws_region: String,
}

/// A step done by hand: shell command lines (one command each, quoted for bash) that do what the step does, and those that show its effect is in place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manual {
    pub commands: Vec<String>,
    pub verify: Vec<String>,
    /// What the verify output shows once the step took effect.
    pub expect: String,
}

/// Whether `arn` looks like an ARN: `arn:` and only the characters ARNs use.
pub fn arn_like(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_.-+=,@".contains(c))
}

/// The region of an ARN (`arn:aws:sns:us-east-1:…` → `us-east-1`), when it names one.
pub fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// `argv` as one shell command line, each word quoted where needed.
pub fn shell_line<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The step's config as data, so `StepSpec` can compare and print steps of any kind
/// (config reloads compare `DomainConfig`s). Implemented for every serializable type.
pub trait Config {
    fn config(&self) -> serde_json::Value;
}

impl<T: serde::Serialize> Config for T {
    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// One IAM policy statement of a step; `iam_policy` names it `Step<i><kind><sid_suffix>`.
#[derive(Debug, Clone, PartialEq)]
pub struct IamStatement {
    pub sid_suffix: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
}

/// `s` as one shell word: unchanged when it has no special characters, else single-quoted;
/// with control characters (a newline, an escape), ANSI-C quoted (`$'a\nb'`), so the word
/// stays on one line and no terminal sequence reaches a reader. Used to show argv and free
/// text (subjects, reasons) unambiguously in descriptions and playbooks.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%^".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else if s.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("/opt/x"), "/opt/x");
        assert_eq!(shell_quote("us-east-1"), "us-east-1");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("a\nb"), r"$'a\nb'");
        assert_eq!(shell_quote("it's\n\\"), r"$'it\'s\n\\'");
        assert_eq!(shell_quote("\u{1b}[2J"), r"$'\u001b[2J'");
    }
}
