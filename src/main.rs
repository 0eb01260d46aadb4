//! The `sloguard` binary: parses the CLI, sets up logging, dispatches to the library and
//! turns outcomes into exit codes (0 ok, 1 a check or validation failed, 2 usage/runtime error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use sloguard::cli::{Cli, Command, LogFormat, Output, RuleFormat};
use sloguard::files::{self, OutputFile};
use sloguard::rulegen::{self, Format, Options, HEADER};
use sloguard::spec::{self, SpecError};
use sloguard::window::Window;

// generate/validate allocate many small strings and regex compiler tables; mimalloc cut
// their wall time by a quarter against the system allocator (benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(format: LogFormat) {
    use tracing_subscriber::prelude::*;
    // `RUST_LOG` as per-target levels (`info`, `sloguard=debug`); a bad value falls back to info.
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        });
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .without_time()
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

/// Loads specs; on validation problems prints them all and returns None.
fn load_specs(dir: &Path) -> anyhow::Result<Option<Vec<spec::Service>>> {
    match spec::load_dir(dir) {
        Ok(s) => Ok(Some(s)),
        Err(SpecError::Invalid { problems }) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found in {}", problems.len(), dir.display());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Generated files on disk that the current specs no longer produce.
fn stale_files(out: &Path, keep: &[OutputFile]) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    for sub in [PathBuf::new(), PathBuf::from("tests")] {
        let Ok(entries) = std::fs::read_dir(out.join(&sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = sub.join(e.file_name());
            let generated = std::fs::read_to_string(e.path()).is_ok_and(|t| t.starts_with(HEADER));
            if generated && !keep.iter().any(|f| f.path == rel) {
                stale.push(rel);
            }
        }
    }
    stale.sort();
    stale
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { specs } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(ExitCode::from(1));
            };
            let slos: usize = services.iter().map(|s| s.slos.len()).sum();
            println!(
                "OK: {} service(s), {slos} SLO(s) in {} are valid",
                services.len(),
                specs.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            specs,
            out,
            check,
            format,
            sync_wave,
            namespace,
        } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(ExitCode::from(1));
            };
            let opts = Options {
                format: match format {
                    RuleFormat::Prometheus => Format::Prometheus,
                    RuleFormat::PrometheusOperator => Format::PrometheusOperator,
                },
                sync_wave,
                namespace,
            };
            let generated = rulegen::generate(&services, &opts)?;
            for w in &generated.warnings {
                eprintln!("warning: {w}");
            }
            let changed = files::changed_files(&out, &generated.files);
            let stale = stale_files(&out, &generated.files);
            if check {
                if changed.is_empty() && stale.is_empty() {
                    println!(
                        "{} is up to date ({} files)",
                        out.display(),
                        generated.files.len()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                for p in &changed {
                    println!("would change: {}", out.join(p).display());
                }
                for p in &stale {
                    println!("would remove: {}", out.join(p).display());
                }
                eprintln!("{} is out of date: run `sloguard generate`", out.display());
                return Ok(ExitCode::from(1));
            }
            files::write_all_atomic(&out, &generated.files)?;
            for p in &stale {
                std::fs::remove_file(out.join(p))
                    .with_context(|| format!("removing stale {}", out.join(p).display()))?;
            }
            println!(
                "wrote {} file(s) to {} ({} changed, {} removed)",
                generated.files.len(),
                out.display(),
                changed.len(),
                stale.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backtest {
            specs,
            data,
            output,
            step,
            k,
            lateness,
        } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(ExitCode::from(1));
            };
            let secs = |flag: &str, v: &str| -> anyhow::Result<i64> {
                Ok(Window::parse(v)
                    .with_context(|| format!("--{flag}"))?
                    .secs() as i64)
            };
            let opts = sloguard::backtest::Options {
                step: secs("step", &step)?,
                k,
                lateness: secs("lateness", &lateness)?,
                ..Default::default()
            };
            let text = std::fs::read_to_string(&data)
                .with_context(|| format!("reading {}", data.display()))?;
            let big = text.len() > 64 << 20;
            let mut last = 0;
            let report = sloguard::backtest::run(&services, &text, &opts, |done, total| {
                let pct = done * 100 / total.max(1);
                if big && pct >= last + 10 {
                    last = pct;
                    eprintln!("backtest: {pct}% of {}", data.display());
                }
            })
            .with_context(|| format!("backtest of {}", data.display()))?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Output::Text => print!("{}", sloguard::backtest::render_text(&report)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { specs } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(ExitCode::from(1));
            };
            print!("{}", rulegen::explain::render(&services));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
