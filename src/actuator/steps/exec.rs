//! `kind: exec`: runs a local command (a script of the team's own) with the incident in
//! its environment (`SLOGUARD_INCIDENT`, `SLOGUARD_FROM`, `SLOGUARD_TO`, …). An optional
//! `check` command makes it idempotent: exit 0 means the work is already done.
//!
//! Environment: allow-listed, not inherited, so the engine's own credentials (cloud keys,
//! the API token, anything in its service environment) never reach a script that did
//! not ask for them. The command (and `check`) starts with an empty environment plus:
//! - `PATH`, `HOME`, `LANG` and `TZ`, each when the engine has it set;
//! - the names listed in the step's optional `env: [NAME, …]`, each passed through from
//!   the engine's environment when set there (e.g. `env: [AWS_PROFILE, KUBECONFIG]`);
//! - the incident: `SLOGUARD_INCIDENT`, `SLOGUARD_DOMAIN`, `SLOGUARD_FROM`, `SLOGUARD_TO`,
//!   `SLOGUARD_REASON`, `SLOGUARD_DRY_RUN`, `SLOGUARD_CHAOS` (these win over `env:`).
//!
//! Output: the result keeps the last 300 bytes of stdout (stderr on failure), redacted
//! first (see `actuator::redact`): AWS key ids and secret keys, `Bearer` tokens,
//! `Authorization` values, `password`/`secret`/`token`… values and URL userinfo and query
//! values become `***`, plus every match of the step's optional `redact: [regex, …]`.
//! The argv in the description passes the same list. A `check` command's output is
//! discarded: only its exit status counts.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::actuator::aws::BoxFut;
use crate::actuator::redact::Redactor;
use crate::actuator::step::{shell_line, shell_quote, Manual, ManualContext, Step};
use crate::actuator::{Backends, Incident};

pub const KIND: Kind = Kind::of::<Exec>("exec");

/// How much of the command's output the journal keeps (its end: where errors are).
const OUTPUT_TAIL: usize = 300;

/// Variables of the engine's environment every command gets (when set): what a shell
/// script needs to find programs and format text, none of them a credential.
const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG", "TZ"];

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub command: Vec<String>,
    /// Exit 0 means the step is already done (idempotence check).
    #[serde(default)]
    pub check: Option<Vec<String>>,
    /// More variables passed through from the engine's environment (names only).
    #[serde(default)]
    pub env: Vec<String>,
    /// Extra patterns masked in the output and description, on top of the built-in list.
    #[serde(default)]
    pub redact: Vec<String>,
}

/// Whether `name` can be an environment variable name (`set_var` panics on others).
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

