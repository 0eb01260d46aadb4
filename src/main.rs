//! The `sloguard` binary: parses the CLI, sets up logging, dispatches to the library and
//! turns outcomes into exit codes (0 ok, 1 a check, validation or expectation failed,
//! 2 usage/runtime error). Everything else lives in the library; `serve`, `demo`,
//! `gameday` and `eval` only choose the app's source, clock and step backends.
#![allow(clippy::disallowed_methods)] // the binary may read the wall clock (e.g. `--at` defaults)

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use sloguard::app::{self, drill, operator_client, signals};
use sloguard::cli::{Cli, Command, LogFormat, Output, RuleFormat};
use sloguard::query::regional::Configured;
use sloguard::rulegen::{self, Format, Options};
use sloguard::{backtest, config, journal, slo, snapshot};

// generate/validate allocate many small strings and regex compiler tables; mimalloc cut
// their wall time by a quarter against the system allocator (benches/README.md).
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

/// Loads specs, printing warnings as `warning: file: slo: message`; on validation
/// problems prints them all and returns None.
fn load_specs(dir: &Path) -> anyhow::Result<Option<Vec<slo::Service>>> {
    load_specs_strict(dir, false)
}

/// [`load_specs`]; with `strict`, warnings are problems.
fn load_specs_strict(dir: &Path, strict: bool) -> anyhow::Result<Option<Vec<slo::Service>>> {
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

fn load_config(path: &Path) -> anyhow::Result<(config::Config, Vec<slo::Service>)> {
    let cfg = config::load(path)?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let services = load_specs(&cfg.specs)?
        .with_context(|| format!("the specs of {} are invalid", path.display()))?;
    config::check_against_specs(&cfg, &services)?;
    Ok((cfg, services))
}

fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Validate { specs, strict } => {
            let Some(services) = load_specs_strict(&specs, strict)? else {
                return Ok(code(false));
            };
            let slos: usize = services.iter().map(|s| s.slos.len()).sum();
            println!(
                "OK: {} service(s), {slos} SLO(s) in {} are valid",
                services.len(),
                specs.display()
            );
            Ok(code(true))
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
                return Ok(code(false));
            };
            let format = match format {
                RuleFormat::Prometheus => Format::Prometheus,
                RuleFormat::PrometheusOperator => Format::PrometheusOperator,
            };
            let opts = Options {
                format,
                sync_wave,
                namespace,
            };
            let bar = progress_bar("generate");
            bar.set_length(services.len() as u64);
            let run = rulegen::generate_into(&services, &opts, &out, check, &|| bar.inc(1))?;
            bar.finish_and_clear();
            let (stdout, stderr) = run.render();
            eprint!("{stderr}");
            print!("{stdout}");
            Ok(code(run.ok()))
        }
        Command::Backtest {
            specs,
            data,
            config,
            start,
            end,
            output,
            step,
            k,
            lateness,
        } => {
            let report = if let Some(config) = config {
                let (Some(start), Some(end)) = (start, end) else {
                    anyhow::bail!("--config needs --start and --end");
                };
                let (start, end) = (parse_time(&start)?, parse_time(&end)?);
                anyhow::ensure!(start < end, "--start must be before --end");
                let (cfg, services) = load_config(&config)?;
                let source = Configured::from_config(&cfg)?;
                rt.block_on(app::replay(&cfg, &services, source, start, end))?
            } else {
                let data =
                    data.context("backtest needs --data FILE, or --config with --start and --end")?;
                let Some(services) = load_specs(&specs)? else {
                    return Ok(code(false));
                };
                let secs = |flag: &str, v: &str| -> anyhow::Result<i64> {
                    Ok(sloguard::window::Window::parse(v)
                        .with_context(|| format!("--{flag}"))?
                        .secs() as i64)
                };
                let opts = backtest::Options {
                    step: secs("step", &step)?,
                    k,
                    lateness: secs("lateness", &lateness)?,
                    ..Default::default()
                };
                let bar = progress_bar("backtest");
                let report = backtest::run_file(&services, &data, &opts, |done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                })
                .with_context(|| format!("backtest of {}", data.display()))?;
                bar.finish_and_clear();
                report
            };
            match output {
                Output::Json => json(&report)?,
                Output::Text => print!("{}", backtest::render_text(&report)),
            }
            Ok(code(true))
        }
        Command::Eval { config, at, output } => {
            let (cfg, services) = load_config(&config)?;
            let at = at.map(|t| parse_time(&t)).transpose()?;
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
            match output {
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
        Command::Serve { config } => {
            let (cfg, services) = load_config(&config)?;
            rt.block_on(async {
                sloguard::server::run::serve(&cfg, &services, signals::stop_on_signal()).await
            })?;
            Ok(code(true))
        }
        Command::Incidents { config, output } => {
            let cfg = config::load(&config)?;
            let fo = cfg
                .failover
                .as_ref()
                .context("the configuration has no failover section (no journal)")?;
            // A read: never creates the journal, never takes the running engine's lock.
            let rows = if fo.journal.exists() {
                journal::Journal::open_read_only(&fo.journal)?.incidents(100)?
            } else {
                Vec::new()
            };
            match output {
                Output::Json => json(&rows)?,
                Output::Text if rows.is_empty() => {
                    println!("no incidents in {}", fo.journal.display())
                }
                Output::Text => print!("{}", journal::render_incidents(&rows)),
            }
            Ok(code(true))
        }
        Command::Playbook {
            config,
            domain,
            out,
            scenarios,
        } => playbook(
            &config,
            domain.as_deref(),
            out.as_deref(),
            scenarios.as_deref(),
        ),
        Command::Report {
            incident,
            config,
            format,
            journal,
        } => {
            let (cfg, services) = load_config(&config)?;
            let path = match journal {
                Some(p) => p,
                None => cfg
                    .failover
                    .as_ref()
                    .context("the configuration has no failover section (no journal)")?
                    .journal
                    .clone(),
            };
            anyhow::ensure!(
                path.exists(),
                "no journal at {} (no incident recorded yet)",
                path.display()
            );
            let j = journal::Journal::open_read_only(&path)?;
            let facts = sloguard::report::gather(&j, incident)?
                .with_context(|| format!("no incident {incident} in {}", path.display()))?;
            let md = sloguard::report::render(&facts, &sloguard::report::slo_meta(&services));
            match format {
                sloguard::cli::ReportFormat::Md => print!("{md}"),
                sloguard::cli::ReportFormat::Html => print!(
                    "{}",
                    sloguard::report::html(&md, &format!("sloguard incident {incident}"))
                ),
            }
            Ok(code(true))
        }
        Command::IamPolicy { config } => {
            let cfg = config::load(&config)?;
            let fo = cfg
                .failover
                .as_ref()
                .context("the configuration has no failover section")?;
            let steps: Vec<_> = fo.domains.iter().flat_map(|d| d.runbook.iter()).collect();
            json(&sloguard::actuator::iam_policy(&steps))?;
            Ok(code(true))
        }
        Command::Route53 { action, config } => {
            let cfg = config::load(&config)?;
            let apply = action == sloguard::cli::Route53Action::Apply;
            let text = rt.block_on(app::route53::run_for_config(&cfg, apply))?;
            print!("{text}");
            Ok(code(true))
        }
        Command::Status { url, output } => {
            let target = format!("{}/api/v1/status", url.trim_end_matches('/'));
            let (status, body) = rt.block_on(operator_client::call(
                reqwest::Method::GET,
                &target,
                None,
                None,
            ))?;
            anyhow::ensure!(status == 200, "{url}: HTTP {status}: {body}");
            match output {
                Output::Json => println!("{body}"),
                Output::Text => {
                    let view: snapshot::StatusView =
                        serde_json::from_str(&body).with_context(|| target.clone())?;
                    print!("{}", view.render());
                }
            }
            Ok(code(true))
        }
        Command::Failover {
            url,
            domain,
            target,
            reason,
            force,
            token,
        } => {
            let body = serde_json::json!({"domain": domain, "target": target, "reason": reason, "force": force});
            operator_call(&rt, &url, "/api/v1/failover", body, &token)
        }
        Command::Approve {
            url,
            incident,
            reason,
            token,
        } => operator_call(
            &rt,
            &url,
            &format!("/api/v1/approve/{incident}"),
            serde_json::json!({"reason": reason}),
            &token,
        ),
        Command::Resolve {
            url,
            incident,
            action,
            reason,
            token,
        } => operator_call(
            &rt,
            &url,
            &format!("/api/v1/incidents/{incident}/resolve"),
            serde_json::json!({"action": action.replace('-', "_"), "reason": reason}),
            &token,
        ),
        Command::Rearm {
            url,
            domain,
            reason,
            token,
        } => operator_call(
            &rt,
            &url,
            "/api/v1/rearm",
            serde_json::json!({"domain": domain, "reason": reason}),
            &token,
        ),
        Command::Failback {
            url,
            domain,
            target,
            reason,
            force,
            token,
        } => {
            let body = serde_json::json!({"domain": domain, "target": target, "reason": reason, "force": force});
            operator_call(&rt, &url, "/api/v1/failback", body, &token)
        }
        Command::Demo {
            scenario,
            speed,
            listen,
            exit_when_done,
            verbose: _,
        } => {
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
                    scenario: scenario.as_deref(),
                    speed,
                    listen: &listen,
                    linger,
                    stop,
                    start,
                };
                sloguard::server::run::demo(opts).await
            })?;
            print!("{}", drill::render_expectations(&report));
            Ok(code(report.passed || !exit_when_done))
        }
        Command::Gameday {
            scenario,
            config,
            output,
            journal,
        } => {
            let (sc, d, services) =
                drill::prepare(Some(&scenario), config.as_deref(), drill::DRILL_START)?;
            if let Some(path) = &journal {
                // Refused before the drill runs, not after: a live or real journal, or a
                // file that is not a journal.
                journal::Journal::replaceable_by_copy(path)?;
            }
            let started = std::time::Instant::now();
            let timeline = drill::Timeline { start: d.start };
            let observer: &dyn app::Observer = match output {
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
                journal.as_deref(),
            ))?;
            match output {
                Output::Json => json(&report)?,
                Output::Text => print!(
                    "{}",
                    drill::render_verdict(&report, started.elapsed().as_secs_f64())
                ),
            }
            Ok(code(report.passed))
        }
        Command::Lint {
            specs,
            data,
            scrape_interval,
        } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(code(false));
            };
            let scrape =
                sloguard::window::Window::parse(&scrape_interval).context("--scrape-interval")?;
            let traffic = match &data {
                Some(d) => Some(backtest::run_file(
                    &services,
                    d,
                    &Default::default(),
                    |_, _| {},
                )?),
                None => None,
            };
            let findings = rulegen::lint::lint(
                &services,
                scrape,
                traffic.as_ref().map(|r| &r.final_rows[..]),
            );
            for f in &findings {
                println!("{f}");
            }
            println!("{} finding(s)", findings.len());
            Ok(code(findings.is_empty()))
        }
        Command::Explain { specs } => {
            let Some(services) = load_specs(&specs)? else {
                return Ok(code(false));
            };
            print!("{}", rulegen::explain::render(&services));
            Ok(code(true))
        }
        Command::Import { format, files, out } => Ok(code(sloguard::convert::import_command(
            format.into(),
            &files,
            out.as_deref(),
        )?)),
        Command::Export {
            format: _,
            specs,
            out,
        } => Ok(code(sloguard::convert::export_command(
            &specs,
            out.as_deref(),
        )?)),
        Command::Schema => {
            println!("{}", slo::json_schema());
            Ok(code(true))
        }
    }
}

