//! The `sloguard` binary: parses the CLI, sets up logging, dispatches to the library and
//! turns outcomes into exit codes (0 ok, 1 a check or validation failed, 2 usage/runtime error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use sloguard::cli::{Cli, Command, LogFormat, Output, RuleFormat};
use sloguard::files::{self, OutputFile};
use sloguard::query::thanos::ThanosClient;
use sloguard::rulegen::{self, Format, Options, HEADER};
use sloguard::slo::{self, SpecError};
use sloguard::window::Window;
use sloguard::{config, engine};

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
fn load_specs(dir: &Path) -> anyhow::Result<Option<Vec<slo::Service>>> {
    match slo::load_dir(dir) {
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
            config,
            start,
            end,
            output,
            step,
            k,
            lateness,
        } => {
            if let Some(config) = config {
                let (Some(start), Some(end)) = (start, end) else {
                    anyhow::bail!("--config needs --start and --end");
                };
                return backtest_from_source(
                    &config,
                    parse_time(&start)?,
                    parse_time(&end)?,
                    output,
                );
            }
            let Some(data) = data else {
                anyhow::bail!("backtest needs --data FILE, or --config with --start and --end")
            };
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
            print_report(&report, output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { config, at, output } => {
            let at = match at {
                Some(t) => parse_time(&t)?,
                None => engine::wall_clock(),
            };
            let (cfg, services) = load_config(&config)?;
            let runtime = runtime()?;
            let snap = runtime.block_on(async {
                let client = ThanosClient::new(cfg.source.clone())?;
                let mut engine = engine::Engine::new(
                    client,
                    &services,
                    cfg.evaluation.clone(),
                    cfg.regions.clone(),
                )?;
                engine
                    .backfill(at, |done, total| {
                        if total > 8 && done % (total / 4).max(1) == 0 {
                            eprintln!("backfill: {done}/{total} range queries");
                        }
                    })
                    .await;
                engine.evaluate_now();
                anyhow::Ok(engine.snapshot())
            })?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&snap)?),
                Output::Text => print!("{}", render_snapshot(&snap)),
            }
            let degraded = snap
                .streams
                .iter()
                .filter(|s| matches!(s.data, engine::DataStatus::Degraded(_)))
                .count();
            if snap.streams.is_empty() || degraded == snap.streams.len() {
                eprintln!("error: no complete SLI data from {}", cfg.source.url);
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config } => {
            let (cfg, services) = load_config(&config)?;
            let runtime = runtime()?;
            runtime.block_on(async {
                let client = ThanosClient::new(cfg.source.clone())?;
                let engine = engine::Engine::new(client, &services, cfg.evaluation.clone(), cfg.regions.clone())?;
                let state = std::sync::Arc::new(sloguard::server::AppState::new(sloguard::server::ApiConfig {
                    webhook_auth: cfg.webhook_auth.clone(),
                    api_token: cfg.api_token.clone(),
                    max_body_bytes: cfg.max_body_bytes,
                    region_label: cfg.regions.label.clone(),
                }));
                let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(1024);
                if let Ok(mut c) = state.commands.write() {
                    *c = Some(cmd_tx);
                }
                let listener = tokio::net::TcpListener::bind(&cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
                tracing::info!(listen = %cfg.listen, "serving /metrics, /api/v1/status, /healthz, /readyz");
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                    let _ = rx.changed().await;
                };
                let app = sloguard::server::router(state.clone());
                let server_stop = stopped(stop_rx.clone());
                let server = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(server_stop).await });
                let failover = match &cfg.failover {
                    Some(fo) => {
                        let journal = sloguard::journal::Journal::open(&fo.journal)?;
                        let backends = aws_backends(fo, state.signals.clone()).await;
                        let driver = sloguard::failover::FailoverDriver::new(fo.clone(), &cfg.regions, journal, backends, false)?;
                        if let Ok(mut j) = state.journal.write() {
                            *j = Some(driver.journal());
                        }
                        Some(driver)
                    }
                    None => None,
                };
                let engine_task = tokio::spawn(engine::run(engine, state, cfg.evaluation.interval, failover, cmd_rx, stopped(stop_rx.clone())));
                shutdown_signal().await;
                tracing::info!("shutting down");
                let _ = stop_tx.send(true);
                let _ = engine_task.await;
                let _ = server.await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Incidents { config, output } => {
            let cfg = config::load(&config)?;
            let fo = cfg
                .failover
                .as_ref()
                .context("the configuration has no failover section (no journal)")?;
            let journal = sloguard::journal::Journal::open(&fo.journal)?;
            let rows = journal.incidents(100)?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
                Output::Text => {
                    if rows.is_empty() {
                        println!("no incidents in {}", fo.journal.display());
                    }
                    for i in &rows {
                        println!(
                            "incident {} [{}{}{}] {}: {} -> {} opened {}: {}",
                            i.id,
                            i.status,
                            if i.dry_run { ", dry run" } else { "" },
                            if i.chaos { ", chaos drill" } else { "" },
                            i.domain,
                            i.from,
                            i.to,
                            sloguard::backtest::format_time(i.opened_at),
                            i.reason
                        );
                        for st in &i.steps {
                            println!(
                                "  step {} {} ({}) attempt {}: {} {}",
                                st.index, st.name, st.kind, st.attempt, st.status, st.detail
                            );
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::IamPolicy { config } => {
            let cfg = config::load(&config)?;
            let fo = cfg
                .failover
                .as_ref()
                .context("the configuration has no failover section")?;
            let steps: Vec<&sloguard::actuator::StepSpec> =
                fo.domains.iter().flat_map(|d| d.runbook.iter()).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&sloguard::actuator::iam_policy(&steps))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Route53 { action, config } => {
            let cfg = config::load(&config)?;
            let fo = cfg
                .failover
                .as_ref()
                .context("the configuration has no failover section")?;
            let active = cfg
                .regions
                .active
                .clone()
                .context("regions.active is required")?;
            let standby = cfg
                .regions
                .standby
                .first()
                .cloned()
                .context("regions.standby is required")?;
            let runtime = runtime()?;
            for d in &fo.domains {
                let Some(setup) = &d.route53 else { continue };
                let plan = sloguard::actuator::route53_setup::plan(
                    &d.name,
                    &active,
                    &standby,
                    fo.policy.quorum as usize,
                    setup,
                )
                .map_err(|e| {
                    anyhow::anyhow!("{}: failover.domains {}: {e}", config.display(), d.name)
                })?;
                print!(
                    "{}",
                    sloguard::actuator::route53_setup::render(&plan, setup)
                );
                if action == sloguard::cli::Route53Action::Apply {
                    let (ids, calculated) = runtime
                        .block_on(async {
                            let conf = sloguard::actuator::aws::sdk_config(&fo.aws_region).await;
                            sloguard::actuator::route53_setup::apply(
                                &aws_sdk_route53::Client::new(&conf),
                                &plan,
                                setup,
                            )
                            .await
                        })
                        .map_err(|e| anyhow::anyhow!("route53 apply for {}: {e}", d.name))?;
                    println!("applied: replica health checks {ids:?}, quorum check {calculated}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { url, output } => {
            let runtime = runtime()?;
            let (status, body) = runtime.block_on(api_call(
                reqwest::Method::GET,
                &format!("{url}/api/v1/status"),
                None,
                None,
            ))?;
            anyhow::ensure!(status == 200, "{url}: HTTP {status}: {body}");
            match output {
                Output::Json => println!("{body}"),
                Output::Text => {
                    let snap: serde_json::Value = serde_json::from_str(&body)?;
                    println!(
                        "evaluation at {} (active {})",
                        snap["at"].as_str().unwrap_or("-"),
                        snap["active_region"].as_str().unwrap_or("-")
                    );
                    for r in snap["regions"].as_array().into_iter().flatten() {
                        println!(
                            "  region {:<16} {:<8} {}",
                            r["region"].as_str().unwrap_or(""),
                            r["role"].as_str().unwrap_or(""),
                            r["state"].as_str().unwrap_or("")
                        );
                    }
                    for s in snap["streams"].as_array().into_iter().flatten() {
                        println!(
                            "  {}/{} {}: page {} ticket {} data {}",
                            s["service"].as_str().unwrap_or(""),
                            s["slo"].as_str().unwrap_or(""),
                            s["region"].as_str().unwrap_or(""),
                            s["page_firing"],
                            s["ticket_firing"],
                            s["data"]["status"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Failover {
            url,
            domain,
            target,
            reason,
            force,
            token,
        } => operator_call(
            &url,
            "/api/v1/failover",
            serde_json::json!({"domain": domain, "target": target, "reason": reason, "force": force}),
            &token,
        ),
        Command::Approve {
            url,
            incident,
            token,
        } => operator_call(
            &url,
            &format!("/api/v1/approve/{incident}"),
            serde_json::json!({}),
            &token,
        ),
        Command::Rearm { url, domain, token } => operator_call(
            &url,
            "/api/v1/rearm",
            serde_json::json!({"domain": domain}),
            &token,
        ),
        Command::Failback {
            url,
            domain,
            target,
            reason,
            token,
        } => operator_call(
            &url,
            "/api/v1/failback",
            serde_json::json!({"domain": domain, "target": target, "reason": reason}),
            &token,
        ),
        Command::Demo {
            scenario,
            speed,
            listen,
            exit_when_done,
        } => {
            let (text, base) = match &scenario {
                Some(p) => (
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                    p.parent().unwrap_or(Path::new(".")).to_path_buf(),
                ),
                None => (
                    include_str!("../tests/gameday/primary-outage.yaml").to_string(),
                    PathBuf::from("tests/gameday"),
                ),
            };
            let sc: sloguard::sim::gameday::Scenario =
                serde_yaml_ng::from_str(&text).context("demo scenario")?;
            let services = match sc
                .specs
                .clone()
                .map(|s| {
                    if s.is_absolute() || s.exists() {
                        s
                    } else {
                        base.join(s)
                    }
                })
                .filter(|p| p.is_dir())
                .or_else(|| Some(PathBuf::from("slo-specs")).filter(|p| p.is_dir()))
            {
                Some(dir) => match load_specs(&dir)? {
                    Some(s) => s,
                    None => return Ok(ExitCode::from(1)),
                },
                // Outside the repository: the built-in checkout spec.
                None => slo::parse_all(&[(
                    PathBuf::from("checkout.yaml"),
                    include_str!("../slo-specs/checkout.yaml").to_string(),
                )])
                .map_err(|p| {
                    anyhow::anyhow!(
                        "{}",
                        p.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n")
                    )
                })?,
            };
            anyhow::ensure!(speed > 0.0, "--speed must be positive");
            let step = Window::parse(sc.step.as_deref().unwrap_or("10s"))?.secs() as f64;
            let runtime = runtime()?;
            let passed = runtime.block_on(async {
                let state = std::sync::Arc::new(sloguard::server::AppState::default());
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                let url = format!("http://{}", listener.local_addr()?);
                let app = sloguard::server::router(state.clone());
                let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
                let server = tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop_rx.changed().await;
                        })
                        .await
                });
                println!(
                    "sloguard demo: {:?} at {speed}x. Dashboard: {url}/  API: {url}/api/v1/status",
                    sc.name
                );
                let opts = sloguard::sim::gameday::RunOptions {
                    pace: Some(std::time::Duration::from_secs_f64(step / speed)),
                    state: Some(state.clone()),
                    timeline: true,
                };
                let report = sloguard::sim::gameday::run_with(
                    &sc,
                    &services,
                    engine::wall_clock() / 60 * 60,
                    &opts,
                )
                .await?;
                for (name, ok, detail) in &report.expectations {
                    println!(
                        "expect {name}: {} ({detail})",
                        if *ok { "ok" } else { "FAILED" }
                    );
                }
                println!(
                    "demo finished: {} failover(s); dashboard still at {url}/",
                    report.failovers.len()
                );
                if !exit_when_done {
                    println!("Ctrl-C to stop");
                    shutdown_signal().await;
                }
                let _ = stop_tx.send(true);
                let _ = server.await;
                anyhow::Ok(report.passed)
            })?;
            let _ = passed;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gameday { scenario, output } => {
            let text = std::fs::read_to_string(&scenario)
                .with_context(|| format!("reading {}", scenario.display()))?;
            let sc: sloguard::sim::gameday::Scenario = serde_yaml_ng::from_str(&text)
                .with_context(|| format!("{}", scenario.display()))?;
            let specs = sc
                .specs
                .clone()
                .unwrap_or_else(|| PathBuf::from("slo-specs"));
            let specs = if specs.is_absolute() || specs.exists() {
                specs
            } else {
                scenario.parent().unwrap_or(Path::new(".")).join(specs)
            };
            let Some(services) = load_specs(&specs)? else {
                return Ok(ExitCode::from(1));
            };
            let started = std::time::Instant::now();
            let report = runtime()?.block_on(sloguard::sim::gameday::run(
                &sc,
                &services,
                1_790_000_000 / 86_400 * 86_400,
            ))?;
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Output::Text => {
                    println!(
                        "GameDay {:?}: {} simulated seconds in {} steps, {:.2}s wall [chaos]",
                        report.scenario,
                        report.simulated_secs,
                        report.steps,
                        started.elapsed().as_secs_f64()
                    );
                    for a in report.alerts.iter().filter(|a| a.severity == "page") {
                        println!(
                            "  {:>6}s page {} {}/{} {}",
                            a.at,
                            if a.firing { "FIRING  " } else { "resolved" },
                            a.service,
                            a.slo,
                            a.region
                        );
                    }
                    for f in &report.failovers {
                        println!("  {:>6}s FAILOVER {} -> {}", f.at, f.from, f.to);
                    }
                    for (name, ok, detail) in &report.expectations {
                        println!(
                            "  expect {name}: {} ({detail})",
                            if *ok { "ok" } else { "FAILED" }
                        );
                    }
                    println!("{}", if report.passed { "PASSED" } else { "FAILED" });
                }
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
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

/// The AWS clients the configured runbooks need (none are created when no step uses AWS).
async fn aws_backends(
    fo: &config::FailoverConfig,
    signals: std::sync::Arc<sloguard::actuator::SignalBoard>,
) -> sloguard::actuator::Backends {
    use sloguard::actuator::{aws, Backends};
    let mut b = Backends {
        signals,
        ..Default::default()
    };
    if fo
        .domains
        .iter()
        .flat_map(|d| d.runbook.iter())
        .any(|s| s.needs_aws())
    {
        let conf = aws::sdk_config(&fo.aws_region).await;
        b.sns = Some(std::sync::Arc::new(aws::SdkSns(aws_sdk_sns::Client::new(
            &conf,
        ))));
        b.route53 = Some(std::sync::Arc::new(aws::SdkRoute53(
            aws_sdk_route53::Client::new(&conf),
        )));
        b.aurora = Some(std::sync::Arc::new(aws::SdkAurora(
            aws_sdk_rds::Client::new(&conf),
        )));
    }
    b
}

async fn api_call(
    method: reqwest::Method,
    url: &str,
    body: Option<serde_json::Value>,
    token: Option<String>,
) -> anyhow::Result<(u16, String)> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(35))
        .build()?;
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.with_context(|| format!("calling {url}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// A mutating operator call; exit 0 when accepted, 1 when the guards refused it.
fn operator_call(
    url: &str,
    path: &str,
    body: serde_json::Value,
    token: &sloguard::cli::TokenArgs,
) -> anyhow::Result<ExitCode> {
    let file = token
        .token_file
        .as_ref()
        .context("--token-file (or SLOGUARD_API_TOKEN_FILE) is required for operator calls")?;
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .trim()
        .to_string();
    let runtime = runtime()?;
    let (status, text) = runtime.block_on(api_call(
        reqwest::Method::POST,
        &format!("{}{path}", url.trim_end_matches('/')),
        Some(body),
        Some(secret),
    ))?;
    println!("{text}");
    match status {
        200 => Ok(ExitCode::SUCCESS),
        409 => Ok(ExitCode::from(1)),
        _ => anyhow::bail!("HTTP {status}"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// RFC 3339 or unix seconds.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .with_context(|| format!("{s:?} is neither RFC 3339 nor unix seconds"))?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64)
}

fn load_config(path: &Path) -> anyhow::Result<(config::Config, Vec<slo::Service>)> {
    let cfg = config::load(path)?;
    let Some(services) = load_specs(&cfg.specs)? else {
        anyhow::bail!("the specs of {} are invalid", path.display());
    };
    Ok((cfg, services))
}

fn print_report(report: &sloguard::backtest::Report, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Output::Text => print!("{}", sloguard::backtest::render_text(report)),
    }
    Ok(())
}

fn backtest_from_source(
    config: &Path,
    start: i64,
    end: i64,
    output: Output,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(start < end, "--start must be before --end");
    let (cfg, services) = load_config(config)?;
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let client = ThanosClient::new(cfg.source.clone())?;
        let mut engine = engine::Engine::new(
            client,
            &services,
            cfg.evaluation.clone(),
            cfg.regions.clone(),
        )?;
        engine.backfill(start, |_, _| {}).await;
        engine.evaluate_now();
        let alerts = engine.replay(start, end).await;
        anyhow::Ok(sloguard::backtest::Report {
            alerts,
            final_rows: sloguard::backtest::final_rows(engine.streams()),
            stats: sloguard::backtest::Stats {
                start,
                end,
                ..Default::default()
            },
        })
    })?;
    print_report(&report, output)?;
    Ok(ExitCode::SUCCESS)
}

fn render_snapshot(s: &engine::Snapshot) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "evaluation at {} ({} queries per evaluation)",
        sloguard::backtest::format_time(s.at),
        s.queries_per_evaluation
    );
    for r in &s.regions {
        let burning = if r.burning.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.burning.join(", "))
        };
        let _ = writeln!(
            out,
            "  region {:<16} {:<8} {}{burning}",
            r.region, r.role, r.state
        );
    }
    for st in &s.streams {
        let data = match &st.data {
            engine::DataStatus::Complete => "complete".to_string(),
            engine::DataStatus::NoData => "no data".to_string(),
            engine::DataStatus::Degraded(e) => format!("degraded: {e}"),
        };
        let _ = writeln!(
            out,
            "  {}/{} {}: page {} ticket {} data {data}",
            st.service, st.slo, st.region, st.page_firing, st.ticket_firing
        );
    }
    out.push('\n');
    out.push_str(&sloguard::backtest::render_final_table(&s.final_rows));
    out
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