/// `argv` ready to spawn with the allow-listed environment and the incident in it;
/// `None` for an empty argv.
fn command(argv: &[String], inc: &Incident, pass: &[String]) -> Option<tokio::process::Command> {
    let (program, args) = argv.split_first()?;
    let mut c = tokio::process::Command::new(program);
    c.args(args).env_clear();
    let names = BASE_ENV
        .iter()
        .copied()
        .chain(pass.iter().map(String::as_str));
    for name in names.filter(|n| valid_env_name(n)) {
        if let Some(value) = std::env::var_os(name) {
            c.env(name, value);
        }
    }
    c.env("SLOGUARD_INCIDENT", inc.id.to_string())
        .env("SLOGUARD_DOMAIN", &inc.domain)
        .env("SLOGUARD_FROM", &inc.from)
        .env("SLOGUARD_TO", &inc.to)
        .env("SLOGUARD_REASON", &inc.reason)
        .env("SLOGUARD_DRY_RUN", inc.dry_run.to_string())
        .env("SLOGUARD_CHAOS", inc.chaos.to_string())
        .stdin(std::process::Stdio::null())
        // A run aborted by its timeout (or a dying process) takes the child with it.
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C (SIGINT to the terminal's group) stops the
        // engine gracefully, which lets the step finish, instead of killing it mid-way.
        .process_group(0);
    die_with_parent(&mut c);
    Some(c)
}

/// A `kill -9` of the engine runs no drop: without this, a DR script killed mid-run would
/// keep running while the restarted engine starts it again. Linux delivers SIGKILL to the
/// child when the engine dies.
#[cfg(target_os = "linux")]
fn die_with_parent(c: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls `prctl`,
    // which is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_c: &mut tokio::process::Command) {}

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

impl Step for Exec {
    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn manual(&self, inc: &Incident, _ctx: &ManualContext) -> Manual {
        let vars = [
            ("SLOGUARD_INCIDENT", inc.id.to_string()),
            ("SLOGUARD_DOMAIN", inc.domain.clone()),
            ("SLOGUARD_FROM", inc.from.clone()),
            ("SLOGUARD_TO", inc.to.clone()),
            ("SLOGUARD_REASON", inc.reason.clone()),
            ("SLOGUARD_DRY_RUN", inc.dry_run.to_string()),
            ("SLOGUARD_CHAOS", inc.chaos.to_string()),
        ];
        let with_env = |argv: &[String]| {
            let mut words: Vec<String> = vec!["env".into()];
            words.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
            words.extend(argv.iter().cloned());
            shell_line(&words)
        };
        Manual {
            commands: vec![with_env(&self.command)],
            verify: self.check.iter().map(|c| with_env(c)).collect(),
            expect: if self.check.is_some() {
                "the check exits 0 (the work is done)".into()
            } else {
                "the command exits 0 (there is no check command to re-read its effect)".into()
            },
        }
    }

    fn validate(&self, at: &str, _regions: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.command.is_empty() {
            problems.push(format!("{at}.command: empty command"));
        }
        // A program named `A=b` would be read by `env` and shells as an assignment.
        for (field, argv) in [
            ("command", Some(&self.command)),
            ("check", self.check.as_ref()),
        ] {
            if let Some(program) = argv.and_then(|a| a.first()) {
                if program.contains('=') || program.is_empty() {
                    problems.push(format!(
                        "{at}.{field}[0]: {program:?} is not a program (empty, or holds '=')"
                    ));
                }
            }
        }
        for (i, name) in self.env.iter().enumerate() {
            if !valid_env_name(name) {
                problems.push(format!(
                    "{at}.env[{i}]: {name:?} is not a variable name (no `=`, not empty)"
                ));
            }
        }
        problems.extend(Redactor::validate(at, &self.redact));
        problems
    }

    /// The argv passes the redaction list (a secret given as an argument is not shown);
    /// passed-through variables are listed by name only.
    fn describe(&self, inc: &Incident) -> String {
        let Ok(r) = Redactor::new(&self.redact) else {
            // Unreachable after `validate`; still, never show what could not be redacted.
            return "exec (description withheld: invalid redact pattern)".into();
        };
        let mut d = format!(
            "exec {} with SLOGUARD_INCIDENT={} SLOGUARD_FROM={} SLOGUARD_TO={}",
            r.redact(&argv_text(&self.command)),
            inc.id,
            shell_quote(&inc.from),
            shell_quote(&inc.to)
        );
        if !self.env.is_empty() {
            d.push_str(&format!(" + env {}", self.env.join(", ")));
        }
        d
    }

    /// With a `check`, the effect can be read back: a resumed run re-checks a step the
    /// journal records as done (its effect may have been undone meanwhile).
    fn verifiable(&self) -> bool {
        self.check.is_some()
    }

    fn is_done<'a>(
        &'a self,
        inc: &'a Incident,
        _b: &'a Backends,
    ) -> BoxFut<'a, Result<bool, String>> {
        Box::pin(async move {
            // No check (or an empty one): nothing to read, so the step runs.
            let Some(mut check) = self
                .check
                .as_deref()
                .and_then(|argv| command(argv, inc, &self.env))
            else {
                return Ok(false);
            };
            // Its output is not redacted anywhere, so it goes nowhere (not to the
            // engine's own stderr, i.e. its logs).
            let status = check
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
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
            // Built before the command runs: output that cannot be redacted is never made.
            let r = Redactor::new(&self.redact).map_err(|e| e.to_string())?;
            let mut c = command(&self.command, inc, &self.env).ok_or("empty command")?;
            let out = c
                .output()
                .await
                .map_err(|e| format!("{}: {e}", r.redact(&program(&self.command))))?;
            if out.status.success() {
                Ok(format!(
                    "exit 0: {}",
                    r.output_tail(&out.stdout, OUTPUT_TAIL)
                ))
            } else {
                Err(format!(
                    "{}: {}",
                    out.status,
                    r.output_tail(&out.stderr, OUTPUT_TAIL)
                ))
            }
        })
    }
}