/// `sloguard playbook`: one Markdown playbook per domain, on stdout or as `<domain>.md`.
fn playbook(
    config: &Path,
    only: Option<&str>,
    out: Option<&Path>,
    scenarios: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use sloguard::playbook::{render, Inputs, ScenarioFile};
    let (cfg, services) = load_config(config)?;
    let fo = cfg
        .failover
        .as_ref()
        .context("the configuration has no failover section: nothing fails over")?;
    let base = config.parent().unwrap_or(Path::new(""));
    let dir = match scenarios {
        Some(d) => Some(d.to_path_buf()),
        None => [base.join("tests/gameday"), base.join("gameday")]
            .into_iter()
            .find(|d| d.is_dir()),
    };
    let mut files = Vec::new();
    if let Some(dir) = dir {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        for p in paths {
            let scenario = sloguard::sim::gameday::Scenario::load(&p)?;
            files.push(ScenarioFile {
                path: p.display().to_string(),
                scenario,
            });
        }
    }
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
    let docs: Vec<sloguard::files::OutputFile> = domains
        .iter()
        .map(|d| sloguard::files::OutputFile {
            path: format!("{}.md", d.name).into(),
            content: render(&inputs, fo, d),
        })
        .collect();
    match out {
        Some(dir) => {
            sloguard::files::write_all_atomic(dir, &docs)?;
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

/// A mutating operator call; exit 0 when accepted, 1 when the guards refused it.
fn operator_call(
    rt: &tokio::runtime::Runtime,
    url: &str,
    path: &str,
    body: serde_json::Value,
    token: &sloguard::cli::TokenArgs,
) -> anyhow::Result<ExitCode> {
    let file = token
        .token_file
        .as_ref()
        .context("--token-file (or SLOGUARD_API_TOKEN_FILE) is required for operator calls")?;
    let target = format!("{}{path}", url.trim_end_matches('/'));
    let (status, text) = rt.block_on(operator_client::call(
        reqwest::Method::POST,
        &target,
        Some(body),
        Some(file),
    ))?;
    println!("{}", sloguard::text::escape_control(&text));
    match status {
        200 => Ok(code(true)),
        409 => Ok(code(false)),
        _ => anyhow::bail!("HTTP {status}"),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal (indicatif hides it
/// otherwise, so piped output gets nothing extra).
fn progress_bar(what: &str) -> indicatif::ProgressBar {
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

fn parse_time(s: &str) -> anyhow::Result<i64> {
    backtest::parse_time(s).map_err(anyhow::Error::msg)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet_demo = matches!(
        cli.command,
        Command::Demo { verbose: false, .. } | Command::Gameday { .. }
    );
    init_logging(
        cli.log_format,
        if quiet_demo {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        },
    );
    match run(cli) {
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
