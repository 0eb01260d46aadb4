//! The engine over data it did not live through: `backtest` (a recorded file, or the
//! configured source over a past range) and `eval` (one evaluation at a given time).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sloguard::app;
use sloguard::backtest::{self, Report};
use sloguard::cli::{BacktestArgs, EvalArgs, Output};
use sloguard::query::regional::Configured;
use sloguard::snapshot;

use super::common::{code, json, load_config, load_specs, parse_time, progress_bar};

/// `sloguard backtest`: every firing and resolution, and the final state of each window.
pub fn backtest(rt: &tokio::runtime::Runtime, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let report = if let Some(config) = &args.config {
        let (Some(start), Some(end)) = (&args.start, &args.end) else {
            anyhow::bail!("--config needs --start and --end");
        };
        let (start, end) = (parse_time(start)?, parse_time(end)?);
        anyhow::ensure!(start < end, "--start must be before --end");
        let (cfg, services) = load_config(config)?;
        let source = Configured::from_config(&cfg)?;
        rt.block_on(app::replay(&cfg, &services, source, start, end))?
    } else {
        match backtest_file(&args)? {
            Some(report) => report,
            None => return Ok(code(false)),
        }
    };
    match args.output {
        Output::Json => json(&report)?,
        Output::Text => print!("{}", backtest::render_text(&report)),
    }
    Ok(code(true))
}

/// A backtest of an OpenMetrics file; None when the specs are invalid (already printed).
fn backtest_file(args: &BacktestArgs) -> anyhow::Result<Option<Report>> {
    let data = args
        .data
        .as_ref()
        .context("backtest needs --data FILE, or --config with --start and --end")?;
    let Some(services) = load_specs(&args.specs)? else {
        return Ok(None);
    };
    let secs = |flag: &str, v: &str| -> anyhow::Result<i64> {
        Ok(sloguard::window::Window::parse(v)
            .with_context(|| format!("--{flag}"))?
            .secs() as i64)
    };
    let opts = backtest::Options {
        step: secs("step", &args.step)?,
        k: args.k,
        lateness: secs("lateness", &args.lateness)?,
        ..Default::default()
    };
    let bar = progress_bar("backtest");
    let report = backtest::run_file(&services, data, &opts, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("backtest of {}", data.display()))?;
    bar.finish_and_clear();
    Ok(Some(report))
}

/// `sloguard eval`: one backfill and evaluation at `--at` (default now); exit 2 when no
/// stream has complete data.
pub fn eval(rt: &tokio::runtime::Runtime, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let (cfg, services) = load_config(&args.config)?;
    let at = args.at.map(|t| parse_time(&t)).transpose()?;
    let clock = Arc::new(sloguard::clock::FixedClock(
        at.unwrap_or_else(app::clock::wall_now),
    ));
    let source = Configured::from_config(&cfg)?;
    let bar = progress_bar("backfill");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let snap = rt.block_on(app::evaluate_once(&cfg, &services, source, clock, progress))?;
    bar.finish_and_clear();
    match args.output {
        Output::Json => json(&snap)?,
        Output::Text => print!("{}", snapshot::render(&snap)),
    }
    let complete = snap
        .streams
        .iter()
        .any(|s| !matches!(s.data, snapshot::DataStatus::Degraded(_)));
    if !complete {
        eprintln!(
            "error: no complete SLI data from {}",
            Configured::describe(&cfg)
        );
        return Ok(ExitCode::from(2));
    }
    Ok(code(true))
}
