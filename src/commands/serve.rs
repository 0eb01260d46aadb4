//! `sloguard serve`: the engine, its HTTP face and its runbooks until a stop signal.

use std::process::ExitCode;

use sloguard::app::signals;
use sloguard::cli::ServeArgs;

use super::common::{code, load_config};

/// Runs the engine with the config until SIGTERM/SIGINT (draining a running step first).
pub fn serve(rt: &tokio::runtime::Runtime, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (cfg, services) = load_config(&args.config)?;
    rt.block_on(async {
        sloguard::server::run::serve(&cfg, &services, signals::stop_on_signal()).await
    })?;
    Ok(code(true))
}
