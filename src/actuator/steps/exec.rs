//! `kind: exec`: runs a local command (a script of the team's own) with the incident in
//! its environment (`SLOGUARD_INCIDENT`, `SLOGUARD_FROM`, `SLOGUARD_TO`, …). An optional
//! `check` command makes it idempotent: exit 0 means the work is already done.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::step::{shell_quote, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Exec>("exec");

/// How much of the command's output the journal keeps (its end: where errors are).
const OUTPUT_TAIL: usize = 300;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub command: Vec<String>,
    /// Exit 0 means the step is already done (idempotence check).
    #[serde(default)]
    pub check: Option<Vec<String>>,
}

/// `argv` ready to spawn with the incident in its environment; `None` for an empty argv.
fn command(argv: &[String], inc: &Incident) -> Option<tokio::process::Command> {
    let (program, args) = argv.split_first()?;
    let mut c = tokio::process::Command::new(program);
    c.args(args)
        .env("SLOGUARD_INCIDENT", inc.id.to_string())
        .env("SLOGUARD_DOMAIN", &inc.domain)
        .env("SLOGUARD_FROM", &inc.from)
        .env("SLOGUARD_TO", &inc.to)
        .env("SLOGUARD_REASON", &inc.reason)
        .env("SLOGUARD_DRY_RUN", inc.dry_run.to_string())
        .env("SLOGUARD_CHAOS", inc.chaos.to_string())
        .stdin(std::process::Stdio::null())
        // A run aborted by its timeout (or a dying process) takes the child with it.
        .kill_on_drop(true);
    Some(c)
}

fn argv_text(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The program of `argv`, for spawn errors (which are about the program, not its args).
fn program(argv: &[String]) -> String {
    argv.first().map(|p| shell_quote(p)).unwrap_or_default()
}

fn tail(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(OUTPUT_TAIL)..])
        .trim()
        .to_string()
}

impl Step for Exec {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        if self.command.is_empty() {
            vec![format!("{at}.command: empty command")]
        } else {
            vec![]
        }
    }

    fn describe(&self, inc: &Incident) -> String {
        format!(
            "exec {} with SLOGUARD_INCIDENT={} SLOGUARD_FROM={} SLOGUARD_TO={}",
            argv_text(&self.command),
            inc.id,
            shell_quote(&inc.from),
            shell_quote(&inc.to)
        )
    }

    fn is_done<'a>(
        &'a self,
        inc: &'a Incident,
        _b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move {
            // No check (or an empty one): nothing to read, so the step runs.
            let Some(mut check) = self.check.as_deref().and_then(|argv| command(argv, inc)) else {
                return Ok(false);
            };
            let status = check
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| {
                    format!(
                        "check {}: {e}",
                        program(self.check.as_deref().unwrap_or_default())
                    )
                })?;
            Ok(status.success())
        })
    }

    fn run<'a>(
        &'a self,
        inc: &'a Incident,
        _b: &'a Backends,
    ) -> BoxFut<'a, Result<String, String>> {
        Box::pin(async move {
            let mut c = command(&self.command, inc).ok_or("empty command")?;
            let out = c
                .output()
                .await
                .map_err(|e| format!("{}: {e}", program(&self.command)))?;
            if out.status.success() {
                Ok(format!("exit 0: {}", tail(&out.stdout)))
            } else {
                Err(format!("{}: {}", out.status, tail(&out.stderr)))
            }
        })
    }
}
