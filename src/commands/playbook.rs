//! `sloguard playbook`: one Markdown playbook per failover domain, on stdout or written
//! as `<domain>.md`, listing the GameDay scenarios found beside the config.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sloguard::cli::PlaybookArgs;
use sloguard::files::{write_all_atomic, OutputFile};
use sloguard::playbook::{render, Inputs, ScenarioFile};
use sloguard::sim::gameday::Scenario;

use super::common::{code, failover_section, load_config};

/// Renders the playbooks of every domain (or `--domain`).
pub fn playbook(args: PlaybookArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.as_path();
    let only = args.domain.as_deref();
    let (cfg, services) = load_config(config)?;
    let fo = failover_section(&cfg, ": nothing fails over")?;
    let files = scenario_files(config, args.scenarios.as_deref())?;
    let domains: Vec<_> = fo
        .domains
        .iter()
        .filter(|d| only.is_none_or(|o| o == d.name))
        .collect();
    anyhow::ensure!(
        !domains.is_empty(),
        "no failover domain {:?} in {} (domains: {})",
        only.unwrap_or_default(),
        config.display(),
        fo.domains
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let inputs = Inputs {
        cfg: &cfg,
        config_arg: &config.display().to_string(),
        services: &services,
        scenarios: &files,
    };
    let docs: Vec<OutputFile> = domains
        .iter()
        .map(|d| OutputFile {
            path: format!("{}.md", d.name).into(),
            content: render(&inputs, fo, d),
        })
        .collect();
    match args.out {
        Some(dir) => {
            write_all_atomic(&dir, &docs)?;
            for d in &docs {
                println!("wrote {}", dir.join(&d.path).display());
            }
        }
        None => {
            for d in &docs {
                print!("{}", d.content);
            }
        }
    }
    Ok(code(true))
}

/// The GameDay scenarios to list: `--scenarios`, else `tests/gameday` or `gameday` beside
/// the config (none when neither exists), sorted by path.
fn scenario_files(config: &Path, scenarios: Option<&Path>) -> anyhow::Result<Vec<ScenarioFile>> {
    let base = config.parent().unwrap_or(Path::new(""));
    let dir: Option<PathBuf> = match scenarios {
        Some(d) => Some(d.to_path_buf()),
        None => [base.join("tests/gameday"), base.join("gameday")]
            .into_iter()
            .find(|d| d.is_dir()),
    };
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let scenario = Scenario::load(&p)?;
        files.push(ScenarioFile {
            path: p.display().to_string(),
            scenario,
        });
    }
    Ok(files)
}
