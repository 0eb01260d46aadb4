//! Drills on the simulated multi-region world: `demo` (accelerated real time, with the
//! dashboard) and `gameday` (simulated time, a verdict on the scenario's expectations).

use std::process::ExitCode;

use sloguard::app::{self, drill, signals};
use sloguard::cli::{DemoArgs, GamedayArgs, Output};
use sloguard::journal;

use super::common::{code, json};

/// `sloguard demo`: exit 0 when every expectation held (or when serving until Ctrl-C).
pub fn demo(rt: &tokio::runtime::Runtime, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let exit_when_done = args.exit_when_done;
    let report = rt.block_on(async {
        let linger = Box::pin(async move {
            if !exit_when_done {
                println!("Ctrl-C to stop");
                signals::shutdown_signal().await;
            }
        });
        let start = app::clock::wall_now() / 60 * 60;
        let stop = signals::stop_on_signal();
        let opts = sloguard::server::run::DemoOptions {
            scenario: args.scenario.as_deref(),
            speed: args.speed,
            listen: &args.listen,
            linger,
            stop,
            start,
        };
        sloguard::server::run::demo(opts).await
    })?;
    print!("{}", drill::render_expectations(&report));
    Ok(code(report.passed || !exit_when_done))
}

/// `sloguard gameday`: exit 1 when an expectation failed.
pub fn gameday(rt: &tokio::runtime::Runtime, args: GamedayArgs) -> anyhow::Result<ExitCode> {
    let (sc, d, services) = drill::prepare(
        Some(&args.scenario),
        args.config.as_deref(),
        drill::DRILL_START,
    )?;
    if let Some(path) = &args.journal {
        // Refused before the drill runs, not after: a live or real journal, or a
        // file that is not a journal.
        journal::Journal::replaceable_by_copy(path)?;
    }
    let started = std::time::Instant::now();
    let timeline = drill::Timeline { start: d.start };
    let observer: &dyn app::Observer = match args.output {
        Output::Json => &drill::Quiet,
        Output::Text => {
            println!(
                "GameDay {:?} [chaos]: {}s simulated, one evaluation every {}s",
                sc.name,
                d.duration,
                d.step()
            );
            &timeline
        }
    };
    let report = rt.block_on(drill::run_keeping_journal(
        &sc,
        &d,
        &services,
        observer,
        args.journal.as_deref(),
    ))?;
    match args.output {
        Output::Json => json(&report)?,
        Output::Text => print!(
            "{}",
            drill::render_verdict(&report, started.elapsed().as_secs_f64())
        ),
    }
    Ok(code(report.passed))
}
