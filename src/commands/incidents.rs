//! Reading the journal: `incidents` (the list) and `report` (one incident, Markdown or
//! HTML). Both open the journal read-only: never created, never the engine's lock.

use std::process::ExitCode;

use anyhow::Context;
use sloguard::cli::{IncidentsArgs, Output, ReportArgs, ReportFormat};
use sloguard::{config, journal, report};

use super::common::{code, failover_section, json, load_config};

/// `sloguard incidents`: the journaled incidents, newest first.
pub fn incidents(args: IncidentsArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)?;
    let fo = failover_section(&cfg, " (no journal)")?;
    // A read: never creates the journal, never takes the running engine's lock.
    let rows = if fo.journal.exists() {
        journal::Journal::open_read_only(&fo.journal)?.incidents(100)?
    } else {
        Vec::new()
    };
    match args.output {
        Output::Json => json(&rows)?,
        Output::Text if rows.is_empty() => {
            println!("no incidents in {}", fo.journal.display())
        }
        Output::Text => print!("{}", journal::render_incidents(&rows)),
    }
    Ok(code(true))
}

/// `sloguard report`: the post-incident report of one incident.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let (cfg, services) = load_config(&args.config)?;
    let path = match args.journal {
        Some(p) => p,
        None => failover_section(&cfg, " (no journal)")?.journal.clone(),
    };
    anyhow::ensure!(
        path.exists(),
        "no journal at {} (no incident recorded yet)",
        path.display()
    );
    let incident = args.incident;
    let j = journal::Journal::open_read_only(&path)?;
    let facts = report::gather(&j, incident)?
        .with_context(|| format!("no incident {incident} in {}", path.display()))?;
    let md = report::render(&facts, &report::slo_meta(&services));
    match args.format {
        ReportFormat::Md => print!("{md}"),
        ReportFormat::Html => print!(
            "{}",
            report::html(&md, &format!("sloguard incident {incident}"))
        ),
    }
    Ok(code(true))
}
