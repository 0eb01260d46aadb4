//! The `sloguard` binary: parses the CLI, sets up logging, dispatches to the command's
//! module (`commands/`, one file per command family) and maps errors to exit codes (0 ok,
//! 1 a check, validation or expectation failed, 2 usage/runtime error). Everything else
//! lives in the library; `serve`, `demo`, `gameday` and `eval` only choose the app's
//! source, clock and step backends.
#![allow(clippy::disallowed_methods)] // the binary may read the wall clock (e.g. `--at` defaults)

mod commands;

use std::process::ExitCode;

use clap::Parser;
use sloguard::app;
use sloguard::cli::{Cli, Command, DemoArgs, LogFormat};

// generate/validate allocate many small strings and regex compiler tables; mimalloc cut
// their wall time by a quarter against the system allocator (benches/README.md).
// `--features system-alloc` leaves it out so that heap profilers see every allocation.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(format: LogFormat, default: tracing::Level) {
    use tracing_subscriber::prelude::*;
    // `RUST_LOG` as per-target levels (`info`, `sloguard=debug`); a bad value falls back.
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| tracing_subscriber::filter::Targets::new().with_default(default));
    let registry = tracing_subscriber::registry().with(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        // JSON escapes control characters itself.
        LogFormat::Json => registry.with(fmt.json()).init(),
        LogFormat::Text => registry
            .with(
                fmt.without_time()
                    .with_target(false)
                    .with_ansi(ansi)
                    .fmt_fields(app::logging::EscapedFields),
            )
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The drills print their own timeline; the engine's info logs would drown it.
    let quiet_drill = matches!(
        cli.command,
        Command::Demo(DemoArgs { verbose: false, .. }) | Command::Gameday(_)
    );
    init_logging(
        cli.log_format,
        if quiet_drill {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        },
    );
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // Line by line: the message may quote outside text (an HTTP body, a label).
            let msg = format!("{e:#}");
            let lines: Vec<_> = msg.lines().map(sloguard::text::escape_control).collect();
            eprintln!("error: {}", lines.join("\n"));
            ExitCode::from(2)
        }
    }
}
