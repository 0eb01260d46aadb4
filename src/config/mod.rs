//! The engine configuration file (`eval`, `serve`, `backtest --config`): YAML with every
//! unknown key rejected (all of them at once, by path: `serde_ignored` walks the whole
//! document), every problem reported at once as `file: field: message`, and warnings for
//! what is legal but risky (world-readable token files, short or shared tokens).
//! `sloguard.example.yaml` documents every key.
//!
//! Two stages, as ripgrep's flags: serde reads the raw shape ([`raw`]), then one
//! validating function per section turns it into the model ([`model`]) and returns that
//! section's problems and warnings; [`build`] only composes them. To add a config key:
//! its raw field in `raw.rs`, its validated field in `model.rs`, its check in the
//! section's file (`source.rs`, `evaluation.rs`, `regions.rs`, `server.rs`,
//! `failover.rs`), and its line in `sloguard.example.yaml`.

mod against_specs;
mod evaluation;
mod failover;
mod model;
mod raw;
mod regions;
mod server;
mod source;

use std::path::{Path, PathBuf};

pub use against_specs::check_against_specs;
pub use evaluation::DEFAULT_BACKFILL_POINTS;
pub use model::*;
pub use server::DEFAULT_CONCURRENT_WEBHOOKS;

use crate::window::Window;
use raw::RawConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(path, &text, base)
}

/// Parses and validates a config text; relative paths resolve against `base_dir`.
pub fn parse(file: &Path, text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let f = file.display().to_string();
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let raw: RawConfig = serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
        .map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            ConfigError::Invalid(vec![format!("{f}: {loc}{msg}")])
        })?;
    build(file, raw, base_dir, unknown)
}

/// Validates a config already read as YAML (a GameDay's merged configuration); `file`
/// names it in problems.
pub fn from_value(
    file: &Path,
    value: serde_yaml_ng::Value,
    base_dir: &Path,
) -> Result<Config, ConfigError> {
    let mut unknown = Vec::new();
    let raw: RawConfig =
        serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
            .map_err(|e| ConfigError::Invalid(vec![format!("{}: {e}", file.display())]))?;
    build(file, raw, base_dir, unknown)
}

/// What every section validator sees: the file name for messages and the directory
/// relative paths resolve against.
struct Ctx<'a> {
    f: String,
    base_dir: &'a Path,
}

impl Ctx<'_> {
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// A validated section with its problems (the config is refused when any) and warnings.
struct Checked<T> {
    value: T,
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl<T> Checked<T> {
    fn new(value: T, problems: Vec<String>) -> Self {
        Checked {
            value,
            problems,
            warnings: Vec::new(),
        }
    }

    /// The value; its problems and warnings join the config's.
    fn take(self, problems: &mut Vec<String>, warnings: &mut Vec<String>) -> T {
        problems.extend(self.problems);
        warnings.extend(self.warnings);
        self.value
    }
}

/// Composes the section validators; every problem of every section is reported at once.
fn build(
    file: &Path,
    raw: RawConfig,
    base_dir: &Path,
    unknown: Vec<String>,
) -> Result<Config, ConfigError> {
    let ctx = Ctx {
        f: file.display().to_string(),
        base_dir,
    };
    let mut problems: Vec<String> = unknown
        .iter()
        // serde_ignored writes an optional section as `?`: `source.thanos.?.timeout`.
        .map(|k| format!("{}: {}: unknown key", ctx.f, k.replace(".?", "")))
        .collect();
    let mut warnings = Vec::new();
    let sources = source::validate(&ctx, &raw.source);
    let evaluation = evaluation::validate(&ctx, &raw.evaluation, &sources.value)
        .take(&mut problems, &mut warnings);
    let sources = sources.take(&mut problems, &mut warnings);
    let regions = regions::validate(&ctx, raw.regions, &sources.region_sources)
        .take(&mut problems, &mut warnings);
    let server = server::validate(&ctx, raw.server).take(&mut problems, &mut warnings);
    let failover = raw.failover.map(|fo| {
        failover::validate(&ctx, fo, &regions, &server.listen, evaluation.interval)
            .take(&mut problems, &mut warnings)
    });
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Config {
        file: file.to_path_buf(),
        specs: ctx.resolve(&raw.specs),
        source: sources.source,
        region_sources: sources.region_sources,
        evaluation,
        regions,
        listen: server.listen,
        max_body_bytes: server.max_body_bytes,
        max_concurrent_webhooks: server.max_concurrent_webhooks,
        signal_listen: server.signal_listen,
        webhook_auth: server.webhook_auth,
        api_token: server.api_token,
        failover,
        warnings,
    })
}

/// A duration field, or `default` (and a problem) when it does not parse.
fn window_or(
    problems: &mut Vec<String>,
    f: &str,
    field: &str,
    v: Option<&str>,
    default: &str,
) -> Window {
    Window::parse(v.unwrap_or(default)).unwrap_or_else(|e| {
        problems.push(format!("{f}: {field}: {e}"));
        Window::parse(default).unwrap_or(Window::from_secs(1))
    })
}

#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod tests;
