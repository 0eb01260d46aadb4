//! What several commands share: loading specs and the config with their warnings printed,
//! JSON output, progress bars, times from flags and the exit code of a check.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use sloguard::{backtest, config, slo};

/// Loads specs, printing warnings as `warning: file: slo: message`; on validation
/// problems prints them all and returns None.
pub fn load_specs(dir: &Path) -> anyhow::Result<Option<Vec<slo::Service>>> {
    load_specs_strict(dir, false)
}

/// [`load_specs`]; with `strict`, warnings are problems.
pub fn load_specs_strict(dir: &Path, strict: bool) -> anyhow::Result<Option<Vec<slo::Service>>> {
    let loaded = match slo::load_dir_with_warnings(dir) {
        Ok(l) if strict && !l.warnings.is_empty() => Err(slo::SpecError::Invalid {
            problems: l.warnings,
        }),
        other => other,
    };
    match loaded {
        Ok(l) => {
            for n in &l.notes {
                eprintln!("note: {n}");
            }
            for w in &l.warnings {
                eprintln!("warning: {w}");
            }
            Ok(Some(l.services))
        }
        Err(slo::SpecError::Invalid { problems }) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found in {}", problems.len(), dir.display());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The config and the specs it names, checked against each other; warnings printed.
pub fn load_config(path: &Path) -> anyhow::Result<(config::Config, Vec<slo::Service>)> {
    let cfg = config::load(path)?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let services = load_specs(&cfg.specs)?
        .with_context(|| format!("the specs of {} are invalid", path.display()))?;
    config::check_against_specs(&cfg, &services)?;
    Ok((cfg, services))
}

/// Pretty JSON on stdout.
pub fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// 0 when the check held, 1 when it did not.
pub fn code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal (indicatif hides it
/// otherwise, so piped output gets nothing extra).
pub fn progress_bar(what: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let style =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// A time flag: RFC 3339 or unix seconds.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    backtest::parse_time(s).map_err(anyhow::Error::msg)
}

/// The config's failover section, or an error saying what needs it.
pub fn failover_section<'a>(
    cfg: &'a config::Config,
    missing: &str,
) -> anyhow::Result<&'a config::FailoverConfig> {
    cfg.failover
        .as_ref()
        .with_context(|| format!("the configuration has no failover section{missing}"))
}
