//! Commands on spec files: `validate`, `generate`, `lint`, `explain`, `schema`, and the
//! format conversions `import` and `export`.

use std::process::ExitCode;

use anyhow::Context;
use sloguard::cli::{
    ExplainArgs, ExportArgs, GenerateArgs, ImportArgs, LintArgs, RuleFormat, ValidateArgs,
};
use sloguard::rulegen::{self, Format, Options};
use sloguard::{backtest, convert, slo};

use super::common::{code, load_specs, load_specs_strict, progress_bar};

/// `sloguard validate`: every problem of every spec, or a one-line OK.
pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let Some(services) = load_specs_strict(&args.specs, args.strict)? else {
        return Ok(code(false));
    };
    let slos: usize = services.iter().map(|s| s.slos.len()).sum();
    println!(
        "OK: {} service(s), {slos} SLO(s) in {} are valid",
        services.len(),
        args.specs.display()
    );
    Ok(code(true))
}

/// `sloguard generate`: rule files and their promtool tests (or `--check` them).
pub fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let Some(services) = load_specs(&args.specs)? else {
        return Ok(code(false));
    };
    let format = match args.format {
        RuleFormat::Prometheus => Format::Prometheus,
        RuleFormat::PrometheusOperator => Format::PrometheusOperator,
    };
    let opts = Options {
        format,
        sync_wave: args.sync_wave,
        namespace: args.namespace,
    };
    let bar = progress_bar("generate");
    bar.set_length(services.len() as u64);
    let run = rulegen::generate_into(&services, &opts, &args.out, args.check, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let (stdout, stderr) = run.render();
    eprint!("{stderr}");
    print!("{stdout}");
    Ok(code(run.ok()))
}

/// `sloguard lint`: legal but doubtful specs, optionally against recorded traffic.
pub fn lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let Some(services) = load_specs(&args.specs)? else {
        return Ok(code(false));
    };
    let scrape =
        sloguard::window::Window::parse(&args.scrape_interval).context("--scrape-interval")?;
    let traffic = match &args.data {
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

/// `sloguard explain`: thresholds, budget consumed and detection times per tier.
pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let Some(services) = load_specs(&args.specs)? else {
        return Ok(code(false));
    };
    print!("{}", rulegen::explain::render(&services));
    Ok(code(true))
}

/// `sloguard schema`: the JSON Schema of the spec formats.
pub fn schema() -> anyhow::Result<ExitCode> {
    println!("{}", slo::json_schema());
    Ok(code(true))
}

/// `sloguard import`: another format's SLOs as `sloguard/v1` specs.
pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    Ok(code(convert::import_command(
        args.format.into(),
        &args.files,
        args.out.as_deref(),
    )?))
}

/// `sloguard export`: the specs as another format's documents.
pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    Ok(code(convert::export_command(
        &args.specs,
        args.out.as_deref(),
    )?))
}
